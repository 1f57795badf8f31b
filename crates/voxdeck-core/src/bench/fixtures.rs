//! The seed's Llama 3.2 3B vs Qwen 2.5 7B numbers as a [`BenchReport`], for the bench tests.

use std::collections::BTreeMap;

use super::{BenchReport, BenchSettings, HostInfo, ModelBench, RunSample, SCHEMA_VERSION};
use crate::voice_latency::{Verdict, VoiceThresholds};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A model with response times at 30/50/100 tokens; verdicts judged by the default budget.
pub(crate) fn model(
    name: &str,
    file_gib: f64,
    mem_gib: f64,
    gen_rate: f64,
    prompt: f64,
    ttft: f64,
    times: [f64; 3],
) -> ModelBench {
    let t = VoiceThresholds::default();
    let response_s: BTreeMap<String, f64> = [30, 50, 100]
        .iter()
        .zip(times)
        .map(|(n, s)| (n.to_string(), s))
        .collect();
    let verdicts = response_s
        .iter()
        .map(|(k, &s)| (k.clone(), Verdict::of(s, &t)))
        .collect();
    ModelBench {
        name: name.to_owned(),
        path: format!("/models/{}.gguf", name.replace(' ', "-")),
        file_size_bytes: (file_gib * GIB) as u64,
        memory_bytes: (mem_gib * GIB) as u64,
        memory_kind: "vram".to_owned(),
        memory_source: "llama.cpp".to_owned(),
        gpu_buffers_bytes: (mem_gib * GIB) as u64,
        gpu_layers: 29,
        total_layers: 29,
        gen_tok_s: gen_rate,
        prompt_tok_s: prompt,
        ttft_s: ttft,
        verdict: Verdict::of(times[1], &t),
        runs: vec![RunSample {
            gen_tok_s: gen_rate,
            prompt_tok_s: prompt,
            ttft_s: ttft,
            response_s: response_s.clone(),
        }],
        response_s,
        verdicts,
    }
}

pub(crate) fn llama() -> ModelBench {
    model("Llama 3.2 3B", 1.88, 1.9, 27.2, 48.0, 0.35, [1.1, 1.8, 3.7])
}

pub(crate) fn qwen() -> ModelBench {
    model("Qwen 2.5 7B", 3.3, 3.4, 9.7, 31.1, 0.62, [3.1, 5.2, 10.3])
}

pub(crate) fn settings() -> BenchSettings {
    BenchSettings {
        runs: 3,
        prompt_tokens: 512,
        response_tokens: vec![30, 50, 100],
        verdict_tokens: 50,
        question: "Hey, what's a good way to wind down in the evening?".to_owned(),
        thresholds: VoiceThresholds::default(),
    }
}

pub(crate) fn report(models: Vec<ModelBench>) -> BenchReport {
    let (recommended, recommendation_reason) = super::recommend::recommend(&models, &settings());
    BenchReport {
        schema_version: SCHEMA_VERSION,
        created_unix_s: 1_763_042_700, // 2025-11-13 14:05 UTC
        host: HostInfo {
            cpu: "Jetson Orin NX 16GB (8-core Arm Cortex-A78AE)".to_owned(),
            threads: 8,
            gpu_offload: true,
            gpu: Some("NVIDIA Jetson Orin NX".to_owned()),
            os: "linux".to_owned(),
        },
        settings: settings(),
        models,
        recommended,
        recommendation_reason,
    }
}

/// The seed: Llama 3.2 3B vs Qwen 2.5 7B.
pub(crate) fn seed_report() -> BenchReport {
    report(vec![llama(), qwen()])
}
