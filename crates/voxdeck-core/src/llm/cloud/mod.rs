//! The cloud engine: any OpenAI-compatible `/v1/chat/completions` API (OpenRouter, Groq, vLLM,
//! llama.cpp's llama-server, Ollama's `/v1`, LM Studio), streamed over server-sent events with
//! reqwest and rustls, behind the same [`ChatEngine`] trait as the local model.
//!
//! Each request runs as a task on the engine's own small tokio runtime, so callers need no
//! runtime. While it waits, the task watches three clocks and the cancel token: no first token
//! within `first_token_timeout` (from the request, connecting included), no bytes for
//! `stall_timeout` after the first token, and cancellation (checked every 20 ms; the request
//! is dropped, which closes the connection). Failures are typed ([`CloudError`]) so the router
//! can fall back to the local model and record why.

pub mod key;
pub mod sse;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

pub use key::{ApiKey, KeySource, delete_api_key, key_status, resolve_api_key, store_api_key};
use sse::{SseItem, SseParser};

use super::{AnswerMetrics, AnswerStream, CancelToken, ChatEngine, ChatRequest, FinishReason, LlmError, LlmEvent, per_second};
use crate::config::Config;

/// How often a waiting request looks at its cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Why the cloud did not (fully) answer. Messages never contain the API key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudError {
    #[error("cloud URL {url:?} is not a valid http(s) URL")]
    BadUrl { url: String },
    #[error("refusing plain http to {host}: the API key and the conversation would cross the network unencrypted; use https (plain http is allowed to this machine only)")]
    InsecureUrl { host: String },
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("connecting to {url} took longer than {after:.1?}")]
    ConnectTimeout { url: String, after: Duration },
    #[error("the cloud answered HTTP {status}: {message}")]
    Http { status: u16, message: String, retry_after: Option<Duration> },
    #[error("no first token from the cloud within {after:.1?}")]
    NoFirstToken { after: Duration },
    #[error("the cloud stream stalled for {after:.1?} after {tokens} tokens")]
    Stalled { after: Duration, tokens: u32, partial: String },
    #[error("the cloud stream broke after {tokens} tokens: {detail}")]
    Broken { tokens: u32, partial: String, detail: String },
    #[error("the cloud sent a malformed stream after {tokens} tokens: {detail}")]
    Malformed { tokens: u32, partial: String, detail: String },
    #[error("OS keyring: {0}")]
    Keyring(String),
    #[error("cannot start the cloud client: {0}")]
    Client(String),
}

impl CloudError {
    /// A short reason for the turn's record: why the local model answered instead.
    pub fn fallback_reason(&self) -> String {
        match self {
            CloudError::BadUrl { .. } | CloudError::InsecureUrl { .. } | CloudError::Client(_) => "cloud not usable".into(),
            CloudError::Connect { .. } => "connect failed".into(),
            CloudError::ConnectTimeout { after, .. } => format!("connect timeout after {:.1} s", after.as_secs_f64()),
            CloudError::Http { status, retry_after, .. } => match (status, retry_after) {
                (401 | 403, _) => format!("HTTP {status} (key refused)"),
                (429, Some(after)) => format!("HTTP 429 (rate limited, retry after {} s)", after.as_secs()),
                (429, None) => "HTTP 429 (rate limited)".into(),
                _ => format!("HTTP {status}"),
            },
            CloudError::NoFirstToken { after } => format!("no first token within {:.1} s", after.as_secs_f64()),
            CloudError::Stalled { tokens, .. } => format!("stream stalled after {tokens} tokens"),
            CloudError::Broken { tokens, .. } => format!("stream broken after {tokens} tokens"),
            CloudError::Malformed { .. } => "malformed stream".into(),
            CloudError::Keyring(_) => "keyring error".into(),
        }
    }

    /// How long the server asked us to stay away (HTTP 429's Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CloudError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Tokens received before the failure (the partial answer is kept).
    pub fn partial_tokens(&self) -> u32 {
        match self {
            CloudError::Stalled { tokens, .. } | CloudError::Broken { tokens, .. } | CloudError::Malformed { tokens, .. } => *tokens,
            _ => 0,
        }
    }
}

/// Everything a cloud request needs.
#[derive(Debug, Clone)]
pub struct CloudSettings {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    pub connect_timeout: Duration,
    pub first_token_timeout: Duration,
    pub stall_timeout: Duration,
    pub max_tokens: u32,
    pub temperature: f32,
}

impl CloudSettings {
    /// From `[cloud]` (and `[llm]`'s answer length and temperature); the key from the keyring
    /// or the environment.
    pub fn from_config(config: &Config) -> CloudSettings {
        let c = &config.cloud;
        CloudSettings {
            base_url: c.base_url().trim_end_matches('/').to_owned(),
            model: c.model().to_owned(),
            api_key: resolve_api_key(c).map(|(k, _)| k),
            connect_timeout: Duration::from_secs_f64(c.connect_timeout_s),
            first_token_timeout: Duration::from_secs_f64(c.first_token_timeout_s),
            stall_timeout: Duration::from_secs_f64(c.stall_timeout_s),
            max_tokens: config.llm.max_tokens,
            temperature: config.llm.temperature,
        }
    }
}

/// What `voxdeck cloud test` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudCheck {
    pub key: bool,
    /// Whether `/models` lists the model; `None` when the server does not list models.
    pub model_listed: Option<bool>,
    pub ttfb_ms: f64,
    pub ttft_ms: f64,
}

/// An OpenAI-compatible API.
pub struct CloudLlm {
    settings: Arc<CloudSettings>,
    client: reqwest::Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

/// Whether `url` may be used: https anywhere, plain http only to this machine.
pub fn check_url(url: &str) -> Result<(), CloudError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| CloudError::BadUrl { url: url.to_owned() })?;
    let host = parsed.host_str().unwrap_or("").to_owned();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback { Ok(()) } else { Err(CloudError::InsecureUrl { host }) }
        }
        _ => Err(CloudError::BadUrl { url: url.to_owned() }),
    }
}

impl CloudLlm {
    pub fn new(settings: CloudSettings) -> Result<CloudLlm, CloudError> {
        check_url(&settings.base_url)?;
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|e| CloudError::Client(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("voxdeck-cloud")
            .enable_all()
            .build()
            .map_err(|e| CloudError::Client(e.to_string()))?;
        Ok(CloudLlm { settings: Arc::new(settings), client, runtime: Arc::new(runtime) })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    pub fn has_key(&self) -> bool {
        self.settings.api_key.is_some()
    }

    /// Checks the provider: `/models` (is the model there?), then a short answer's timing.
    pub fn check(&self) -> Result<CloudCheck, CloudError> {
        let s = self.settings.clone();
        let client = self.client.clone();
        let model_listed = self.runtime.block_on(async move {
            let mut req = client.get(format!("{}/models", s.base_url)).timeout(s.first_token_timeout);
            if let Some(k) = &s.api_key {
                req = req.bearer_auth(k.expose());
            }
            let resp = req.send().await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let v: Value = resp.json().await.ok()?;
            let ids: Vec<&str> = v["data"].as_array()?.iter().filter_map(|m| m["id"].as_str()).collect();
            Some(ids.contains(&s.model.as_str()))
        });
        let mut request = ChatRequest::new(vec![super::ChatMessage::user("Say OK.")]);
        request.max_tokens = Some(4);
        let mut stream = self.chat(request).map_err(|e| CloudError::Client(e.to_string()))?;
        loop {
            match stream.next_blocking() {
                Some(LlmEvent::Done { metrics, .. }) => {
                    return Ok(CloudCheck {
                        key: self.has_key(),
                        model_listed,
                        ttfb_ms: metrics.ttfb_ms.unwrap_or(0.0),
                        ttft_ms: metrics.ttft_ms,
                    });
                }
                Some(LlmEvent::Error(LlmError::Cloud(e))) => return Err(e),
                Some(LlmEvent::Error(e)) => return Err(CloudError::Client(e.to_string())),
                Some(LlmEvent::Token { .. }) => {}
                None => return Err(CloudError::Client("the request task ended".into())),
            }
        }
    }
}

impl ChatEngine for CloudLlm {
    fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        let job = Job { settings: self.settings.clone(), client: self.client.clone(), request, cancel: cancel.clone(), events: tx };
        self.runtime.spawn(job.run());
        Ok(AnswerStream { events: rx, cancel })
    }
}

/// One request in flight.
struct Job {
    settings: Arc<CloudSettings>,
    client: reqwest::Client,
    request: ChatRequest,
    cancel: CancelToken,
    events: UnboundedSender<LlmEvent>,
}

/// How a stream ended, before it is reported.
enum End {
    Finished(FinishReason),
    Cancelled,
    Failed(CloudError),
}

/// What the stream has produced so far.
#[derive(Default)]
struct Progress {
    text: String,
    tokens: u32,
    first_token: Option<Instant>,
    last_token: Option<Instant>,
    usage_prompt: Option<u32>,
    usage_completion: Option<u32>,
    usage_cached: Option<u32>,
}

impl Job {
    async fn run(self) {
        let started = Instant::now();
        let mut progress = Progress::default();
        let mut ttfb = None;
        let end = self.stream(started, &mut progress, &mut ttfb).await;
        let redact = |text: String| match &self.settings.api_key {
            Some(k) => k.redact(&text),
            None => text,
        };
        let finish = match end {
            End::Finished(f) => f,
            End::Cancelled => FinishReason::Cancelled,
            End::Failed(e) => {
                let e = redact_error(e, &redact);
                let _ = self.events.send(LlmEvent::Error(LlmError::Cloud(e)));
                return;
            }
        };
        let now = Instant::now();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let gen_tokens = progress.usage_completion.unwrap_or(progress.tokens);
        let gen_ms = match (progress.first_token, progress.last_token) {
            (Some(a), Some(b)) => ms(b - a),
            _ => 0.0,
        };
        let metrics = AnswerMetrics {
            prompt_tokens: progress.usage_prompt.unwrap_or(0),
            cached_tokens: progress.usage_cached.unwrap_or(0),
            prompt_ms: 0.0,
            prompt_tok_s: 0.0,
            ttft_ms: progress.first_token.map_or(0.0, |t| ms(t - started)),
            gen_tokens,
            gen_ms,
            gen_tok_s: per_second(f64::from(gen_tokens.saturating_sub(1)), gen_ms),
            total_ms: ms(now - started),
            finish,
            weights_bytes: 0,
            kv_cache_bytes: 0,
            gpu_layers: 0,
            total_layers: 0,
            ttfb_ms: ttfb.map(|t: Instant| ms(t - started)),
        };
        let _ = self.events.send(LlmEvent::Done { text: progress.text, metrics });
    }

    fn body(&self) -> Value {
        let s = &self.settings;
        let messages: Vec<Value> = self
            .request
            .messages
            .iter()
            .map(|m| serde_json::json!({ "role": m.role.as_str(), "content": m.content }))
            .collect();
        let mut body = serde_json::json!({
            "model": s.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": self.request.max_tokens.unwrap_or(s.max_tokens),
            "temperature": self.request.temperature.unwrap_or(s.temperature),
        });
        if self.request.ignore_eos {
            body["ignore_eos"] = Value::Bool(true); // llama-server and vLLM honour it
        }
        body
    }

    /// Sleeps until `deadline`, or returns early on cancellation (`true`).
    async fn wait(&self, deadline: Instant) -> bool {
        loop {
            if self.cancel.is_cancelled() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep((deadline - now).min(CANCEL_POLL)).await;
        }
    }

    async fn stream(&self, started: Instant, p: &mut Progress, ttfb: &mut Option<Instant>) -> End {
        let s = &self.settings;
        let url = format!("{}/chat/completions", s.base_url);
        let mut req = self.client.post(&url).json(&self.body());
        if let Some(k) = &s.api_key {
            req = req.bearer_auth(k.expose());
        }
        let first_deadline = started + s.first_token_timeout;
        let resp = tokio::select! {
            r = req.send() => r,
            cancelled = self.wait(first_deadline) => {
                return if cancelled { End::Cancelled } else { End::Failed(CloudError::NoFirstToken { after: s.first_token_timeout }) };
            }
        };
        let mut resp = match resp {
            Ok(r) => r,
            Err(e) if e.is_connect() && (e.is_timeout() || error_chain(&e).contains("timed out")) => {
                return End::Failed(CloudError::ConnectTimeout { url, after: s.connect_timeout });
            }
            Err(e) if e.is_connect() => return End::Failed(CloudError::Connect { url, detail: error_chain(&e) }),
            Err(e) => return End::Failed(CloudError::Broken { tokens: 0, partial: String::new(), detail: error_chain(&e) }),
        };
        *ttfb = Some(Instant::now());
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let body = tokio::time::timeout(Duration::from_secs(1), resp.text()).await.ok().and_then(Result::ok).unwrap_or_default();
            return End::Failed(CloudError::Http { status: status.as_u16(), message: error_message(&body, status), retry_after });
        }
        let mut parser = SseParser::new();
        let mut finish = None;
        loop {
            let deadline = match p.last_token {
                None => first_deadline,
                Some(_) => Instant::now() + s.stall_timeout,
            };
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                cancelled = self.wait(deadline) => {
                    if cancelled {
                        return End::Cancelled;
                    }
                    return End::Failed(match p.last_token {
                        None => CloudError::NoFirstToken { after: s.first_token_timeout },
                        Some(_) => CloudError::Stalled { after: s.stall_timeout, tokens: p.tokens, partial: p.text.clone() },
                    });
                }
            };
            let bytes = match chunk {
                Ok(Some(b)) => b,
                Ok(None) => {
                    return match finish {
                        Some(f) => End::Finished(f),
                        None => End::Failed(CloudError::Broken { tokens: p.tokens, partial: p.text.clone(), detail: "the connection closed before the end of the answer".into() }),
                    };
                }
                Err(e) => return End::Failed(CloudError::Broken { tokens: p.tokens, partial: p.text.clone(), detail: error_chain(&e) }),
            };
            for item in parser.push(&bytes) {
                match item {
                    SseItem::Done => return End::Finished(finish.unwrap_or(FinishReason::Stop)),
                    SseItem::Data(payload) => {
                        if let Err(detail) = self.on_data(&payload, started, p, &mut finish) {
                            return End::Failed(CloudError::Malformed { tokens: p.tokens, partial: p.text.clone(), detail });
                        }
                    }
                }
            }
            if self.cancel.is_cancelled() {
                return End::Cancelled;
            }
        }
    }

    /// One `data:` payload: a content delta, a finish reason, usage, or an error object.
    fn on_data(&self, payload: &str, started: Instant, p: &mut Progress, finish: &mut Option<FinishReason>) -> Result<(), String> {
        let v: Value = serde_json::from_str(payload).map_err(|e| format!("not JSON ({e}): {}", truncate(payload, 80)))?;
        if let Some(err) = v.get("error") {
            return Err(format!("the server reported an error: {}", truncate(&err.to_string(), 200)));
        }
        if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            p.usage_prompt = usage["prompt_tokens"].as_u64().map(|n| n as u32);
            p.usage_completion = usage["completion_tokens"].as_u64().map(|n| n as u32);
            p.usage_cached = usage["prompt_tokens_details"]["cached_tokens"].as_u64().map(|n| n as u32);
        }
        let choices = v.get("choices").and_then(Value::as_array).ok_or_else(|| format!("no `choices`: {}", truncate(payload, 80)))?;
        let Some(choice) = choices.first() else { return Ok(()) }; // the usage chunk
        if let Some(text) = choice["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
            let now = Instant::now();
            p.first_token.get_or_insert(now);
            p.last_token = Some(now);
            p.tokens += 1;
            p.text.push_str(text);
            let _ = self.events.send(LlmEvent::Token { text: text.to_owned(), index: p.tokens - 1, elapsed: now - started });
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            *finish = Some(if reason == "length" { FinishReason::Length } else { FinishReason::Stop });
        }
        Ok(())
    }
}

/// The error and its sources on one line (reqwest hides the useful part in the sources).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn redact_error(e: CloudError, redact: &dyn Fn(String) -> String) -> CloudError {
    match e {
        CloudError::Connect { url, detail } => CloudError::Connect { url, detail: redact(detail) },
        CloudError::Http { status, message, retry_after } => CloudError::Http { status, message: redact(message), retry_after },
        CloudError::Broken { tokens, partial, detail } => CloudError::Broken { tokens, partial, detail: redact(detail) },
        CloudError::Malformed { tokens, partial, detail } => CloudError::Malformed { tokens, partial, detail: redact(detail) },
        other => other,
    }
}

/// The error body's message (`{"error": {"message": ...}}` or text), short.
fn error_message(body: &str, status: reqwest::StatusCode) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v["error"]["message"].as_str().or_else(|| v["error"].as_str()).or_else(|| v["message"].as_str()).map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { truncate(&text, 200) }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Retry-After: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate(value)?;
    let now = std::time::SystemTime::now();
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT").
fn httpdate(s: &str) -> Option<std::time::SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = months.iter().position(|x| x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').map(|t| t.parse().ok()).collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else { return None };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests;
