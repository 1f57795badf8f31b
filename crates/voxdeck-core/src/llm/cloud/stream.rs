//! One streamed answer: POST the request, turn SSE chunks into token events (and tool-call
//! fragments into whole calls, sent at the end), enforce the first-token and stall deadlines,
//! and watch the cancel token while waiting on the network.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, Response, Url};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::errors::error_chain;
use super::http::{error_message, parse_retry_after};
use super::key::ApiKey;
use super::calls::CallAssembler;
use super::sse::{SseItem, SseParser};
use super::wire::{Usage, parse_chunk};
use super::CloudError;
use crate::llm::{AnswerMetrics, CancelToken, FinishReason, LlmError, LlmEvent, per_second};

/// How often a silent wait looks at the cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(10);
/// Most of an error body read for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// After `[DONE]`, how long the rest of the body may take so the connection can be reused.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything one request needs, detached from the engine.
pub(crate) struct Job {
    /// When the caller asked: every time in the metrics counts from here.
    pub started: Instant,
    pub client: Client,
    pub url: Url,
    pub key: Option<ApiKey>,
    pub body: Vec<u8>,
    pub connect_timeout: Duration,
    pub first_token_timeout: Duration,
    pub stall_timeout: Duration,
}

/// What a wait on the network came to.
pub(crate) enum Waited<T> {
    Ready(T),
    TimedOut,
    Cancelled,
}

/// Watches for a reason to stop waiting: the cancel token, or nobody listening any more.
pub(crate) struct Watch<'a> {
    cancel: &'a CancelToken,
    events: Option<&'a UnboundedSender<LlmEvent>>,
    tick: Interval,
}

impl<'a> Watch<'a> {
    pub fn new(cancel: &'a CancelToken, events: Option<&'a UnboundedSender<LlmEvent>>) -> Watch<'a> {
        let mut tick = tokio::time::interval(CANCEL_POLL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Watch { cancel, events, tick }
    }

    pub fn stopped(&self) -> bool {
        self.cancel.is_cancelled() || self.events.is_some_and(|e| e.is_closed())
    }

    /// Runs `fut` until it finishes, `deadline` passes or the answer is cancelled. The future
    /// is polled to completion or dropped, never restarted, so no bytes are lost.
    pub async fn wait<F: Future>(&mut self, fut: F, deadline: Instant) -> Waited<F::Output> {
        tokio::pin!(fut);
        let sleep = tokio::time::sleep_until(deadline);
        tokio::pin!(sleep);
        loop {
            if self.stopped() {
                return Waited::Cancelled;
            }
            tokio::select! {
                biased;
                out = &mut fut => return Waited::Ready(out),
                () = &mut sleep => return Waited::TimedOut,
                _ = self.tick.tick() => {}
            }
        }
    }
}

/// Classifies a failure before any response: connecting, or the server hanging up.
pub(crate) fn send_error(e: &reqwest::Error, connect_timeout: Duration) -> CloudError {
    if e.is_connect() && e.is_timeout() {
        CloudError::ConnectTimeout { after: connect_timeout }
    } else if e.is_connect() {
        CloudError::Connect(error_chain(e))
    } else if e.is_builder() {
        CloudError::Request(error_chain(e))
    } else {
        CloudError::Broken { tokens: 0, partial: String::new(), detail: error_chain(e) }
    }
}

/// An HTTP error status, with the message from its body and its `Retry-After`.
pub(crate) async fn http_error(mut response: Response, watch: &mut Watch<'_>) -> Result<Ended, CloudError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    let read_body = async {
        let mut body = Vec::new();
        while let Ok(Some(bytes)) = response.chunk().await {
            body.extend_from_slice(&bytes);
            if body.len() >= MAX_ERROR_BODY {
                break;
            }
        }
        body
    };
    let message = match watch.wait(read_body, Instant::now() + Duration::from_secs(1)).await {
        Waited::Ready(body) => error_message(&body),
        Waited::TimedOut => String::new(),
        Waited::Cancelled => return Ok(Ended::Cancelled),
    };
    Err(CloudError::Http { status, message, retry_after })
}

/// How a stream ended without an error.
pub(crate) enum Ended {
    /// `[DONE]` (the response still open, to drain) or a finish reason and then EOF.
    Complete(Option<Response>),
    Cancelled,
}

/// What has arrived so far.
struct Progress {
    start: Instant,
    text: String,
    deltas: u32,
    first_at: Option<Duration>,
    last_at: Duration,
    ttfb: Option<Duration>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    /// Tool calls being streamed; whole only at the stream's end.
    calls: CallAssembler,
    /// When the first tool-call fragment came, and how many came.
    first_call_at: Option<Duration>,
    fragments: u32,
}

impl Progress {
    fn new(start: Instant) -> Progress {
        Progress {
            start,
            text: String::new(),
            deltas: 0,
            first_at: None,
            last_at: Duration::ZERO,
            ttfb: None,
            usage: None,
            finish_reason: None,
            calls: CallAssembler::default(),
            first_call_at: None,
            fragments: 0,
        }
    }

    /// Something of the answer came: a content token or a piece of a tool call. From then on
    /// the stall deadline applies, not the first-token one.
    fn started(&self) -> bool {
        self.first_at.is_some() || self.first_call_at.is_some()
    }

    /// Adds a tool-call fragment; `Err` when the server broke a bound.
    fn call_fragment(&mut self, delta: super::calls::CallDelta) -> Result<(), CloudError> {
        let at = self.start.elapsed();
        self.first_call_at.get_or_insert(at);
        self.last_at = at;
        self.fragments += 1;
        self.calls.push(delta).map_err(|detail| self.malformed(detail))
    }

    /// Records a content delta and streams it; `false` when nobody is listening.
    fn token(&mut self, content: String, events: &UnboundedSender<LlmEvent>) -> bool {
        let at = self.start.elapsed();
        self.first_at.get_or_insert(at);
        self.last_at = at;
        self.text.push_str(&content);
        let index = self.deltas;
        self.deltas += 1;
        events.send(LlmEvent::Token { text: content, index, elapsed: at }).is_ok()
    }

    fn stalled(&self, after: Duration) -> CloudError {
        CloudError::Stalled { after, tokens: self.deltas, partial: self.text.clone() }
    }

    fn broken(&self, detail: impl Into<String>) -> CloudError {
        CloudError::Broken { tokens: self.deltas, partial: self.text.clone(), detail: detail.into() }
    }

    fn malformed(&self, detail: impl Into<String>) -> CloudError {
        CloudError::Malformed { tokens: self.deltas, partial: self.text.clone(), detail: detail.into() }
    }

    fn metrics(&self, finish: FinishReason) -> AnswerMetrics {
        // A call's fragments are the tokens of an answer that calls a tool.
        let streamed = self.deltas + self.fragments;
        let (prompt_tokens, gen_tokens, cached_tokens) = match self.usage {
            Some(u) => (u.prompt_tokens, u.completion_tokens.unwrap_or(streamed), u.cached_tokens),
            None => (0, streamed, 0),
        };
        let first_at = self.first_at.or(self.first_call_at);
        let first = first_at.unwrap_or(self.last_at);
        let gen_ms = ms(self.last_at.saturating_sub(first));
        AnswerMetrics {
            prompt_tokens,
            cached_tokens,
            prompt_ms: 0.0,
            prompt_tok_s: 0.0,
            ttft_ms: first_at.map(ms).unwrap_or(0.0),
            gen_tokens,
            gen_ms,
            gen_tok_s: per_second(f64::from(gen_tokens.saturating_sub(1)), gen_ms),
            total_ms: ms(self.start.elapsed()),
            finish,
            weights_bytes: 0,
            kv_cache_bytes: 0,
            gpu_layers: 0,
            total_layers: 0,
            ttfb_ms: self.ttfb.map(ms),
        }
    }

    fn finish(&self) -> FinishReason {
        match self.finish_reason.as_deref() {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs one answer to its end, sending events; never panics, always ends with `Done` or `Error`
/// (unless nobody is listening).
pub(crate) async fn answer(job: Job, events: UnboundedSender<LlmEvent>, cancel: CancelToken) {
    let mut progress = Progress::new(job.started);
    let mut watch = Watch::new(&cancel, Some(&events));
    let outcome = run(&job, &events, &mut watch, &mut progress).await;
    drop(watch);
    // The calls are whole only now: a stream that failed or was cancelled runs none of them.
    let outcome = match outcome {
        Ok(Ended::Complete(rest)) => match std::mem::take(&mut progress.calls).finish() {
            Ok(calls) => Ok((Ended::Complete(rest), calls)),
            Err(detail) => Err(progress.malformed(detail)),
        },
        Ok(ended) => Ok((ended, Vec::new())),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((Ended::Complete(rest), calls)) => {
            let metrics = progress.metrics(progress.finish());
            tracing::debug!(
                tokens = metrics.gen_tokens,
                ttft_ms = metrics.ttft_ms,
                calls = calls.len(),
                "cloud answer complete"
            );
            for call in calls {
                let _ = events.send(LlmEvent::ToolCall(call));
            }
            let _ = events.send(LlmEvent::Done { text: progress.text, metrics });
            if let Some(mut response) = rest {
                // Reading the body to its end returns the connection to the pool: the next
                // turn skips the TCP and TLS handshakes.
                let drain = async { while let Ok(Some(_)) = response.chunk().await {} };
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
            }
        }
        Ok((Ended::Cancelled, _)) => {
            tracing::debug!(tokens = progress.deltas, "cloud answer cancelled");
            let metrics = progress.metrics(FinishReason::Cancelled);
            let _ = events.send(LlmEvent::Done { text: progress.text, metrics });
        }
        Err(e) => {
            let e = e.redacted(job.key.as_ref());
            tracing::debug!(reason = %e.fallback_reason(), "cloud answer failed: {e}");
            let _ = events.send(LlmEvent::Error(LlmError::Cloud(e)));
        }
    }
}

async fn run(
    job: &Job,
    events: &UnboundedSender<LlmEvent>,
    watch: &mut Watch<'_>,
    p: &mut Progress,
) -> Result<Ended, CloudError> {
    let first_deadline = p.start + job.first_token_timeout;
    let mut request = job
        .client
        .post(job.url.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "text/event-stream")
        .body(job.body.clone());
    if let Some(key) = &job.key {
        request = request.bearer_auth(key.expose());
    }
    let response = match watch.wait(request.send(), first_deadline).await {
        Waited::Ready(response) => response.map_err(|e| send_error(&e, job.connect_timeout))?,
        Waited::TimedOut => return Err(CloudError::NoFirstToken { after: job.first_token_timeout }),
        Waited::Cancelled => return Ok(Ended::Cancelled),
    };
    p.ttfb = Some(p.start.elapsed());
    if !response.status().is_success() {
        return http_error(response, watch).await;
    }
    read_stream(response, job, events, watch, p, first_deadline).await
}

async fn read_stream(
    mut response: Response,
    job: &Job,
    events: &UnboundedSender<LlmEvent>,
    watch: &mut Watch<'_>,
    p: &mut Progress,
    first_deadline: Instant,
) -> Result<Ended, CloudError> {
    let mut sse = SseParser::new();
    let mut last_byte = Instant::now();
    loop {
        let deadline = if p.started() { last_byte + job.stall_timeout } else { first_deadline };
        let (items, closed) = match watch.wait(response.chunk(), deadline).await {
            Waited::Ready(Ok(Some(bytes))) => {
                last_byte = Instant::now();
                (sse.push(&bytes), false)
            }
            Waited::Ready(Ok(None)) => (sse.finish(), true),
            Waited::Ready(Err(e)) => return Err(p.broken(error_chain(&e))),
            Waited::TimedOut if p.started() => return Err(p.stalled(job.stall_timeout)),
            Waited::TimedOut => return Err(CloudError::NoFirstToken { after: job.first_token_timeout }),
            Waited::Cancelled => return Ok(Ended::Cancelled),
        };
        for item in items {
            match item {
                SseItem::Done => return Ok(Ended::Complete((!closed).then_some(response))),
                SseItem::Invalid(line) => return Err(p.malformed(format!("not server-sent events: {line}"))),
                SseItem::Data(payload) => {
                    let chunk = parse_chunk(&payload).map_err(|detail| p.malformed(detail))?;
                    if let Some(message) = chunk.error {
                        return Err(p.broken(format!("the server reported: {message}")));
                    }
                    if !chunk.content.is_empty() && !p.token(chunk.content, events) {
                        return Ok(Ended::Cancelled);
                    }
                    for delta in chunk.tool_calls {
                        p.call_fragment(delta)?;
                    }
                    if chunk.finish_reason.is_some() {
                        p.finish_reason = chunk.finish_reason;
                    }
                    if chunk.usage.is_some() {
                        p.usage = chunk.usage;
                    }
                }
            }
        }
        if closed {
            // No `[DONE]`: the answer is whole only if the model said why it stopped.
            return if p.finish_reason.is_some() {
                Ok(Ended::Complete(None))
            } else {
                Err(p.broken(if p.calls.is_empty() {
                    "the connection closed before the end of the answer"
                } else {
                    "the connection closed inside a tool call"
                }))
            };
        }
        if watch.stopped() {
            return Ok(Ended::Cancelled);
        }
    }
}
