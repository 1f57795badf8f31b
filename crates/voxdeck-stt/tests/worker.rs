//! The worker binary over its real pipes: the handshake, request-level errors that leave it
//! serving, and protocol errors that end it. (Transcription quality is tested in voxdeck-core's
//! `tests/it/stt.rs`.) Having an integration test here also makes `cargo test` build the worker.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use voxdeck_stt::{
    DecodeOptions, ErrorKind, LoadRequest, Loaded, PROTOCOL_VERSION, Request, Response, SAMPLE_RATE, TranscribeRequest,
    read_response, write_request,
};

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
}

impl Worker {
    fn spawn() -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_voxdeck-stt"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        Worker { child, stdin, stdout }
    }

    fn ask(&mut self, request: &Request, pcm: &[f32]) -> Response {
        let stdin = self.stdin.as_mut().unwrap();
        write_request(stdin, request, pcm).unwrap();
        stdin.flush().unwrap();
        read_response(&mut self.stdout).unwrap()
    }

    fn transcribe(&mut self, id: u64, pcm: &[f32], sample_rate: u32) -> Response {
        let header = Request::Transcribe(TranscribeRequest {
            id,
            samples: pcm.len() as u64,
            sample_rate,
            threads: 0,
        });
        self.ask(&header, pcm)
    }

    /// Closes stdin and returns the exit code.
    fn finish(mut self) -> Option<i32> {
        drop(self.stdin.take());
        self.child.wait().unwrap().code()
    }
}

fn error_kind(response: &Response) -> ErrorKind {
    match response {
        Response::Error(e) => e.kind,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The test set's tiny.en, where `voxdeck models fetch --test-set` installs it.
fn tiny_en() -> PathBuf {
    let dir = std::env::var_os("VOXDECK_MODELS")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("voxdeck/models")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/voxdeck/models")))
        .unwrap();
    let path = dir.join("ggml-tiny.en.bin");
    assert!(
        path.is_file(),
        "{} is missing: run `voxdeck models fetch --test-set` (VOXDECK_MODELS={})",
        path.display(),
        dir.display()
    );
    path
}

#[test]
fn handshake_errors_and_transcription_over_pipes() {
    let mut w = Worker::spawn();
    let Response::Pong(info) = w.ask(&Request::Ping, &[]) else {
        panic!("no pong")
    };
    assert_eq!(info.protocol, PROTOCOL_VERSION);
    assert!(info.model.is_none());
    assert!(info.whisper_version.starts_with("1."), "{}", info.whisper_version);

    // Transcribing before loading is an error, not a crash.
    assert_eq!(
        error_kind(&w.transcribe(1, &[0.0; 1600], SAMPLE_RATE)),
        ErrorKind::NotLoaded
    );

    // A model that does not exist, and one that is not a ggml file: named, and still serving.
    let missing = Request::Load(LoadRequest {
        model: "/nonexistent/ggml-x.bin".into(),
        options: DecodeOptions::default(),
    });
    let response = w.ask(&missing, &[]);
    assert_eq!(error_kind(&response), ErrorKind::ModelLoad);
    let Response::Error(e) = &response else { unreachable!() };
    assert!(e.message.contains("/nonexistent/ggml-x.bin"), "{}", e.message);
    let not_ggml = std::env::current_exe().unwrap();
    let response = w.ask(
        &Request::Load(LoadRequest {
            model: not_ggml.to_string_lossy().into_owned(),
            options: DecodeOptions::default(),
        }),
        &[],
    );
    assert_eq!(error_kind(&response), ErrorKind::ModelLoad);

    // A damaged header (the issue's n_audio_layer 1000000) is refused before whisper.cpp sizes
    // its buffers from it: an answer in words, not an abort.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(tiny_en()).unwrap();
    bytes[20..24].copy_from_slice(&1_000_000i32.to_le_bytes());
    let damaged = dir.path().join("ggml-damaged.bin");
    std::fs::write(&damaged, &bytes).unwrap();
    let response = w.ask(
        &Request::Load(LoadRequest {
            model: damaged.to_string_lossy().into_owned(),
            options: DecodeOptions::default(),
        }),
        &[],
    );
    let Response::Error(e) = &response else {
        panic!("expected an error, got {response:?}")
    };
    assert_eq!(e.kind, ErrorKind::ModelLoad);
    assert!(
        e.message.contains("ggml-damaged.bin") && e.message.contains("its n_audio_layer is 1000000"),
        "{}",
        e.message
    );

    // Bad options are refused at load (as a bad request: the model is fine).
    let bad = Request::Load(LoadRequest {
        model: tiny_en().to_string_lossy().into_owned(),
        options: DecodeOptions {
            language: "klingon".into(),
            ..DecodeOptions::default()
        },
    });
    assert_eq!(error_kind(&w.ask(&bad, &[])), ErrorKind::BadRequest);

    // The real model loads and reports itself.
    let loaded = load_tiny(&mut w);
    assert_eq!(loaded.model.model_type, "tiny");
    assert_eq!((loaded.model.n_vocab, loaded.model.n_mels), (51864, 80));
    assert!(!loaded.options.flash_attn && loaded.options.beam_size == 0);
    // The GPU was asked for (as `stt.gpu` does by default): a worker built without CUDA, or a
    // machine without a device, says it runs on the CPU.
    assert!(loaded.options.gpu);
    if !cfg!(feature = "cuda") || !std::path::Path::new("/dev/nvidia0").exists() {
        assert_eq!(loaded.gpu_device, None);
    } else {
        assert_eq!(loaded.gpu_device.as_deref(), Some("CUDA0"));
    }

    // Request-level errors leave it serving.
    assert_eq!(
        error_kind(&w.transcribe(2, &[0.0; 1600], 44_100)),
        ErrorKind::BadRequest
    );
    assert_eq!(
        error_kind(&w.transcribe(3, &[0.0, f32::INFINITY], SAMPLE_RATE)),
        ErrorKind::BadRequest
    );

    // Silence and empty input: empty transcripts, with the id echoed.
    for (id, pcm) in [(4, vec![0.0f32; SAMPLE_RATE as usize * 2]), (5, vec![])] {
        let Response::Transcript(t) = w.transcribe(id, &pcm, SAMPLE_RATE) else {
            panic!("no transcript")
        };
        assert_eq!((t.id, t.text.as_str()), (id, ""));
        assert!((t.timings.audio_s - pcm.len() as f64 / 16_000.0).abs() < 1e-9);
    }
    let Response::Pong(info) = w.ask(&Request::Ping, &[]) else {
        panic!("no pong")
    };
    assert_eq!(info.model.unwrap().model_type, "tiny");

    // Closing stdin ends it cleanly.
    assert_eq!(w.finish(), Some(0));
}

#[test]
fn a_malformed_frame_is_answered_then_the_worker_exits() {
    let mut w = Worker::spawn();
    let stdin = w.stdin.as_mut().unwrap();
    stdin.write_all(&7u32.to_le_bytes()).unwrap();
    stdin.write_all(b"garbage").unwrap();
    stdin.flush().unwrap();
    let response = read_response(&mut w.stdout).unwrap();
    assert_eq!(error_kind(&response), ErrorKind::Protocol);
    let mut rest = Vec::new();
    w.stdout.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing follows the protocol error");
    assert_eq!(w.finish(), Some(2));

    // An absurd length is refused without reading (or allocating) it.
    let mut w = Worker::spawn();
    let stdin = w.stdin.as_mut().unwrap();
    stdin.write_all(&u32::MAX.to_le_bytes()).unwrap();
    stdin.flush().unwrap();
    let Response::Error(e) = read_response(&mut w.stdout).unwrap() else {
        panic!("expected an error")
    };
    assert!(e.message.contains("over the limit"), "{}", e.message);
    assert_eq!(w.finish(), Some(2));
}

#[test]
fn version_and_help_run_without_a_protocol() {
    let out = Command::new(env!("CARGO_BIN_EXE_voxdeck-stt"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("protocol"));
    let out = Command::new(env!("CARGO_BIN_EXE_voxdeck-stt"))
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ------------------------------------------------------------------------------- lifeline

/// Loads tiny.en on one thread (so a decode is long on any machine) and returns what the worker
/// reports of it.
fn load_tiny(w: &mut Worker) -> Loaded {
    let load = Request::Load(LoadRequest {
        model: tiny_en().to_string_lossy().into_owned(),
        options: DecodeOptions {
            threads: 1,
            gpu: true,
            ..DecodeOptions::default()
        },
    });
    let Response::Loaded(loaded) = w.ask(&load, &[]) else {
        panic!("model did not load")
    };
    loaded
}

/// The longest request the protocol allows (10 minutes) of loud noise: 20 windows for Whisper,
/// many seconds of decoding on any CPU.
fn long_noise() -> (Request, Vec<f32>) {
    let mut x = 0x2545_f491_u32;
    let pcm: Vec<f32> = (0..voxdeck_stt::MAX_SAMPLES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32 - 0.5) * 0.6
        })
        .collect();
    let header = Request::Transcribe(TranscribeRequest {
        id: 7,
        samples: pcm.len() as u64,
        sample_rate: SAMPLE_RATE,
        threads: 0,
    });
    (header, pcm)
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Waits up to `limit` for `pid` to end; how long it took.
fn wait_ended(pid: u32, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ended(pid) {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Kills and reaps the process on drop, so a failing test leaves nothing running.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !ended(self.0) {
            let _ = Command::new("kill").args(["-9", &self.0.to_string()]).status();
        }
    }
}

#[test]
fn an_orphaned_worker_exits_even_mid_decode() {
    // The parent: a shell that starts the worker on the test's pipes (so its stdin stays open:
    // only the parent's death can tell it to stop), writes its pid, then sleeps until killed.
    // (An asynchronous command's stdin is /dev/null unless redirected, hence fd 3.)
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("worker.pid");
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg(r#"exec 3<&0; "$0" <&3 3<&- & echo $! > "$1"; exec sleep 600 <&- >/dev/null"#)
        .arg(env!("CARGO_BIN_EXE_voxdeck-stt"))
        .arg(&pid_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _parent_guard = KillOnDrop(parent.id());
    let mut w = Worker {
        stdin: parent.stdin.take(),
        stdout: parent.stdout.take().unwrap(),
        child: parent,
    };
    load_tiny(&mut w);
    let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let _worker_guard = KillOnDrop(pid);
    assert!(!ended(pid));

    // Mid-decode, as in the issue (an orphan at 120 % CPU for 40 s): the parent is SIGKILLed.
    let (header, pcm) = long_noise();
    let stdin = w.stdin.as_mut().unwrap();
    write_request(stdin, &header, &pcm).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!ended(pid), "the worker is decoding");
    w.child.kill().unwrap();
    w.child.wait().unwrap();

    let took = wait_ended(pid, Duration::from_secs(10));
    let took = took.expect("the orphaned worker is still running 10 s after its parent was killed");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // The test held the worker's stdin and stdout all along: only the parent's death ended it.
    drop(w.stdin.take());
}

#[test]
fn closing_stdin_abandons_a_decode_in_progress() {
    let mut w = Worker::spawn();
    let _guard = KillOnDrop(w.child.id());
    load_tiny(&mut w);
    let (header, pcm) = long_noise();
    let stdin = w.stdin.as_mut().unwrap();
    write_request(stdin, &header, &pcm).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(w.stdin.take());
    let took = wait_ended(w.child.id(), Duration::from_secs(60));
    // Either the decode stopped at whisper.cpp's next check and was answered as abandoned, or
    // the grace ran out first: no transcript of the 20 windows either way.
    let mut rest = Vec::new();
    w.stdout.read_to_end(&mut rest).unwrap();
    if !rest.is_empty() {
        let response = read_response(&mut rest.as_slice()).unwrap();
        let Response::Error(e) = &response else {
            panic!("expected the decode to be abandoned, got {response:?}")
        };
        assert!(e.message.contains("abandoned"), "{}", e.message);
    }
    let took = took.expect("the worker still runs 60 s after its stdin closed");
    assert!(took < Duration::from_secs(2), "exited {took:?} after stdin closed");
    assert_eq!(w.child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_worker_outlives_the_thread_that_spawned_it() {
    // The panel spawns the worker from a loader thread that ends once the models are loaded;
    // a parent-death signal (PR_SET_PDEATHSIG) would fire then, so the worker must not use one.
    let mut w = std::thread::spawn(Worker::spawn).join().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let Response::Pong(info) = w.ask(&Request::Ping, &[]) else {
        panic!("no pong")
    };
    assert_eq!(info.pid, w.child.id());
    assert_eq!(w.finish(), Some(0));
}
