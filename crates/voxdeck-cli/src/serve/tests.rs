//! The server end to end with a stand-in engine: static files and their headers, the token
//! rules over real requests, and WebSocket sessions (several at once, bad frames, origins).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use tower::ServiceExt;
use voxdeck_core::control::PanelEvent;

use super::*;

/// Records the commands it gets; `press` answers a turn, `check_cloud` fails, `status` waits a
/// little (so ordering is tested), the rest are Ok.
#[derive(Clone)]
struct Fake {
    events: broadcast::Sender<Outgoing>,
    seen: Arc<Mutex<Vec<Command>>>,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            events: broadcast::channel(64).0,
            seen: Arc::default(),
        }
    }
}

impl Backend for Fake {
    fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.events.subscribe()
    }

    fn handle(&self, command: Command) -> Result<Reply, String> {
        if command == Command::Press {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.seen.lock().unwrap().push(command.clone());
        match command {
            Command::Press => Ok(Reply::Turn { turn: 1 }),
            Command::CheckCloud => Err("no key stored".into()),
            _ => Ok(Reply::Ok),
        }
    }
}

struct Server {
    fake: Fake,
    addr: SocketAddr,
    _ui: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

fn ui_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>voxdeck</title>").unwrap();
    std::fs::write(dir.path().join("styles.css"), "body{}").unwrap();
    std::fs::write(dir.path().join("main.js"), "import './bindings/Command.js';").unwrap();
    std::fs::create_dir(dir.path().join("bindings")).unwrap();
    std::fs::write(dir.path().join("bindings/Command.js"), "export {};").unwrap();
    std::fs::write(dir.path().join("icon.svg"), "<svg/>").unwrap();
    dir
}

fn app(token: Option<&str>) -> (Router, Fake, tempfile::TempDir, watch::Sender<bool>) {
    let ui = ui_dir();
    let fake = Fake::new();
    let (stop_tx, stop) = watch::channel(false);
    let state = AppState {
        backend: fake.clone(),
        ui_dir: Arc::new(ui.path().canonicalize().unwrap()),
        stop,
    };
    (
        router(state, auth::Auth::new(token.map(String::from))),
        fake,
        ui,
        stop_tx,
    )
}

async fn start(token: Option<&str>) -> Server {
    let (router, fake, ui, stop) = app(token);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server {
        fake,
        addr,
        _ui: ui,
        _stop: stop,
    }
}

async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = Request::builder().uri(uri);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request = request.header(header::HOST, "127.0.0.1:8765");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn body(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn static_files_with_types_and_headers() {
    let (router, _fake, _ui, _stop) = app(None);
    for (path, ty) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/styles.css", "text/css; charset=utf-8"),
        ("/main.js", "text/javascript; charset=utf-8"),
        ("/bindings/Command.js", "text/javascript; charset=utf-8"),
        ("/icon.svg", "image/svg+xml"),
    ] {
        let response = get(&router, path, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let h = response.headers();
        assert_eq!(h[header::CONTENT_TYPE], ty, "{path}");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; \
             base-uri 'none'; form-action 'self'"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    }
    assert!(body(get(&router, "/", &[]).await).await.contains("voxdeck"));
    for path in [
        "/missing.js",
        "/bindings",
        "/../Cargo.toml",
        "/%2e%2e/etc/passwd",
        "/.hidden",
    ] {
        let response = get(&router, path, &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
    let post = Request::builder()
        .method("POST")
        .uri("/index.html")
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.clone().oneshot(post).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // DNS rebinding: without a token only loopback host names are served.
    let response = get(&router, "/", &[("host", "evil.example:8765")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn token_over_http_then_cookie() {
    let (router, _fake, _ui, _stop) = app(Some("tok-123"));
    let response = get(&router, "/", &[]).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(body(response).await.contains("token"));
    assert_eq!(
        get(&router, "/styles.css?token=nope", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&router, "/missing.js", &[]).await.status(),
        StatusCode::UNAUTHORIZED,
        "401 before 404"
    );

    let response = get(&router, "/?token=tok-123", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert_eq!(cookie, "voxdeck_token=tok-123; HttpOnly; SameSite=Strict; Path=/");
    let pair = cookie.split(';').next().unwrap();
    let response = get(&router, "/bindings/Command.js", &[("cookie", pair)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let response = get(&router, "/main.js", &[("authorization", "Bearer tok-123")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    // With a token, any Host is fine (the token is the protection).
    let response = get(&router, "/?token=tok-123", &[("host", "jetson.lan:8765")]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, query: &str, origin: Option<&str>) -> Result<Client, tungstenite::Error> {
    let mut request = format!("ws://{addr}/ws{query}").into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
}

async fn next_json(ws: &mut Client) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the connection open")
            .expect("a good frame");
        if let tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn send(ws: &mut Client, text: &str) {
    ws.send(tungstenite::Message::Text(text.into())).await.unwrap();
}

fn status_of(e: tungstenite::Error) -> u16 {
    match e {
        tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_requests_replies_and_events() {
    let server = start(None).await;
    let origin = format!("http://{}", server.addr);
    let mut a = connect(server.addr, "", Some(&origin)).await.unwrap();
    let mut b = connect(server.addr, "", None).await.unwrap();

    send(&mut a, r#"{"id":1,"command":{"cmd":"status"}}"#).await;
    let reply = next_json(&mut a).await;
    assert_eq!(
        reply,
        serde_json::json!({"type":"reply","id":1,"ok":{"kind":"ok"},"error":null})
    );

    send(&mut a, r#"{"id":2,"command":{"cmd":"check_cloud"}}"#).await;
    let reply = next_json(&mut a).await;
    assert_eq!(
        (reply["id"].as_u64(), reply["error"].as_str()),
        (Some(2), Some("no key stored"))
    );

    // Garbage: a reply in words, and the connection lives on.
    send(&mut a, "this is not JSON").await;
    let reply = next_json(&mut a).await;
    assert_eq!(reply["id"], 0);
    assert!(reply["error"].as_str().unwrap().starts_with("bad request"));
    a.send(tungstenite::Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut a).await["id"], 0);
    a.send(tungstenite::Message::Ping(vec![9].into())).await.unwrap();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), a.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if matches!(message, tungstenite::Message::Pong(_)) {
            break;
        }
    }

    // Press then release at once: answered, and handled, in that order.
    send(&mut a, r#"{"id":3,"command":{"cmd":"press"}}"#).await;
    send(&mut a, r#"{"id":4,"command":{"cmd":"release"}}"#).await;
    let first = next_json(&mut a).await;
    let second = next_json(&mut a).await;
    assert_eq!((first["id"].as_u64(), second["id"].as_u64()), (Some(3), Some(4)));
    assert_eq!(first["ok"], serde_json::json!({"kind":"turn","turn":1}));
    let seen = server.fake.seen.lock().unwrap().clone();
    assert_eq!(&seen[seen.len() - 2..], &[Command::Press, Command::Release]);

    // Events reach every client.
    let event = Outgoing::Panel(PanelEvent::Engine {
        status: EngineStatus::Unloaded,
    });
    server.fake.events.send(event).unwrap();
    for ws in [&mut a, &mut b] {
        assert_eq!(
            next_json(ws).await,
            serde_json::json!({"type":"engine","status":{"state":"unloaded"}})
        );
    }

    // One client leaving does not disturb the other.
    a.close(None).await.unwrap();
    send(&mut b, r#"{"id":5,"command":{"cmd":"status"}}"#).await;
    assert_eq!(next_json(&mut b).await["id"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_lag_is_skipped() {
    let server = start(None).await;
    let mut ws = connect(server.addr, "", None).await.unwrap();
    // Numbered, more than the channel holds (64), faster than the session forwards them: the
    // session subscribed at the handshake, so it lags.
    for i in 0..200 {
        server
            .fake
            .events
            .send(Outgoing::Panel(PanelEvent::Engine {
                status: EngineStatus::Failed { message: format!("event {i}") },
            }))
            .unwrap();
    }
    send(&mut ws, r#"{"id":42,"command":{"cmd":"status"}}"#).await;
    let mut seen = Vec::new();
    let mut replied = false;
    while !(replied && seen.last() == Some(&199)) {
        let message = next_json(&mut ws).await;
        if message["type"] == "reply" {
            assert_eq!(message["id"], 42);
            replied = true;
        } else {
            let text = message["status"]["message"].as_str().unwrap_or_else(|| panic!("{message}"));
            seen.push(text.trim_start_matches("event ").parse::<u32>().unwrap());
        }
    }
    // Some were skipped, the rest arrived in order up to the newest, and the session went on.
    assert!(seen.len() < 200, "nothing was skipped: all 200 events arrived");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "out of order: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_origin_and_token() {
    let server = start(None).await;
    let e = connect(server.addr, "", Some("http://evil.example")).await.unwrap_err();
    assert_eq!(status_of(e), 403);

    let server = start(Some("t0ken")).await;
    assert_eq!(status_of(connect(server.addr, "", None).await.unwrap_err()), 401);
    assert_eq!(
        status_of(connect(server.addr, "?token=wrong", None).await.unwrap_err()),
        401
    );
    let mut ws = connect(server.addr, "?token=t0ken", None).await.unwrap();
    send(&mut ws, r#"{"id":1,"command":{"cmd":"status"}}"#).await;
    assert_eq!(next_json(&mut ws).await["id"], 1);
    // The cookie, as a browser sends it on the page's own WebSocket.
    let mut request = format!("ws://{}/ws", server.addr).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", "voxdeck_token=t0ken".parse().unwrap());
    request
        .headers_mut()
        .insert("origin", format!("http://{}", server.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
    let e = connect(server.addr, "?token=t0ken", Some("http://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(status_of(e), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions() {
    let (router, _fake, _ui, stop) = app(None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut ws = connect(addr, "", None).await.unwrap();
    stop.send(true).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap();
    assert!(
        matches!(message, Some(Ok(tungstenite::Message::Close(Some(_))))),
        "{message:?}"
    );
}

#[test]
fn bind_addresses() {
    assert_eq!(parse_bind("127.0.0.1:8765").unwrap(), "127.0.0.1:8765".parse().unwrap());
    assert_eq!(parse_bind("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
    assert_eq!(parse_bind("localhost:9000").unwrap(), "127.0.0.1:9000".parse().unwrap());
    for bad in ["8765", "127.0.0.1", "nonsense", "127.0.0.1:99999", "localhost:x"] {
        let e = parse_bind(bad).unwrap_err();
        assert!(e.contains("127.0.0.1:8765"), "{bad}: {e}");
    }
    assert_eq!(url("127.0.0.1:8765".parse().unwrap(), None), "http://127.0.0.1:8765/");
    assert_eq!(url("[::1]:1".parse().unwrap(), Some("t")), "http://[::1]:1/?token=t");
}

#[test]
fn address_in_use_in_words() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = std::net::TcpListener::bind(addr).unwrap_err();
    let message = format!("{:#}", bind_error(addr, e));
    assert!(
        message.contains("already in use") && message.contains("--bind"),
        "{message}"
    );
}

/// The directives of a Content Security Policy, by name.
fn csp_directives(csp: &str) -> std::collections::HashMap<String, String> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            Some((words.next()?.to_owned(), words.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

#[tokio::test]
async fn every_csp_forbids_a_base_url_and_foreign_form_targets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (router, _fake, _ui, _stop) = app(None);
    let header = get(&router, "/", &[]).await.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let tauri: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("src-tauri/tauri.conf.json")).unwrap()).unwrap();
    let tauri = tauri["app"]["security"]["csp"].as_str().expect("the app's CSP").to_owned();
    let page = std::fs::read_to_string(root.join("ui/app/index.html")).unwrap();
    let meta = page
        .split(r#"http-equiv="Content-Security-Policy" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSP meta tag")
        .to_owned();
    for (whose, csp) in [("serve", header), ("tauri.conf.json", tauri), ("ui/app/index.html", meta)] {
        let d = csp_directives(&csp);
        assert_eq!(d.get("base-uri").map(String::as_str), Some("'none'"), "{whose}: {csp}");
        assert_eq!(d.get("form-action").map(String::as_str), Some("'self'"), "{whose}: {csp}");
        assert_eq!(d.get("default-src").map(String::as_str), Some("'self'"), "{whose}: {csp}");
    }
}
