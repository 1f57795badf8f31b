//! `voxdeck serve` in headless Chromium (chromedriver): the panel from a browser, through the
//! WebSocket, with the audio source set to a spoken WAV question. Also the token rules a
//! browser on another machine meets.
//!
//! Needs Debian's `chromium` and `chromium-driver` and the loopback OpenAI server
//! (`VOXDECK_LLAMA_SERVER_PYTHON`); `.ci/deps.sh` and `.ci/test.sh` provide them.


use serde_json::json;
use voxdeck_e2e::openai_server::{LlamaServer, test_model_path};
use voxdeck_e2e::chromium::Chromium;
use voxdeck_e2e::panel;
use voxdeck_e2e::serve;


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
    let driver = Chromium::start(home.path(), (1280, 1000), &[]);
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
