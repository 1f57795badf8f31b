//! `voxdeck serve` in headless Chromium (chromedriver): the panel from a browser, through the
//! WebSocket, with the audio source set to a spoken WAV question. Also the token rules a
//! browser on another machine meets.
//!
//! Needs Debian's `chromium` and `chromium-driver` and the loopback OpenAI server
//! (`VOXDECK_LLAMA_SERVER_PYTHON`); `.ci/deps.sh` and `.ci/test.sh` provide them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use voxdeck_e2e::openai_server::{LlamaServer, free_port, test_model_path};
use voxdeck_e2e::panel::{self, find_program, spawn_logged};
use voxdeck_e2e::webdriver::WebDriver;
use voxdeck_e2e::voxdeck;

/// Starts `voxdeck serve` with `args` and returns it with the URL it printed.
fn serve(home: &std::path::Path, args: &[&str]) -> (std::process::Child, String, Vec<String>) {
    spawn_serve(voxdeck(home), args)
}

/// [`serve`] from a `voxdeck` command already set up (its environment, say).
pub(crate) fn spawn_serve(mut voxdeck: std::process::Command, args: &[&str]) -> (std::process::Child, String, Vec<String>) {
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

fn chromedriver() -> PathBuf {
    find_program(&[PathBuf::from("/usr/bin/chromedriver"), PathBuf::from("chromedriver")])
        .expect("chromedriver not found: install Debian's chromium and chromium-driver (.ci/deps.sh does)")
}

#[test]
fn the_panel_in_a_browser_talks_through_the_websocket() {
    let _exclusive = crate::exclusive();
    let server = LlamaServer::start(&test_model_path());
    let home = panel::Setup::new(&server);
    let (q, a) = (&home.question, &home.answers);

    let (mut app, url, _) = serve(
        home.path(),
        &["--bind", "127.0.0.1:0", "--input", q.to_str().unwrap(), "--output", a.to_str().unwrap()],
    );
    let port = free_port();
    let _driver = spawn_logged(
        std::process::Command::new(chromedriver()).arg(format!("--port={port}")),
        &home.path().join("chromedriver.log"),
    );
    let profile = home.path().join("chromium-profile");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": find_program(&[PathBuf::from("/usr/bin/chromium"), PathBuf::from("chromium")])
                .expect("chromium not found (.ci/deps.sh installs it)"),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let driver = WebDriver::connect(&format!("http://127.0.0.1:{port}"), caps, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    driver.goto(&url).unwrap();
    let host = driver.execute("return document.body.dataset.host;", json!([])).unwrap();
    assert_eq!(host, "browser", "the UI knows it is in a browser");
    panel::talk_local_then_cloud(&driver, &server, "serve");
    drop(driver);
    let _ = app.kill();
    let _ = app.wait();
}

/// A plain HTTP GET with optional headers; (status, body).
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let client = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.text().unwrap_or_default())
}

#[test]
fn a_non_loopback_bind_requires_the_token_on_every_request() {
    let home = tempfile::tempdir().unwrap();
    // Without --token, one is generated and printed with the URL.
    let (mut app, url, _) = serve(home.path(), &["--bind", "0.0.0.0:0", "--no-load"]);
    let token = url.split("token=").nth(1).expect("a generated token in the URL").to_owned();
    assert!(token.len() >= 24, "{token}");
    let port = url.split(':').nth(2).and_then(|p| p.split('/').next()).unwrap();
    let base = format!("http://127.0.0.1:{port}");

    assert_eq!(get(&format!("{base}/"), &[]).0, 401, "the page without the token");
    assert_eq!(get(&format!("{base}/index.html?token=wrong"), &[]).0, 401);
    assert_eq!(get(&format!("{base}/ws"), &[]).0, 401, "the WebSocket without the token");
    let (status, body) = get(&format!("{base}/?token={token}"), &[]);
    assert_eq!(status, 200);
    assert!(body.contains("voxdeck"), "{body}");
    let bearer = format!("Bearer {token}");
    assert_eq!(get(&format!("{base}/styles.css"), &[("Authorization", &bearer)]).0, 200);
    let _ = app.kill();
    let _ = app.wait();

    // Given explicitly, it is the one required.
    let (mut app, url, _) = serve(home.path(), &["--bind", "0.0.0.0:0", "--token", "s3cret-token-for-the-test", "--no-load"]);
    assert!(url.ends_with("token=s3cret-token-for-the-test"), "{url}");
    let _ = app.kill();
    let _ = app.wait();
}
