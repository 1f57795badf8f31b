//! Runs checked tool calls: timers, facts, the clock, the assistant's own state. One per
//! engine session; the panel reads and edits the same timers and facts through it.
//!
//! CONTRACT STUB (issue 17): the signatures below are what the pipeline and the panel build
//! against; the bodies are filled in by the toolbox work.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Fact, TimerView, ToolCall, ToolName, ToolResult};
use crate::config::{Mode, ToolsConfig};

/// Errors of the toolbox's store (the history database's `timers` and `facts` tables).
#[derive(Debug, thiserror::Error)]
pub enum ToolboxError {
    #[error("tool store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
    #[error("no fact with id {0}")]
    NoSuchFact(i64),
    #[error("no running timer with id {0}")]
    NoSuchTimer(i64),
    #[error("{0}")]
    Refused(String),
}

/// What the toolbox tells the session (which puts it on the event stream).
#[derive(Debug, Clone, PartialEq)]
pub enum ToolboxEvent {
    /// The timers changed: every timer the panel shows.
    Timers(Vec<TimerView>),
    /// A timer is due (`state: rang`), or was missed while voxdeck was off (`state: missed`,
    /// reported once at start). `spoken` is the sentence to say.
    TimerDue { timer: TimerView, spoken: String },
    /// The facts changed: all of them, newest first.
    Facts(Vec<Fact>),
    /// A confirmation is asked for (forget all), until `expires_unix_ms`.
    ConfirmAsked { action: String, prompt: String, expires_unix_ms: i64 },
}

/// Live figures for "how fast are you running?" and "how much memory are you using?".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFigures {
    /// The last answer's generation rate and time to first token, and which model gave it.
    pub gen_tok_s: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub model_name: Option<String>,
    /// The last turn's release to first audible sample, ms.
    pub first_audible_ms: Option<f64>,
    /// voxdeck's processes' resident memory, and its GPU memory where known, bytes.
    pub rss_bytes: Option<u64>,
    pub gpu_bytes: Option<u64>,
    /// The machine's memory, bytes.
    pub system_total_bytes: Option<u64>,
    pub system_available_bytes: Option<u64>,
}

/// What the toolbox may ask of the assistant it belongs to.
pub trait AssistantControls: Send + Sync {
    /// Who answers from the next question on.
    fn set_mode(&self, mode: Mode);
    fn mode(&self) -> Mode;
    fn figures(&self) -> LiveFigures;
}

/// The toolbox.
pub struct Toolbox {
    _private: (),
}

impl Toolbox {
    /// Opens the store at `db` (the history database; `None` = in memory, when history is
    /// off), re-arms running timers, reports those missed while off through `on_event`, and
    /// starts the timer thread.
    pub fn open(
        db: Option<PathBuf>,
        config: &ToolsConfig,
        controls: Arc<dyn AssistantControls>,
        on_event: Arc<dyn Fn(ToolboxEvent) + Send + Sync>,
    ) -> Result<Arc<Toolbox>, ToolboxError> {
        let _ = (db, config, controls, on_event);
        todo!("toolbox")
    }

    /// Checks `call` against the allowlist and `offered` and runs it. Never panics; a refusal
    /// or failure is a result with `ok: false` and a short spoken reason.
    pub fn run(&self, call: &ToolCall, offered: &[ToolName]) -> ToolResult {
        let _ = (call, offered);
        todo!("toolbox")
    }

    /// Carries out an action the user confirmed (by button, or "yes" by voice): "forget_all".
    pub fn confirm(&self, action: &str) -> ToolResult {
        let _ = action;
        todo!("toolbox")
    }

    /// Drops a pending confirmation ("no").
    pub fn decline(&self) -> ToolResult {
        todo!("toolbox")
    }

    /// The action waiting for a confirmation, if one is and has not expired.
    pub fn pending_confirmation(&self) -> Option<String> {
        todo!("toolbox")
    }

    /// Every timer the panel shows: running ones, and those that rang or were missed lately.
    pub fn timers(&self) -> Vec<TimerView> {
        todo!("toolbox")
    }

    /// Cancels a running timer (the panel's button).
    pub fn cancel_timer(&self, id: i64) -> Result<(), ToolboxError> {
        let _ = id;
        todo!("toolbox")
    }

    /// Every fact, newest first.
    pub fn facts(&self) -> Vec<Fact> {
        todo!("toolbox")
    }

    /// Replaces a fact's text (the panel's edit), with the same checks as `remember`.
    pub fn edit_fact(&self, id: i64, text: &str) -> Result<Fact, ToolboxError> {
        let _ = (id, text);
        todo!("toolbox")
    }

    /// Deletes one fact (the panel's delete).
    pub fn delete_fact(&self, id: i64) -> Result<(), ToolboxError> {
        let _ = id;
        todo!("toolbox")
    }

    /// The facts most relevant to `question`, at most `n`, for the LLM's context.
    pub fn relevant_facts(&self, question: &str, n: usize) -> Vec<Fact> {
        let _ = (question, n);
        todo!("toolbox")
    }
}
