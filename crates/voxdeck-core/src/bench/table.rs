//! The bench result as the panel shows it: one row per model with its figures and verdicts in
//! words, and the recommendation. The Markdown report ([`super::report`]) stays the export; this
//! is the same result as data, so the panel renders a table instead of Markdown source.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::format::{fmt_memory, fmt_offload, positive};
use super::recommend::response_at;
use super::report::{host_line, recommendation, verdict_at};
use super::{BenchReport, ModelBench};
use crate::voice_latency::Verdict;

/// A finished benchmark, as rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BenchTable {
    /// "Intel Xeon, 8 threads, GPU offload: no, linux x86_64".
    pub host: String,
    /// "1 run per model (median), 64-token prompt".
    pub settings: String,
    /// The voice budget in words: "natural under 2 s, acceptable under 3 s, too slow from 3 s,
    /// unusable over 4 s".
    pub budget: String,
    /// The response-time columns: answer lengths in tokens.
    pub response_tokens: Vec<u32>,
    /// The answer length a model's verdict is taken at.
    pub verdict_tokens: u32,
    pub rows: Vec<BenchRow>,
    /// The model recommended for voice, if any.
    pub recommended: Option<String>,
    /// Why, in words.
    pub recommendation: String,
}

/// One model's figures (medians). Missing or broken numbers are `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BenchRow {
    pub name: String,
    pub recommended: bool,
    /// Generation, tokens per second.
    pub gen_tok_s: Option<f64>,
    /// Prompt processing, tokens per second.
    pub prompt_tok_s: Option<f64>,
    /// Time to first token, seconds.
    pub ttft_s: Option<f64>,
    /// "1.9 GiB VRAM", "n/a".
    pub memory: String,
    /// "29/29 layers (100%)", "0/30 layers (CPU only)".
    pub offload: String,
    /// One cell per [`BenchTable::response_tokens`], same order.
    pub response: Vec<BenchCell>,
    #[ts(type = "\"natural\" | \"acceptable\" | \"slow\" | \"unusable\"")]
    pub verdict: Verdict,
    /// The verdict in words: "natural", "acceptable", "too slow", "unusable".
    pub verdict_text: String,
    pub voice_ready: bool,
}

/// The time to an answer's `tokens`th token and how that feels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BenchCell {
    pub tokens: u32,
    /// Seconds, `null` if not measured.
    pub seconds: Option<f64>,
    #[ts(type = "\"natural\" | \"acceptable\" | \"slow\" | \"unusable\" | null")]
    pub verdict: Option<Verdict>,
    /// The verdict in words, empty if not measured.
    pub verdict_text: String,
}

/// A verdict in words for the panel (the Markdown report keeps its marks).
pub fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::Natural => "natural",
        Verdict::Acceptable => "acceptable",
        Verdict::Slow => "too slow",
        Verdict::Unusable => "unusable",
    }
}

impl BenchTable {
    pub fn of(report: &BenchReport) -> BenchTable {
        let settings = &report.settings;
        let t = &settings.thresholds;
        let (recommended, reason) = recommendation(report);
        let row = |m: &ModelBench| BenchRow {
            name: m.name.clone(),
            recommended: recommended.as_deref() == Some(m.name.as_str()),
            gen_tok_s: positive(m.gen_tok_s),
            prompt_tok_s: positive(m.prompt_tok_s),
            ttft_s: positive(m.ttft_s),
            memory: fmt_memory(m),
            offload: fmt_offload(m),
            response: settings
                .response_tokens
                .iter()
                .map(|&n| {
                    let seconds = response_at(m, n);
                    let verdict = seconds.and(verdict_at(m, n, t));
                    BenchCell {
                        tokens: n,
                        seconds,
                        verdict,
                        verdict_text: verdict.map(verdict_words).unwrap_or_default().to_owned(),
                    }
                })
                .collect(),
            verdict: m.verdict,
            verdict_text: verdict_words(m.verdict).to_owned(),
            voice_ready: m.verdict.voice_ready(),
        };
        BenchTable {
            host: host_line(&report.host),
            settings: format!(
                "{} run{} per model (median), {}-token prompt, verdict at {} tokens",
                settings.runs,
                if settings.runs == 1 { "" } else { "s" },
                settings.prompt_tokens,
                settings.verdict_tokens
            ),
            budget: format!(
                "natural under {n} s, acceptable under {a} s, too slow from {a} s, unusable over {u} s",
                n = t.natural_s,
                a = t.acceptable_s,
                u = t.unusable_s
            ),
            response_tokens: settings.response_tokens.clone(),
            verdict_tokens: settings.verdict_tokens,
            rows: report.models.iter().map(row).collect(),
            recommended: recommended.clone(),
            recommendation: reason.trim().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::{llama, qwen, report, seed_report};

    #[test]
    fn rows_carry_figures_and_verdicts_in_words() {
        let table = BenchTable::of(&seed_report());
        assert_eq!(table.response_tokens, [30, 50, 100]);
        assert_eq!(table.recommended.as_deref(), Some("Llama 3.2 3B"));
        assert!(table.recommendation.contains("Llama 3.2 3B"), "{}", table.recommendation);
        assert!(table.host.contains("8 threads"), "{}", table.host);
        let [llama, qwen] = &table.rows[..] else { panic!("{table:?}") };
        assert!(llama.recommended && !qwen.recommended);
        assert_eq!((llama.verdict_text.as_str(), llama.voice_ready), ("natural", true));
        assert_eq!((qwen.verdict_text.as_str(), qwen.voice_ready), ("unusable", false));
        assert_eq!(llama.gen_tok_s, Some(27.2));
        assert_eq!(llama.memory, "1.9 GiB VRAM");
        let words: Vec<&str> = llama.response.iter().map(|c| c.verdict_text.as_str()).collect();
        assert_eq!(words, ["natural", "natural", "too slow"]);
        assert_eq!(qwen.response[0].seconds, Some(3.1));
        assert_eq!(qwen.response[0].verdict, Some(Verdict::Slow));
    }

    #[test]
    fn no_emoji_and_no_broken_numbers() {
        let mut broken = qwen();
        broken.gen_tok_s = f64::NAN;
        broken.response_s.insert("50".to_owned(), f64::INFINITY);
        let table = BenchTable::of(&report(vec![llama(), broken]));
        let row = &table.rows[1];
        assert_eq!(row.gen_tok_s, None);
        assert_eq!((row.response[1].seconds, row.response[1].verdict_text.as_str()), (None, ""));
        let json = serde_json::to_string(&table).unwrap();
        assert!(!json.chars().any(|c| c as u32 >= 0x2190), "words only, no marks: {json}");
        assert!(!json.contains("NaN") && !json.contains("inf"), "{json}");
    }
}
