//! Measuring models: load, warm up, then N runs of prompt processing and a spoken-style answer.

use std::collections::BTreeMap;

use super::{BenchReport, BenchSettings, HostInfo, ModelBench, RunSample, SCHEMA_VERSION, median, recommend, report};
use crate::config::Config;
use crate::llm::{ChatEngine, ChatMessage, ChatRequest, LlmError, LocalLlm, ModelInfo};
use crate::models::ResolvedModel;
use crate::sysmon::memory;
use crate::voice_latency::Verdict;

/// Errors while benchmarking.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("no models to benchmark")]
    NoModels,
    #[error("{model}: {source}")]
    Model { model: String, source: LlmError },
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] crate::chart_style::ChartError),
    #[error(transparent)]
    Memory(#[from] crate::memory_fit::MemoryFitError),
}

/// Where the benchmark is, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchProgress {
    /// Steps done and total: per model, loading, warming up, and each run.
    pub done: u32,
    pub total: u32,
    pub model: String,
    pub step: String,
}

/// Steps one model takes, for [`BenchProgress::total`].
fn steps_per_model(runs: u32) -> u32 {
    runs + 2
}

/// Benchmarks each model in turn (one in memory at a time) and assembles the report.
pub fn run(
    models: &[ResolvedModel],
    config: &Config,
    progress: &mut dyn FnMut(BenchProgress),
) -> Result<BenchReport, BenchError> {
    if models.is_empty() {
        return Err(BenchError::NoModels);
    }
    let b = &config.bench;
    let total = steps_per_model(b.runs) * models.len() as u32;
    let mut done = 0;
    let mut results = Vec::with_capacity(models.len());
    let mut threads = 0;
    for model in models {
        let mut step = |label: String| {
            progress(BenchProgress {
                done,
                total,
                model: model.name.clone(),
                step: label,
            });
            done += 1;
        };
        crate::memory_fit::check_llm_alone(model, config)?;
        let (bench, info) = bench_model(model, config, &mut step).map_err(|source| BenchError::Model {
            model: model.name.clone(),
            source,
        })?;
        threads = info.threads;
        results.push(bench);
    }
    progress(BenchProgress {
        done: total,
        total,
        model: String::new(),
        step: "done".into(),
    });
    let settings = BenchSettings {
        runs: b.runs,
        prompt_tokens: b.prompt_tokens,
        response_tokens: b.response_tokens.clone(),
        verdict_tokens: b.verdict_tokens,
        question: b.question.clone(),
        thresholds: config.voice,
    };
    let (recommended, recommendation_reason) = recommend::recommend(&results, &settings);
    Ok(BenchReport {
        schema_version: SCHEMA_VERSION,
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        host: HostInfo {
            cpu: crate::llm::host_cpu_name(),
            threads,
            gpu_offload: crate::llm::gpu_offload_supported(),
            gpu: crate::sysmon::probe_gpu()
                .map(|g| g.name().to_owned())
                .or_else(|| crate::llm::load_log::gpu_devices().into_iter().next()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        },
        settings,
        models: results,
        recommended,
        recommendation_reason,
    })
}

fn bench_model(
    model: &ResolvedModel,
    config: &Config,
    step: &mut dyn FnMut(String),
) -> Result<(ModelBench, ModelInfo), LlmError> {
    let b = &config.bench;
    let rss_before = memory::process_rss_bytes();
    // The driver's per-process figure where there is one (NVML): what loading really cost on the
    // GPU, CUDA context included, which llama.cpp's own account leaves out.
    let mut gpu = crate::sysmon::probe_gpu();
    let vram_before = gpu.as_mut().and_then(|g| driver_vram(g.as_mut()));
    step("loading".into());
    let llm = LocalLlm::load(model, &config.llm)?;
    let info = llm.info().clone();
    let longest = b.response_tokens.iter().copied().max().unwrap_or(1);

    step("warm-up".into());
    llm.bench_prompt(b.prompt_tokens.min(info.n_ctx - 1))?;
    answer_timings(&llm, config, longest.min(16))?;
    // With every weight touched once, resident memory is what the model really holds.
    let rss_after = memory::process_rss_bytes();
    let vram_after = gpu.as_mut().and_then(|g| driver_vram(g.as_mut()));

    let mut runs = Vec::with_capacity(b.runs as usize);
    for run in 0..b.runs {
        step(format!("run {}/{}", run + 1, b.runs));
        let pp = llm.bench_prompt(b.prompt_tokens)?;
        let (times, gen_tok_s, ttft_s) = answer_timings(&llm, config, longest)?;
        let response_s = b
            .response_tokens
            .iter()
            .filter_map(|&n| times.get(n as usize - 1).map(|t| (n.to_string(), *t)))
            .collect();
        runs.push(RunSample {
            gen_tok_s,
            prompt_tok_s: pp.tok_s,
            ttft_s,
            response_s,
        });
    }
    drop(llm);

    let med = |f: fn(&RunSample) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let response_s: BTreeMap<String, f64> = b
        .response_tokens
        .iter()
        .map(|n| {
            let key = n.to_string();
            let values: Vec<f64> = runs.iter().filter_map(|r| r.response_s.get(&key).copied()).collect();
            (key, median(&values))
        })
        .collect();
    let verdicts: BTreeMap<String, Verdict> =
        response_s.iter().map(|(k, s)| (k.clone(), Verdict::of(*s, &config.voice))).collect();
    let verdict = verdicts
        .get(&b.verdict_tokens.to_string())
        .copied()
        .unwrap_or(Verdict::Unusable);
    let gpu_buffers_bytes = info.load_log.device_bytes();
    let (memory_bytes, memory_kind, memory_source) = match (vram_before, vram_after) {
        (Some(before), Some(after)) if info.gpu_layers > 0 && after > before => (after - before, "vram", "NVML"),
        // A Jetson (unified memory) or a GPU without NVML: llama.cpp's own account.
        _ if info.gpu_layers > 0 && gpu_buffers_bytes > 0 => {
            let unified = gpu.as_mut().and_then(|g| g.sample(&[])).is_some_and(|s| s.unified_memory);
            (gpu_buffers_bytes, if unified { "gpu" } else { "vram" }, "llama.cpp")
        }
        _ => match (rss_before, rss_after) {
            (Some(before), Some(after)) if after > before => (after - before, "ram", "/proc RSS"),
            _ => (info.weights_bytes + info.kv_cache_bytes, "ram", "estimate"),
        },
    };
    let bench = ModelBench {
        name: model.name.clone(),
        path: model.path.display().to_string(),
        file_size_bytes: info.file_size_bytes,
        memory_bytes,
        memory_kind: memory_kind.to_owned(),
        memory_source: memory_source.to_owned(),
        gpu_buffers_bytes,
        gpu_layers: info.gpu_layers,
        total_layers: info.total_layers,
        gen_tok_s: med(|r| r.gen_tok_s),
        prompt_tok_s: med(|r| r.prompt_tok_s),
        ttft_s: med(|r| r.ttft_s),
        response_s,
        verdicts,
        verdict,
        runs,
    };
    Ok((bench, info))
}

/// This process's GPU memory as the driver reports it (NVML), `None` where the GPU source does
/// not count processes apart from RAM (Jetson).
fn driver_vram(gpu: &mut dyn crate::sysmon::GpuProbe) -> Option<u64> {
    let me = crate::sysmon::family::Member { pid: std::process::id(), role: "engine" };
    let snapshot = gpu.sample(&[me])?;
    (!snapshot.unified_memory).then_some(snapshot.process_memory_bytes).flatten()
}

/// One answer of exactly `tokens` tokens to the bench question, from a fresh conversation (so
/// the time to first token includes the system prompt, as on a first turn). Returns each
/// token's time since the request in seconds, the generation rate and the time to first token.
fn answer_timings(llm: &LocalLlm, config: &Config, tokens: u32) -> Result<(Vec<f64>, f64, f64), LlmError> {
    llm.reset()?;
    let request = ChatRequest {
        messages: vec![
            ChatMessage::system(config.llm.system_prompt.clone()),
            ChatMessage::user(config.bench.question.clone()),
        ],
        max_tokens: Some(tokens),
        temperature: Some(0.0),
        ignore_eos: true,
        continue_from: None,
    };
    let mut times = Vec::with_capacity(tokens as usize);
    let (_, metrics) = llm
        .chat(request)?
        .collect_blocking(|_, _, elapsed| times.push(elapsed.as_secs_f64()))?;
    // The tail of a split character arrives as a second event for the last token.
    times.truncate(metrics.gen_tokens as usize);
    Ok((times, metrics.gen_tok_s, metrics.ttft_ms / 1000.0))
}

/// Writes `report.md`, `bench.json` and the charts into `out_dir`; returns the paths written.
pub fn write_outputs(report: &BenchReport, out_dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, BenchError> {
    let write = |name: &str, contents: &[u8]| {
        let path = out_dir.join(name);
        std::fs::write(&path, contents)
            .map(|()| path.clone())
            .map_err(|source| BenchError::Write { path, source })
    };
    std::fs::create_dir_all(out_dir).map_err(|source| BenchError::Write {
        path: out_dir.to_owned(),
        source,
    })?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| BenchError::Write {
        path: out_dir.join("bench.json"),
        source: std::io::Error::other(e),
    })?;
    let mut written = vec![
        write("report.md", report::markdown(report).as_bytes())?,
        write("bench.json", &json)?,
    ];
    written.extend(super::charts::write_charts(report, out_dir)?);
    Ok(written)
}
