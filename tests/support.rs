//! Running the `voxdeck` binary from end-to-end tests.
//!
//! The binary is the one `cargo build --release` put next to the test executables
//! (`.ci/test.sh` builds it first); models come from `VOXDECK_MODELS` as for a user.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod chromium;
pub mod fault_proxy;
pub mod openai_server;
pub mod panel;
pub mod webdriver;
pub mod ws_client;

/// The built `voxdeck` binary.
pub fn voxdeck_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/voxdeck
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir layout");
    let bin = profile_dir.join(format!("voxdeck{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: build it first with `cargo build --release --bins` (or run .ci/test.sh)",
        bin.display()
    );
    bin
}

/// A `voxdeck` command with an empty config directory (and a data directory, for history,
/// inside it), so the user's own config and history cannot leak in.
pub fn voxdeck(config_home: &std::path::Path) -> Command {
    let mut cmd = Command::new(voxdeck_bin());
    cmd.env("XDG_CONFIG_HOME", config_home)
        .env("XDG_DATA_HOME", config_home.join("data"))
        .env_remove("VOXDECK_CONFIG");
    cmd
}

/// A 16-bit mono WAV written byte by byte, so its header can state any rate.
pub fn write_wav_16bit(path: &std::path::Path, rate: u32, samples: &[i16]) {
    let data = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + samples.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 1 | 1 << 16, rate, rate.wrapping_mul(2), 2 | 16 << 16] {
        b.extend_from_slice(&field.to_le_bytes()); // fmt size; PCM, mono; rate; byte rate; align, bits
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// Writes `config.toml` where [`voxdeck`] with this `config_home` reads it.
pub fn write_config(config_home: &std::path::Path, toml: &str) {
    let dir = config_home.join("voxdeck");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), toml).expect("config file");
}

/// Output as text, for assertions with readable failures.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A refusal as users should meet it: exit status `code`, no panic, and each of `needles` in the
/// words on stderr.
pub fn assert_refused_in_words(r: &Run, code: i32, needles: &[&str]) {
    assert_eq!(r.status.code(), Some(code), "{r}");
    assert!(!r.stderr.contains("panicked"), "{r}");
    for needle in needles {
        assert!(r.stderr.contains(needle), "stderr lacks {needle:?}\n{r}");
    }
}

/// Speaks `text` into `wav` with the test voice (a question for `talk --input`).
pub fn say(config_home: &std::path::Path, text: &str, wav: &std::path::Path) {
    let r = run(voxdeck(config_home).args(["say", text, "--threads", "1", "-o"]).arg(wav));
    assert!(r.status.success(), "{r}");
}

pub fn run(cmd: &mut Command) -> Run {
    let Output { status, stdout, stderr } = cmd.output().expect("voxdeck runs");
    Run {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status: {}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

/// Starts `voxdeck serve` with `args` and returns it with the URL it printed and the lines of
/// stderr before it.
pub fn serve(home: &std::path::Path, args: &[&str]) -> (std::process::Child, String, Vec<String>) {
    spawn_serve(voxdeck(home), args)
}

/// [`serve`] from a `voxdeck` command already set up (its environment, say).
pub fn spawn_serve(mut voxdeck: Command, args: &[&str]) -> (std::process::Child, String, Vec<String>) {
    let mut child = voxdeck
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voxdeck serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        seen.push(line.clone());
        if let Some(url) = line.strip_prefix("voxdeck: serving ") {
            let url = url.trim().to_owned();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return (child, url, seen);
        }
    }
    let _ = child.kill();
    panic!("voxdeck serve printed no URL: {seen:?}");
}
