//! The cloud engine against scripted HTTP peers on loopback: each peer plays one behaviour a
//! real server will not produce on demand (refusals, silence, stalls, broken or malformed
//! streams). Tests against a real OpenAI-compatible server are in the `tests` crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::TryRecvError;

use super::*;
use crate::llm::{AnswerMetrics, FinishReason, LlmEvent};

const KEY: &str = "sk-test-secret-0123456789";

/// Plays one connection: the socket, after the request has been read.
type Script = Box<dyn FnOnce(&mut TcpStream) + Send>;

/// A scripted server: one script per connection, in order. Requests come back on `requests`.
struct Peer {
    url: String,
    requests: mpsc::Receiver<String>,
}

fn peer(scripts: Vec<Script>) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let (tx, requests) = mpsc::channel();
    std::thread::spawn(move || {
        for script in scripts {
            let Ok((mut socket, _)) = listener.accept() else { return };
            let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
            let Some(request) = read_request(&mut socket) else { return };
            let _ = tx.send(request);
            script(&mut socket);
        }
    });
    Peer { url: format!("http://{addr}/v1"), requests }
}

/// The request head and its Content-Length body, as text.
fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        let n = socket.read(&mut piece).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&piece[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                return Some(text.into_owned());
            }
        }
    }
}

/// Waits until the client closes the connection; reports when.
fn await_close(socket: &mut TcpStream, closed: mpsc::Sender<Instant>) {
    let mut piece = [0u8; 256];
    while let Ok(n) = socket.read(&mut piece) {
        if n == 0 {
            break;
        }
    }
    let _ = closed.send(Instant::now());
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
const CHUNKED_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";

fn delta(text: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n")
}

fn finish(reason: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"{reason}\"}}]}}\n\n")
}

/// One HTTP/1.1 chunk.
fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

fn write(socket: &mut TcpStream, text: &str) {
    let _ = socket.write_all(text.as_bytes());
    let _ = socket.flush();
}

fn pause(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn settings(url: &str) -> CloudSettings {
    CloudSettings {
        base_url: url.to_owned(),
        model: "test-model".into(),
        api_key: Some(ApiKey::new(KEY)),
        key_withheld: None,
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_millis(300),
        stall_timeout: Duration::from_millis(300),
        max_tokens: 16,
        temperature: 0.0,
    }
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::system("Be brief."), ChatMessage::user("hi")])
}

/// What a stream produced, and when it ended.
struct Outcome {
    tokens: Vec<(String, u32)>,
    end: Result<(String, AnswerMetrics), CloudError>,
    at: Instant,
}

/// Drains a stream, failing the test rather than hanging if it never ends.
fn drain(stream: &mut AnswerStream) -> Outcome {
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut tokens = Vec::new();
    loop {
        match stream.events.try_recv() {
            Ok(LlmEvent::Token { text, index, .. }) => tokens.push((text, index)),
            Ok(LlmEvent::Done { text, metrics }) => return Outcome { tokens, end: Ok((text, metrics)), at: Instant::now() },
            Ok(LlmEvent::Error(LlmError::Cloud(e))) => return Outcome { tokens, end: Err(e), at: Instant::now() },
            Ok(LlmEvent::Error(e)) => panic!("not a cloud error: {e}"),
            Ok(LlmEvent::ToolCall(call)) => panic!("no tools were offered, yet {call:?}"),
            Err(TryRecvError::Disconnected) => panic!("the stream ended without Done or Error"),
            Err(TryRecvError::Empty) if Instant::now() > give_up => panic!("the stream never ended"),
            Err(TryRecvError::Empty) => pause(1),
        }
    }
}

fn ask_with(settings: CloudSettings) -> Outcome {
    let llm = CloudLlm::new(settings).expect("engine");
    let mut stream = llm.chat(question()).expect("stream");
    drain(&mut stream)
}

fn ask(url: &str) -> Outcome {
    ask_with(settings(url))
}

fn texts(tokens: &[(String, u32)]) -> Vec<&str> {
    tokens.iter().map(|(t, _)| t.as_str()).collect()
}

#[test]
fn tokens_stream_in_order_and_the_usage_chunk_fills_the_metrics() {
    let peer = peer(vec![Box::new(|s| {
        write(s, CHUNKED_HEAD);
        write(s, &chunk(": keep-alive\n\n"));
        write(s, &chunk("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"));
        let events = [delta("Par"), delta("is"), delta(".")].concat();
        // Chunk boundaries that fall inside events, CRLF or not; "Par" comes before the pause.
        let (a, b) = events.split_at(delta("Par").len() + 37);
        write(s, &chunk(a));
        pause(20);
        write(s, &chunk(&b.replace("\n\n", "\r\n\r\n")));
        write(s, &chunk(&finish("stop")));
        write(s, &chunk(
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        ));
        write(s, &chunk("data: [DONE]\n\n"));
        write(s, "0\r\n\r\n");
    })]);
    let out = ask(&peer.url);
    let (text, m) = out.end.expect("answered");
    assert_eq!(out.tokens, [("Par".to_owned(), 0), ("is".to_owned(), 1), (".".to_owned(), 2)]);
    assert_eq!(text, "Paris.");
    assert_eq!((m.prompt_tokens, m.cached_tokens, m.gen_tokens, m.finish), (9, 4, 5, FinishReason::Stop));
    let ttfb = m.ttfb_ms.expect("time to first byte");
    assert!(ttfb > 0.0 && ttfb <= m.ttft_ms && m.ttft_ms <= m.total_ms, "{m:?}");
    assert!(m.gen_ms >= 15.0 && m.gen_tok_s > 0.0, "{m:?}");
    assert!((m.gen_tok_s - 4.0 * 1000.0 / m.gen_ms).abs() < 1e-6, "rate after the first token: {m:?}");
    assert_eq!((m.prompt_ms, m.weights_bytes, m.gpu_layers), (0.0, 0, 0));

    let request = peer.requests.recv().expect("request");
    let (head, body) = request.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("POST /v1/chat/completions HTTP/1.1"), "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("authorization: bearer {}", KEY.to_ascii_lowercase())), "{head}");
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["max_tokens"], 16);
    assert_eq!(body["messages"][1], serde_json::json!({"role": "user", "content": "hi"}));
}

#[test]
fn without_usage_deltas_are_counted_and_a_finish_reason_then_close_is_a_whole_answer() {
    let peer = peer(vec![Box::new(|s| {
        write(s, SSE_HEAD);
        write(s, &[delta("One"), delta(" two"), finish("length")].concat());
    })]);
    let mut s = settings(&peer.url);
    s.api_key = None;
    let out = ask_with(s);
    let (text, m) = out.end.expect("answered");
    assert_eq!((text.as_str(), m.gen_tokens, m.prompt_tokens, m.finish), ("One two", 2, 0, FinishReason::Length));
    let request = peer.requests.recv().expect("request");
    assert!(!request.to_ascii_lowercase().contains("authorization"), "{request}");
}

#[test]
fn refusals_are_typed_with_their_reason_and_never_show_the_key() {
    let body = format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}","type":"invalid_request_error"}}}}"#);
    let peer = peer(vec![
        Box::new(move |s| {
            let head = "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close";
            write(s, &format!("{head}\r\ncontent-length: {}\r\n\r\n{body}", body.len()));
        }),
        Box::new(|s| write(s, "HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")),
        Box::new(|s| write(s, "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 8\r\nconnection: close\r\n\r\noverload")),
    ]);
    let e = ask(&peer.url).end.expect_err("401");
    assert!(matches!(&e, CloudError::Http { status: 401, message, .. } if message.contains("Incorrect API key")), "{e:?}");
    assert_eq!(e.fallback_reason(), "HTTP 401 (key refused)");
    let shown = format!("{e} | {e:?} | {}", LlmError::Cloud(e.clone()));
    assert!(!shown.contains(KEY) && shown.contains("***"), "{shown}");

    let e = ask(&peer.url).end.expect_err("429");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(e.fallback_reason(), "HTTP 429 (rate limited, retry after 7 s)");

    let e = ask(&peer.url).end.expect_err("503");
    assert!(matches!(&e, CloudError::Http { status: 503, message, .. } if message == "overload"), "{e:?}");
    assert_eq!(e.fallback_reason(), "HTTP 503");
}

#[test]
fn a_silent_server_is_given_up_on_at_the_first_token_deadline() {
    let peer = peer(vec![Box::new(|_| pause(2000))]);
    let started = Instant::now();
    let out = ask(&peer.url);
    let waited = out.at - started;
    let e = out.end.expect_err("silent");
    assert!(matches!(e, CloudError::NoFirstToken { after } if after == Duration::from_millis(300)), "{e:?}");
    assert_eq!(e.fallback_reason(), "no first token within 0.3 s");
    assert!(waited >= Duration::from_millis(290) && waited <= Duration::from_millis(500), "{waited:?}");
}

#[test]
fn keep_alives_do_not_count_as_a_first_token() {
    let peer = peer(vec![Box::new(|s| {
        write(s, SSE_HEAD);
        for _ in 0..10 {
            write(s, ": keep-alive\n\n");
            pause(50);
        }
    })]);
    let e = ask(&peer.url).end.expect_err("no token");
    assert!(matches!(e, CloudError::NoFirstToken { .. }), "{e:?}");
}

#[test]
fn a_stall_after_two_tokens_keeps_them() {
    let peer = peer(vec![Box::new(|s| {
        write(s, SSE_HEAD);
        write(s, &(delta("One") + &delta(" two")));
        pause(2000);
    })]);
    let out = ask(&peer.url);
    assert_eq!(texts(&out.tokens), ["One", " two"]);
    let e = out.end.expect_err("stall");
    assert!(matches!(&e, CloudError::Stalled { tokens: 2, partial, .. } if partial == "One two"), "{e:?}");
    assert_eq!((e.partial_tokens(), e.partial_text()), (2, "One two"));
    assert_eq!(e.fallback_reason(), "stream stalled after 2 tokens");
}

#[test]
fn a_connection_closed_mid_stream_is_broken_with_the_partial_answer() {
    let peer = peer(vec![
        // Chunked: the body ends without its last chunk.
        Box::new(|s| {
            write(s, CHUNKED_HEAD);
            write(s, &chunk(&(delta("One") + &delta(" two"))));
            pause(20);
        }),
        // Close-delimited: a clean EOF, but no `[DONE]` and no finish reason.
        Box::new(|s| {
            write(s, SSE_HEAD);
            write(s, &(delta("One") + &delta(" two")));
        }),
    ]);
    for _ in 0..2 {
        let out = ask(&peer.url);
        assert_eq!(out.tokens.len(), 2);
        let e = out.end.expect_err("broken");
        assert!(matches!(&e, CloudError::Broken { tokens: 2, partial, .. } if partial == "One two"), "{e:?}");
        assert_eq!(e.fallback_reason(), "stream broken after 2 tokens");
    }
}

#[test]
fn malformed_streams_and_server_errors_mid_stream_are_reported() {
    let peer = peer(vec![
        Box::new(|s| write(s, &format!("{SSE_HEAD}{}data: {{not json\n\n", delta("One")))),
        Box::new(|s| write(s, &format!("{SSE_HEAD}data: {{\"id\":\"x\",\"object\":\"chat.completion.chunk\"}}\n\n"))),
        Box::new(|s| write(s, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"choices\":[]}\n")),
        Box::new(|s| write(s, &format!("{SSE_HEAD}{}data: {{\"error\":{{\"message\":\"upstream gone\"}}}}\n\n", delta("One")))),
    ]);
    let e = ask(&peer.url).end.expect_err("not JSON");
    assert!(matches!(e, CloudError::Malformed { tokens: 1, .. }), "{e:?}");
    assert_eq!(e.fallback_reason(), "malformed stream");
    let e = ask(&peer.url).end.expect_err("no choices");
    assert!(matches!(&e, CloudError::Malformed { tokens: 0, detail, .. } if detail.contains("without choices")), "{e:?}");
    let e = ask(&peer.url).end.expect_err("not SSE");
    assert!(matches!(&e, CloudError::Malformed { detail, .. } if detail.contains("not server-sent events")), "{e:?}");
    let e = ask(&peer.url).end.expect_err("server error");
    assert!(matches!(&e, CloudError::Broken { tokens: 1, detail, .. } if detail.contains("upstream gone")), "{e:?}");
}

#[test]
fn cancelling_a_silent_request_ends_it_at_once_and_closes_the_connection() {
    let (closed_tx, closed) = mpsc::channel();
    let peer = peer(vec![Box::new(move |s| await_close(s, closed_tx))]);
    let mut s = settings(&peer.url);
    s.first_token_timeout = Duration::from_secs(10);
    let llm = CloudLlm::new(s).expect("engine");
    let mut stream = llm.chat(question()).expect("stream");
    peer.requests.recv_timeout(Duration::from_secs(5)).expect("the request arrived");
    pause(100);
    let cancelled_at = Instant::now();
    stream.cancel.cancel();
    let out = drain(&mut stream);
    let (text, m) = out.end.expect("Done");
    assert_eq!((text.as_str(), m.finish, m.gen_tokens, m.ttfb_ms), ("", FinishReason::Cancelled, 0, None));
    assert!(out.at - cancelled_at < Duration::from_millis(100), "{:?}", out.at - cancelled_at);
    let closed_at = closed.recv_timeout(Duration::from_secs(2)).expect("the connection was closed");
    assert!(closed_at - cancelled_at < Duration::from_secs(1));
}

#[test]
fn cancelling_mid_answer_keeps_the_text_so_far() {
    let peer = peer(vec![Box::new(|s| {
        write(s, SSE_HEAD);
        write(s, &(delta("One") + &delta(" two")));
        pause(3000);
    })]);
    let mut s = settings(&peer.url);
    s.stall_timeout = Duration::from_secs(10);
    let llm = CloudLlm::new(s).expect("engine");
    let mut stream = llm.chat(question()).expect("stream");
    let mut seen = 0;
    while seen < 2 {
        match stream.next_blocking() {
            Some(LlmEvent::Token { .. }) => seen += 1,
            other => panic!("{other:?}"),
        }
    }
    stream.cancel.cancel();
    let (text, m) = drain(&mut stream).end.expect("Done");
    assert_eq!((text.as_str(), m.gen_tokens, m.finish), ("One two", 2, FinishReason::Cancelled));
    assert!(m.ttfb_ms.is_some() && m.ttft_ms > 0.0, "{m:?}");
}

#[test]
fn dropping_the_stream_drops_the_request() {
    let (closed_tx, closed) = mpsc::channel();
    let peer = peer(vec![Box::new(move |s| await_close(s, closed_tx))]);
    let mut s = settings(&peer.url);
    s.first_token_timeout = Duration::from_secs(10);
    let llm = CloudLlm::new(s).expect("engine");
    let stream = llm.chat(question()).expect("stream");
    peer.requests.recv_timeout(Duration::from_secs(5)).expect("the request arrived");
    drop(stream);
    closed.recv_timeout(Duration::from_secs(2)).expect("the connection was closed");
}

#[test]
fn a_dead_port_fails_to_connect() {
    let dead: SocketAddr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port");
    let started = Instant::now();
    let out = ask(&format!("http://{dead}/v1"));
    let e = out.end.expect_err("refused");
    assert!(matches!(e, CloudError::Connect(_)), "{e:?}");
    assert_eq!(e.fallback_reason(), "connect failed");
    assert!(out.at - started < Duration::from_millis(300));
}

#[test]
fn a_connect_that_hangs_times_out() {
    let (_listener, addr, _held) = listener_that_hangs_connects();
    let mut s = settings(&format!("http://{addr}/v1"));
    s.connect_timeout = Duration::from_millis(300);
    s.first_token_timeout = Duration::from_secs(5);
    let started = Instant::now();
    let out = ask_with(s);
    let e = out.end.expect_err("timeout");
    assert!(matches!(e, CloudError::ConnectTimeout { .. }), "{e:?}");
    assert_eq!(e.fallback_reason(), "connect timeout after 0.3 s");
    assert!(out.at - started < Duration::from_millis(1000), "{:?}", out.at - started);
}

/// A loopback listener with a backlog of 0 whose accept queue is then filled: the kernel drops
/// further SYNs (it never refuses them), so a connect to it hangs, every time. Returns the
/// listener and the connections holding the queue; fails the test when the queue cannot be
/// filled, rather than passing without testing anything.
fn listener_that_hangs_connects() -> (socket2::Socket, SocketAddr, Vec<TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket.local_addr().expect("addr").as_socket().expect("an IPv4 address");
    let mut held = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => held.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return (socket, addr, held),
            Err(e) => panic!("connecting to {addr}: {e}"),
        }
    }
    panic!("the accept queue of {addr} (backlog 0) took {} connections and is still not full", held.len());
}

#[test]
fn check_lists_the_model_and_times_a_short_answer() {
    let peer = peer(vec![
        Box::new(|s| {
            let body = r#"{"object":"list","data":[{"id":"other"},{"id":"test-model"}]}"#;
            write(s, &format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()));
        }),
        Box::new(|s| write(s, &format!("{SSE_HEAD}{}{}data: [DONE]\n\n", delta("OK"), finish("stop")))),
    ]);
    let llm = CloudLlm::new(settings(&peer.url)).expect("engine");
    let check = llm.check().expect("check");
    assert!(check.key && check.model_listed == Some(true), "{check:?}");
    assert!(check.ttfb_ms > 0.0 && check.ttft_ms >= check.ttfb_ms, "{check:?}");
    let models = peer.requests.recv().expect("models request");
    assert!(models.starts_with("GET /v1/models HTTP/1.1"), "{models}");
    let chat = peer.requests.recv().expect("chat request");
    assert!(chat.contains("\"max_tokens\":4") && chat.contains("Say OK."), "{chat}");
}

#[test]
fn check_fails_on_a_refused_key() {
    let peer = peer(vec![Box::new(|s| {
        write(s, "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    })]);
    let e = CloudLlm::new(settings(&peer.url)).expect("engine").check().expect_err("401");
    assert_eq!(e.fallback_reason(), "HTTP 401 (key refused)");
}

#[test]
fn the_engine_refuses_plain_http_to_other_hosts() {
    let e = CloudLlm::new(settings("http://192.168.1.5:8000/v1")).err().expect("refused");
    assert!(matches!(e, CloudError::InsecureUrl { .. }), "{e:?}");
    let llm = CloudLlm::new(settings("http://localhost:9/v1/")).expect("loopback is fine");
    assert_eq!((llm.base_url(), llm.model(), llm.has_key()), ("http://localhost:9/v1", "test-model", true));
}

#[test]
fn the_engine_may_be_dropped_inside_an_async_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(async { drop(CloudLlm::new(settings("http://127.0.0.1:9/v1")).expect("engine")) });
}

#[test]
fn settings_come_from_the_config() {
    let mut config = Config::default();
    config.cloud.provider = crate::config::CloudProvider::Custom;
    config.cloud.base_url = "http://127.0.0.1:8080/v1".into();
    config.cloud.model = "qwen".into();
    config.cloud.use_keyring = false;
    config.cloud.api_key_env = "VOXDECK_TEST_CLOUD_KEY_NEVER_SET".into();
    config.cloud.first_token_timeout_s = 1.5;
    config.llm.max_tokens = 77;
    let s = CloudSettings::from_config(&config);
    assert_eq!((s.base_url.as_str(), s.model.as_str(), s.max_tokens), ("http://127.0.0.1:8080/v1", "qwen", 77));
    assert_eq!((s.first_token_timeout, s.connect_timeout), (Duration::from_millis(1500), Duration::from_secs(2)));
    assert!(s.api_key.is_none());
}

// Tool calls: what a real server will not send on demand (cut inside a call, oversized or
// endless calls). The real server's calls are tested in the `tests` crate (cloud_tools).

/// An OpenAI-style tool-call fragment.
fn call_delta(index: usize, id: Option<&str>, name: Option<&str>, arguments: &str) -> String {
    let mut call = serde_json::json!({"index": index, "function": {"arguments": arguments}});
    if let Some(id) = id {
        call["id"] = id.into();
        call["type"] = "function".into();
    }
    if let Some(name) = name {
        call["function"]["name"] = name.into();
    }
    let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

fn tool_question() -> ChatRequest {
    let mut request = question();
    request.tools = Some(crate::tools::ToolOffer::all());
    request
}

/// Everything a stream sent, in order, failing rather than hanging.
fn events(stream: &mut AnswerStream) -> Vec<LlmEvent> {
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut all = Vec::new();
    loop {
        match stream.events.try_recv() {
            Ok(event) => {
                let end = matches!(event, LlmEvent::Done { .. } | LlmEvent::Error(_));
                all.push(event);
                if end {
                    return all;
                }
            }
            Err(TryRecvError::Disconnected) => panic!("the stream ended without Done or Error: {all:?}"),
            Err(TryRecvError::Empty) if Instant::now() > give_up => panic!("the stream never ended: {all:?}"),
            Err(TryRecvError::Empty) => pause(1),
        }
    }
}

fn ask_tools(url: &str) -> Vec<LlmEvent> {
    let llm = CloudLlm::new(settings(url)).expect("engine");
    events(&mut llm.chat(tool_question()).expect("stream"))
}

fn cloud_error(events: &[LlmEvent]) -> &CloudError {
    match events.last() {
        Some(LlmEvent::Error(LlmError::Cloud(e))) => e,
        other => panic!("expected a cloud error, got {other:?} after {events:?}"),
    }
}

#[test]
fn streamed_tool_calls_arrive_whole_before_done() {
    let peer = peer(vec![Box::new(|s| {
        write(s, CHUNKED_HEAD);
        write(s, &chunk(&call_delta(0, Some("call_a"), Some("set_timer"), "")));
        write(s, &chunk(&call_delta(1, Some("call_b"), Some("get_time"), "{\"what\":")));
        // A fragment split across pieces of the body.
        let piece = call_delta(0, None, None, "{\"seconds\": 600, \"label\": \"tea\"}");
        let (a, b) = piece.split_at(30);
        write(s, &chunk(a));
        pause(20);
        write(s, &chunk(b));
        write(s, &chunk(&call_delta(1, None, None, " \"time\"}")));
        write(s, &chunk(&finish("tool_calls")));
        write(s, &chunk("data: [DONE]\n\n"));
        write(s, "0\r\n\r\n");
    })]);
    let all = ask_tools(&peer.url);
    let calls: Vec<&crate::tools::ToolCall> =
        all.iter().filter_map(|e| if let LlmEvent::ToolCall(c) = e { Some(c) } else { None }).collect();
    assert_eq!(calls.len(), 2, "{all:?}");
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_a", "set_timer"));
    assert_eq!(calls[0].arguments, "{\"seconds\": 600, \"label\": \"tea\"}");
    assert_eq!((calls[1].name.as_str(), calls[1].arguments.as_str()), ("get_time", "{\"what\": \"time\"}"));
    assert!(matches!(all[..2], [LlmEvent::ToolCall(_), LlmEvent::ToolCall(_)]), "calls first: {all:?}");
    let LlmEvent::Done { text, metrics } = &all[2] else { panic!("then Done: {all:?}") };
    assert_eq!(text, "");
    assert_eq!((metrics.gen_tokens, metrics.finish), (4, FinishReason::Stop), "fragments count as tokens");
    assert!(metrics.ttft_ms > 0.0, "the first fragment is the first token: {metrics:?}");

    let request = peer.requests.recv().expect("request");
    let body: serde_json::Value = serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["tools"].as_array().map(Vec::len), Some(10), "{body}");
}

#[test]
fn a_stream_cut_inside_a_calls_arguments_runs_no_call() {
    let peer = peer(vec![
        // The connection drops mid-arguments (chunked body never finished).
        Box::new(|s| {
            write(s, CHUNKED_HEAD);
            write(s, &chunk(&(call_delta(0, Some("c"), Some("set_timer"), "{\"seco"))));
            pause(20);
        }),
        // A clean close, but no finish reason and no [DONE].
        Box::new(|s| {
            write(s, SSE_HEAD);
            write(s, &call_delta(0, Some("c"), Some("set_timer"), "{\"seconds\": 6"));
        }),
        // Silence mid-call: the stall deadline, not the first-token one.
        Box::new(|s| {
            write(s, SSE_HEAD);
            write(s, &call_delta(0, Some("c"), Some("remember"), "{\"fact\": \"my"));
            pause(1500);
        }),
    ]);
    for expected in ["stream broken after 0 tokens", "stream broken after 0 tokens", "stream stalled after 0 tokens"] {
        let all = ask_tools(&peer.url);
        assert!(!all.iter().any(|e| matches!(e, LlmEvent::ToolCall(_) | LlmEvent::Token { .. })), "{all:?}");
        let e = cloud_error(&all);
        assert_eq!(e.fallback_reason(), expected, "{e}");
        assert_eq!(e.partial_tokens(), 0, "a failure before any answer token: the router falls back");
    }
}

#[test]
fn oversized_or_endless_calls_are_refused_in_words() {
    let peer = peer(vec![
        // Megabytes of arguments, in small pieces that each pass the line limit.
        Box::new(|s| {
            write(s, SSE_HEAD);
            write(s, &call_delta(0, Some("c"), Some("remember"), "{\"fact\": \""));
            let piece = call_delta(0, None, None, &"a".repeat(8 * 1024));
            for _ in 0..256 {
                if s.write_all(piece.as_bytes()).is_err() {
                    return; // the client gave up, as it should
                }
            }
        }),
        // Thousands of calls.
        Box::new(|s| {
            write(s, SSE_HEAD);
            for i in 0..5000 {
                if s.write_all(call_delta(i, Some("c"), Some("list_timers"), "{}").as_bytes()).is_err() {
                    return;
                }
            }
        }),
        // A call without a name.
        Box::new(|s| write(s, &format!("{SSE_HEAD}{}{}data: [DONE]\n\n", call_delta(0, Some("c"), None, "{}"), finish("tool_calls")))),
    ]);
    let e = cloud_error(&ask_tools(&peer.url)).clone();
    assert!(matches!(&e, CloudError::Malformed { tokens: 0, detail, .. } if detail == "a tool call's arguments are longer than 16 KiB"), "{e:?}");
    assert_eq!(e.fallback_reason(), "malformed stream");
    let e = cloud_error(&ask_tools(&peer.url)).clone();
    assert!(e.to_string().ends_with("the server sent more than 8 tool calls in one answer"), "{e}");
    let all = ask_tools(&peer.url);
    assert!(cloud_error(&all).to_string().contains("tool call 0 has no function name"), "{all:?}");
    assert!(!all.iter().any(|e| matches!(e, LlmEvent::ToolCall(_))));
}

#[test]
fn calls_and_text_in_one_answer_both_arrive() {
    let peer = peer(vec![Box::new(|s| {
        write(s, SSE_HEAD);
        write(s, &delta("Let me check."));
        write(s, &call_delta(0, Some("c"), Some("get_time"), "{\"what\":\"time\"}"));
        write(s, &finish("tool_calls"));
    })]);
    let all = ask_tools(&peer.url);
    assert!(matches!(&all[0], LlmEvent::Token { text, .. } if text == "Let me check."), "{all:?}");
    assert!(matches!(&all[1], LlmEvent::ToolCall(c) if c.name == "get_time"), "{all:?}");
    assert!(matches!(&all[2], LlmEvent::Done { text, .. } if text == "Let me check."), "{all:?}");
}
