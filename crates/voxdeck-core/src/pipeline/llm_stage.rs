//! Stage 3, the answer: builds the conversation (system prompt, the turns that fit, the
//! question), asks the engine, and streams its text to the sentence splitter and to the front
//! ends as it is generated. Cancelled by a barge-in through the turn's cancel token.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use super::context::build_messages;
use super::events::Event;
use super::frames::{AnswerText, Question};
use super::timeline::{Mark, Outcome};
use super::turn::Shared;
use crate::llm::{ChatEngine, ChatRequest, FinishReason, LlmError, LlmEvent};

/// An engine that can answer, and how to describe it in a turn's record.
#[derive(Clone)]
pub struct AnswerEngine {
    pub engine: Arc<dyn ChatEngine>,
    /// "local" or "cloud".
    pub kind: String,
    /// The model's name.
    pub model: String,
    /// Its context window, tokens.
    pub n_ctx: u32,
}

/// How answers are asked for.
#[derive(Debug, Clone)]
pub struct AnswerSettings {
    pub system_prompt: String,
    pub max_tokens: u32,
    pub context_turns: usize,
    /// Why this engine answers (until routing between engines exists: the mode).
    pub route_reason: String,
    /// Generate exactly `max_tokens` (benchmarks that compare fixed answer lengths).
    pub ignore_eos: bool,
}

pub(crate) fn run(
    shared: Arc<Shared>,
    engine: AnswerEngine,
    settings: AnswerSettings,
    input: Receiver<Question>,
    output: Sender<AnswerText>,
) {
    for Question { turn, text } in input {
        if !shared.is_current(turn) {
            continue;
        }
        shared.with_turn(turn, |t| {
            t.record.engine = Some(engine.kind.clone());
            t.record.model = Some(engine.model.clone());
            t.record.route_reason = Some(settings.route_reason.clone());
        });
        if answer(&shared, &engine, &settings, turn, &text, &output).is_err() {
            return; // the splitter is gone: shutting down
        }
    }
}

/// Streams one answer. `Err` only when the next stage has gone away.
fn answer(
    shared: &Shared,
    engine: &AnswerEngine,
    settings: &AnswerSettings,
    turn: u64,
    question: &str,
    output: &Sender<AnswerText>,
) -> Result<(), ()> {
    let past = shared.past();
    // Leave room for the answer and the template's own tokens.
    let budget = (engine.n_ctx as usize).saturating_sub(settings.max_tokens as usize + 32);
    let mut turns = settings.context_turns;
    let mut stream = loop {
        let messages = build_messages(&settings.system_prompt, &past, question, turns, budget);
        let mut request = ChatRequest::new(messages);
        request.max_tokens = Some(settings.max_tokens);
        request.ignore_eos = settings.ignore_eos;
        match engine.engine.chat(request) {
            Ok(s) => break s,
            // The estimate was off for this text: try again with fewer earlier turns.
            Err(LlmError::PromptTooLong { .. }) if turns > 0 => turns /= 2,
            Err(e) => {
                fail(shared, turn, format!("the {} LLM failed: {e}", engine.kind));
                return Ok(());
            }
        }
    };
    let cancel = stream.cancel.clone();
    let live = shared
        .with_turn(turn, |t| {
            t.cancel = Some(cancel.clone());
        })
        .is_some();
    if !live {
        cancel.cancel();
    }
    let mut tokens = 0u32;
    let mut so_far = String::new();
    while let Some(event) = stream.next_blocking() {
        match event {
            LlmEvent::Token { text, elapsed, .. } => {
                tokens += 1;
                if tokens == 1 {
                    shared.mark(turn, Mark::FirstToken);
                }
                if !shared.is_current(turn) {
                    cancel.cancel();
                    continue;
                }
                if text.is_empty() {
                    continue;
                }
                so_far.push_str(&text);
                shared.bus.send(Event::AnswerDelta {
                    turn,
                    text: text.clone(),
                    tokens,
                    elapsed_ms: elapsed.as_secs_f64() * 1000.0,
                });
                output.send(AnswerText::Piece { turn, text }).map_err(drop)?;
            }
            LlmEvent::Done { text, metrics } => {
                shared.with_turn(turn, |t| {
                    t.timeline.mark(Mark::LastToken);
                    let r = &mut t.record;
                    r.generated = text;
                    r.prompt_tokens = Some(metrics.prompt_tokens);
                    r.cached_tokens = Some(metrics.cached_tokens);
                    r.prompt_tok_s = Some(metrics.prompt_tok_s);
                    r.gen_tokens = Some(metrics.gen_tokens);
                    r.gen_tok_s = Some(metrics.gen_tok_s);
                    r.ttft_ms = Some(metrics.ttft_ms);
                    if metrics.finish == FinishReason::ContextFull {
                        r.error = Some("the answer was cut: the context window is full".into());
                    }
                });
                return output.send(AnswerText::End { turn }).map_err(drop);
            }
            LlmEvent::Error(e) => {
                // Speak what came before the failure, and say it was cut.
                let message = format!("the {} LLM failed mid-answer: {e}", engine.kind);
                shared.bus.error(Some(turn), "llm", &message);
                shared.with_turn(turn, |t| {
                    t.timeline.mark(Mark::LastToken);
                    t.record.generated = std::mem::take(&mut so_far);
                    t.record.gen_tokens = Some(tokens);
                    t.record.error = Some(message);
                });
                return output.send(AnswerText::End { turn }).map_err(drop);
            }
        }
    }
    fail(shared, turn, format!("the {} LLM stopped without finishing the answer", engine.kind));
    Ok(())
}

fn fail(shared: &Shared, turn: u64, message: String) {
    shared.bus.error(Some(turn), "llm", &message);
    shared.end_turn(turn, Outcome::Failed, |t| t.record.error = Some(message));
}
