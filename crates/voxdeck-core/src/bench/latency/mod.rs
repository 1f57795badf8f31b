//! `voxdeck bench latency`: release -> first audible word, measured over a spoken question set.
//!
//! [`set`] loads the questions (embedded, or a folder), [`runner`] plays each one through the
//! whole voice loop (the configured models, a WAV source paced at real time, a WAV sink), single
//! turns and the conversation, sentence streaming and whole answers; [`stats`] reduces the turn
//! records to percentiles, [`report`] writes the Markdown and the panel's table, [`chart`] the
//! p50/p90 bars; `latency.json` is [`LatencyReport`] serialised.

pub mod chart;
mod embedded;
pub mod report;
pub mod runner;
pub mod set;
pub mod stats;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::turn_record::{Outcome, TurnRecord};
pub use set::{Question, QuestionKind, QuestionSet, SetFilter};
pub use stats::Stat;

/// Version of the `latency.json` schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of the latency benchmark, in words.
#[derive(Debug, thiserror::Error)]
pub enum LatencyError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the question set {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("{0}")]
    Filter(String),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error("question {id} ({voice}) got no answer within {seconds} s")]
    Timeout { id: String, voice: String, seconds: u64 },
    #[error("the latency benchmark was cancelled")]
    Cancelled,
    #[error(transparent)]
    Chart(#[from] crate::chart_style::ChartError),
    #[error("cannot write {}: {message}", path.display())]
    Json { path: PathBuf, message: String },
}

/// How the answers were spoken: sentence by sentence, or once the whole answer was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerMode {
    Streaming,
    Whole,
}

impl AnswerMode {
    pub fn label(self) -> &'static str {
        match self {
            AnswerMode::Streaming => "streaming",
            AnswerMode::Whole => "whole answer",
        }
    }
}

/// Which turns a summary covers: single questions, or conversation turns 2 and later (turn 1
/// of the conversation is a single question too, only without a warm-up; it is in `turns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnGroup {
    Single,
    ConversationLater,
}

impl TurnGroup {
    pub fn label(self) -> &'static str {
        match self {
            TurnGroup::Single => "single turns",
            TurnGroup::ConversationLater => "conversation turns 2+",
        }
    }
}

/// One measured turn: which question, how it was asked, what Whisper heard, and its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnSample {
    pub id: String,
    pub kind: QuestionKind,
    pub voice: String,
    pub answer_mode: AnswerMode,
    /// 1 for single questions; the turn's place in the conversation otherwise.
    pub conversation_turn: u32,
    /// Which pass of `--repeat`, from 1.
    pub repeat: u32,
    pub text: String,
    pub duration_s: f64,
    /// Word error rate of the transcript against `text` (0 = every word right).
    pub wer: f64,
    pub record: TurnRecord,
}

impl TurnSample {
    pub fn group(&self) -> Option<TurnGroup> {
        match self.kind {
            QuestionKind::Single => Some(TurnGroup::Single),
            QuestionKind::Conv if self.conversation_turn >= 2 => Some(TurnGroup::ConversationLater),
            QuestionKind::Conv => None,
        }
    }
}

/// The figures [`Summary`] reports, in the report's order: milestones from release, then the
/// terms that explain them.
pub const METRICS: [Metric; 13] = [
    Metric { key: "transcript_ms", label: "transcript ready", unit: "ms", get: |r| r.transcript_ms },
    Metric { key: "first_token_ms", label: "first token", unit: "ms", get: |r| r.first_token_ms },
    Metric { key: "first_sentence_ms", label: "first sentence", unit: "ms", get: |r| r.first_sentence_ms },
    Metric { key: "first_audio_ms", label: "first audio", unit: "ms", get: |r| r.first_audio_ms },
    Metric { key: "first_audible_ms", label: "first audible", unit: "ms", get: |r| r.first_audible_ms },
    Metric { key: "last_audio_ms", label: "last audio", unit: "ms", get: |r| r.last_audio_ms },
    Metric { key: "stt_ms", label: "speech to text", unit: "ms", get: |r| r.stt_ms },
    Metric { key: "ttft_ms", label: "LLM time to first token", unit: "ms", get: |r| r.ttft_ms },
    Metric {
        key: "first_sentence_tts_ms",
        label: "TTS of the first piece",
        unit: "ms",
        get: |r| r.first_sentence_tts_ms,
    },
    Metric { key: "prompt_tokens", label: "prompt tokens", unit: "tok", get: |r| r.prompt_tokens.map(f64::from) },
    Metric { key: "cached_tokens", label: "cached tokens", unit: "tok", get: |r| r.cached_tokens.map(f64::from) },
    Metric { key: "gen_tok_s", label: "generation", unit: "tok/s", get: |r| r.gen_tok_s },
    Metric { key: "press_ms", label: "press (before release)", unit: "ms", get: |r| r.press_ms },
];

/// One reported figure of a turn record.
pub struct Metric {
    /// The record's key.
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub get: fn(&TurnRecord) -> Option<f64>,
}

/// The percentiles of one group of turns in one answer mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub answer_mode: AnswerMode,
    pub group: TurnGroup,
    pub turns: u32,
    pub answered: u32,
    /// Per [`METRICS`] key.
    pub stats: std::collections::BTreeMap<String, Stat>,
    /// Word error rate of the transcripts.
    pub wer: Stat,
}

impl Summary {
    /// The summaries of `turns`: every answer mode and group that has turns, in that order.
    pub fn of_all(turns: &[TurnSample]) -> Vec<Summary> {
        let mut out = Vec::new();
        for mode in [AnswerMode::Streaming, AnswerMode::Whole] {
            for group in [TurnGroup::Single, TurnGroup::ConversationLater] {
                let these: Vec<&TurnSample> =
                    turns.iter().filter(|t| t.answer_mode == mode && t.group() == Some(group)).collect();
                if these.is_empty() {
                    continue;
                }
                let stats = METRICS
                    .iter()
                    .map(|m| (m.key.to_owned(), Stat::of(these.iter().filter_map(|t| (m.get)(&t.record)))))
                    .collect();
                out.push(Summary {
                    answer_mode: mode,
                    group,
                    turns: these.len() as u32,
                    answered: these.iter().filter(|t| t.record.outcome == Outcome::Answered).count() as u32,
                    stats,
                    wer: Stat::of(these.iter().map(|t| t.wer)),
                });
            }
        }
        out
    }

    pub fn stat(&self, key: &str) -> Stat {
        self.stats.get(key).copied().unwrap_or_default()
    }

    /// "single turns · streaming".
    pub fn label(&self) -> String {
        format!("{} · {}", self.group.label(), self.answer_mode.label())
    }
}

/// The machine and the settings the numbers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyHost {
    pub cpu: String,
    /// Logical cores.
    pub cores: u32,
    pub gpu_offload: bool,
    pub os: String,
}

/// The models, thread plan and config keys that shape the latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyConfig {
    pub mode: String,
    pub llm: String,
    pub stt: String,
    pub voice: String,
    /// Threads each engine got (`ThreadPlan`).
    pub threads_llm: u32,
    pub threads_tts: u32,
    pub threads_stt: u32,
    /// Config keys that matter for latency, as `key = value` (TOML syntax), e.g.
    /// `"llm.max_tokens": "256"`.
    pub keys: std::collections::BTreeMap<String, String>,
    /// Where the questions came from ("embedded" or a folder), and the run's options.
    pub questions: String,
    pub repeat: u32,
    pub warm_up: bool,
}

/// Everything one `voxdeck bench latency` produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    pub schema_version: u32,
    /// Seconds since the Unix epoch when the run finished.
    pub created_unix_s: u64,
    pub host: LatencyHost,
    pub config: LatencyConfig,
    pub summary: Vec<Summary>,
    /// Every measured turn, in the order asked.
    pub turns: Vec<TurnSample>,
}

/// Writes report.md, latency.json and the chart (latency.png, latency.svg) into `out`
/// (created if missing); returns their paths.
pub fn write_outputs(report: &LatencyReport, out: &Path) -> Result<Vec<PathBuf>, LatencyError> {
    std::fs::create_dir_all(out).map_err(|source| LatencyError::Io { path: out.to_owned(), source })?;
    let md = out.join("report.md");
    std::fs::write(&md, report::markdown(report)).map_err(|source| LatencyError::Io { path: md.clone(), source })?;
    let json = out.join("latency.json");
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| LatencyError::Json { path: json.clone(), message: e.to_string() })?;
    std::fs::write(&json, text).map_err(|source| LatencyError::Io { path: json.clone(), source })?;
    let mut written = vec![md, json];
    written.extend(chart::write(report, out)?);
    Ok(written)
}
