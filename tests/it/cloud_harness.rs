//! The cloud tests' harness on its own: the real OpenAI-compatible server (llama-cpp-python on
//! SmolLM2) seen by `curl -N` and by a raw TCP client, directly and through the fault proxy.
//!
//! Needs `VOXDECK_LLAMA_SERVER_PYTHON` (`export VOXDECK_LLAMA_SERVER_PYTHON=$(bash
//! .ci/llama-server.sh)`; `.ci/test.sh` sets it): without it the tests that need the server
//! fail and say so.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use voxdeck_e2e::fault_proxy::{Fault, FaultProxy, MALFORMED_EVENT};
use voxdeck_e2e::openai_server::{LlamaServer, chat_body, chat_request, free_port, test_model_path};

/// One server for the whole binary (it serves one request at a time; tests queue).
fn server() -> &'static LlamaServer {
    static SERVER: OnceLock<LlamaServer> = OnceLock::new();
    SERVER.get_or_init(|| LlamaServer::start(&test_model_path()))
}

/// A port nothing listens on: a proxy in front of it shows it never contacted upstream.
fn dead_upstream() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

const QUESTION: &str = "What is the capital of France?";

/// `curl -sS -N -i` POSTing a streaming chat completion; (exit code, stdout, stderr).
fn curl_stream(base_url: &str, model: &str, max_tokens: u32) -> (Option<i32>, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-N", "-i", "--max-time", "30", "-H", "Content-Type: application/json", "-d"])
        .arg(chat_body(model, QUESTION, max_tokens, true))
        .arg(format!("{base_url}/chat/completions"))
        .output()
        .expect("curl runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks a whole streamed answer as curl prints it (head, then the SSE events); returns the
/// answer's text.
fn assert_complete_sse(out: &str) -> String {
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head:\n{out}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{out}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/event-stream"), "{out}");
    let data: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "the stream ends with [DONE]:\n{out}");
    let mut answer = String::new();
    let mut finish = None;
    for event in &data[..data.len() - 1] {
        let v: serde_json::Value = serde_json::from_str(event).unwrap_or_else(|e| panic!("{e}: {event}"));
        assert_eq!(v["object"], "chat.completion.chunk", "{event}");
        let choice = &v["choices"][0];
        if let Some(c) = choice["delta"]["content"].as_str() {
            answer.push_str(c);
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    assert!(!answer.trim().is_empty(), "content deltas:\n{out}");
    assert!(matches!(finish.as_deref(), Some("stop" | "length")), "a finish_reason:\n{out}");
    answer
}

/// Sends a streaming chat completion on a fresh connection.
fn send_chat(addr: SocketAddr, max_tokens: u32) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&chat_request(addr, &chat_body("test", QUESTION, max_tokens, true))).expect("send request");
    s
}

/// Reads the response head; returns it and the body bytes read past it.
fn read_head(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return (String::from_utf8_lossy(&buf[..i + 4]).into_owned(), buf[i + 4..].to_vec());
        }
        match s.read(&mut chunk) {
            Ok(0) => panic!("connection closed before a response head: {:?}", String::from_utf8_lossy(&buf)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("no response head ({e}): {:?}", String::from_utf8_lossy(&buf)),
        }
    }
}

/// Reads until the connection ends: the bytes, and the error that ended it (None: clean EOF).
fn read_rest(s: &mut TcpStream, mut body: Vec<u8>) -> (Vec<u8>, Option<std::io::Error>) {
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (body, None),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) => return (body, Some(e)),
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn the_server_lists_its_model_and_streams_sse_to_curl() {
    let _heavy = crate::heavy();
    let server = server();
    let models = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("{}/models", server.base_url()))
        .output()
        .unwrap();
    let models: serde_json::Value = serde_json::from_slice(&models.stdout).expect("GET /v1/models is JSON");
    assert_eq!(models["data"][0]["id"], server.model_alias(), "{models}");

    let (code, out, err) = curl_stream(&server.base_url(), server.model_alias(), 12);
    assert_eq!(code, Some(0), "curl: {err}\n{out}");
    let answer = assert_complete_sse(&out);
    assert!(answer.contains("Paris"), "greedy SmolLM2 knows: {answer:?}");
}

#[test]
fn the_proxy_passes_the_stream_through() {
    let _heavy = crate::heavy();
    let server = server();
    let proxy = FaultProxy::start(server.addr(), Fault::Pass);
    let (code, out, err) = curl_stream(&proxy.base_url(), server.model_alias(), 8);
    assert_eq!(code, Some(0), "curl: {err}\n{out}");
    assert_complete_sse(&out);
    assert_eq!(proxy.connections(), 1);
    let requests = proxy.requests();
    assert!(requests[0].starts_with("POST /v1/chat/completions HTTP/1.1\r\n"), "{requests:?}");
}

#[test]
fn the_proxy_answers_error_statuses_itself() {
    let proxy = FaultProxy::start(dead_upstream(), Fault::unauthorized());
    for (fault, status, retry_after) in [
        (Fault::unauthorized(), "401 Unauthorized", None),
        (Fault::rate_limited(7), "429 Too Many Requests", Some("retry-after: 7")),
        (Fault::server_error(), "500 Internal Server Error", None),
        (
            Fault::Status { code: 403, retry_after: None, body: r#"{"error":{"message":"no"}}"#.into() },
            "403 Forbidden",
            None,
        ),
    ] {
        proxy.set_fault(fault);
        let mut s = send_chat(proxy.addr(), 8);
        let (head, body) = read_head(&mut s);
        let (body, end) = read_rest(&mut s, body);
        assert!(end.is_none(), "{end:?}");
        assert!(head.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("content-type: application/json"), "{head}");
        match retry_after {
            Some(h) => assert!(lower.contains(h), "{head}"),
            None => assert!(!lower.contains("retry-after"), "{head}"),
        }
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error body");
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{json}");
    }
    // curl sees the same.
    proxy.set_fault(Fault::rate_limited(3));
    let (code, out, _) = curl_stream(&proxy.base_url(), "test", 8);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("HTTP/1.1 429") && out.contains("Retry-After: 3\r\n"), "{out}");
    assert_eq!(proxy.connections(), 5);
}

#[test]
fn a_stalled_stream_sends_nothing_after_n_bytes_and_stays_open() {
    let _heavy = crate::heavy();
    let server = server();
    let n = 300;
    let proxy = FaultProxy::start(server.addr(), Fault::StallAfter { bytes_of_body: n });
    let mut s = send_chat(proxy.addr(), 40);
    let (head, mut body) = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut chunk = [0u8; 4096];
    while body.len() < n {
        match s.read(&mut chunk) {
            Ok(0) => panic!("closed after {} body bytes", body.len()),
            Ok(k) => body.extend_from_slice(&chunk[..k]),
            Err(e) => panic!("{e} after {} body bytes", body.len()),
        }
    }
    assert_eq!(body.len(), n, "exactly N body bytes");
    assert!(contains(&body, "data: {"), "{}", String::from_utf8_lossy(&body));
    // Then silence, on an open connection.
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let start = Instant::now();
    match s.read(&mut chunk) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected no data within 1 s, got {other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(900));
    drop(s);
    // The stalled request does not hold the server: a direct one is answered.
    let mut direct = send_chat(server.addr(), 4);
    let (head, body) = read_head(&mut direct);
    let (body, _) = read_rest(&mut direct, body);
    assert!(head.starts_with("HTTP/1.1 200") && contains(&body, "data: [DONE]"), "{head}");
}

#[test]
fn a_reset_stream_ends_in_a_connection_error() {
    let _heavy = crate::heavy();
    let server = server();
    let n = 300;
    let proxy = FaultProxy::start(server.addr(), Fault::ResetAfter { bytes_of_body: n });
    let mut s = send_chat(proxy.addr(), 40);
    let (head, body) = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (body, end) = read_rest(&mut s, body);
    let end = end.unwrap_or_else(|| panic!("a clean EOF instead of a reset after {} bytes", body.len()));
    assert_eq!(end.kind(), ErrorKind::ConnectionReset, "{end}");
    assert!(body.len() <= n, "{} bytes", body.len());
    assert!(!contains(&body, "[DONE]"));
    // curl: "Recv failure: Connection reset by peer".
    let (code, out, err) = curl_stream(&proxy.base_url(), "test", 40);
    assert_eq!(code, Some(56), "curl exit code: {err}\n{out}");
    assert!(err.contains("reset"), "{err}");
}

#[test]
fn a_malformed_event_arrives_as_its_own_event_mid_stream() {
    let _heavy = crate::heavy();
    let server = server();
    let proxy = FaultProxy::start(server.addr(), Fault::MalformedAfter { bytes_of_body: 200 });
    let (code, out, err) = curl_stream(&proxy.base_url(), "test", 12);
    assert_eq!(code, Some(0), "curl decodes the chunked framing: {err}\n{out}");
    let body = out.split_once("\r\n\r\n").unwrap().1;
    let lines: Vec<&str> = body.lines().collect();
    let bad = lines.iter().position(|l| *l == MALFORMED_EVENT.trim_end()).unwrap_or_else(|| panic!("{out}"));
    assert!(bad >= 2 && lines[bad - 1].is_empty(), "after a whole event:\n{out}");
    assert!(lines[..bad].iter().any(|l| l.starts_with("data: {\"")), "valid events before it:\n{out}");
    assert_eq!(lines.iter().rev().find(|l| !l.is_empty()), Some(&"data: [DONE]"), "then the rest:\n{out}");
}

#[test]
fn refused_and_hanging_connections() {
    let proxy = FaultProxy::start(dead_upstream(), Fault::Refuse);
    let mut s = TcpStream::connect(proxy.addr()).expect("the connection is accepted");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(&chat_request(proxy.addr(), &chat_body("test", QUESTION, 4, true)));
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection closed, got {other:?}"),
    }
    let (code, _, err) = curl_stream(&proxy.base_url(), "test", 4);
    assert!(matches!(code, Some(52 | 56)), "curl: empty reply or reset, got {code:?}: {err}");

    proxy.set_fault(Fault::Hang);
    let mut s = send_chat(proxy.addr(), 4);
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    match s.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected no answer within 1 s, got {other:?}"),
    }
    assert_eq!(proxy.connections(), 3);
    assert_eq!(proxy.requests().len(), 1, "Refuse reads nothing; Hang reads the request");
}

#[test]
fn the_fault_switches_at_run_time() {
    let _heavy = crate::heavy();
    let server = server();
    let proxy = FaultProxy::start(server.addr(), Fault::server_error());
    let (_, out, _) = curl_stream(&proxy.base_url(), "test", 4);
    assert!(out.starts_with("HTTP/1.1 500"), "{out}");
    proxy.set_fault(Fault::Pass);
    assert_eq!(proxy.fault(), Fault::Pass);
    let (code, out, err) = curl_stream(&proxy.base_url(), "test", 4);
    assert_eq!(code, Some(0), "{err}");
    assert_complete_sse(&out);
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn killing_the_server_cuts_the_stream_mid_answer() {
    let _heavy = crate::heavy();
    let mut own = LlamaServer::start(&test_model_path());
    let addr = own.addr();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = chat_body("test", "Tell me a long story about a dragon and a knight.", 400, true);
    s.write_all(&chat_request(addr, &body)).unwrap();
    let (head, mut got) = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut chunk = [0u8; 4096];
    while !contains(&got, "\"content\"") {
        let k = s.read(&mut chunk).expect("stream");
        assert!(k > 0, "ended before any content");
        got.extend_from_slice(&chunk[..k]);
    }
    own.kill();
    assert!(!own.is_running());
    let (got, _end) = read_rest(&mut s, got);
    assert!(!contains(&got, "[DONE]"), "the answer was cut: {}", String::from_utf8_lossy(&got));
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
}
