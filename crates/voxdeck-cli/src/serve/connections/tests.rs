//! The accept loop over real loopback sockets, with short limits: clients on 127.0.0.2 and up
//! play other machines (Linux routes all of 127.0.0.0/8 to the loopback device).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite;
use voxdeck_core::control::{Command, Outgoing, Reply};

use super::*;
use crate::serve::{AppState, Backend, auth, router};

/// An engine that answers every command with Ok.
#[derive(Clone)]
struct Quiet(broadcast::Sender<Outgoing>);

impl Backend for Quiet {
    fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.0.subscribe()
    }

    fn handle(&self, _: Command) -> Result<Reply, String> {
        Ok(Reply::Ok)
    }
}

struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    serving: JoinHandle<()>,
    _ui: tempfile::TempDir,
}

/// The real routes behind [`serve`] with `limits`, on a free loopback port.
async fn start(limits: Limits) -> Server {
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(ui.path().join("index.html"), "<!doctype html><title>voxdeck</title>").unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let state = AppState {
        backend: Quiet(broadcast::channel(16).0),
        ui_dir: Arc::new(ui.path().canonicalize().unwrap()),
        stop: stop_rx.clone(),
    };
    let app = router(state, auth::Auth::new(None));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(serve(listener, app, limits, stop_rx));
    Server { addr, stop, serving, _ui: ui }
}

/// A connection to `addr` from the loopback address `127.0.0.<host>`.
async fn connect_from(host: u8, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, host], 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Everything the server sends until it closes the connection; `None` if it is still open
/// after `within`.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut piece = [0u8; 1024];
        loop {
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&piece[..n]),
            }
        }
    });
    read.await.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// `GET /` from `127.0.0.<host>`: the response, which must come within 2 s.
async fn get_page(host: u8, addr: SocketAddr) -> String {
    let mut stream = connect_from(host, addr).await;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.unwrap();
    until_closed(&mut stream, Duration::from_secs(2)).await.expect("an answer within 2 s")
}

const HALF_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";

fn short(max_per_peer: usize, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(1000),
        idle_timeout: Duration::from_secs(30),
        max_per_peer,
        max_connections,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_time_out_and_a_peer_beyond_its_cap_is_refused() {
    let limits = short(4, 64);
    let server = start(limits).await;
    let opened = Instant::now();
    let mut half_open = Vec::new();
    for _ in 0..limits.max_per_peer {
        let mut stream = connect_from(2, server.addr).await;
        stream.write_all(HALF_HEAD).await.unwrap();
        half_open.push(stream);
    }

    // One more from the same peer: refused at once, in words.
    let mut extra = connect_from(2, server.addr).await;
    let refused = until_closed(&mut extra, Duration::from_millis(500)).await.expect("closed at once");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many connections from your address (at most 4 at once)"), "{refused}");

    // Another peer is served promptly meanwhile.
    let asked = Instant::now();
    let page = get_page(1, server.addr).await;
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("voxdeck"), "{page}");
    assert!(asked.elapsed() < Duration::from_millis(500), "{:?}", asked.elapsed());

    // The half-sent heads are closed by the header timeout: not before it, not long after.
    for stream in &mut half_open {
        let answer = until_closed(stream, Duration::from_secs(5)).await.expect("closed by the header timeout");
        assert!(!answer.contains(" 200 "), "{answer}");
    }
    let waited = opened.elapsed();
    assert!(waited >= limits.header_read_timeout - Duration::from_millis(50), "closed after {waited:?}");
    assert!(waited < limits.header_read_timeout + Duration::from_secs(2), "closed after {waited:?}");

    // Their slots are free again.
    assert!(get_page(2, server.addr).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_peers_together_are_capped_and_a_closed_connection_frees_its_slot() {
    let server = start(short(2, 3)).await;
    let mut held = Vec::new();
    for host in [2, 2, 3] {
        let mut stream = connect_from(host, server.addr).await;
        stream.write_all(HALF_HEAD).await.unwrap();
        held.push(stream);
    }
    let mut extra = connect_from(4, server.addr).await;
    let refused = until_closed(&mut extra, Duration::from_millis(500)).await.expect("closed at once");
    assert!(refused.contains("too many connections (at most 3 at once)"), "{refused}");

    drop(held.pop());
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        let page = get_page(4, server.addr).await;
        if page.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < give_up, "the closed connection's slot never came back: {page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Client = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A WebSocket session from `127.0.0.<host>` that has had one command answered.
async fn panel(host: u8, addr: SocketAddr) -> Client {
    let stream = connect_from(host, addr).await;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream).await.expect("upgrade");
    ws.send(tungstenite::Message::Text(r#"{"id":1,"command":{"cmd":"status"}}"#.into())).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(2), ws.next()).await.expect("a reply").expect("open").unwrap();
    assert!(reply.to_text().unwrap().contains(r#""id":1"#), "{reply}");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_keeps_its_slot_until_it_goes_quiet() {
    let limits = Limits { idle_timeout: Duration::from_millis(800), ..short(1, 8) };
    let server = start(limits).await;
    let mut ws = panel(2, server.addr).await;
    let since = Instant::now();
    // The session holds the peer's only slot.
    let mut extra = connect_from(2, server.addr).await;
    let refused = until_closed(&mut extra, Duration::from_millis(500)).await.expect("closed at once");
    assert!(refused.contains("from your address"), "{refused}");

    // Nothing from the client: closed after the idle timeout.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    });
    assert!(end.await.is_ok(), "the quiet WebSocket was never closed");
    assert!(since.elapsed() >= limits.idle_timeout - Duration::from_millis(50), "{:?}", since.elapsed());
    drop(ws);
    let give_up = Instant::now() + Duration::from_secs(2);
    while !get_page(2, server.addr).await.starts_with("HTTP/1.1 200") {
        assert!(Instant::now() < give_up, "the WebSocket's slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_and_idle_connections_then_returns() {
    let server = start(Limits::DEFAULT).await;
    let mut ws = panel(2, server.addr).await;
    // A keep-alive connection between requests: it would otherwise wait for the header timeout.
    let mut idle = connect_from(3, server.addr).await;
    idle.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut piece = [0u8; 4096];
    assert!(idle.read(&mut piece).await.unwrap() > 0);

    let stopped = Instant::now();
    server.stop.send(true).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(2), ws.next()).await.expect("a close frame");
    assert!(matches!(message, Some(Ok(tungstenite::Message::Close(Some(_))))), "{message:?}");
    drop(ws);
    tokio::time::timeout(Duration::from_secs(3), server.serving).await.expect("serve returned").unwrap();
    assert!(stopped.elapsed() < HEADER_READ_TIMEOUT);
    assert!(until_closed(&mut idle, Duration::from_secs(1)).await.is_some(), "the idle connection was closed");
    // And nothing listens any more.
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[test]
fn ipv6_peers_count_by_their_64() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(peer_key(a), peer_key(b));
    assert_ne!(peer_key(a), peer_key(c));
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(peer_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    assert_eq!(peer_key("192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
}

#[test]
fn the_limits_are_sane() {
    let d = Limits::DEFAULT;
    assert!(d.max_per_peer < d.max_connections);
    // The pings must keep a live WebSocket from looking idle.
    assert!(PING_INTERVAL * 2 < d.idle_timeout);
    assert!(d.header_read_timeout < d.idle_timeout);
}
