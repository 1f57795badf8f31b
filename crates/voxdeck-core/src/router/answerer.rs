//! Answering a question with the engine the router picks, and falling back to the local model
//! when the cloud fails, so that a question is never dropped.
//!
//! A cloud failure before the first token (refused connection, connect timeout, HTTP 401, 403,
//! 429 or 5xx, no first token within the deadline) sends the same question to the local model,
//! and the turn records `fallback: <reason>`; the user is told once, in words, until the cloud
//! answers again. A 429's Retry-After keeps later turns local until it has passed. A stream
//! that breaks after some tokens keeps what came and the local model writes the rest, continuing
//! the same answer (its prompt ends with the partial text after the assistant's turn begins).
//!
//! With tools offered and a [`ToolRunner`] given, an answer may take rounds: the engine calls
//! tools, each call is checked against the offer and run, the calls and their results join the
//! conversation, and the same engine is asked again ([`MAX_ROUNDS`] at most; the last offers no
//! tools, so the answer ends in words). Fallback keeps to the same rules mid-call: a cloud that
//! fails before anything ran (a stream cut inside a call included: a half call never runs)
//! hands the original request to the local model; one that fails after a tool ran hands over
//! the conversation with the call and its result, so no tool runs twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{Route, Router, RouterState, Target};
use crate::config::Mode;
use crate::sync::lock;
use crate::llm::{AnswerMetrics, CancelToken, ChatEngine, ChatMessage, ChatRequest, LlmError, LlmEvent};
use crate::tools::{ToolCall, ToolOffer, ToolResult, spec};

/// Runs the tool calls an engine makes (checked against the allowlist first): the voice loop's
/// toolbox, or the eval's recorder.
pub trait ToolRunner: Send + Sync {
    fn run(&self, call: &ToolCall, engine: Target) -> ToolResult;
}

/// The most engine rounds in one answer: up to two of tool calls, then the answer. The last
/// round offers no tools.
pub const MAX_ROUNDS: u32 = 3;

/// A tool call made while answering, and what it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallMade {
    /// The engine that called it.
    pub engine: Target,
    pub call: ToolCall,
    pub result: ToolResult,
    /// When the call was run, ms from the request, and how long it took, ms.
    pub at_ms: f64,
    pub run_ms: f64,
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
    /// The tools called on the way, in order (each ran once, whichever engine answered).
    pub tool_calls: Vec<ToolCallMade>,
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
    /// Tools offered in `request` are run by `tools`; without a runner none are offered.
    pub fn answer(
        &self,
        mut request: ChatRequest,
        question: &str,
        tools: Option<&dyn ToolRunner>,
        on: &mut dyn FnMut(AnswerEvent),
    ) -> Answer {
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
            tool_calls: Vec::new(),
        };
        if tools.is_none() && request.tools.take().is_some() {
            tracing::debug!("tools offered without a runner: none offered");
        }
        let mut talk = Dialogue::new(request, tools, started);
        if route.target == Target::Cloud {
            let fallback = match &self.cloud() {
                Err(why) => Some(why.clone()),
                Ok(cloud) => {
                    answer.engine = Target::Cloud;
                    answer.model = cloud.model.clone();
                    match talk.converse(cloud, Target::Cloud, on) {
                        Streamed::Done { text, metrics, .. } => {
                            self.told.store(false, Ordering::Relaxed);
                            answer.text = talk.said(&text);
                            answer.metrics = Some(metrics);
                            answer.tool_calls = talk.made;
                            return answer;
                        }
                        // Nothing of this round was said: the local model takes the
                        // conversation as it is (the original request, or one whose tools
                        // already ran).
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
                            // Continuing words: no tools.
                            let mut rest = talk.request.clone();
                            rest.tools = None;
                            rest.continue_from = Some(partial.clone());
                            let said = talk.said(&partial);
                            answer.tool_calls = talk.made;
                            match stream(&self.local, Target::Local, rest, on) {
                                Streamed::Done { text, metrics, .. } => {
                                    answer.text = said + &text;
                                    answer.metrics = Some(metrics);
                                }
                                Streamed::Failed { error, partial: more, .. } => {
                                    answer.text = said + &more;
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
        let outcome = talk.converse(&self.local, Target::Local, on);
        answer.tool_calls = std::mem::take(&mut talk.made);
        match outcome {
            Streamed::Done { text, metrics, .. } => {
                self.learn_local(&metrics);
                answer.text = talk.said(&text);
                answer.metrics = Some(metrics);
            }
            Streamed::Failed { error, partial, .. } => {
                answer.text = talk.said(&partial);
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
    /// The engine's answer; `calls` it made instead of (or after) its words.
    Done { text: String, metrics: AnswerMetrics, calls: Vec<ToolCall> },
    Failed { error: LlmError, partial: String, tokens: u32 },
}

/// One answer's conversation as it grows round by round, whichever engine carries it on.
struct Dialogue<'r> {
    /// The request, its messages growing with each round's calls and results.
    request: ChatRequest,
    /// The tools as first offered (`None`: none, or no runner).
    offer: Option<ToolOffer>,
    runner: Option<&'r dyn ToolRunner>,
    /// Rounds done (each ended in tool calls).
    round: u32,
    /// Words said in rounds that then called tools ("Let me check."), already streamed.
    spoken: String,
    made: Vec<ToolCallMade>,
    started: Instant,
}

impl<'r> Dialogue<'r> {
    fn new(request: ChatRequest, runner: Option<&'r dyn ToolRunner>, started: Instant) -> Dialogue<'r> {
        let offer = request.tools.clone().filter(|o| !o.tools.is_empty());
        Dialogue { request, offer, runner, round: 0, spoken: String::new(), made: Vec::new(), started }
    }

    /// The answer's whole text: earlier rounds' words, then `last`.
    fn said(&self, last: &str) -> String {
        format!("{}{last}", self.spoken)
    }

    /// This round's request: the tools on offer in every round but the last, a call required
    /// (if it was) only in the first.
    fn next_request(&self) -> ChatRequest {
        let mut request = self.request.clone();
        request.tools = match &self.offer {
            Some(offer) if self.runner.is_some() && self.round + 1 < MAX_ROUNDS => {
                Some(ToolOffer { tools: offer.tools.clone(), require_call: offer.require_call && self.round == 0 })
            }
            _ => None,
        };
        request
    }

    /// Runs rounds on `engine` until it answers in words (or fails).
    fn converse(&mut self, engine: &NamedEngine, target: Target, on: &mut dyn FnMut(AnswerEvent)) -> Streamed {
        loop {
            let request = self.next_request();
            let offered = request.tools.clone();
            match (stream(engine, target, request, on), offered) {
                (Streamed::Done { text, calls, .. }, Some(offer)) if !calls.is_empty() => {
                    self.run_calls(target, text, calls, &offer, on);
                    self.round += 1;
                }
                (Streamed::Done { text, metrics, calls }, _) => {
                    if !calls.is_empty() {
                        tracing::debug!(calls = calls.len(), "tool calls where none were offered: ignored");
                    }
                    return Streamed::Done { text, metrics, calls: Vec::new() };
                }
                (failed, _) => return failed,
            }
        }
    }

    /// Checks each call against the offer, runs the good ones, and adds the calls and their
    /// results to the conversation. A refused call's result says why, for the model to tell.
    fn run_calls(&mut self, target: Target, text: String, calls: Vec<ToolCall>, offer: &ToolOffer, on: &mut dyn FnMut(AnswerEvent)) {
        let Some(runner) = self.runner else { return };
        self.spoken.push_str(&text);
        self.request.messages.push(ChatMessage { content: text, ..ChatMessage::tool_calls(calls.clone()) });
        for call in calls {
            let at = Instant::now();
            let result = match spec::validate(&call.name, &call.arguments, &offer.tools) {
                Ok(_) => runner.run(&call, target),
                Err(refusal) => ToolResult::refused(refusal.to_string()),
            };
            let run_ms = at.elapsed().as_secs_f64() * 1000.0;
            tracing::debug!(tool = %call.name, ok = result.ok, run_ms, "tool call");
            on(AnswerEvent::ToolCall { engine: target, call: &call, result: &result, run_ms });
            self.request.messages.push(ChatMessage::tool_result(call.id.clone(), result.content.clone()));
            let at_ms = (at - self.started).as_secs_f64() * 1000.0;
            self.made.push(ToolCallMade { engine: target, call, result, at_ms, run_ms });
        }
    }
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
    let mut calls = Vec::new();
    while let Some(event) = s.next_blocking() {
        match event {
            LlmEvent::Token { text, elapsed, .. } => {
                tokens += 1;
                partial.push_str(&text);
                on(AnswerEvent::Token { text: &text, tokens, elapsed });
            }
            LlmEvent::Done { text, metrics } => {
                // Cancelled: a call that came is not run.
                if metrics.finish == crate::llm::FinishReason::Cancelled {
                    calls.clear();
                }
                return Streamed::Done { text, metrics, calls };
            }
            LlmEvent::ToolCall(call) => calls.push(call),
            LlmEvent::Error(error) => return Streamed::Failed { error, partial, tokens },
        }
    }
    Streamed::Failed { error: LlmError::WorkerGone, partial, tokens }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::config::{RouterConfig, VoiceThresholds};
    use crate::llm::{AnswerStream, ChatMessage, FinishReason, Role};
    use crate::tools::ToolName;

    /// One scripted reply: tool calls (name, arguments), then the words; or a failure.
    enum Reply {
        Calls(Vec<(&'static str, &'static str)>),
        Words(&'static str),
        /// Fails before any token (a refused connection).
        Fails,
    }

    /// An engine that plays its replies in order and keeps every request it was sent.
    struct Scripted {
        replies: Mutex<VecDeque<Reply>>,
        requests: Mutex<Vec<ChatRequest>>,
    }

    impl Scripted {
        fn new(replies: Vec<Reply>) -> Arc<Scripted> {
            Arc::new(Scripted { replies: Mutex::new(replies.into()), requests: Mutex::new(Vec::new()) })
        }
        fn requests(&self) -> Vec<ChatRequest> {
            lock(&self.requests).clone()
        }
    }

    fn metrics() -> AnswerMetrics {
        AnswerMetrics {
            prompt_tokens: 1,
            cached_tokens: 0,
            prompt_ms: 0.0,
            prompt_tok_s: 0.0,
            ttft_ms: 1.0,
            gen_tokens: 1,
            gen_ms: 1.0,
            gen_tok_s: 1.0,
            total_ms: 2.0,
            finish: FinishReason::Stop,
            weights_bytes: 0,
            kv_cache_bytes: 0,
            gpu_layers: 0,
            total_layers: 0,
            ttfb_ms: None,
        }
    }

    impl ChatEngine for Scripted {
        fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
            let n = lock(&self.requests).len();
            lock(&self.requests).push(request);
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let reply = lock(&self.replies).pop_front().unwrap_or(Reply::Words("(unscripted)"));
            match reply {
                Reply::Calls(calls) => {
                    for (i, (name, arguments)) in calls.into_iter().enumerate() {
                        let id = format!("call_{n}_{i}");
                        tx.send(LlmEvent::ToolCall(ToolCall { id, name: name.into(), arguments: arguments.into() })).unwrap();
                    }
                    tx.send(LlmEvent::Done { text: String::new(), metrics: metrics() }).unwrap();
                }
                Reply::Words(text) => {
                    tx.send(LlmEvent::Token { text: text.into(), index: 0, elapsed: Duration::ZERO }).unwrap();
                    tx.send(LlmEvent::Done { text: text.into(), metrics: metrics() }).unwrap();
                }
                Reply::Fails => tx.send(LlmEvent::Error(LlmError::WorkerGone)).unwrap(),
            }
            Ok(AnswerStream { events: rx, cancel: CancelToken::new() })
        }
    }

    /// Runs every call it is given; counts them.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(ToolCall, Target)>>);

    impl ToolRunner for Recorder {
        fn run(&self, call: &ToolCall, engine: Target) -> ToolResult {
            lock(&self.0).push((call.clone(), engine));
            ToolResult { ok: true, content: format!("{} done", call.name), spoken: "Done.".into() }
        }
    }

    fn answerer(local: &Arc<Scripted>, cloud: Option<&Arc<Scripted>>, mode: Mode) -> Answerer {
        let named = |e: &Arc<Scripted>, model: &str| NamedEngine { engine: e.clone(), model: model.into() };
        let cloud = cloud.map(|c| named(c, "cloud-model")).ok_or_else(|| "no cloud".to_owned());
        let router = Router::new(RouterConfig::default(), VoiceThresholds::default());
        Answerer::new(named(local, "local-model"), cloud, router, mode)
    }

    fn offered(tools: &[ToolName], require_call: bool) -> ChatRequest {
        let mut request = ChatRequest::new(vec![ChatMessage::system("Be brief."), ChatMessage::user("Set a timer.")]);
        request.tools = Some(ToolOffer { tools: tools.to_vec(), require_call });
        request
    }

    /// Answers, keeping the tool calls and fallbacks reported on the way.
    fn ask(a: &Answerer, request: ChatRequest, runner: Option<&dyn ToolRunner>) -> (Answer, Vec<(Target, ToolCall, ToolResult)>, Vec<String>) {
        let mut calls = Vec::new();
        let mut fallbacks = Vec::new();
        let answer = a.answer(request, "Set a timer.", runner, &mut |event| match event {
            AnswerEvent::ToolCall { engine, call, result, run_ms } => {
                assert!(run_ms >= 0.0);
                calls.push((engine, call.clone(), result.clone()));
            }
            AnswerEvent::Fallback { reason, .. } => fallbacks.push(reason.to_owned()),
            _ => {}
        });
        (answer, calls, fallbacks)
    }

    #[test]
    fn a_call_is_run_fed_back_and_answered_in_words() {
        let local = Scripted::new(vec![Reply::Calls(vec![("set_timer", r#"{"seconds": 600}"#)]), Reply::Words("Timer set.")]);
        let runner = Recorder::default();
        let (answer, calls, _) = ask(&answerer(&local, None, Mode::Local), offered(&ToolName::ALL, true), Some(&runner));
        assert_eq!(answer.text, "Timer set.");
        assert_eq!((answer.engine, answer.fallback.as_deref()), (Target::Local, None));
        assert_eq!(lock(&runner.0).len(), 1);
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].0, calls[0].1.name.as_str(), calls[0].2.ok), (Target::Local, "set_timer", true));
        assert_eq!(answer.tool_calls.len(), 1);
        assert_eq!(answer.tool_calls[0].result.content, "set_timer done");

        let requests = local.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].tools, Some(ToolOffer { tools: ToolName::ALL.to_vec(), require_call: true }));
        // The second round: the call and its result in the conversation, tools still on offer
        // but no call required.
        let second = &requests[1];
        assert_eq!(second.tools.as_ref().map(|o| o.require_call), Some(false));
        let n = second.messages.len();
        assert_eq!(second.messages[n - 2].role, Role::Assistant);
        assert_eq!(second.messages[n - 2].tool_calls, [calls[0].1.clone()]);
        assert_eq!(second.messages[n - 1], ChatMessage::tool_result(calls[0].1.id.clone(), "set_timer done"));
    }

    #[test]
    fn rounds_are_bounded_and_the_last_offers_no_tools() {
        let local = Scripted::new(vec![
            Reply::Calls(vec![("list_timers", "{}")]),
            Reply::Calls(vec![("list_timers", "{}")]),
            Reply::Calls(vec![("list_timers", "{}")]),
            Reply::Words("never reached"),
        ]);
        let runner = Recorder::default();
        let (answer, _, _) = ask(&answerer(&local, None, Mode::Local), offered(&ToolName::ALL, false), Some(&runner));
        let requests = local.requests();
        assert_eq!(requests.len(), MAX_ROUNDS as usize);
        assert!(requests[..2].iter().all(|r| r.tools.is_some()) && requests[2].tools.is_none(), "{requests:?}");
        assert_eq!(lock(&runner.0).len(), 2, "the third round's call was not offered, so not run");
        assert_eq!(answer.tool_calls.len(), 2);
    }

    #[test]
    fn bad_calls_are_refused_in_words_and_never_reach_the_runner() {
        let local = Scripted::new(vec![
            Reply::Calls(vec![
                ("run_shell", r#"{"cmd": "rm -rf /"}"#),
                ("set_timer", r#"{"seconds": 600"#),
                ("set_timer", r#"{"seconds": 315360000}"#),
                ("forget_all", "{}"),
            ]),
            Reply::Words("I can't do that."),
        ]);
        let runner = Recorder::default();
        let request = offered(&[ToolName::SetTimer, ToolName::ListTimers], false);
        let (answer, calls, _) = ask(&answerer(&local, None, Mode::Local), request, Some(&runner));
        assert_eq!(lock(&runner.0).len(), 0);
        let said: Vec<&str> = calls.iter().map(|(_, _, r)| r.spoken.as_str()).collect();
        assert_eq!(
            said,
            [
                "I don't have a tool called run_shell.",
                "That tool call was garbled.",
                "I can only set timers up to 24 hours.",
                "I can't use forget_all here.",
            ]
        );
        assert!(calls.iter().all(|(_, _, r)| !r.ok && r.content.starts_with("refused: ")));
        // The model is told, and answers.
        let second = &local.requests()[1];
        assert!(second.messages.iter().any(|m| m.role == Role::Tool && m.content == "refused: That tool call was garbled."));
        assert_eq!(answer.text, "I can't do that.");
    }

    #[test]
    fn without_a_runner_no_tools_are_offered() {
        let local = Scripted::new(vec![Reply::Words("Hello.")]);
        let (answer, calls, _) = ask(&answerer(&local, None, Mode::Local), offered(&ToolName::ALL, true), None);
        assert_eq!((answer.text.as_str(), calls.len()), ("Hello.", 0));
        assert_eq!(local.requests()[0].tools, None);
    }

    #[test]
    fn a_cloud_failing_after_a_tool_ran_hands_the_conversation_to_the_local_model() {
        let cloud = Scripted::new(vec![Reply::Calls(vec![("set_timer", r#"{"seconds": 60}"#)]), Reply::Fails]);
        let local = Scripted::new(vec![Reply::Words("Your timer is set.")]);
        let runner = Recorder::default();
        let (answer, calls, fallbacks) =
            ask(&answerer(&local, Some(&cloud), Mode::Cloud), offered(&ToolName::ALL, false), Some(&runner));
        assert_eq!(lock(&runner.0).len(), 1, "the tool ran once");
        assert_eq!(calls[0].0, Target::Cloud);
        assert_eq!(fallbacks.len(), 1);
        assert_eq!((answer.engine, answer.model.as_str()), (Target::Local, "local-model"));
        assert!(answer.fallback.is_some());
        assert_eq!(answer.text, "Your timer is set.");
        assert_eq!(answer.tool_calls.len(), 1);
        // The local model got the conversation with the call and its result, in round two.
        let request = &local.requests()[0];
        assert!(request.messages.iter().any(|m| m.tool_calls == [calls[0].1.clone()]));
        assert!(request.messages.iter().any(|m| m.role == Role::Tool && m.content == "set_timer done"));
        assert_eq!(request.tools.as_ref().map(|o| o.require_call), Some(false));

        // Failing at once: the local model gets the original request.
        let cloud = Scripted::new(vec![Reply::Fails]);
        let local = Scripted::new(vec![Reply::Words("Hi.")]);
        let original = offered(&ToolName::ALL, true);
        let (answer, calls, _) = ask(&answerer(&local, Some(&cloud), Mode::Cloud), original.clone(), Some(&runner));
        assert_eq!((answer.engine, calls.len()), (Target::Local, 0));
        assert_eq!(local.requests(), [original]);
    }
}
