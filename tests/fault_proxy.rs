//! A fault-injecting HTTP proxy for the cloud-engine tests: it sits on 127.0.0.1 in front of
//! a real server ([`LlamaServer`](crate::openai_server::LlamaServer)) and makes the faults a
//! real server will not make on demand: error statuses, a stream that stalls, a connection
//! reset mid-stream, malformed SSE, a refused connection.
//!
//! One request per connection: the proxy reads the client's whole request (head and
//! `Content-Length` body) before it acts, and forwards it upstream with `Connection: close`.
//! The fault is the one set when the connection was accepted; [`FaultProxy::set_fault`]
//! changes it for the next connections.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forwards the request and the response unchanged.
    Pass,
    /// Answers the request itself with this status, never contacting upstream. `body` is the
    /// error message of an OpenAI-style body `{"error": {"message": body, "code": code}}`, or
    /// the whole body when it starts with `{`. `retry_after` adds a `Retry-After` header
    /// (seconds).
    Status { code: u16, retry_after: Option<u32>, body: String },
    /// Reads the request, then answers nothing (not even a status line) and keeps the
    /// connection open until the client gives up.
    Hang,
    /// Forwards the response head and the first `bytes_of_body` bytes of its body (raw bytes
    /// after `\r\n\r\n`, chunked framing included), then nothing more: the upstream connection
    /// is closed (the server stops generating) and the client's stays open until it gives up.
    StallAfter { bytes_of_body: usize },
    /// As [`StallAfter`](Fault::StallAfter), then resets the client's connection (RST, by
    /// closing it with `SO_LINGER` 0). With either, a response shorter than `bytes_of_body`
    /// passes whole.
    ResetAfter { bytes_of_body: usize },
    /// Forwards the response; at the first chunk boundary once `bytes_of_body` body bytes have
    /// passed, injects one well-framed chunk holding the SSE event `data: {not json\n\n`
    /// ([`MALFORMED_EVENT`]), then forwards the rest of the response unchanged (so the stream
    /// still ends with `data: [DONE]`). On a response that is not chunked the event is inserted
    /// raw after `bytes_of_body` bytes.
    MalformedAfter { bytes_of_body: usize },
    /// Accepts the connection and closes it at once, reading nothing.
    Refuse,
}

impl Fault {
    /// `401 Unauthorized`, as for a wrong API key.
    pub fn unauthorized() -> Fault {
        Fault::Status { code: 401, retry_after: None, body: "Invalid API key".into() }
    }

    /// `429 Too Many Requests` with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u32) -> Fault {
        Fault::Status { code: 429, retry_after: Some(seconds), body: "Rate limit reached".into() }
    }

    /// `500 Internal Server Error`.
    pub fn server_error() -> Fault {
        Fault::Status { code: 500, retry_after: None, body: "The server had an error".into() }
    }
}

/// The SSE event [`Fault::MalformedAfter`] injects.
pub const MALFORMED_EVENT: &str = "data: {not json\n\n";

/// How long a connection waits on a silent peer between checks that the proxy still runs.
const POLL: Duration = Duration::from_millis(100);
/// Longest wait for the client's request, and to connect upstream.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_HEAD: usize = 64 * 1024;

struct Shared {
    upstream: SocketAddr,
    fault: Mutex<Fault>,
    connections: AtomicUsize,
    requests: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// The proxy: a listener on 127.0.0.1 and a thread per connection; stops on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1, in front of `upstream`.
    pub fn start(upstream: SocketAddr, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            upstream,
            fault: Mutex::new(fault),
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let accept = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("fault-proxy".into())
                .spawn(move || {
                    for client in listener.incoming() {
                        if shared.stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(client) = client else { continue };
                        shared.connections.fetch_add(1, Ordering::SeqCst);
                        let fault = shared.fault.lock().unwrap().clone();
                        let shared = shared.clone();
                        let _ = std::thread::Builder::new()
                            .name("fault-proxy-conn".into())
                            .spawn(move || serve(client, fault, &shared));
                    }
                })
                .expect("spawn proxy thread")
        };
        FaultProxy { addr, shared, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL an OpenAI client takes.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.addr.port())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault for the connections accepted from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }

    pub fn fault(&self) -> Fault {
        self.shared.fault.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The head (request line and headers) of every request read so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop; the connection threads see `stop` within POLL.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut client: TcpStream, fault: Fault, shared: &Shared) {
    if fault == Fault::Refuse {
        return; // dropped: closed without reading
    }
    let _ = client.set_nodelay(true);
    let _ = client.set_write_timeout(Some(CLIENT_TIMEOUT));
    let Some((head, body)) = read_request(&mut client) else { return };
    shared.requests.lock().unwrap().push(head.clone());
    match fault {
        Fault::Refuse => {}
        Fault::Status { code, retry_after, body } => {
            let _ = client.write_all(&status_response(code, retry_after, &body));
            let _ = client.shutdown(Shutdown::Write);
            // Lets the client read the answer before the socket closes.
            hold_open(&mut client, shared, Some(Duration::from_secs(1)));
        }
        Fault::Hang => hold_open(&mut client, shared, None),
        Fault::Pass | Fault::StallAfter { .. } | Fault::ResetAfter { .. } | Fault::MalformedAfter { .. } => {
            let Ok(mut upstream) = TcpStream::connect_timeout(&shared.upstream, CONNECT_TIMEOUT) else {
                let _ = client.write_all(&status_response(502, None, "upstream unreachable"));
                return;
            };
            let _ = upstream.set_nodelay(true);
            let _ = upstream.set_read_timeout(Some(POLL));
            let mut request = connection_close(&head).into_bytes();
            request.extend_from_slice(&body);
            if upstream.write_all(&request).is_err() {
                let _ = client.write_all(&status_response(502, None, "upstream closed"));
                return;
            }
            forward_response(client, upstream, fault, shared);
        }
    }
}

/// Reads the request head and its `Content-Length` body; answers `100 Continue` when asked.
fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    client.set_read_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body = buf[end..].to_vec();
    let lower = head.to_ascii_lowercase();
    let length = header_value(&lower, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    if body.len() < length && header_value(&lower, "expect").is_some_and(|v| v == "100-continue") {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    while body.len() < length {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    Some((head, body))
}

/// The request head with `Connection: close` (and no `Expect`, already answered).
fn connection_close(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if name == "connection" || name == "expect" || name == "keep-alive" {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn forward_response(mut client: TcpStream, mut upstream: TcpStream, fault: Fault, shared: &Shared) {
    // The response head, forwarded whole.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        match read_some(&mut upstream, &mut chunk, shared) {
            Some(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => {
                // Upstream closed before a whole head: pass on what came, then close.
                let _ = client.write_all(&buf);
                return;
            }
        }
    };
    let chunked = header_value(&String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase(), "transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    if client.write_all(&buf[..head_end]).is_err() {
        return;
    }
    let mut pending: Vec<u8> = buf[head_end..].to_vec();
    let mut sent = 0usize; // body bytes forwarded
    let mut framing = Chunking::default();
    let mut injected = false;
    loop {
        if pending.is_empty() {
            match read_some(&mut upstream, &mut chunk, shared) {
                Some(n) if n > 0 => pending.extend_from_slice(&chunk[..n]),
                _ => break, // upstream done (or the proxy stops)
            }
        }
        let take = match fault {
            Fault::StallAfter { bytes_of_body } | Fault::ResetAfter { bytes_of_body } => {
                let left = bytes_of_body.saturating_sub(sent);
                if left == 0 {
                    drop(upstream);
                    if matches!(fault, Fault::ResetAfter { .. }) {
                        reset(client);
                    } else {
                        hold_open(&mut client, shared, None);
                    }
                    return;
                }
                left.min(pending.len())
            }
            Fault::MalformedAfter { bytes_of_body } if !injected => {
                if sent >= bytes_of_body && (!chunked || framing.at_boundary()) {
                    let event = if chunked {
                        format!("{:x}\r\n{MALFORMED_EVENT}\r\n", MALFORMED_EVENT.len())
                    } else {
                        MALFORMED_EVENT.to_owned()
                    };
                    if client.write_all(event.as_bytes()).is_err() {
                        return;
                    }
                    injected = true;
                    continue;
                }
                if sent < bytes_of_body {
                    (bytes_of_body - sent).min(pending.len())
                } else {
                    framing.to_boundary(&pending)
                }
            }
            _ => pending.len(),
        };
        if chunked {
            framing.feed(&pending[..take]);
        }
        if client.write_all(&pending[..take]).is_err() {
            return; // the client gave up: dropping upstream tells the server
        }
        sent += take;
        pending.drain(..take);
    }
    // A plain body shorter than the fault's byte count still gets its malformed event.
    if matches!(fault, Fault::MalformedAfter { .. }) && !injected && !chunked {
        let _ = client.write_all(MALFORMED_EVENT.as_bytes());
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// Tracks HTTP/1.1 chunked framing to find the boundaries between chunks.
#[derive(Default)]
struct Chunking {
    state: ChunkState,
}

#[derive(Default, Clone)]
enum ChunkState {
    /// At a boundary: the next byte starts a chunk-size line.
    #[default]
    Size,
    /// In a chunk-size line; the bytes so far.
    SizeLine(Vec<u8>),
    /// In a chunk's data and its closing CRLF: bytes left.
    Data(usize),
    /// After the last (zero-size) chunk: trailers.
    Done,
}

impl Chunking {
    fn at_boundary(&self) -> bool {
        matches!(self.state, ChunkState::Size)
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = match std::mem::take(&mut self.state) {
                ChunkState::Size => ChunkState::SizeLine(vec![b]),
                ChunkState::SizeLine(mut line) => {
                    line.push(b);
                    if line.ends_with(b"\r\n") {
                        let text = String::from_utf8_lossy(&line);
                        let hex = text.trim_end().split(';').next().unwrap_or("").trim();
                        match usize::from_str_radix(hex, 16) {
                            Ok(0) | Err(_) => ChunkState::Done,
                            Ok(n) => ChunkState::Data(n + 2),
                        }
                    } else {
                        ChunkState::SizeLine(line)
                    }
                }
                ChunkState::Data(1) => ChunkState::Size,
                ChunkState::Data(n) => ChunkState::Data(n - 1),
                ChunkState::Done => ChunkState::Done,
            }
        }
    }

    /// How many of `bytes` to feed to reach the next chunk boundary (all of them when it lies
    /// beyond).
    fn to_boundary(&self, bytes: &[u8]) -> usize {
        let mut probe = Chunking { state: self.state.clone() };
        for (i, b) in bytes.iter().enumerate() {
            probe.feed(std::slice::from_ref(b));
            if probe.at_boundary() {
                return i + 1;
            }
        }
        bytes.len()
    }
}

/// Reads what is there; `None` on end, error, or when the proxy stops.
fn read_some(stream: &mut TcpStream, buf: &mut [u8], shared: &Shared) -> Option<usize> {
    loop {
        match stream.read(buf) {
            Ok(n) => return Some(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                if shared.stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

/// Keeps the connection open, discarding what the client sends, until it closes, the proxy
/// stops, or `limit` passes.
fn hold_open(client: &mut TcpStream, shared: &Shared, limit: Option<Duration>) {
    let _ = client.set_read_timeout(Some(POLL));
    let start = std::time::Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match client.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => return,
        }
        if shared.stop.load(Ordering::SeqCst) || limit.is_some_and(|l| start.elapsed() >= l) {
            return;
        }
    }
}

/// Closes with `SO_LINGER` 0: the kernel sends RST instead of FIN.
fn reset(client: TcpStream) {
    let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    drop(client);
}

fn status_response(code: u16, retry_after: Option<u32>, body: &str) -> Vec<u8> {
    let body = if body.trim_start().starts_with('{') {
        body.to_owned()
    } else {
        serde_json::json!({"error": {"message": body, "type": error_type(code), "code": code}}).to_string()
    };
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(code),
        body.len()
    );
    if let Some(s) = retry_after {
        out.push_str(&format!("Retry-After: {s}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn error_type(code: u16) -> &'static str {
    match code {
        401 | 403 => "authentication_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// The value of header `name` in a lowercased head.
fn header_value<'a>(lower_head: &'a str, name: &str) -> Option<&'a str> {
    lower_head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_boundaries() {
        let body = b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n";
        let mut c = Chunking::default();
        assert!(c.at_boundary());
        assert_eq!(c.to_boundary(body), 10);
        c.feed(&body[..4]);
        assert!(!c.at_boundary());
        assert_eq!(c.to_boundary(&body[4..]), 6);
        c.feed(&body[4..10]);
        assert!(c.at_boundary());
        assert_eq!(c.to_boundary(&body[10..]), 12);
        c.feed(&body[10..22]);
        assert!(c.at_boundary());
        c.feed(&body[22..]);
        assert!(!c.at_boundary());
        // A size line split across reads.
        let mut c = Chunking::default();
        c.feed(b"1");
        assert_eq!(c.to_boundary(b"0\r\n0123456789abcdef\r\nxx"), 21);
    }

    #[test]
    fn request_head_gets_connection_close() {
        let head = "POST /v1/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n";
        assert_eq!(connection_close(head), "POST /v1/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    }

    #[test]
    fn status_body_is_openai_style() {
        let r = String::from_utf8(status_response(429, Some(7), "slow down")).unwrap();
        assert!(r.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{r}");
        assert!(r.contains("\r\nRetry-After: 7\r\n"), "{r}");
        let body: serde_json::Value = serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error"]["message"], "slow down");
    }
}
