//! `voxdeck serve` sends a cloud API key from the environment only to the host it was
//! configured for: a panel client that points the base URL somewhere else and asks for a check
//! must not receive it. The real `voxdeck serve`, its real WebSocket, and loopback listeners
//! that record every request head they get.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use voxdeck_e2e::ws_client::PanelSocket;
use voxdeck_e2e::{spawn_serve, voxdeck, write_config};


const OPENROUTER_KEY: &str = "sk-or-e2e-openrouter-0123456789";
const CUSTOM_KEY: &str = "sk-e2e-custom-9876543210";

/// A loopback "cloud API" that records each request head and refuses it (HTTP 401).
struct Recorder {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}/v1", listener.local_addr().expect("address"));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        // Lives as long as the test process; it only ever answers.
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || answer(socket, &seen));
            }
        });
        Recorder { url, heads }
    }

    /// `host:port`, as the refusal names it.
    fn place(&self) -> &str {
        self.url.trim_start_matches("http://").trim_end_matches("/v1")
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn answer(mut socket: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match socket.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    seen.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
    let body = r#"{"error":{"message":"recorded"}}"#;
    let _ = write!(
        socket,
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The cloud settings a test changes, over a panel session.
trait CloudSettings {
    fn set_cloud(&mut self, provider: &str, base_url: &str);
    fn check_cloud(&mut self) -> Value;
}

impl CloudSettings for PanelSocket {
    /// Changes the cloud settings (the rest as they are).
    fn set_cloud(&mut self, provider: &str, base_url: &str) {
        let view = self.ask(json!({"cmd": "get_settings"}));
        let mut settings = view["view"]["settings"].clone();
        settings["cloud_provider"] = json!(provider);
        settings["cloud_base_url"] = json!(base_url);
        settings["cloud_model"] = json!("test-model");
        let saved = self.ask(json!({"cmd": "set_settings", "settings": settings}));
        assert_eq!(saved["kind"], "saved", "{saved}");
    }

    /// `check_cloud`: the cloud status it returns.
    fn check_cloud(&mut self) -> Value {
        self.ask(json!({"cmd": "check_cloud"}))["cloud"].clone()
    }
}

/// `voxdeck serve` on a free loopback port with `config`, and an OpenRouter key and a custom
/// provider's key in its environment.
fn start_serve(home: &std::path::Path, config: &str) -> (Serving, String) {
    write_config(home, config);
    let mut command = voxdeck(home);
    command
        .env("OPENROUTER_API_KEY", OPENROUTER_KEY)
        .env("VOXDECK_CLOUD_API_KEY", CUSTOM_KEY)
        .env_remove("GROQ_API_KEY");
    let (child, url, _) = spawn_serve(command, &["--bind", "127.0.0.1:0", "--no-load"]);
    (Serving(child), url)
}

/// The server, stopped when the test ends (passed or not).
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn assert_no_key_in(recorder: &Recorder) {
    let heads = recorder.heads();
    assert!(!heads.is_empty(), "the check reached the listener");
    for head in &heads {
        assert!(
            !head.contains(OPENROUTER_KEY) && !head.contains(CUSTOM_KEY) && !head.to_ascii_lowercase().contains("authorization"),
            "a key was sent to {}: {head}",
            recorder.url
        );
    }
}

#[test]
fn a_base_url_set_by_a_client_never_receives_the_environment_key() {
    let home = tempfile::tempdir().unwrap();
    let (serving, url) = start_serve(home.path(), "[cloud]\nuse_keyring = false\n");
    let mut panel = PanelSocket::connect(&url);

    // OpenRouter's key, pointed at another host.
    let collector = Recorder::start();
    panel.set_cloud("openrouter", &collector.url);
    let cloud = panel.check_cloud();
    assert_no_key_in(&collector);
    assert_eq!(cloud["key_set"], false, "{cloud}");
    let detail = cloud["detail"].as_str().unwrap_or_default();
    let refusal = format!(
        "the OPENROUTER_API_KEY key is for openrouter.ai; not sent to {}: store a key for that host with `voxdeck cloud set-key`",
        collector.place()
    );
    assert!(detail.contains(&refusal), "{detail}");

    // A custom provider chosen from the panel: the custom key stays with what serve started
    // with (here OpenRouter's host).
    let collector = Recorder::start();
    panel.set_cloud("custom", &collector.url);
    let cloud = panel.check_cloud();
    assert_no_key_in(&collector);
    let detail = cloud["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("the VOXDECK_CLOUD_API_KEY key is for openrouter.ai; not sent to "), "{detail}");

    // Saved to the config file, but not trusted by this process, nor by the next one: the file
    // keeps the URL the key was for.
    let saved = std::fs::read_to_string(home.path().join("voxdeck/config.toml")).unwrap();
    assert!(saved.contains(&collector.url), "{saved}");
    assert!(saved.contains("key_url = \"https://openrouter.ai/api/v1\""), "{saved}");
    drop(panel);
    drop(serving);
    let (_serving, url) = start_serve(home.path(), &saved);
    let mut panel = PanelSocket::connect(&url);
    let before = collector.heads().len();
    let cloud = panel.check_cloud();
    assert!(collector.heads().len() > before, "the check after the restart reached the listener");
    assert_no_key_in(&collector);
    assert_eq!(cloud["key_set"], false, "{cloud}");
}

#[test]
fn the_environment_key_still_reaches_the_server_serve_started_with() {
    let home = tempfile::tempdir().unwrap();
    let server = Recorder::start();
    let config = format!(
        "[cloud]\nprovider = \"custom\"\nbase_url = \"{}\"\nmodel = \"test-model\"\nuse_keyring = false\n",
        server.url
    );
    let (_serving, url) = start_serve(home.path(), &config);
    let mut panel = PanelSocket::connect(&url);

    let cloud = panel.check_cloud();
    assert_eq!(cloud["key_set"], true, "{cloud}");
    let heads = server.heads();
    let bearer = format!("authorization: bearer {}", CUSTOM_KEY.to_ascii_lowercase());
    assert!(
        !heads.is_empty() && heads.iter().all(|h| h.to_ascii_lowercase().contains(&bearer)),
        "the configured server gets the key: {heads:?}"
    );
    assert!(heads.iter().all(|h| !h.contains(OPENROUTER_KEY)), "{heads:?}");

    // Moved by a client to another port of the same machine: another server, no key.
    let other = Recorder::start();
    panel.set_cloud("custom", &other.url);
    let cloud = panel.check_cloud();
    assert_no_key_in(&other);
    let detail = cloud["detail"].as_str().unwrap_or_default();
    let refusal = format!(
        "the VOXDECK_CLOUD_API_KEY key is for {}; not sent to {}: store a key for that host with `voxdeck cloud set-key`",
        server.place(),
        other.place()
    );
    assert!(detail.contains(&refusal), "{detail}");

    // And back: the key goes to its own server again.
    panel.set_cloud("custom", &server.url);
    let before = server.heads().len();
    assert_eq!(panel.check_cloud()["key_set"], true);
    assert!(server.heads()[before..].iter().all(|h| h.to_ascii_lowercase().contains(&bearer)));
}
