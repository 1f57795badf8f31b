//! Measuring models: load, warm up, then N runs of prompt processing and a spoken-style answer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::progress::{BenchProgress, Estimate, Phase};
use super::{BenchReport, BenchSettings, HostInfo, ModelBench, RunSample, SCHEMA_VERSION, median, recommend, report};
use crate::config::Config;
use crate::llm::{CancelToken, ChatEngine, ChatMessage, ChatRequest, LlmError, LocalLlm, ModelInfo};
use crate::models::ResolvedModel;
use crate::sysmon::memory;
use crate::voice_latency::Verdict;

/// Errors while benchmarking.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("no models to benchmark")]
    NoModels,
    #[error("the benchmark was cancelled")]
    Cancelled,
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

/// How often a step that blocks (loading, processing the prompt) still reports, and the most
/// often token counts are reported: often enough to look alive, rarely enough to cost nothing.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// Benchmarks each model in turn (one in memory at a time) and assembles the report.
///
/// `cancel` stops it at the next safe point: between tokens, after a prompt, or once a model
/// load (which cannot be interrupted) has finished; whatever it loaded is freed and the result
/// is [`BenchError::Cancelled`].
pub fn run(
    models: &[ResolvedModel],
    config: &Config,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(BenchProgress),
) -> Result<BenchReport, BenchError> {
    if models.is_empty() {
        return Err(BenchError::NoModels);
    }
    let b = &config.bench;
    let sizes = models.iter().map(|m| std::fs::metadata(&m.path).map(|f| f.len()).unwrap_or(0)).collect();
    let mut tracker = Tracker {
        estimate: Estimate::new(sizes, b.runs),
        names: models.iter().map(|m| m.name.clone()).collect(),
        started: Instant::now(),
        current: None,
        last_sent: None,
        progress,
        cancel,
    };
    let mut results = Vec::with_capacity(models.len());
    let mut threads = 0;
    for (index, model) in models.iter().enumerate() {
        tracker.check()?;
        crate::memory_fit::check_llm_alone(model, config)?;
        let (bench, info) = bench_model(index, model, config, &mut tracker)?;
        threads = info.threads;
        results.push(bench);
    }
    tracker.finish();
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
    index: usize,
    model: &ResolvedModel,
    config: &Config,
    tracker: &mut Tracker<'_>,
) -> Result<(ModelBench, ModelInfo), BenchError> {
    let failed = |source| BenchError::Model { model: model.name.clone(), source };
    let b = &config.bench;
    let rss_before = memory::process_rss_bytes();
    // The driver's per-process figure where there is one (NVML): what loading really cost on the
    // GPU, CUDA context included, which llama.cpp's own account leaves out.
    let mut gpu = crate::sysmon::probe_gpu();
    let vram_before = gpu.as_mut().and_then(|g| driver_vram(g.as_mut()));
    tracker.begin(index, Phase::Load)?;
    let llm = tracker.blocking(|| LocalLlm::load(model, &config.llm)).map_err(failed)?;
    // A cancel asked during the load takes effect now; dropping `llm` frees the model.
    tracker.check()?;
    let info = llm.info().clone();
    let longest = b.response_tokens.iter().copied().max().unwrap_or(1);

    tracker.begin(index, Phase::WarmUp)?;
    tracker.blocking(|| llm.bench_prompt(b.prompt_tokens.min(info.n_ctx - 1))).map_err(failed)?;
    answer_timings(&llm, config, longest.min(16), tracker).map_err(failed)?;
    tracker.check()?;
    // With every weight touched once, resident memory is what the model really holds.
    let rss_after = memory::process_rss_bytes();
    let vram_after = gpu.as_mut().and_then(|g| driver_vram(g.as_mut()));

    let mut runs = Vec::with_capacity(b.runs as usize);
    for run in 0..b.runs {
        tracker.begin(index, Phase::Run { run: run + 1, runs: b.runs })?;
        let pp = tracker.blocking(|| llm.bench_prompt(b.prompt_tokens)).map_err(failed)?;
        tracker.check()?;
        let (times, gen_tok_s, ttft_s) = answer_timings(&llm, config, longest, tracker).map_err(failed)?;
        tracker.check()?;
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
/// Reports the tokens as they come, and stops the answer early when the bench is cancelled.
fn answer_timings(
    llm: &LocalLlm,
    config: &Config,
    tokens: u32,
    tracker: &mut Tracker<'_>,
) -> Result<(Vec<f64>, f64, f64), LlmError> {
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
        tools: None,
    };
    let mut times = Vec::with_capacity(tokens as usize);
    let stream = llm.chat(request)?;
    let answer = stream.cancel.clone();
    tracker.tokens(0, tokens);
    let (_, metrics) = stream.collect_blocking(|_, _, elapsed| {
        times.push(elapsed.as_secs_f64());
        tracker.tokens(times.len() as u32, tokens);
        if tracker.cancel.is_cancelled() {
            answer.cancel();
        }
    })?;
    // The tail of a split character arrives as a second event for the last token.
    times.truncate(metrics.gen_tokens as usize);
    Ok((times, metrics.gen_tok_s, metrics.ttft_ms / 1000.0))
}

/// The benchmark's clock: which phase is running, its timings for the estimate, the progress
/// reports and the cancel checks.
struct Tracker<'a> {
    estimate: Estimate,
    names: Vec<String>,
    started: Instant,
    /// The model (index), phase, when it began, and its token count if it is generating.
    current: Option<(usize, Phase, Instant, Option<(u32, u32)>)>,
    last_sent: Option<Instant>,
    progress: &'a mut dyn FnMut(BenchProgress),
    cancel: &'a CancelToken,
}

impl Tracker<'_> {
    /// Cancelled: stop here.
    fn check(&self) -> Result<(), BenchError> {
        if self.cancel.is_cancelled() { Err(BenchError::Cancelled) } else { Ok(()) }
    }

    /// A new phase starts (the previous one is timed) unless the bench was cancelled.
    fn begin(&mut self, model: usize, phase: Phase) -> Result<(), BenchError> {
        self.end_phase();
        self.check()?;
        self.current = Some((model, phase, Instant::now(), None));
        self.send(true);
        Ok(())
    }

    fn end_phase(&mut self) {
        if let Some((model, phase, began, _)) = self.current.take() {
            self.estimate.record(model, phase, began.elapsed().as_secs_f64());
        }
    }

    /// The last phase has ended.
    fn finish(&mut self) {
        self.end_phase();
    }

    /// `done` of `of` tokens generated in the current phase.
    fn tokens(&mut self, done: u32, of: u32) {
        if let Some(current) = self.current.as_mut() {
            current.3 = Some((done, of));
        }
        self.send(done == 0 || done >= of);
    }

    /// Runs a step that cannot report by itself (on a scoped thread), reporting the time it takes
    /// meanwhile; a step that panicked is a stopped worker.
    fn blocking<T: Send>(&mut self, work: impl FnOnce() -> Result<T, LlmError> + Send) -> Result<T, LlmError> {
        if let Some(current) = self.current.as_mut() {
            current.3 = None;
        }
        std::thread::scope(|scope| {
            let handle = scope.spawn(work);
            while !handle.is_finished() {
                std::thread::sleep(Duration::from_millis(50));
                self.send(false);
            }
            handle.join().unwrap_or(Err(LlmError::WorkerGone))
        })
    }

    /// Reports where the bench is: always when `now`, else at most every [`REPORT_EVERY`].
    fn send(&mut self, now: bool) {
        let Some((model, phase, began, tokens)) = self.current else { return };
        if !now && self.last_sent.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        self.last_sent = Some(Instant::now());
        let phase_s = began.elapsed().as_secs_f64();
        (self.progress)(BenchProgress {
            model: self.names.get(model).cloned().unwrap_or_default(),
            model_index: model as u32,
            models: self.names.len() as u32,
            phase,
            tokens,
            phase_s,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            fraction: self.estimate.fraction(model, phase, tokens),
            eta_s: self.estimate.remaining(model, phase, phase_s, tokens),
        });
    }
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
