//! The voice loop's side of the assistant's tools: the fast path (an utterance the intent
//! grammar matches is answered by its tool, no LLM), recording every call in its turn, the
//! remembered facts a question brings into the LLM's context, and what the toolbox may ask of
//! the session (switch the mode, read live figures).

use std::sync::{Arc, Weak};
use std::time::Instant;

use super::events::Event;
use super::timeline::Mark;
use super::turn::Shared;
use crate::config::{Mode, ToolsConfig};
use crate::router::Target;
use crate::router::answerer::{Answerer, ToolRunner};
use crate::sysmon::{family, memory};
use crate::tools::intent::{Intent, match_intent};
use crate::tools::toolbox::{AssistantControls, LiveFigures, Toolbox};
use crate::tools::{ToolCall, ToolName, ToolResult};
use crate::turn_record::ToolCallRecord;

/// How the answer stage uses the tools (from `[tools]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ToolSettings {
    pub fast_path: bool,
    pub offer_to_llm: bool,
    pub facts_in_context: usize,
}

impl ToolSettings {
    pub fn from_config(config: &ToolsConfig) -> ToolSettings {
        ToolSettings {
            fast_path: config.enabled && config.fast_path,
            offer_to_llm: config.enabled && config.offer_to_llm,
            facts_in_context: if config.enabled { config.facts_in_context as usize } else { 0 },
        }
    }
}

/// Who made a call, as the turn record names it.
pub(crate) fn source_name(engine: Target) -> &'static str {
    match engine {
        Target::Local => "local",
        Target::Cloud => "cloud",
    }
}

/// Files one call in turn `turn`: its record, the tool milestone, the event for front ends.
pub(crate) fn record_call(shared: &Shared, turn: u64, call: &ToolCall, result: &ToolResult, source: &str, run_ms: f64) {
    let mut record = ToolCallRecord {
        name: call.name.clone(),
        arguments: call.arguments.clone(),
        source: source.to_owned(),
        ok: result.ok,
        result: result.content.clone(),
        spoken: result.spoken.clone(),
        at_ms: None,
        run_ms,
    };
    let filed = shared.with_turn(turn, |t| {
        t.timeline.mark(Mark::ToolDone);
        record.at_ms = t.timeline.ms_from_release(Mark::ToolDone).map(|done| done - run_ms);
        t.record.tool_calls.push(record.clone());
    });
    if filed.is_some() {
        shared.bus.send(Event::ToolCall { turn, call: record });
    }
}

/// The fast path: when the intent grammar is sure of `question`, runs its tool and returns
/// the sentence to say; `None` sends the question to the LLM.
pub(crate) fn fast_path(shared: &Shared, toolbox: &Toolbox, turn: u64, question: &str) -> Option<String> {
    let pending = toolbox.pending_confirmation();
    let intent = match_intent(question, pending.is_some())?;
    let started = Instant::now();
    let (call, result) = match intent {
        Intent::Call(call) => {
            let result = toolbox.run(&call, &ToolName::ALL);
            (call, result)
        }
        Intent::Confirm | Intent::Decline => {
            let action = pending.unwrap_or_default();
            let confirm = matches!(intent, Intent::Confirm);
            let result = if confirm { toolbox.confirm(&action) } else { toolbox.decline() };
            let name = if confirm { "confirm" } else { "decline" };
            let arguments = serde_json::json!({ "action": action }).to_string();
            (ToolCall { id: "fast-confirm".into(), name: name.into(), arguments }, result)
        }
    };
    let run_ms = started.elapsed().as_secs_f64() * 1000.0;
    record_call(shared, turn, &call, &result, "fast_path", run_ms);
    Some(result.spoken)
}

/// The question as the LLM sees it: the remembered facts most relevant to it first, so a
/// question about them is answered from them. Unchanged when none is relevant, so an ordinary
/// question costs nothing more.
pub(crate) fn with_facts(toolbox: Option<&Toolbox>, settings: ToolSettings, question: &str) -> String {
    let facts = match toolbox {
        Some(t) if settings.facts_in_context > 0 => t.relevant_facts(question, settings.facts_in_context),
        _ => Vec::new(),
    };
    if facts.is_empty() {
        return question.to_owned();
    }
    let listed: Vec<String> = facts.iter().map(|f| format!("- {}", f.text)).collect();
    format!("(Things I asked you to remember:\n{})\n\n{question}", listed.join("\n"))
}

/// Runs the engines' calls through the toolbox; recorded by the answer stage as they are
/// reported.
pub(crate) struct ToolboxRunner<'a>(pub &'a Toolbox);

impl ToolRunner for ToolboxRunner<'_> {
    fn run(&self, call: &ToolCall, _engine: Target) -> ToolResult {
        self.0.run(call, &ToolName::ALL)
    }
}

/// What the toolbox may ask of the session: the mode (told to front ends as it changes) and
/// the live figures, from the last answered turn and `/proc`.
pub(crate) struct SessionControls {
    pub answerer: Arc<Answerer>,
    pub shared: Weak<Shared>,
}

impl AssistantControls for SessionControls {
    fn set_mode(&self, mode: Mode) {
        self.answerer.set_mode(mode);
        if let Some(shared) = self.shared.upgrade() {
            shared.bus.send(Event::ModeChanged { mode });
        }
    }

    fn mode(&self) -> Mode {
        self.answerer.mode()
    }

    fn figures(&self) -> LiveFigures {
        let last = self.shared.upgrade().and_then(|s| {
            s.past().into_iter().rev().find(|r| r.gen_tok_s.is_some() && r.tool_calls.is_empty())
        });
        LiveFigures {
            gen_tok_s: last.as_ref().and_then(|r| r.gen_tok_s),
            ttft_ms: last.as_ref().and_then(|r| r.ttft_ms),
            model_name: last.as_ref().and_then(|r| r.model_name.clone()),
            first_audible_ms: last.as_ref().and_then(|r| r.first_audible_ms),
            rss_bytes: memory::voxdeck_rss_bytes(&family::members()),
            gpu_bytes: last.as_ref().and_then(|r| r.gpu.reading.as_ref()).and_then(|g| g.process_memory_bytes),
            system_total_bytes: memory::system_total_bytes(),
            system_available_bytes: memory::system_available_bytes(),
        }
    }
}
