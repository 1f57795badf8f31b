//! The latency report in words: Markdown for report.md and stdout, and the same summary as
//! rows for the panel (which renders a table, never Markdown source).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{LatencyReport, METRICS, Stat, Summary};
use crate::turn_record::Outcome;

/// The panel's view of a finished run: one column per summary, one row per figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LatencyTable {
    /// "2 cores · SmolLM2 … · Whisper … · Piper …".
    pub setup: String,
    /// One per summary: "single turns · streaming (n=23)".
    pub columns: Vec<String>,
    pub rows: Vec<LatencyRow>,
    /// Turns that did not end answered, in words (empty when all did).
    pub problems: Vec<String>,
}

/// One figure across the summaries: "p50 / p90" cells, "-" where no turn had it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LatencyRow {
    pub label: String,
    pub key: String,
    pub cells: Vec<String>,
    /// The headline figure (first audible sample).
    pub headline: bool,
}

/// The key the target is about.
pub const HEADLINE: &str = "first_audible_ms";

impl LatencyTable {
    pub fn of(report: &LatencyReport) -> LatencyTable {
        let columns = report.summary.iter().map(|s| format!("{} (n={})", s.label(), s.turns)).collect();
        let mut rows: Vec<LatencyRow> = METRICS
            .iter()
            .map(|m| LatencyRow {
                label: format!("{} ({})", m.label, m.unit),
                key: m.key.to_owned(),
                cells: report.summary.iter().map(|s| p50_p90(&s.stat(m.key))).collect(),
                headline: m.key == HEADLINE,
            })
            .collect();
        rows.push(LatencyRow {
            label: "transcript WER".into(),
            key: "wer".into(),
            cells: report.summary.iter().map(|s| wer_cell(&s.wer)).collect(),
            headline: false,
        });
        LatencyTable { setup: setup_line(report), columns, rows, problems: problems(report) }
    }
}

/// "612 / 790", "-" when no turn had the figure.
fn p50_p90(s: &Stat) -> String {
    match (s.p50, s.p90) {
        (Some(a), Some(b)) => format!("{} / {}", num(a), num(b)),
        _ => "-".into(),
    }
}

fn wer_cell(s: &Stat) -> String {
    match (s.p50, s.max) {
        (Some(p50), Some(max)) => format!("{:.0}% / max {:.0}%", p50 * 100.0, max * 100.0),
        _ => "-".into(),
    }
}

/// Whole numbers from 10 up, one decimal below.
fn num(v: f64) -> String {
    if v.abs() >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), num)
}

fn setup_line(r: &LatencyReport) -> String {
    let c = &r.config;
    format!(
        "{} · {} cores · mode {} · LLM {} ({} threads) · STT {} · voice {} ({} threads)",
        r.host.cpu.trim(),
        r.host.cores,
        c.mode,
        c.llm,
        c.threads_llm,
        c.stt,
        c.voice,
        c.threads_tts
    )
}

fn problems(r: &LatencyReport) -> Vec<String> {
    r.turns
        .iter()
        .filter(|t| t.record.outcome != Outcome::Answered)
        .map(|t| {
            let why = t.record.error.clone().unwrap_or_else(|| format!("{:?}", t.record.outcome).to_lowercase());
            format!("{} ({}, {}): {why}", t.id, t.voice, t.answer_mode.label())
        })
        .collect()
}

/// report.md: the headline table (p50 / p90 per summary), each summary in detail (n, min,
/// p50, p90, max), the transcripts that differ from what was said, and the setup.
pub fn markdown(r: &LatencyReport) -> String {
    let table = LatencyTable::of(r);
    let mut md = String::new();
    let _ = writeln!(md, "# Release to first audible word\n");
    let _ = writeln!(md, "{}\n", table.setup);
    let _ = writeln!(
        md,
        "Questions: {} set, fed at real time and released at their end; {} pass(es){}. Milliseconds \
         from the release; p50 / p90 (nearest rank).\n",
        r.config.questions,
        r.config.repeat,
        if r.config.warm_up { ", after one unrecorded warm-up turn per answer mode" } else { "" }
    );
    let _ = writeln!(md, "| | {} |", table.columns.join(" | "));
    let _ = writeln!(md, "|---|{}", "--:|".repeat(table.columns.len()));
    for row in &table.rows {
        let label = if row.headline { format!("**{}**", row.label) } else { row.label.clone() };
        let _ = writeln!(md, "| {label} | {} |", row.cells.join(" | "));
    }
    for s in &r.summary {
        detail(&mut md, s);
    }
    let _ = writeln!(md, "\n## Transcripts\n");
    let differ: Vec<_> = r.turns.iter().filter(|t| t.wer > 0.0).collect();
    if differ.is_empty() {
        let _ = writeln!(md, "Every transcript matched what was said ({} turns).", r.turns.len());
    } else {
        let _ = writeln!(md, "{} of {} transcripts differ from what was said:\n", differ.len(), r.turns.len());
        let _ = writeln!(md, "| question | voice | answer | WER | said | heard |\n|---|---|---|--:|---|---|");
        for t in differ {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0}% | {} | {} |",
                t.id,
                t.voice,
                t.answer_mode.label(),
                t.wer * 100.0,
                cell(&t.text),
                cell(&t.record.transcript)
            );
        }
    }
    if !table.problems.is_empty() {
        let _ = writeln!(md, "\n## Turns not answered\n");
        for p in &table.problems {
            let _ = writeln!(md, "- {}", cell(p));
        }
    }
    let _ = writeln!(md, "\n## Settings\n");
    for (k, v) in &r.config.keys {
        if k != "llm.system_prompt" {
            let _ = writeln!(md, "- `{k} = {}`", cell(v));
        }
    }
    md
}

fn detail(md: &mut String, s: &Summary) {
    let _ = writeln!(md, "\n## {} ({} turns, {} answered)\n", s.label(), s.turns, s.answered);
    let _ = writeln!(md, "| | n | min | p50 | p90 | max |\n|---|--:|--:|--:|--:|--:|");
    for m in &METRICS {
        let st = s.stat(m.key);
        let _ = writeln!(
            md,
            "| {} ({}) | {} | {} | {} | {} | {} |",
            m.label,
            m.unit,
            st.n,
            opt(st.min),
            opt(st.p50),
            opt(st.p90),
            opt(st.max)
        );
    }
}

/// Text safe in a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
