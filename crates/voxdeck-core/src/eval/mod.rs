//! `voxdeck eval tools`: how well each path turns spoken requests into tool calls. The set
//! (`eval/tools.toml`, [`set`]) is run through the fast path alone, then through each local
//! model twice: "free" (tools offered, the model chooses between a call and an answer) and
//! "grammar" (a call is required, so every answer must be a valid call). [`score`] judges each
//! answer and sums a path up; [`report`] writes the table as Markdown and JSON.

pub mod report;
pub mod runner;
pub mod score;
pub mod set;

use serde::{Deserialize, Serialize};

use crate::tools::ToolCall;

/// Bumped when a field of [`EvalReport`] changes meaning; fields are only ever added within one.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors while evaluating.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("the eval set is invalid: {0}")]
    Set(String),
    #[error("{model}: {source}")]
    Model { model: String, source: crate::llm::LlmError },
    #[error(transparent)]
    Memory(#[from] crate::memory_fit::MemoryFitError),
    #[error("cannot write {path}: {source}")]
    Write { path: std::path::PathBuf, source: std::io::Error },
}

/// Which way a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// The deterministic grammar (`tools::intent`), no model.
    Fast,
    /// A model offered every tool, free to answer in words instead.
    Free,
    /// A model that must call a tool (generation under the tools' grammar).
    Grammar,
}

impl PathKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::Fast => "fast path",
            PathKind::Free => "free",
            PathKind::Grammar => "grammar",
        }
    }
}

/// One path's figures over the requests. Rates are fractions in [0, 1]; `None` where the
/// denominator is zero (no calls made, no tool or no no-tool requests selected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathRow {
    pub path: PathKind,
    /// The model's name; `None` for the fast path.
    pub model: Option<String>,
    pub requests: usize,
    /// Requests that expect a tool, and those that expect none.
    pub tool_requests: usize,
    pub no_tool_requests: usize,
    /// Answers that were tool calls.
    pub calls: usize,
    /// Calls that pass `tools::spec::validate`, of all calls made.
    pub valid_call_rate: Option<f64>,
    /// Tool requests answered with a call to the expected tool.
    pub right_tool_rate: Option<f64>,
    /// Tool requests answered with a valid call to the expected tool whose arguments match.
    pub argument_accuracy: Option<f64>,
    /// No-tool requests answered with a call anyway.
    pub false_call_rate: Option<f64>,
    /// Median time from the request to the call (or to the first token of a spoken answer), ms.
    pub median_added_ms: Option<f64>,
}

/// One request on one path: what came back and how it was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub path: PathKind,
    pub model: Option<String>,
    pub say: String,
    /// The expected tool, or "none".
    pub expect: String,
    pub call: Option<ToolCall>,
    pub valid: bool,
    /// Why the call was refused, in words.
    pub refusal: Option<String>,
    pub right_tool: bool,
    pub args_ok: bool,
    pub added_ms: Option<f64>,
    /// The start of a spoken answer (no call).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The engine failed on this request (counted as no call); the eval goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the eval ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalHost {
    pub cpu: String,
    /// LLM threads (the session's thread plan).
    pub threads: u32,
    pub os: String,
}

/// Everything `voxdeck eval tools` found (`eval.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub schema_version: u32,
    pub created_unix_s: u64,
    pub host: EvalHost,
    /// Requests in the whole set, and how many of them ran (`--limit`).
    pub set_size: usize,
    pub requests: usize,
    /// Token caps of the model paths.
    pub free_max_tokens: u32,
    pub grammar_max_tokens: u32,
    pub rows: Vec<PathRow>,
    pub cases: Vec<CaseResult>,
}
