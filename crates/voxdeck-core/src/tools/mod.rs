//! The assistant's tools: the only actions it may take, an allowlist kept here (timers, memory
//! facts, the time, its own state). No shell, no file system, no network.
//!
//! A call comes from one of three places and takes one path from there:
//! - the fast path ([`intent`]): common phrasings matched without any LLM;
//! - the local model, generating under a grammar built from [`spec`] (`llm::local`);
//! - the cloud model, through OpenAI's `tools` / `tool_calls` (`llm::cloud`).
//!
//! Whatever its source, a call is checked against [`spec`] ([`spec::validate`]) before
//! [`toolbox::Toolbox`] runs it, so a malformed or hostile call is refused in words and
//! nothing is stored half-way.

pub mod clock;
pub mod facts;
pub mod intent;
pub mod spec;
pub mod spoken_numbers;
pub mod status_words;
mod store;
pub mod timer_words;
mod timers;
pub mod toolbox;

use serde::{Deserialize, Serialize};

pub use spec::{Refusal, ToolName};

/// One tool call, as any source produced it: the tool's name and its arguments as a JSON
/// object's text (what OpenAI's `tool_calls` carry). Not yet checked: see [`spec::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ToolCall {
    /// The call's id: the cloud's `tool_call_id`, or one made up for local and fast-path calls.
    pub id: String,
    pub name: String,
    /// A JSON object, as text.
    pub arguments: String,
}

/// Tools offered to an engine for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOffer {
    /// The tools it may call (a subset of [`ToolName::ALL`]).
    pub tools: Vec<ToolName>,
    /// The answer must be a call (`voxdeck eval tools`' grammar check); otherwise the engine
    /// chooses between a call and a plain answer.
    pub require_call: bool,
}

impl ToolOffer {
    /// Every tool, the engine choosing whether to call one.
    pub fn all() -> ToolOffer {
        ToolOffer { tools: ToolName::ALL.to_vec(), require_call: false }
    }
}

/// What running a call gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The call was carried out; false when it was refused or failed.
    pub ok: bool,
    /// For the model that called it: what happened, in a line of text or JSON.
    pub content: String,
    /// For the user: one short sentence to say (the fast path speaks it as the answer; the
    /// models are given `content` and answer in their own words).
    pub spoken: String,
}

impl ToolResult {
    /// A refusal: nothing was done, `reason` says why in a short sentence.
    pub fn refused(reason: impl Into<String>) -> ToolResult {
        let reason = reason.into();
        ToolResult { ok: false, content: format!("refused: {reason}"), spoken: reason }
    }
}

/// Where a timer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum TimerState {
    Running,
    /// Due, and said aloud.
    Rang,
    /// Came due while voxdeck was not running; told at the next start.
    Missed,
    Cancelled,
}

/// A timer as the panel and `list_timers` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TimerView {
    pub id: i64,
    /// What it is for ("tea"); "" when not said.
    pub label: String,
    /// When it was set and when it is due, ms since the Unix epoch.
    pub set_unix_ms: i64,
    pub due_unix_ms: i64,
    pub state: TimerState,
}

/// A remembered fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Fact {
    pub id: i64,
    pub text: String,
    /// When it was stored and last edited, ms since the Unix epoch.
    pub created_unix_ms: i64,
    pub updated_unix_ms: i64,
}
