//! A real OpenAI-compatible server on loopback, for the cloud-engine tests: llama-cpp-python's
//! `llama_cpp.server` (FastAPI + uvicorn over its own llama.cpp) serving a test-set model.
//!
//! The server runs from the venv `.ci/llama-server.sh` prepares outside the clone; that script
//! prints the venv's python, which the tests read from `VOXDECK_LLAMA_SERVER_PYTHON`
//! (`.ci/test.sh` sets it). What this server does on the wire (llama-cpp-python 0.3.36):
//!
//! - `POST /v1/chat/completions` with `"stream": true`: `200`, `text/event-stream`, chunked;
//!   events `data: {json}\n\n` (LF only), the first delta carries only the role, then one event
//!   per token with `delta.content`, then an empty delta with `finish_reason`, then
//!   `data: [DONE]`. No `usage` in the stream, even with `stream_options.include_usage`;
//!   non-streaming answers carry `usage`. Any `model` name is accepted (the loaded one answers).
//! - Errors are `{"error": {"message", "type", "param", "code"}}`; a malformed request body
//!   is a 500, not a 4xx.
//! - The model sits behind one lock: requests are served one at a time, `/v1/models` included.
//!   The harness starts it with `--interrupt_requests false`, so a second request waits for the
//!   first instead of cutting it short with an early `[DONE]`.
//! - It reuses the KV cache for a prompt prefix it has just seen, so a repeated request has a
//!   much shorter time to first token than a new one.
//! - Prompts run on one thread here (`--n_threads_batch 1`): with the default, one thread per
//!   core, a 30-token prompt took 0.2 s to 7.7 s on a busy 2-core machine; with one, 0.16 s.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the python of the llama-cpp-python venv.
pub const PYTHON_ENV: &str = "VOXDECK_LLAMA_SERVER_PYTHON";

/// The SmolLM2 test model's file name in the models directory (see `models/catalog.toml`).
pub const TEST_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// How long [`LlamaServer::start`] waits for `GET /v1/models` to answer 200.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The models directory as voxdeck finds it: `VOXDECK_MODELS`, else
/// `$XDG_DATA_HOME/voxdeck/models`, else `~/.local/share/voxdeck/models`.
pub fn models_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty("VOXDECK_MODELS").unwrap_or_else(|| {
        non_empty("XDG_DATA_HOME")
            .unwrap_or_else(|| non_empty("HOME").expect("HOME is set").join(".local/share"))
            .join("voxdeck/models")
    })
}

/// The SmolLM2 135M test model (installed by `voxdeck models fetch --test-set`).
pub fn test_model_path() -> PathBuf {
    let path = models_dir().join(TEST_MODEL_FILE);
    assert!(
        path.is_file(),
        "{} is missing: install the test set with `voxdeck models fetch --test-set` (or run .ci/test.sh)",
        path.display()
    );
    path
}

/// The venv's python from `VOXDECK_LLAMA_SERVER_PYTHON`; panics with what to run when it is
/// unset or gone.
pub fn server_python() -> PathBuf {
    const HOW: &str = "run `export VOXDECK_LLAMA_SERVER_PYTHON=$(bash .ci/llama-server.sh)` \
        (it installs llama-cpp-python[server] in a venv under ~/.cache/voxdeck; .ci/test.sh does this)";
    let Some(python) = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty()) else {
        panic!("{PYTHON_ENV} is not set: the cloud tests need a real OpenAI-compatible server: {HOW}");
    };
    let python = PathBuf::from(python);
    assert!(python.is_file(), "{PYTHON_ENV}={} does not exist: {HOW}", python.display());
    python
}

/// A free port on 127.0.0.1 (free when asked; the server binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("bind 127.0.0.1:0").port()
}

// Runs `python -m llama_cpp.server ARGS` with a watchdog: the server exits when its stdin
// closes, that is when the test process ends however it ends, so no server outlives a test run.
const BOOTSTRAP: &str = "\
import os, runpy, sys, threading
def _watch():
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
sys.argv[0] = 'llama_cpp.server'
runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)
";

/// llama-cpp-python's OpenAI-compatible server on 127.0.0.1, killed on drop.
pub struct LlamaServer {
    child: Child,
    // Held open for the watchdog; dropping it stops the server.
    _stdin: Option<ChildStdin>,
    port: u16,
    alias: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LlamaServer {
    /// Starts the server on `model_path` (one thread for prompt and generation, `n_ctx` 2048,
    /// `--interrupt_requests false`) and waits until it answers.
    pub fn start(model_path: &Path) -> LlamaServer {
        LlamaServer::start_with(model_path, &[])
    }

    /// [`start`](Self::start) with more `llama_cpp.server` flags, e.g. `["--api_key", "k"]`
    /// (flags are the `llama_cpp/server/settings.py` field names; booleans take `true`/`false`).
    pub fn start_with(model_path: &Path, extra_args: &[&str]) -> LlamaServer {
        let python = server_python();
        assert!(model_path.is_file(), "model {} is missing", model_path.display());
        let alias =
            model_path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_else(|| "model".to_owned());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let log = dir.path().join(format!("llama-server-{attempt}.log"));
            let out = File::create(&log).expect("server log");
            let err = out.try_clone().expect("server log");
            let mut child = Command::new(&python)
                .arg("-c")
                .arg(BOOTSTRAP)
                .arg("--model")
                .arg(model_path)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                // One thread for prompts too: the default (all cores) stalls for seconds at
                // each barrier when the 2 cores are shared with the test and the local model.
                .args(["--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1"])
                .args(["--model_alias", &alias])
                .args(["--interrupt_requests", "false"])
                .args(extra_args)
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::piped())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
            let stdin = child.stdin.take();
            let mut server = LlamaServer { child, _stdin: stdin, port, alias: alias.clone(), log, _dir: dir };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(why) => {
                    let tail = server.log_tail(40);
                    server.kill();
                    if attempt < 3 && tail.contains("address already in use") {
                        continue; // another process took the port in between
                    }
                    panic!("llama_cpp.server did not start: {why}\n--- server log (tail)\n{tail}");
                }
            }
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("it exited ({status})"));
            }
            // 401: up, and asking for the key it was started with (`--api_key`).
            if matches!(http_get_status(self.addr(), "/v1/models", Duration::from_secs(2)), Some(200 | 401)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("GET /v1/models did not answer 200 within {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL an OpenAI client takes.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// `127.0.0.1:PORT`, for a [`FaultProxy`](crate::fault_proxy::FaultProxy) in front.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The model name the server lists in `/v1/models` (the model file's stem, lowercased).
    pub fn model_alias(&self) -> &str {
        &self.alias
    }

    /// Kills the server (SIGKILL) and waits for it: open connections drop mid-answer.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the server process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's log (stdout and stderr: llama.cpp's loading, uvicorn's access log, timings).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let Ok(file) = File::open(&self.log) else { return String::new() };
        let all: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The JSON body of a greedy chat completion: a one-line system prompt, then `question`.
pub fn chat_body(model: &str, question: &str, max_tokens: u32, stream: bool) -> String {
    serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": question},
        ],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": stream,
    })
    .to_string()
}

/// An HTTP/1.1 `POST /v1/chat/completions` to `addr` with `body`, one request per connection.
pub fn chat_request(addr: SocketAddr, body: &str) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `GET path` on `addr`: the status code, or `None` when nothing answered within `timeout`.
pub fn http_get_status(addr: SocketAddr, path: &str, timeout: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut head[n..]) {
            Ok(0) | Err(_) => return None,
            Ok(k) => n += k,
        }
    }
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
