//! Answering a question with the engine the router picks, and falling back to the local model
//! when the cloud fails, so that a question is never dropped.
//!
//! A cloud failure before the first token (refused connection, connect timeout, HTTP 401, 403,
//! 429 or 5xx, no first token within the deadline) sends the same question to the local model,
//! and the turn records `fallback: <reason>`; the user is told once, in words, until the cloud
//! answers again. A 429's Retry-After keeps later turns local until it has passed. A stream
//! that breaks after some tokens keeps what came and the local model writes the rest, continuing
//! the same answer (its prompt ends with the partial text after the assistant's turn begins).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{Route, Router, RouterState, Target};
use crate::config::Mode;
use crate::sync::lock;
use crate::llm::{AnswerMetrics, CancelToken, ChatEngine, ChatRequest, LlmError, LlmEvent};
use crate::tools::{ToolCall, ToolResult};

/// Runs the tool calls an engine makes (checked against the allowlist first): the voice loop's
/// toolbox, or the eval's recorder.
pub trait ToolRunner: Send + Sync {
    fn run(&self, call: &ToolCall, engine: Target) -> ToolResult;
}

/// What the user is told when the cloud fails and the local model answers instead.
pub const CLOUD_FALLBACK_NOTICE: &str = "Cloud unavailable, answering locally.";
/// What the user is told when the cloud's stream broke after part of the answer and the local
/// model finishes it.
pub const CLOUD_CUT_NOTICE: &str = "The cloud connection dropped; finishing locally.";

/// An engine and how to name it in a turn's record.
#[derive(Clone)]
pub struct NamedEngine {
    pub engine: Arc<dyn ChatEngine>,
    /// The model's name.
    pub model: String,
}

/// What happens while answering, in order.
pub enum AnswerEvent<'a> {
    /// The router's decision.
    Routed(&'a Route),
    /// An engine stream started; cancel it to stop the answer (barge-in).
    Started { engine: Target, cancel: CancelToken },
    /// A piece of the answer; `tokens` so far from the engine answering now.
    Token { text: &'a str, tokens: u32, elapsed: Duration },
    /// The cloud failed before answering; the local model answers instead. `notice` is set
    /// the first time in a row, to be told to the user.
    Fallback { reason: &'a str, notice: Option<&'static str> },
    /// An engine called a tool and it was run: the call, its result, how long it took, ms.
    ToolCall { engine: Target, call: &'a ToolCall, result: &'a ToolResult, run_ms: f64 },
    /// The cloud's stream broke after part of the answer; the local model continues it.
    /// `notice` says so, to be shown (speaking it would split the answer).
    Cut { reason: &'a str, notice: &'static str },
}

/// How an answer ended.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    /// The answering engine's figures (`None` when every engine failed).
    pub metrics: Option<AnswerMetrics>,
    /// The engine that produced the answer, and its model.
    pub engine: Target,
    pub model: String,
    pub route_reason: String,
    /// The route's rule in a few words ([`super::Route::label`]).
    pub route_label: String,
    /// Why the routed engine was abandoned for the local one, if it was.
    pub fallback: Option<String>,
    /// When that happened, ms from the request; the local model's time to first token follows.
    pub fallback_ms: Option<f64>,
    /// What went wrong, when the answer is incomplete or missing.
    pub error: Option<String>,
}

/// Routes and answers questions. Shared by the voice loop and `voxdeck ask`; the mode can be
/// switched at any time and applies from the next question.
pub struct Answerer {
    local: NamedEngine,
    /// The cloud engine, or why there is none ("no API key"), for the router's reasons.
    /// Replaced when the key changes ([`Answerer::set_cloud`]): no reload for a new key.
    cloud: RwLock<Result<NamedEngine, String>>,
    router: Router,
    mode: RwLock<Mode>,
    /// A 429 asked us not to come back before this.
    backoff_until: Mutex<Option<Instant>>,
    /// The fallback notice was given and the cloud has not answered since.
    told: AtomicBool,
    /// The local model's last measured (time to first token s, tokens/s), for the router.
    local_perf: Mutex<(Option<f64>, Option<f64>)>,
}

impl Answerer {
    pub fn new(local: NamedEngine, cloud: Result<NamedEngine, String>, router: Router, mode: Mode) -> Answerer {
        Answerer {
            local,
            cloud: RwLock::new(cloud),
            router,
            mode: RwLock::new(mode),
            backoff_until: Mutex::new(None),
            told: AtomicBool::new(false),
            local_perf: Mutex::new((None, None)),
        }
    }

    pub fn mode(&self) -> Mode {
        *self.mode.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Switches the mode; the next question uses it. No model is reloaded.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.write().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    pub fn local_model(&self) -> &str {
        &self.local.model
    }

    pub fn cloud_model(&self) -> Option<String> {
        self.cloud().ok().map(|c| c.model)
    }

    fn cloud(&self) -> Result<NamedEngine, String> {
        self.cloud.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the cloud engine (a key was stored or forgotten); the next question uses it.
    pub fn set_cloud(&self, cloud: Result<NamedEngine, String>) {
        *self.cloud.write().unwrap_or_else(|p| p.into_inner()) = cloud;
        self.told.store(false, Ordering::Relaxed);
    }

    /// Seeds the router's prediction of local latency (a bench result, say) before any turn.
    pub fn set_local_perf(&self, ttft_s: f64, gen_tok_s: f64) {
        *lock(&self.local_perf) = (Some(ttft_s), Some(gen_tok_s));
    }

    fn state(&self) -> RouterState {
        let cloud_unavailable = if let Err(why) = self.cloud() {
            Some(why)
        } else {
            match *lock(&self.backoff_until) {
                Some(until) if Instant::now() < until => {
                    Some(format!("rate-limited for {:.0} s more", (until - Instant::now()).as_secs_f64()))
                }
                _ => None,
            }
        };
        let (local_ttft_s, local_gen_tok_s) = *lock(&self.local_perf);
        RouterState { cloud_unavailable, local_ttft_s, local_gen_tok_s }
    }

    /// Where `question` would go now, without asking anything.
    pub fn route(&self, question: &str) -> Route {
        self.router.route(question, self.mode(), &self.state())
    }

    /// Prefills `messages` (a conversation ending with a draft of `question`, made while the
    /// button is held) into the local model, when the router would send `question` there now;
    /// for the cloud nothing is done. `tools`: the offer the answer will carry (it is part of
    /// the prompt). Returns at once; whether a prefill was started.
    pub fn prefill(
        &self,
        messages: Vec<crate::llm::ChatMessage>,
        tools: Option<&crate::tools::ToolOffer>,
        question: &str,
    ) -> bool {
        if self.route(question).target != Target::Local {
            return false;
        }
        match self.local.engine.prefill(messages, tools) {
            Ok(started) => started,
            Err(e) => {
                tracing::debug!("draft prefill not started: {e}");
                false
            }
        }
    }

    /// Answers `request`, whose last message is `question`, reporting progress to `on`.
    /// Blocks until the answer is complete, cancelled through a `Started` token, or failed.
    pub fn answer(&self, request: ChatRequest, question: &str, on: &mut dyn FnMut(AnswerEvent)) -> Answer {
        let started = Instant::now();
        let route = self.route(question);
        on(AnswerEvent::Routed(&route));
        let mut answer = Answer {
            text: String::new(),
            metrics: None,
            engine: Target::Local,
            model: self.local.model.clone(),
            route_reason: route.reason.clone(),
            route_label: route.label.clone(),
            fallback: None,
            fallback_ms: None,
            error: None,
        };
        if route.target == Target::Cloud {
            let fallback = match &self.cloud() {
                Err(why) => Some(why.clone()),
                Ok(cloud) => {
                    answer.engine = Target::Cloud;
                    answer.model = cloud.model.clone();
                    match stream(cloud, Target::Cloud, request.clone(), on) {
                        Streamed::Done { text, metrics } => {
                            self.told.store(false, Ordering::Relaxed);
                            answer.text = text;
                            answer.metrics = Some(metrics);
                            return answer;
                        }
                        Streamed::Failed { error, partial, tokens: 0 } => {
                            drop(partial);
                            Some(self.note_failure(&error))
                        }
                        Streamed::Failed { error, partial, tokens: _ } => {
                            // Keep what came; the local model writes the rest of it.
                            let reason = format!("{}; continued locally", self.note_failure(&error));
                            on(AnswerEvent::Cut { reason: &reason, notice: CLOUD_CUT_NOTICE });
                            answer.fallback = Some(reason);
                            answer.fallback_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                            answer.engine = Target::Local;
                            answer.model = self.local.model.clone();
                            let mut rest = request;
                            rest.continue_from = Some(partial.clone());
                            match stream(&self.local, Target::Local, rest, on) {
                                Streamed::Done { text, metrics } => {
                                    answer.text = partial + &text;
                                    answer.metrics = Some(metrics);
                                }
                                Streamed::Failed { error, partial: more, .. } => {
                                    answer.text = partial + &more;
                                    answer.error = Some(format!("the answer was cut: the local model failed too: {error}"));
                                }
                            }
                            return answer;
                        }
                    }
                }
            };
            if let Some(reason) = fallback {
                let notice = (!self.told.swap(true, Ordering::Relaxed)).then_some(CLOUD_FALLBACK_NOTICE);
                on(AnswerEvent::Fallback { reason: &reason, notice });
                answer.fallback = Some(reason);
                answer.fallback_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                answer.engine = Target::Local;
                answer.model = self.local.model.clone();
            }
        }
        match stream(&self.local, Target::Local, request, on) {
            Streamed::Done { text, metrics } => {
                self.learn_local(&metrics);
                answer.text = text;
                answer.metrics = Some(metrics);
            }
            Streamed::Failed { error, partial, .. } => {
                answer.text = partial;
                answer.error = Some(format!("the local model failed: {error}"));
            }
        }
        answer
    }

    /// Remembers a Retry-After; returns the reason to record.
    fn note_failure(&self, error: &LlmError) -> String {
        match error {
            LlmError::Cloud(e) => {
                if let Some(after) = e.retry_after() {
                    *lock(&self.backoff_until) = Some(Instant::now() + after);
                }
                e.fallback_reason()
            }
            other => other.to_string(),
        }
    }

    fn learn_local(&self, m: &AnswerMetrics) {
        if m.gen_tokens >= 8 && m.gen_tok_s > 0.0 {
            *lock(&self.local_perf) = (Some(m.ttft_ms / 1000.0), Some(m.gen_tok_s));
        }
    }
}

enum Streamed {
    Done { text: String, metrics: AnswerMetrics },
    Failed { error: LlmError, partial: String, tokens: u32 },
}

/// Runs one engine's stream to its end.
fn stream(engine: &NamedEngine, target: Target, request: ChatRequest, on: &mut dyn FnMut(AnswerEvent)) -> Streamed {
    let mut s = match engine.engine.chat(request) {
        Ok(s) => s,
        Err(error) => return Streamed::Failed { error, partial: String::new(), tokens: 0 },
    };
    on(AnswerEvent::Started { engine: target, cancel: s.cancel.clone() });
    let mut partial = String::new();
    let mut tokens = 0;
    while let Some(event) = s.next_blocking() {
        match event {
            LlmEvent::Token { text, elapsed, .. } => {
                tokens += 1;
                partial.push_str(&text);
                on(AnswerEvent::Token { text: &text, tokens, elapsed });
            }
            LlmEvent::Done { text, metrics } => return Streamed::Done { text, metrics },
            LlmEvent::ToolCall(call) => tracing::debug!(name = %call.name, "tool call (no runner yet)"),
            LlmEvent::Error(error) => return Streamed::Failed { error, partial, tokens },
        }
    }
    Streamed::Failed { error: LlmError::WorkerGone, partial, tokens }
}
