//! The real Tauri app under Xvfb, driven through WebDriver (tauri-driver in front of Debian's
//! WebKitWebDriver), with the audio source set to a spoken WAV question: press and release the
//! on-screen button, watch the transcript, the streamed answer and the live charts, then switch
//! to Cloud and see the next turn go to the loopback OpenAI-compatible server.
//!
//! Needs Xvfb, `webkit2gtk-driver`, `tauri-driver` (`.ci/deps.sh`, `.ci/tauri-driver.sh`) and
//! the loopback server (`VOXDECK_LLAMA_SERVER_PYTHON`).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use voxdeck_e2e::openai_server::{LlamaServer, free_port, test_model_path};
use voxdeck_e2e::panel::{self, Xvfb, find_program, spawn_logged};
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::voxdeck_bin;

fn app_bin() -> PathBuf {
    let bin = voxdeck_bin().with_file_name(format!("voxdeck-app{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} is missing: build it with `cargo build --release --workspace --bins`", bin.display());
    bin
}

fn tauri_driver() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("VOXDECK_TAURI_DRIVER") {
        candidates.push(PathBuf::from(p));
    }
    let cache = std::env::var_os("VOXDECK_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/voxdeck")));
    if let Some(cache) = cache {
        candidates.push(cache.join("tools/bin/tauri-driver"));
    }
    candidates.push(PathBuf::from("tauri-driver"));
    find_program(&candidates).expect("tauri-driver not found: run .ci/tauri-driver.sh (or set VOXDECK_TAURI_DRIVER)")
}

#[test]
fn the_desktop_app_answers_a_push_to_talk_turn_with_live_charts() {
    let _exclusive = crate::exclusive();
    let native = find_program(&[PathBuf::from("/usr/bin/WebKitWebDriver"), PathBuf::from("WebKitWebDriver")])
        .expect("WebKitWebDriver not found: install Debian's webkit2gtk-driver (.ci/deps.sh does)");
    let server = LlamaServer::start(&test_model_path());
    let home = panel::Setup::new(&server);
    let (q, a) = (&home.question, &home.answers);

    let xvfb = Xvfb::start();
    let config_home = home.path();
    let data_home = home.path().join("data");
    let caps = json!({
        "tauri:options": {
            "application": app_bin(),
            "args": ["--input", q, "--output", a],
        }
    });
    // A cold first start (WebKit's libraries off disk, right after the build) can make
    // tauri-driver give up on its WebKitWebDriver; a fresh driver then starts in a second.
    let mut attempts = Vec::new();
    let (driver_proc, driver) = loop {
        let attempt = attempts.len() + 1;
        let port = free_port();
        let native_port = free_port();
        let proc = spawn_logged(
            std::process::Command::new(tauri_driver())
                .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .arg("--native-driver")
                .arg(&native)
                .env("DISPLAY", &xvfb.display)
                // The app inherits these: the test's config and an empty history.
                .env("XDG_CONFIG_HOME", config_home)
                .env("XDG_DATA_HOME", &data_home)
                // No accessibility bus under Xvfb.
                .env("NO_AT_BRIDGE", "1"),
            &home.path().join(format!("tauri-driver-{attempt}.log")),
        );
        match WebDriver::connect(&format!("http://127.0.0.1:{port}"), caps.clone(), Duration::from_secs(30)) {
            Ok(driver) => break (proc, driver),
            Err(e) => {
                let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
                eprintln!("tauri-driver attempt {attempt}: {e}\n{log}");
                attempts.push(e.to_string());
                assert!(attempts.len() < 3, "no WebDriver session in 3 attempts: {attempts:?}");
            }
        }
    };
    let host = driver
        .wait_for(
            "the UI to start",
            // The static page says "browser" until the UI's modules have run and looked.
            "return document.body && document.body.dataset.connection === 'connected' && document.body.dataset.host;",
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{e}\ntauri-driver log:\n{}", driver_proc.log_tail()));
    assert_eq!(host, "tauri", "the UI knows it runs in Tauri");
    panel::talk_local_then_cloud(&driver, &server, "tauri");
}
