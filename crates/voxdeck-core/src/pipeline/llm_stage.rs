//! Stage 3, the answer: builds the conversation (system prompt, the turns that fit, the
//! question), lets the [`Answerer`] route it (local or cloud, with fallback), and streams the
//! text to the sentence splitter and to the front ends as it is generated. A barge-in cancels
//! it through the turn's cancel token.
//!
//! Drafts (transcripts of the audio so far, sent while the button is held) are not answered:
//! with `pipeline.draft_prefill` the conversation they would make is prefilled into the local
//! model, so at release only what the final question changes is decoded. Only the newest draft
//! counts, and none once the final question is queued.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use super::context::build_messages;
use super::events::Event;
use super::frames::{AnswerText, Question};
use super::timeline::{Mark, Outcome};
use super::tool_use::{self, ToolSettings};
use super::turn::Shared;
use crate::llm::{ChatMessage, ChatRequest, FinishReason};
use crate::router::answerer::{AnswerEvent, Answerer};
use crate::tools::ToolOffer;
use crate::tools::toolbox::Toolbox;

/// How answers are asked for.
#[derive(Debug, Clone)]
pub struct AnswerSettings {
    pub system_prompt: String,
    pub max_tokens: u32,
    pub context_turns: usize,
    /// The local model's context window, tokens: the conversation sent must fit it, since the
    /// local model answers whenever the cloud cannot.
    pub n_ctx: u32,
    /// Generate exactly `max_tokens` (benchmarks that compare fixed answer lengths).
    pub ignore_eos: bool,
    /// Prefill drafts into the local model (`pipeline.draft_prefill`).
    pub draft_prefill: bool,
    /// The fast path, tools offered to the LLMs, facts in context (`[tools]`).
    pub tools: ToolSettings,
}

pub(crate) fn run(
    shared: Arc<Shared>,
    answerer: Arc<Answerer>,
    toolbox: Option<Arc<Toolbox>>,
    settings: AnswerSettings,
    input: Receiver<Question>,
    output: Sender<AnswerText>,
) {
    let mut queued: Option<Question> = None;
    loop {
        let question = match queued.take() {
            Some(q) => q,
            None => match input.recv() {
                Ok(q) => q,
                Err(_) => return,
            },
        };
        if question.draft {
            // A draft is worth prefilling only if nothing newer is waiting: a later draft
            // supersedes it, and the final question must never wait behind it.
            let mut newest = question;
            while let Ok(next) = input.try_recv() {
                if next.draft {
                    newest = next;
                } else {
                    queued = Some(next);
                    break;
                }
            }
            if queued.is_none() && settings.draft_prefill && shared.is_current(newest.turn) {
                let messages = conversation(&shared, toolbox.as_deref(), &settings, &newest.text);
                let started = answerer.prefill(messages, &newest.text);
                tracing::debug!(turn = newest.turn, started, "draft prefill");
            }
            continue;
        }
        if !shared.is_current(question.turn) {
            continue;
        }
        let tools = toolbox.as_deref();
        if answer(&shared, &answerer, tools, &settings, question.turn, &question.text, &output).is_err() {
            return; // the splitter is gone: shutting down
        }
    }
}

/// The conversation sent for `question`: the system prompt, the turns that fit, the question
/// (after the remembered facts relevant to it). Drafts are prefilled with the same messages, so
/// the final question shares their prefix.
fn conversation(shared: &Shared, toolbox: Option<&Toolbox>, settings: &AnswerSettings, question: &str) -> Vec<ChatMessage> {
    let past = shared.past();
    // Leave room for the answer and the template's own tokens.
    let budget = (settings.n_ctx as usize).saturating_sub(settings.max_tokens as usize + 32);
    let question = tool_use::with_facts(toolbox, settings.tools, question);
    build_messages(&settings.system_prompt, &past, &question, settings.context_turns, budget)
}

/// The tools offered to the LLMs for one question, if any.
fn offer(toolbox: Option<&Toolbox>, settings: &AnswerSettings) -> Option<ToolOffer> {
    (toolbox.is_some() && settings.tools.offer_to_llm).then(ToolOffer::all)
}

/// Answers a question the fast path matched: its tool's sentence is the whole answer.
fn spoken_only(shared: &Shared, turn: u64, spoken: String, output: &Sender<AnswerText>) -> Result<(), ()> {
    shared.with_turn(turn, |t| {
        t.timeline.mark(Mark::LastToken);
        let r = &mut t.record;
        r.route_reason = Some("fast path: matched without an LLM".into());
        r.route_label = Some("fast path".into());
        r.generated = spoken.clone();
    });
    shared.bus.send(Event::AnswerDelta { turn, text: spoken.clone(), tokens: 0, elapsed_ms: 0.0 });
    output.send(AnswerText::Piece { turn, text: spoken }).map_err(drop)?;
    output.send(AnswerText::End { turn }).map_err(drop)
}

/// Streams one answer. `Err` only when the next stage has gone away.
fn answer(
    shared: &Shared,
    answerer: &Answerer,
    toolbox: Option<&Toolbox>,
    settings: &AnswerSettings,
    turn: u64,
    question: &str,
    output: &Sender<AnswerText>,
) -> Result<(), ()> {
    if let Some(toolbox) = toolbox.filter(|_| settings.tools.fast_path) {
        if let Some(spoken) = tool_use::fast_path(shared, toolbox, turn, question) {
            return spoken_only(shared, turn, spoken, output);
        }
    }
    let messages = conversation(shared, toolbox, settings, question);
    let mut request = ChatRequest::new(messages);
    request.max_tokens = Some(settings.max_tokens);
    request.ignore_eos = settings.ignore_eos;
    request.tools = offer(toolbox, settings);

    let mut sent = Ok(());
    let result = answerer.answer(request, question, &mut |event| match event {
        AnswerEvent::Routed(route) => {
            shared.with_turn(turn, |t| {
                t.record.route_reason = Some(route.reason.clone());
                t.record.route_label = Some(route.label.clone());
            });
        }
        AnswerEvent::Started { cancel, .. } => {
            // A press may already have replaced this turn: then stop at once.
            if shared.with_turn(turn, |t| t.cancel = Some(cancel.clone())).is_none() {
                cancel.cancel();
            }
        }
        AnswerEvent::Token { text, tokens, elapsed } => {
            shared.mark(turn, Mark::FirstToken);
            if text.is_empty() || !shared.is_current(turn) {
                return;
            }
            shared.bus.send(Event::AnswerDelta {
                turn,
                text: text.to_owned(),
                tokens,
                elapsed_ms: elapsed.as_secs_f64() * 1000.0,
            });
            if sent.is_ok() {
                sent = output.send(AnswerText::Piece { turn, text: text.to_owned() }).map_err(drop);
            }
        }
        AnswerEvent::Fallback { reason, notice } => {
            shared.with_turn(turn, |t| t.record.fallback = Some(reason.to_owned()));
            if let Some(notice) = notice {
                shared.bus.notice(Some(turn), notice);
                if sent.is_ok() {
                    sent = output.send(AnswerText::Aside { turn, text: notice.to_owned() }).map_err(drop);
                }
            }
        }
        AnswerEvent::ToolCall { engine, call, result, run_ms } => {
            tool_use::record_call(shared, turn, call, result, tool_use::source_name(engine), run_ms);
        }
        AnswerEvent::Cut { reason, notice } => {
            // The local model goes on with the same answer: shown, not spoken.
            shared.bus.notice(Some(turn), format!("{notice} ({reason})"));
        }
    });
    sent?;

    let nothing = result.text.trim().is_empty() && result.metrics.is_none();
    // Outside the turn's lock: naming a GGUF path reads its header.
    let model_name = crate::models::short_name(&result.model);
    shared.with_turn(turn, |t| {
        t.timeline.mark(Mark::LastToken);
        let r = &mut t.record;
        r.engine = Some(result.engine.as_str().to_owned());
        r.model = Some(result.model.clone());
        r.model_name = Some(model_name);
        r.route_reason = Some(result.route_reason.clone());
        r.route_label = Some(result.route_label.clone());
        r.fallback = result.fallback.clone();
        r.generated = result.text.clone();
        if let Some(m) = &result.metrics {
            r.prompt_tokens = Some(m.prompt_tokens);
            r.cached_tokens = Some(m.cached_tokens);
            r.prompt_tok_s = Some(m.prompt_tok_s);
            r.gen_tokens = Some(m.gen_tokens);
            r.gen_tok_s = Some(m.gen_tok_s);
            r.ttft_ms = Some(m.ttft_ms);
            if m.total_layers > 0 {
                r.gpu.llm_layers = Some(m.gpu_layers);
                r.gpu.llm_total_layers = Some(m.total_layers);
            }
            if m.finish == FinishReason::ContextFull {
                r.error = Some("the answer was cut: the context window is full".into());
            }
        }
        if result.error.is_some() {
            r.error = result.error.clone();
        }
    });
    if nothing {
        let message = result.error.unwrap_or_else(|| "no engine could answer".into());
        shared.bus.error(Some(turn), "llm", &message);
        shared.end_turn(turn, Outcome::Failed, |t| t.record.error = Some(message));
        return Ok(());
    }
    output.send(AnswerText::End { turn }).map_err(drop)
}
