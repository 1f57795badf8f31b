//! What can go wrong talking to a cloud LLM, and the short reason a turn records when it falls
//! back to the local model. Errors that end a stream carry the text received so far, so the
//! caller can keep a partial answer.

use std::time::Duration;

use super::key::ApiKey;

/// A cloud request that failed. Messages never contain the API key (see [`CloudError::redacted`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudError {
    #[error("cloud base URL {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("refusing cloud base URL {url}: {reason}")]
    InsecureUrl { url: String, reason: String },
    #[error("could not connect to the cloud API: {0}")]
    Connect(String),
    #[error("connecting to the cloud API took longer than {:.1} s", .after.as_secs_f64())]
    ConnectTimeout { after: Duration },
    #[error("the cloud API answered HTTP {status}{}{}", message_suffix(.message), retry_suffix(.retry_after))]
    Http { status: u16, message: String, retry_after: Option<Duration> },
    #[error("the cloud API sent no token within {:.1} s", .after.as_secs_f64())]
    NoFirstToken { after: Duration },
    #[error("the cloud stream stalled: nothing for {:.1} s after {tokens} tokens", .after.as_secs_f64())]
    Stalled { after: Duration, tokens: u32, partial: String },
    #[error("the cloud stream broke after {tokens} tokens: {detail}")]
    Broken { tokens: u32, partial: String, detail: String },
    #[error("malformed cloud stream after {tokens} tokens: {detail}")]
    Malformed { tokens: u32, partial: String, detail: String },
    /// Storing or reading the key (OS keyring or key file) failed: in words, saying which.
    #[error("{0}")]
    Keyring(String),
    #[error("the cloud engine could not start: {0}")]
    Runtime(String),
    #[error("the cloud request could not be made: {0}")]
    Request(String),
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(": {message}") }
}

fn retry_suffix(retry_after: &Option<Duration>) -> String {
    retry_after.map(|d| format!(" (retry after {} s)", whole_seconds(d))).unwrap_or_default()
}

/// Seconds rounded up: "retry after 0 s" would invite an immediate retry.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// "4", "2.5": seconds without float noise.
fn trim_float(v: f64) -> String {
    let text = format!("{v:.1}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// Why a connection failed, read from reqwest's error chain (hyper's "dns error", the OS's
/// "Connection refused", rustls' certificate errors).
#[derive(Debug, PartialEq, Eq)]
enum ConnectFailure {
    Dns,
    Refused,
    Tls,
    Other,
}

fn connect_failure(chain: &str) -> ConnectFailure {
    let chain = chain.to_ascii_lowercase();
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        ConnectFailure::Dns
    } else if chain.contains("connection refused") {
        ConnectFailure::Refused
    } else if chain.contains("certificate") || chain.contains("tls") {
        ConnectFailure::Tls
    } else {
        ConnectFailure::Other
    }
}

impl CloudError {
    /// A short, user-facing reason for falling back to the local model, recorded in the turn.
    pub fn fallback_reason(&self) -> String {
        match self {
            CloudError::BadUrl { .. } => "bad cloud URL".into(),
            CloudError::InsecureUrl { .. } => "insecure cloud URL (plain http to a remote host)".into(),
            CloudError::Connect(_) => "connect failed".into(),
            CloudError::ConnectTimeout { after } => format!("connect timeout after {:.1} s", after.as_secs_f64()),
            CloudError::Http { status: status @ (401 | 403), .. } => format!("HTTP {status} (key refused)"),
            CloudError::Http { status: 429, retry_after: Some(d), .. } => {
                format!("HTTP 429 (rate limited, retry after {} s)", whole_seconds(*d))
            }
            CloudError::Http { status: 429, .. } => "HTTP 429 (rate limited)".into(),
            CloudError::Http { status, .. } => format!("HTTP {status}"),
            CloudError::NoFirstToken { after } => format!("no first token within {:.1} s", after.as_secs_f64()),
            CloudError::Stalled { tokens, .. } => format!("stream stalled after {tokens} tokens"),
            CloudError::Broken { tokens, .. } => format!("stream broken after {tokens} tokens"),
            CloudError::Malformed { .. } => "malformed stream".into(),
            CloudError::Keyring(_) => "keyring unavailable".into(),
            CloudError::Runtime(_) | CloudError::Request(_) => "cloud request failed".into(),
        }
    }

    /// The failure in plain words for a person, naming `host` (the API's host, e.g.
    /// "openrouter.ai"): "can't reach openrouter.ai", "the key was refused (401)", "no answer in
    /// 4 s". The one formatter front ends show; the full chain ([`std::fmt::Display`]) is for
    /// logs.
    pub fn in_words(&self, host: &str) -> String {
        let secs = |d: &Duration| format!("{} s", trim_float(d.as_secs_f64()));
        match self {
            CloudError::BadUrl { reason, .. } => format!("the base URL is not usable: {reason}"),
            CloudError::InsecureUrl { .. } => {
                format!("plain http is allowed only to this machine: use https://{host}")
            }
            CloudError::Connect(detail) => match connect_failure(detail) {
                ConnectFailure::Dns => format!("can't reach {host}: no such host (DNS lookup failed)"),
                ConnectFailure::Refused => format!("can't reach {host}: connection refused"),
                ConnectFailure::Tls => format!("can't reach {host}: its TLS certificate was not accepted"),
                ConnectFailure::Other => format!("can't reach {host}"),
            },
            CloudError::ConnectTimeout { after } => format!("can't reach {host}: no connection in {}", secs(after)),
            CloudError::Http { status: status @ (401 | 403), .. } => format!("the key was refused ({status})"),
            CloudError::Http { status: 404, .. } => format!("{host} answered 404: check the base URL and model"),
            CloudError::Http { status: 429, retry_after, .. } => match retry_after {
                Some(d) => format!("rate limited by {host} (429): retry in {} s", whole_seconds(*d)),
                None => format!("rate limited by {host} (429)"),
            },
            CloudError::Http { status, message, .. } if message.is_empty() => format!("{host} answered HTTP {status}"),
            CloudError::Http { status, message, .. } => format!("{host} answered HTTP {status}: {message}"),
            CloudError::NoFirstToken { after } => format!("no answer in {}", secs(after)),
            CloudError::Stalled { after, .. } => format!("the answer stopped for {}", secs(after)),
            CloudError::Broken { tokens: 0, .. } => format!("{host} closed the connection"),
            CloudError::Broken { .. } => format!("{host} closed the connection mid-answer"),
            CloudError::Malformed { .. } => format!("{host} sent an answer voxdeck can't read"),
            CloudError::Keyring(detail) => detail.clone(),
            CloudError::Runtime(_) | CloudError::Request(_) => "the request could not be made".into(),
        }
    }

    /// How long the server asked us to wait (HTTP 429/503 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CloudError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Content tokens (deltas) received before the stream failed.
    pub fn partial_tokens(&self) -> u32 {
        match self {
            CloudError::Stalled { tokens, .. } | CloudError::Broken { tokens, .. } | CloudError::Malformed { tokens, .. } => {
                *tokens
            }
            _ => 0,
        }
    }

    /// The answer text received before the stream failed ("" when none).
    pub fn partial_text(&self) -> &str {
        match self {
            CloudError::Stalled { partial, .. } | CloudError::Broken { partial, .. } | CloudError::Malformed { partial, .. } => {
                partial
            }
            _ => "",
        }
    }

    /// The same error with every occurrence of `key` replaced by `***`: servers echo keys back
    /// ("Incorrect API key provided: sk-...") and errors end up in logs and turn records.
    pub(crate) fn redacted(self, key: Option<&ApiKey>) -> CloudError {
        let Some(key) = key else { return self };
        let r = |s: String| key.redact(&s);
        match self {
            CloudError::BadUrl { url, reason } => CloudError::BadUrl { url: r(url), reason: r(reason) },
            CloudError::InsecureUrl { url, reason } => CloudError::InsecureUrl { url: r(url), reason: r(reason) },
            CloudError::Connect(detail) => CloudError::Connect(r(detail)),
            CloudError::Http { status, message, retry_after } => CloudError::Http { status, message: r(message), retry_after },
            CloudError::Stalled { after, tokens, partial } => CloudError::Stalled { after, tokens, partial: r(partial) },
            CloudError::Broken { tokens, partial, detail } => {
                CloudError::Broken { tokens, partial: r(partial), detail: r(detail) }
            }
            CloudError::Malformed { tokens, partial, detail } => {
                CloudError::Malformed { tokens, partial: r(partial), detail: r(detail) }
            }
            CloudError::Keyring(detail) => CloudError::Keyring(r(detail)),
            CloudError::Runtime(detail) => CloudError::Runtime(r(detail)),
            CloudError::Request(detail) => CloudError::Request(r(detail)),
            e @ (CloudError::ConnectTimeout { .. } | CloudError::NoFirstToken { .. }) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::cloud::url_policy::api_host;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn fallback_reasons_are_short_and_specific() {
        let http = |status, retry_after| CloudError::Http { status, message: "x".into(), retry_after };
        let table = [
            (CloudError::Connect("refused".into()), "connect failed"),
            (CloudError::ConnectTimeout { after: secs(2.0) }, "connect timeout after 2.0 s"),
            (http(401, None), "HTTP 401 (key refused)"),
            (http(403, None), "HTTP 403 (key refused)"),
            (http(429, Some(secs(30.0))), "HTTP 429 (rate limited, retry after 30 s)"),
            (http(429, Some(secs(6.2))), "HTTP 429 (rate limited, retry after 7 s)"),
            (http(429, None), "HTTP 429 (rate limited)"),
            (http(503, Some(secs(5.0))), "HTTP 503"),
            (CloudError::NoFirstToken { after: secs(4.0) }, "no first token within 4.0 s"),
            (CloudError::Stalled { after: secs(4.0), tokens: 12, partial: "a".into() }, "stream stalled after 12 tokens"),
            (CloudError::Broken { tokens: 12, partial: "a".into(), detail: "reset".into() }, "stream broken after 12 tokens"),
            (CloudError::Malformed { tokens: 0, partial: String::new(), detail: "x".into() }, "malformed stream"),
        ];
        for (error, reason) in table {
            assert_eq!(error.fallback_reason(), reason, "{error:?}");
        }
    }

    #[test]
    fn partial_answers_and_retry_after_are_exposed() {
        let e = CloudError::Broken { tokens: 3, partial: "The cap".into(), detail: "reset".into() };
        assert_eq!((e.partial_tokens(), e.partial_text()), (3, "The cap"));
        assert_eq!(CloudError::Connect("x".into()).partial_tokens(), 0);
        let e = CloudError::Http { status: 429, message: String::new(), retry_after: Some(secs(7.0)) };
        assert_eq!(e.retry_after(), Some(secs(7.0)));
        assert_eq!(e.to_string(), "the cloud API answered HTTP 429 (retry after 7 s)");
    }

    #[test]
    fn redaction_removes_the_key_from_every_message() {
        let key = ApiKey::new("sk-or-v1-abcdef123456");
        let errors = [
            CloudError::Http { status: 401, message: "Incorrect API key provided: sk-or-v1-abcdef123456".into(), retry_after: None },
            CloudError::Connect("dns error for sk-or-v1-abcdef123456".into()),
            CloudError::Malformed { tokens: 1, partial: "x".into(), detail: "line: sk-or-v1-abcdef123456".into() },
            CloudError::Broken { tokens: 1, partial: "sk-or-v1-abcdef123456".into(), detail: "sk-or-v1-abcdef123456".into() },
            CloudError::Keyring("sk-or-v1-abcdef123456".into()),
            CloudError::Request("sk-or-v1-abcdef123456".into()),
        ];
        for e in errors {
            let e = e.redacted(Some(&key));
            let shown = format!("{e} {e:?} {}", e.fallback_reason());
            assert!(!shown.contains(key.expose()), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
    }

    /// The cloud engine's check against `url`, failed: its error in words.
    fn check_in_words(url: &str, key: Option<&str>, timeout_s: f64) -> String {
        let settings = super::super::CloudSettings {
            base_url: url.into(),
            model: "test-model".into(),
            api_key: key.map(ApiKey::new),
            key_withheld: None,
            connect_timeout: secs(timeout_s),
            first_token_timeout: secs(timeout_s),
            stall_timeout: secs(timeout_s),
            max_tokens: 4,
            temperature: 0.0,
        };
        let error = super::super::CloudLlm::new(settings).and_then(|llm| llm.check()).expect_err("the check fails");
        let words = error.in_words(&api_host(url));
        assert!(!words.contains("error sending request") && !words.contains("hyper"), "raw chain: {words}");
        words
    }

    /// A loopback listener that answers every connection with `reply` (or, `None`, reads the
    /// request and says nothing until the client goes).
    fn serve(reply: Option<&'static str>) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut socket in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf);
                    match reply {
                        Some(reply) => {
                            let _ = socket.write_all(reply.as_bytes());
                        }
                        None => while socket.read(&mut buf).is_ok_and(|n| n > 0) {},
                    }
                });
            }
        });
        url
    }

    #[test]
    fn real_failures_in_plain_words() {
        // Nothing listens on this port: refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", closed.local_addr().unwrap());
        drop(closed);
        let host = api_host(&url);
        assert_eq!(check_in_words(&url, None, 2.0), format!("can't reach {host}: connection refused"));

        // A server that refuses the key.
        let refusing = serve(Some(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 44\r\n\
             connection: close\r\n\r\n{\"error\":{\"message\":\"Invalid API key sk-x\"}}",
        ));
        assert_eq!(check_in_words(&refusing, Some("sk-x"), 5.0), "the key was refused (401)");

        // A host that cannot exist (RFC 6761): the lookup fails, whatever the resolver.
        assert_eq!(
            check_in_words("https://voxdeck-test.invalid/v1", None, 5.0),
            "can't reach voxdeck-test.invalid: no such host (DNS lookup failed)"
        );

        // A server that takes the request and never answers.
        let silent = serve(None);
        let started = std::time::Instant::now();
        assert_eq!(check_in_words(&silent, None, 1.0), "no answer in 1 s");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn every_failure_has_words_that_name_the_host_where_it_matters() {
        let http = |status, message: &str, retry_after| CloudError::Http { status, message: message.into(), retry_after };
        let table = [
            (CloudError::ConnectTimeout { after: secs(2.0) }, "can't reach openrouter.ai: no connection in 2 s"),
            (CloudError::NoFirstToken { after: secs(10.0) }, "no answer in 10 s"),
            (CloudError::NoFirstToken { after: secs(2.5) }, "no answer in 2.5 s"),
            (http(403, "no", None), "the key was refused (403)"),
            (http(429, "", Some(secs(6.2))), "rate limited by openrouter.ai (429): retry in 7 s"),
            (http(502, "Bad Gateway", None), "openrouter.ai answered HTTP 502: Bad Gateway"),
            (http(404, "", None), "openrouter.ai answered 404: check the base URL and model"),
            (CloudError::Connect("error sending request: client error (Connect): tcp connect error".into()), "can't reach openrouter.ai"),
            (CloudError::Broken { tokens: 0, partial: String::new(), detail: "x".into() }, "openrouter.ai closed the connection"),
        ];
        for (error, words) in table {
            assert_eq!(error.in_words("openrouter.ai"), words, "{error:?}");
        }
        assert_eq!(api_host("https://openrouter.ai/api/v1"), "openrouter.ai");
        assert_eq!(api_host("http://127.0.0.1:8080/v1"), "127.0.0.1:8080");
        assert_eq!(api_host("not a url"), "not a url");
    }
}
