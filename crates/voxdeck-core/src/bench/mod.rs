//! `voxdeck bench`: the seed's hand-made model benchmark as one command.
//!
//! [`runner`] measures (reporting [`progress`]), [`recommend`] picks the model for voice,
//! [`report`] writes the Markdown report and [`table`] the panel's result rows (numbers formatted
//! by `format` for both), [`charts`] draws the PNG/SVG charts; `bench.json` is [`BenchReport`]
//! serialised (schema in the README). [`latency`] is `voxdeck bench latency`: release to first
//! audible word over the spoken question set.

pub mod charts;
pub mod latency;
#[cfg(test)]
pub(crate) mod fixtures;
mod format;
pub mod progress;
pub mod recommend;
pub mod report;
pub mod runner;
pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::voice_latency::{Verdict, VoiceThresholds};

/// Version of the `bench.json` schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one `voxdeck bench` produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema_version: u32,
    /// Seconds since the Unix epoch when the run finished.
    pub created_unix_s: u64,
    pub host: HostInfo,
    pub settings: BenchSettings,
    /// One entry per model, in the order measured.
    pub models: Vec<ModelBench>,
    /// `name` of the model recommended for voice, if any model was measured.
    pub recommended: Option<String>,
    /// Why that model was recommended, in words.
    pub recommendation_reason: String,
}

/// The machine the numbers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub cpu: String,
    pub threads: u32,
    /// llama.cpp was built with a GPU backend (CUDA) and a GPU was found.
    pub gpu_offload: bool,
    /// The GPU, as the driver (NVML, Jetson's device tree) or ggml names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    pub os: String,
}

/// The settings the numbers were measured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    pub runs: u32,
    pub prompt_tokens: u32,
    pub response_tokens: Vec<u32>,
    pub verdict_tokens: u32,
    pub question: String,
    pub thresholds: VoiceThresholds,
}

/// Median figures for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBench {
    /// Display name (catalog name or file stem).
    pub name: String,
    pub path: String,
    pub file_size_bytes: u64,
    /// Memory the model holds once loaded (weights + KV cache + compute buffers), VRAM where
    /// offloaded, RAM otherwise; see `memory_kind`.
    pub memory_bytes: u64,
    /// "vram", "gpu" (a Jetson's share of unified memory) or "ram".
    pub memory_kind: String,
    /// Where `memory_bytes` comes from: "NVML" (the driver, per process), "llama.cpp" (its
    /// buffers on the GPU, from its load log), "/proc RSS" or "estimate".
    #[serde(default)]
    pub memory_source: String,
    /// llama.cpp's own account of its GPU buffers (weights, KV cache, compute), from its load
    /// log; 0 on the CPU. Next to an NVML figure, the difference is mostly the CUDA context.
    #[serde(default)]
    pub gpu_buffers_bytes: u64,
    pub gpu_layers: u32,
    pub total_layers: u32,
    /// Generation rate, tokens per second.
    pub gen_tok_s: f64,
    /// Prompt processing rate over `prompt_tokens`, tokens per second.
    pub prompt_tok_s: f64,
    /// Time to first token after the spoken-style question, seconds.
    pub ttft_s: f64,
    /// Response time (question sent to Nth token) keyed by N as a decimal string, seconds.
    pub response_s: BTreeMap<String, f64>,
    /// Verdict for each response time, same keys.
    pub verdicts: BTreeMap<String, Verdict>,
    /// Verdict at `verdict_tokens`: the model's verdict.
    pub verdict: Verdict,
    /// Every measured run, for whoever wants more than the median.
    pub runs: Vec<RunSample>,
}

/// One measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSample {
    pub gen_tok_s: f64,
    pub prompt_tok_s: f64,
    pub ttft_s: f64,
    pub response_s: BTreeMap<String, f64>,
}

/// Median of a non-empty set of samples (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
