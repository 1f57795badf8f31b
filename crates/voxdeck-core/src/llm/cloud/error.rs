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
    #[error("OS keyring: {0}")]
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
}
