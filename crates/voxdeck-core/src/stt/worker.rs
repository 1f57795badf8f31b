//! The Whisper worker process, supervised: found, spawned, loaded, kept warm, restarted when it
//! dies, stopped when it hangs, shut down on drop.
//!
//! Three threads per worker keep every wait bounded: one writes requests to its stdin (a hung
//! worker cannot block the caller on a full pipe), one reads responses from its stdout into a
//! channel the caller waits on with a timeout, one drains its stderr into the log and keeps the
//! last lines for error messages.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voxdeck_stt::{
    DecodeOptions, ErrorKind, LoadRequest, Loaded, ModelInfo, PROTOCOL_VERSION, ProtocolError, Request, Response,
    SAMPLE_RATE, TranscribeRequest, TranscriptResponse, WorkerInfo,
};

use super::SttError;
use crate::child_wait::wait_timeout;
use crate::sysmon::family;

/// The worker's executable name.
pub const WORKER_NAME: &str = "voxdeck-stt";

/// Lines of the worker's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 12;

/// How long a worker gets to exit after its stdin closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Finds the worker binary: `explicit` (the `stt.worker` setting) if given, else `voxdeck-stt`
/// next to the current executable (or one level up, for cargo's `target/*/deps` test binaries),
/// else on `PATH`. The error lists every place it looked.
pub fn find_worker(explicit: Option<&Path>) -> Result<PathBuf, SttError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(SttError::WorkerMissing {
                looked: vec![path.to_owned()],
            })
        };
    }
    let exe_name = format!("{WORKER_NAME}{}", std::env::consts::EXE_SUFFIX);
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        candidates.push(dir.join(&exe_name));
        let in_deps = dir.file_name().is_some_and(|n| n == "deps");
        if let Some(parent) = dir.parent().filter(|_| in_deps) {
            candidates.push(parent.join(&exe_name));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(&exe_name)));
    }
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or(SttError::WorkerMissing { looked: candidates })
}

/// What the supervisor needs to run a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerOptions {
    /// The worker binary.
    pub exe: PathBuf,
    /// The ggml model the worker loads.
    pub model: PathBuf,
    pub decode: DecodeOptions,
    /// Longest wait for the model to load, or for one request (one window of at most 30 s).
    pub timeout: Duration,
}

/// The cost of the last start: spawn to loaded, and the worker's own model load time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartTimings {
    /// From spawning the process to receiving `loaded`.
    pub start_ms: f64,
    /// The worker's own measurement of loading the model.
    pub load_ms: f64,
}

/// One transcribed window, with the engine's view of its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    pub response: TranscriptResponse,
    /// Request written to response parsed, as the engine saw it.
    pub round_trip_ms: f64,
    /// Spawn + load paid for this request (a first start or a restart), 0 when warm.
    pub start_ms: f64,
}

impl WindowResult {
    /// Round trip minus the worker's own processing time: framing, the pipes, JSON.
    pub fn ipc_ms(&self) -> f64 {
        (self.round_trip_ms - self.response.timings.total_ms).max(0.0)
    }
}

/// A supervised `voxdeck-stt` process with one model loaded.
pub struct WhisperWorker {
    options: WorkerOptions,
    process: Option<Process>,
    loaded: Option<Loaded>,
    last_start: Option<StartTimings>,
    next_id: u64,
    starts: u32,
    /// Threads the next requests ask for (0 = the loaded options').
    request_threads: u32,
}

struct Process {
    child: Child,
    pid: u32,
    /// Dropping it closes the worker's stdin (the writer thread ends and drops the pipe).
    to_worker: Option<Sender<Vec<u8>>>,
    from_worker: Receiver<Result<Response, ProtocolError>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Counts the worker among voxdeck's processes (its GPU memory is voxdeck's) while it runs.
    _family: family::Registration,
}

impl WhisperWorker {
    /// Spawns the worker and loads the model, so the first request finds it warm.
    pub fn start(options: WorkerOptions) -> Result<WhisperWorker, SttError> {
        let mut worker = WhisperWorker {
            options,
            process: None,
            loaded: None,
            last_start: None,
            next_id: 1,
            starts: 0,
            request_threads: 0,
        };
        worker.ensure_running()?;
        Ok(worker)
    }

    pub fn options(&self) -> &WorkerOptions {
        &self.options
    }

    /// The loaded model, once a start succeeded.
    pub fn model(&self) -> Option<&ModelInfo> {
        self.loaded.as_ref().map(|l| &l.model)
    }

    /// The decoding options the worker settled on (threads resolved, etc.).
    pub fn decode_options(&self) -> Option<&DecodeOptions> {
        self.loaded.as_ref().map(|l| &l.options)
    }

    /// The running worker's process id (None between a death and the next request).
    /// The GPU the worker runs Whisper on ("CUDA0"), as it reported on loading; `None`: the CPU.
    pub fn gpu_device(&self) -> Option<&str> {
        self.loaded.as_ref().and_then(|l| l.gpu_device.as_deref())
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.pid)
    }

    /// Asks for `threads` compute threads from the next request on, at most the loaded
    /// options' (0 = those).
    pub fn set_request_threads(&mut self, threads: u32) {
        self.request_threads = threads;
    }

    /// How many times a worker process was started (1 + restarts).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    pub fn last_start(&self) -> Option<StartTimings> {
        self.last_start
    }

    /// Asks the worker what it is (restarting it first if it died).
    pub fn ping(&mut self) -> Result<WorkerInfo, SttError> {
        self.ensure_running()?;
        let bytes = voxdeck_stt::encode_request(&Request::Ping, &[]).map_err(SttError::Protocol)?;
        match self.exchange(bytes, "a ping")? {
            Response::Pong(info) => Ok(info),
            other => Err(self.unexpected("a ping", &other)),
        }
    }

    /// Transcribes one window of 16 kHz mono samples (at most [`voxdeck_stt::MAX_SAMPLES`]).
    /// If the worker died since the last request it is restarted first; if it dies or hangs
    /// during this one, this request fails and the next one starts a fresh worker.
    pub fn transcribe_window(&mut self, samples: &[f32]) -> Result<WindowResult, SttError> {
        let start_ms = self.ensure_running()?;
        let id = self.next_id;
        self.next_id += 1;
        let started = Instant::now();
        let request = Request::Transcribe(TranscribeRequest {
            id,
            samples: samples.len() as u64,
            sample_rate: SAMPLE_RATE,
            threads: self.request_threads,
        });
        let bytes = voxdeck_stt::encode_request(&request, samples).map_err(SttError::Protocol)?;
        let response = self.exchange(bytes, "a transcription")?;
        let round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
        match response {
            Response::Transcript(t) if t.id == id => Ok(WindowResult {
                response: t,
                round_trip_ms,
                start_ms,
            }),
            Response::Error(e) => match e.kind {
                ErrorKind::BadRequest => Err(SttError::BadAudio(e.message)),
                ErrorKind::Protocol | ErrorKind::NotLoaded => {
                    // The worker is out of step (or lost its model): start afresh next time.
                    self.stop();
                    Err(SttError::Worker {
                        kind: e.kind,
                        message: e.message,
                    })
                }
                kind => Err(SttError::Worker {
                    kind,
                    message: e.message,
                }),
            },
            other => Err(self.unexpected("a transcription", &other)),
        }
    }

    /// Closes the worker's stdin and waits for it to exit (killing it after a grace period).
    pub fn shutdown(&mut self) {
        if let Some(mut process) = self.process.take() {
            drop(process.to_worker.take());
            if wait_timeout(&mut process.child, EXIT_GRACE).is_none() {
                tracing::warn!("the Whisper worker (pid {}) did not exit; killing it", process.pid);
                let _ = process.child.kill();
                let _ = process.child.wait();
            }
        }
    }

    /// Starts a worker if none is running (or the last one exited); returns the start cost in
    /// ms (0 when it was already running).
    fn ensure_running(&mut self) -> Result<f64, SttError> {
        if let Some(process) = self.process.as_mut() {
            match process.child.try_wait() {
                Ok(None) => return Ok(0.0),
                Ok(Some(status)) => {
                    tracing::warn!(
                        "the Whisper worker (pid {}) exited ({status}); restarting it",
                        process.pid
                    );
                }
                Err(e) => tracing::warn!("cannot poll the Whisper worker: {e}; restarting it"),
            }
            self.stop();
        }
        let started = Instant::now();
        let process = self.spawn()?;
        self.process = Some(process);
        self.starts += 1;
        let load = Request::Load(LoadRequest {
            model: self.options.model.to_string_lossy().into_owned(),
            options: self.options.decode.clone(),
        });
        let bytes = voxdeck_stt::encode_request(&load, &[]).map_err(SttError::Protocol)?;
        let response = match self.exchange(bytes, "loading the model") {
            Ok(response) => response,
            // A worker that crashes while loading was most likely handed a corrupt model.
            Err(SttError::WorkerDied { status, stderr, .. }) => {
                return Err(SttError::ModelCorrupt {
                    path: self.options.model.clone(),
                    detail: format!(
                        "the worker crashed loading it ({status}; a corrupt model, or a worker built for \
                         another CPU): {stderr}"
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        match response {
            Response::Loaded(loaded) => {
                if loaded.protocol != PROTOCOL_VERSION {
                    let found = loaded.protocol;
                    self.stop();
                    return Err(SttError::WorkerVersion {
                        path: self.options.exe.clone(),
                        found,
                        expected: PROTOCOL_VERSION,
                    });
                }
                let start_ms = started.elapsed().as_secs_f64() * 1000.0;
                tracing::debug!(
                    "Whisper worker pid {} loaded {} in {:.0} ms (start to ready {start_ms:.0} ms)",
                    self.pid().unwrap_or(0),
                    loaded.model.path,
                    loaded.load_ms
                );
                self.last_start = Some(StartTimings {
                    start_ms,
                    load_ms: loaded.load_ms,
                });
                self.loaded = Some(loaded);
                Ok(start_ms)
            }
            Response::Error(e) => {
                self.stop();
                Err(match e.kind {
                    ErrorKind::ModelLoad => SttError::ModelCorrupt {
                        path: self.options.model.clone(),
                        detail: e.message,
                    },
                    kind => SttError::Worker {
                        kind,
                        message: e.message,
                    },
                })
            }
            other => Err(self.unexpected("loading the model", &other)),
        }
    }

    fn spawn(&self) -> Result<Process, SttError> {
        let exe = &self.options.exe;
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // whisper.cpp is built without OpenMP; should a build have it, keep its threads from
            // spinning (which stalls decode steps on a busy machine).
            .env("OMP_WAIT_POLICY", "passive")
            // The worker exits once its parent is no longer this process (see its `lifeline`).
            .env(voxdeck_stt::PARENT_PID_ENV, std::process::id().to_string())
            .spawn()
            .map_err(|source| SttError::WorkerSpawn {
                path: exe.clone(),
                source,
            })?;
        let pid = child.id();
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SttError::WorkerSpawn {
                path: exe.clone(),
                source: std::io::Error::other("the worker's pipes are missing"),
            });
        };

        let (to_worker, requests) = mpsc::channel::<Vec<u8>>();
        spawn_thread("stt-writer", move || {
            use std::io::Write;
            for bytes in requests {
                if stdin.write_all(&bytes).and_then(|()| stdin.flush()).is_err() {
                    break; // the worker is gone; the reader reports it
                }
            }
        });

        let (responses, from_worker) = mpsc::channel();
        spawn_thread("stt-reader", move || {
            let mut stdout = BufReader::with_capacity(64 * 1024, stdout);
            loop {
                let message = voxdeck_stt::read_response(&mut stdout);
                let done = message.is_err();
                if responses.send(message).is_err() || done {
                    break;
                }
            }
        });

        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
        let tail = Arc::clone(&stderr_tail);
        spawn_thread("stt-stderr", move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                tracing::debug!(target: "voxdeck_stt", "[pid {pid}] {line}");
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });

        Ok(Process {
            child,
            _family: family::register(pid, "stt"),
            pid,
            to_worker: Some(to_worker),
            from_worker,
            stderr_tail,
        })
    }

    /// Sends one request and waits (bounded) for its answer. A death or a timeout stops the
    /// process and is reported; the next call starts a new one.
    fn exchange(&mut self, bytes: Vec<u8>, during: &'static str) -> Result<Response, SttError> {
        let timeout = self.options.timeout;
        let Some(process) = self.process.as_mut() else {
            return Err(SttError::WorkerDied {
                during,
                status: "not running".into(),
                stderr: String::new(),
            });
        };
        let sent = process.to_worker.as_ref().is_some_and(|tx| tx.send(bytes).is_ok());
        let outcome = if sent {
            process.from_worker.recv_timeout(timeout)
        } else {
            Err(RecvTimeoutError::Disconnected)
        };
        match outcome {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) if !e.is_eof() => {
                // The worker said something unparseable: it cannot be trusted any more.
                self.stop();
                Err(SttError::Protocol(e))
            }
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                let status = wait_timeout(&mut process.child, EXIT_GRACE);
                let status = match status {
                    Some(status) => describe_exit(status),
                    None => "its output closed but it is still running; it was killed".to_owned(),
                };
                // Let the stderr thread catch the last lines.
                std::thread::sleep(Duration::from_millis(50));
                let stderr = tail_text(&process.stderr_tail);
                self.stop();
                Err(SttError::WorkerDied { during, status, stderr })
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    "the Whisper worker (pid {}) did not answer {during} within {:.0} s; killing it",
                    process.pid,
                    timeout.as_secs_f64()
                );
                self.stop();
                Err(SttError::WorkerTimeout {
                    during,
                    secs: timeout.as_secs_f64(),
                })
            }
        }
    }

    fn unexpected(&mut self, during: &'static str, response: &Response) -> SttError {
        self.stop();
        SttError::Protocol(ProtocolError::Invalid(format!(
            "unexpected answer to {during}: {}",
            serde_json::to_string(response)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        )))
    }

    /// Kills the process now (no grace): for dead, hung or confused workers.
    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            drop(process.to_worker.take());
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

impl Drop for WhisperWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for WhisperWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperWorker")
            .field("exe", &self.options.exe)
            .field("model", &self.options.model)
            .field("pid", &self.pid())
            .field("starts", &self.starts)
            .finish()
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.to_owned()).spawn(f) {
        tracing::error!("cannot start thread {name}: {e}");
    }
}

fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("killed by signal {signal}{name}");
        }
    }
    status.to_string()
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
    if tail.is_empty() {
        "(no output on stderr)".to_owned()
    } else {
        tail.iter().cloned().collect::<Vec<_>>().join(" | ")
    }
}
