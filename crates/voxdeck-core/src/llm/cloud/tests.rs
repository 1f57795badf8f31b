//! The cloud client against canned HTTP peers on loopback: each test's peer plays one fault a
//! real server will not produce on demand. (Tests against a real OpenAI-compatible server are
//! in `tests/cloud_*.rs`.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::*;
use crate::llm::ChatMessage;

/// Serves one connection: reads the request, then runs `respond` on the socket.
fn peer(respond: impl FnOnce(&mut TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head and the Content-Length body.
            loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                        .unwrap_or(0usize);
                    if buf.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            respond(&mut s);
        }
    });
    format!("http://{addr}/v1")
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

fn delta(text: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n")
}

fn settings(url: &str) -> CloudSettings {
    CloudSettings {
        base_url: url.to_owned(),
        model: "test".into(),
        api_key: Some(ApiKey::new("sk-test-secret")),
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_millis(300),
        stall_timeout: Duration::from_millis(300),
        max_tokens: 16,
        temperature: 0.0,
    }
}

fn ask(url: &str) -> (Vec<String>, Result<AnswerMetrics, CloudError>) {
    let llm = CloudLlm::new(settings(url)).expect("client");
    let mut stream = llm.chat(ChatRequest::new(vec![ChatMessage::user("hi")])).expect("stream");
    let mut tokens = Vec::new();
    loop {
        match stream.next_blocking() {
            Some(LlmEvent::Token { text, .. }) => tokens.push(text),
            Some(LlmEvent::Done { metrics, .. }) => return (tokens, Ok(metrics)),
            Some(LlmEvent::Error(LlmError::Cloud(e))) => return (tokens, Err(e)),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn plain_http_only_to_this_machine() {
    for (url, ok) in [
        ("https://openrouter.ai/api/v1", true),
        ("http://127.0.0.1:8080/v1", true),
        ("http://localhost:8080/v1", true),
        ("http://[::1]:8080/v1", true),
        ("http://example.com/v1", false),
        ("http://192.168.1.5:8000/v1", false),
        ("ftp://example.com", false),
        ("not a url", false),
    ] {
        assert_eq!(check_url(url).is_ok(), ok, "{url}");
    }
    let e = check_url("http://192.168.1.5/v1").unwrap_err();
    assert!(e.to_string().contains("unencrypted"), "{e}");
}

#[test]
fn retry_after_in_seconds_or_as_a_date() {
    assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
    assert_eq!(httpdate("Thu, 01 Jan 1970 00:01:00 GMT"), Some(std::time::UNIX_EPOCH + Duration::from_secs(60)));
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn tokens_stream_in_order_and_usage_counts() {
    let url = peer(|s| {
        let _ = s.write_all(SSE_HEAD.as_bytes());
        for t in ["Par", "is", "."] {
            let _ = s.write_all(delta(t).as_bytes());
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = s.write_all(b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        let _ = s.write_all(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n");
    });
    let (tokens, m) = ask(&url);
    let m = m.expect("answered");
    assert_eq!(tokens, ["Par", "is", "."]);
    assert_eq!((m.prompt_tokens, m.gen_tokens, m.finish), (9, 3, FinishReason::Stop));
    assert!(m.ttfb_ms.is_some_and(|t| t <= m.ttft_ms), "{m:?}");
    assert!(m.gen_tok_s > 0.0);
}

#[test]
fn refused_keys_and_rate_limits_are_typed_and_redacted() {
    let url = peer(|s| {
        let body = r#"{"error":{"message":"invalid key sk-test-secret"}}"#;
        let _ = write!(s, "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    });
    let (_, r) = ask(&url);
    let e = r.expect_err("401");
    assert!(matches!(e, CloudError::Http { status: 401, .. }), "{e:?}");
    assert_eq!(e.fallback_reason(), "HTTP 401 (key refused)");
    assert!(!format!("{e} {e:?}").contains("sk-test-secret"), "{e:?}");

    let url = peer(|s| {
        let _ = s.write_all(b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    let e = ask(&url).1.expect_err("429");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(e.fallback_reason(), "HTTP 429 (rate limited, retry after 7 s)");
}

#[test]
fn silence_stalls_and_breaks_end_the_stream_with_the_partial_answer() {
    let url = peer(|_s| std::thread::sleep(Duration::from_secs(2)));
    let t0 = Instant::now();
    let e = ask(&url).1.expect_err("silent");
    assert!(matches!(e, CloudError::NoFirstToken { .. }), "{e:?}");
    assert!(t0.elapsed() < Duration::from_millis(1500), "{:?}", t0.elapsed());

    let url = peer(|s| {
        let _ = s.write_all(SSE_HEAD.as_bytes());
        let _ = s.write_all((delta("One") + &delta(" two")).as_bytes());
        std::thread::sleep(Duration::from_secs(2));
    });
    let (tokens, r) = ask(&url);
    let e = r.expect_err("stall");
    assert_eq!(tokens.len(), 2);
    assert!(matches!(&e, CloudError::Stalled { tokens: 2, partial, .. } if partial == "One two"), "{e:?}");

    let url = peer(|s| {
        let _ = s.write_all(SSE_HEAD.as_bytes());
        let _ = s.write_all((delta("One") + &delta(" two")).as_bytes());
    });
    let e = ask(&url).1.expect_err("closed");
    assert!(matches!(e, CloudError::Broken { tokens: 2, .. }), "{e:?}");
    assert_eq!(e.partial_tokens(), 2);

    let url = peer(|s| {
        let _ = s.write_all(SSE_HEAD.as_bytes());
        let _ = s.write_all((delta("One") + "data: {not json\n\n").as_bytes());
    });
    let e = ask(&url).1.expect_err("malformed");
    assert!(matches!(e, CloudError::Malformed { tokens: 1, .. }), "{e:?}");
}

#[test]
fn cancel_ends_a_silent_request_at_once_and_dead_ports_fail_to_connect() {
    let url = peer(|_s| std::thread::sleep(Duration::from_secs(3)));
    let mut s = settings(&url);
    s.first_token_timeout = Duration::from_secs(10);
    let llm = CloudLlm::new(s).unwrap();
    let mut stream = llm.chat(ChatRequest::new(vec![ChatMessage::user("hi")])).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    stream.cancel.cancel();
    match stream.next_blocking() {
        Some(LlmEvent::Done { metrics, .. }) => assert_eq!(metrics.finish, FinishReason::Cancelled),
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_millis(100), "{:?}", t0.elapsed());

    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let e = ask(&format!("http://{dead}/v1")).1.expect_err("refused");
    assert!(matches!(e, CloudError::Connect { .. }), "{e:?}");
    assert_eq!(e.fallback_reason(), "connect failed");
}
