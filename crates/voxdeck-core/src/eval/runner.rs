//! Running the set: the fast path, then each model loaded in turn (one in memory at a time, as
//! `voxdeck bench` does, with the session's thread plan), free and under the grammar.

use std::time::Instant;

use super::score::{self, Answer};
use super::set::Request;
use super::{CaseResult, EvalError, EvalHost, EvalReport, PathKind, PathRow, SCHEMA_VERSION};
use crate::config::Config;
use crate::llm::{ChatEngine, ChatMessage, ChatRequest, LlmError, LlmEvent, LocalLlm};
use crate::models::ResolvedModel;
use crate::pipeline::ThreadPlan;
use crate::tools::ToolOffer;
use crate::tools::intent::{Intent, match_intent};

/// Tokens a free answer may take: enough for any call, and to see that an answer is words.
pub const FREE_MAX_TOKENS: u32 = 48;
/// Tokens a required call may take: the longest call the set expects (a fact) with room.
pub const GRAMMAR_MAX_TOKENS: u32 = 128;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// The fast path only, no model.
    pub fast_path_only: bool,
}

/// Runs `requests` through the fast path and through each of `models` (free and grammar).
/// `progress` hears each step in words.
pub fn run(
    requests: &[Request],
    set_size: usize,
    models: &[ResolvedModel],
    config: &Config,
    options: &EvalOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<EvalReport, EvalError> {
    let config = ThreadPlan::for_machine(config).apply(config);
    let mut rows = Vec::new();
    let mut cases = Vec::new();

    progress("fast path");
    let fast: Vec<CaseResult> =
        requests.iter().map(|r| score::judge(PathKind::Fast, None, r, fast_answer(&r.say))).collect();
    rows.push(score::row(PathKind::Fast, None, &fast));
    cases.extend(fast);

    if !options.fast_path_only {
        for model in models {
            crate::memory_fit::check_llm_alone(model, &config)?;
            progress(&format!("loading {}", model.name));
            let failed = |source| EvalError::Model { model: model.name.clone(), source };
            let llm = LocalLlm::load(model, &config.llm).map_err(failed)?;
            let (model_rows, model_cases) =
                engine_rows(&llm, &model.name, requests, &config, progress).map_err(failed)?;
            rows.extend(model_rows);
            cases.extend(model_cases);
        }
    }

    Ok(EvalReport {
        schema_version: SCHEMA_VERSION,
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        host: EvalHost {
            cpu: crate::llm::host_cpu_name(),
            threads: config.llm.threads,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        },
        set_size,
        requests: requests.len(),
        free_max_tokens: FREE_MAX_TOKENS,
        grammar_max_tokens: GRAMMAR_MAX_TOKENS,
        rows,
        cases,
    })
}

/// The fast path's answer, timed (what it adds before any model runs, matched or not).
fn fast_answer(say: &str) -> Answer {
    let started = Instant::now();
    let intent = match_intent(say, false);
    let added_ms = started.elapsed().as_secs_f64() * 1000.0;
    let call = match intent {
        Some(Intent::Call(call)) => Some(call),
        _ => None,
    };
    Answer { call, added_ms: Some(added_ms), ..Answer::default() }
}

/// One engine's free and grammar rows. A first, unjudged request warms it up (the system
/// prompt is then cached, as in a session).
pub fn engine_rows(
    engine: &dyn ChatEngine,
    name: &str,
    requests: &[Request],
    config: &Config,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<PathRow>, Vec<CaseResult>), LlmError> {
    let system = config.llm.system_prompt.as_str();
    ask(engine, system, "Hello.", ToolOffer::all(), 8)?;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for path in [PathKind::Free, PathKind::Grammar] {
        let (offer, max_tokens) = match path {
            PathKind::Grammar => (ToolOffer { require_call: true, ..ToolOffer::all() }, GRAMMAR_MAX_TOKENS),
            _ => (ToolOffer::all(), FREE_MAX_TOKENS),
        };
        let mut cases = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            progress(&format!("{name} ({}): request {} of {}", path.as_str(), i + 1, requests.len()));
            // One failed request (a refused template, a decode error) is scored as no call;
            // an engine that has stopped ends the eval.
            let answer = match ask(engine, system, &r.say, offer.clone(), max_tokens) {
                Ok(answer) => answer,
                Err(LlmError::WorkerGone) => return Err(LlmError::WorkerGone),
                Err(e) => {
                    tracing::warn!(model = name, say = %r.say, "eval request failed: {e}");
                    Answer { error: Some(e.to_string()), ..Answer::default() }
                }
            };
            cases.push(score::judge(path, Some(name), r, answer));
        }
        rows.push(score::row(path, Some(name), &cases));
        all.extend(cases);
    }
    Ok((rows, all))
}

/// One request from a fresh conversation, greedy: the call the engine streams before `Done`
/// (timed when it arrives) or the spoken answer (timed to its first token).
fn ask(
    engine: &dyn ChatEngine,
    system: &str,
    say: &str,
    offer: ToolOffer,
    max_tokens: u32,
) -> Result<Answer, LlmError> {
    let request = ChatRequest {
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        tools: Some(offer),
        ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(say)])
    };
    let started = Instant::now();
    let mut stream = engine.chat(request)?;
    let mut answer = Answer::default();
    let mut first_token_ms = None;
    while let Some(event) = stream.next_blocking() {
        match event {
            LlmEvent::Token { elapsed, .. } => {
                first_token_ms.get_or_insert(elapsed.as_secs_f64() * 1000.0);
            }
            LlmEvent::ToolCall(call) => {
                if answer.call.is_none() {
                    answer.added_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                    answer.call = Some(call);
                }
            }
            LlmEvent::Done { text, .. } => {
                if answer.call.is_none() {
                    answer.added_ms = first_token_ms;
                    answer.text = text;
                }
                return Ok(answer);
            }
            LlmEvent::Error(e) => return Err(e),
        }
    }
    Err(LlmError::WorkerGone)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::llm::{AnswerMetrics, AnswerStream, CancelToken, FinishReason};
    use crate::tools::ToolCall;

    /// An engine that answers every request with a scripted call (or words), recording what it
    /// was offered: the stream contract the local and cloud engines keep.
    struct Scripted {
        offers: Mutex<Vec<Option<crate::tools::ToolOffer>>>,
    }

    impl ChatEngine for Scripted {
        fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let said = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
            let require = request.tools.as_ref().is_some_and(|t| t.require_call);
            self.offers.lock().unwrap().push(request.tools);
            if said.contains("fails") {
                return Err(LlmError::Decode("scripted failure".into()));
            }
            let metrics = AnswerMetrics {
                prompt_tokens: 0,
                cached_tokens: 0,
                prompt_ms: 0.0,
                prompt_tok_s: 0.0,
                ttft_ms: 0.0,
                gen_tokens: 1,
                gen_ms: 0.0,
                gen_tok_s: 0.0,
                total_ms: 0.0,
                finish: FinishReason::Stop,
                weights_bytes: 0,
                kv_cache_bytes: 0,
                gpu_layers: 0,
                total_layers: 0,
                ttfb_ms: None,
            };
            if said.contains("timer") || require {
                let call =
                    ToolCall { id: "c".into(), name: "set_timer".into(), arguments: r#"{"seconds":600}"#.into() };
                let _ = tx.send(LlmEvent::ToolCall(call));
                let _ = tx.send(LlmEvent::Done { text: String::new(), metrics });
            } else {
                let _ = tx.send(LlmEvent::Token { text: "Paris".into(), index: 0, elapsed: Duration::from_millis(7) });
                let _ = tx.send(LlmEvent::Done { text: "Paris.".into(), metrics });
            }
            Ok(AnswerStream { events: rx, cancel: CancelToken::new() })
        }
    }

    #[test]
    fn an_engine_is_run_free_and_under_the_grammar() {
        let set = super::super::set::parse(
            "[[request]]\nsay = 'Set a timer for ten minutes.'\nexpect = 'set_timer'\nargs = { seconds = 600 }\n\
             [[request]]\nsay = 'What is the capital of France?'\nexpect = 'none'\n\
             [[request]]\nsay = 'Tell me a story that fails.'\nexpect = 'none'\n",
        )
        .unwrap();
        let engine = Scripted { offers: Mutex::new(Vec::new()) };
        let (rows, cases) = engine_rows(&engine, "m", &set, &Config::default(), &mut |_| {}).unwrap();
        assert_eq!(rows.len(), 2);
        let (free, grammar) = (&rows[0], &rows[1]);
        assert_eq!((free.path, free.calls, free.valid_call_rate), (PathKind::Free, 1, Some(1.0)));
        assert_eq!((free.argument_accuracy, free.false_call_rate), (Some(1.0), Some(0.0)));
        assert_eq!((grammar.path, grammar.calls, grammar.false_call_rate), (PathKind::Grammar, 2, Some(0.5)));
        assert_eq!(cases.len(), 6);
        assert!(cases[2].error.as_deref().is_some_and(|e| e.contains("scripted failure")), "{:?}", cases[2]);
        assert!(cases[2].call.is_none() && cases[5].error.is_some(), "a failed request is scored as no call");
        assert_eq!(cases[1].text, "Paris.");
        assert_eq!(cases[1].added_ms, Some(7.0), "words are timed to the first token");
        let offers = engine.offers.lock().unwrap();
        assert_eq!(offers.len(), 7, "a warm-up, then three requests on each path");
        assert!(offers.iter().all(|o| o.as_ref().is_some_and(|o| o.tools.len() == 10)));
        assert_eq!(offers.iter().filter(|o| o.as_ref().is_some_and(|o| o.require_call)).count(), 3);
    }
}
