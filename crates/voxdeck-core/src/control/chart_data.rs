//! What the live charts are drawn from: the memory samples, the last turns' figures and the
//! answer streaming now. The chart feed fills it in from the engine's events; `chart_draw`
//! draws it.

use std::collections::VecDeque;

use crate::voice_latency::VoiceThresholds;
use crate::turn_record::TurnRecord;

/// Turns and samples the figures' medians are taken over.
pub const MEDIAN_OF: usize = 10;
/// Turns shown in the tok/s and latency charts.
pub const TURNS_SHOWN: usize = 10;
/// Seconds of memory history drawn.
pub const MEMORY_WINDOW_S: f64 = 120.0;

/// One memory sample of voxdeck's processes (the engine and its workers).
#[derive(Debug, Clone, Copy)]
pub struct MemSample {
    /// Seconds since the feed started.
    pub t_s: f64,
    /// Resident memory.
    pub ram_bytes: u64,
    /// GPU memory, where the driver tells it apart from RAM.
    pub vram_bytes: Option<u64>,
    /// The whole system's memory in use (MemTotal - MemAvailable), every program's.
    pub system_used_bytes: Option<u64>,
}

/// The machine's memory and the memory check's rule, which the memory chart is scaled to.
#[derive(Debug, Clone)]
pub struct MemoryScale {
    /// MemTotal: the whole system's RAM (CPU and GPU's together on a Jetson's unified memory).
    pub total_bytes: Option<u64>,
    /// MemAvailable at the last sample.
    pub available_bytes: Option<u64>,
    /// `[memory]` as the memory check ([`crate::memory_fit`]) applies it.
    pub config: crate::config::MemoryConfig,
}

impl MemoryScale {
    /// The budget the memory check would use now ([`crate::memory_fit::Budget`], same rule).
    pub fn budget(&self) -> Option<crate::memory_fit::Budget> {
        let available = self.available_bytes?;
        Some(crate::memory_fit::Budget::from_available(
            crate::memory_fit::Pool::SystemRam,
            Some(available),
            self.total_bytes,
            &self.config,
        ))
    }
}

/// Which model load the turn figures belong to: the charts start again at each load, so turn
/// numbers (which a new session starts again at 1) never mix two loads.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadLabel {
    /// 1 for the first load since the engine started.
    pub load: u32,
    /// The LLM's short name.
    pub llm: String,
}

impl LoadLabel {
    /// "load 2 · SmolLM2-135M-Instruct".
    pub fn text(&self) -> String {
        format!("load {} · {}", self.load, self.llm)
    }
}

/// The memory chart's two series and where each number comes from.
pub const RAM_LABEL: &str = "RAM · /proc";

/// The label of the GPU memory series for a source ("NVML, per process" → "VRAM · NVML").
pub fn vram_label(gpu: &crate::sysmon::GpuSnapshot) -> String {
    let source = gpu.process_memory_source.as_deref().unwrap_or(&gpu.source);
    let short = source.split([',', ' ']).next().unwrap_or(source);
    if gpu.unified_memory { format!("GPU share · {short}") } else { format!("VRAM · {short}") }
}

/// One finished turn's figures.
#[derive(Debug, Clone)]
pub struct TurnPoint {
    pub turn: u64,
    pub engine: Option<String>,
    pub gen_tok_s: Option<f64>,
    pub prompt_tok_s: Option<f64>,
    /// Milliseconds from the release: transcript, first token, first sentence, first audio, and
    /// the first audible sample heard.
    pub transcript_ms: Option<f64>,
    pub first_token_ms: Option<f64>,
    pub first_sentence_ms: Option<f64>,
    pub first_audio_ms: Option<f64>,
    pub first_audible_ms: Option<f64>,
}

impl TurnPoint {
    pub(super) fn of(r: &TurnRecord) -> TurnPoint {
        TurnPoint {
            turn: r.turn,
            engine: r.engine.clone(),
            // A cloud API that sends no usage leaves the prompt rate at 0: unknown, not slow.
            gen_tok_s: r.gen_tok_s.filter(|v| *v > 0.0),
            prompt_tok_s: r.prompt_tok_s.filter(|v| *v > 0.0),
            transcript_ms: r.transcript_ms,
            first_token_ms: r.first_token_ms,
            first_sentence_ms: r.first_sentence_ms,
            first_audio_ms: r.first_audio_ms,
            first_audible_ms: r.first_audible_ms,
        }
    }
}

/// The answer being generated now.
#[derive(Debug, Clone, Copy)]
pub struct LiveAnswer {
    pub turn: u64,
    pub tokens: u32,
    /// Generation rate after the first token (the first one carries the prompt's time).
    pub gen_tok_s: Option<f64>,
    pub(super) first_token_elapsed_ms: f64,
}

/// Everything the three charts are drawn from.
#[derive(Debug, Clone)]
pub struct ChartData {
    pub memory: VecDeque<MemSample>,
    /// The GPU series' label with its source ([`vram_label`]); `None`: no GPU memory reading.
    pub vram_label: Option<String>,
    /// The latest GPU reading (load, clock, power mode), for the memory chart's figures.
    pub gpu: Option<crate::sysmon::GpuSnapshot>,
    /// What loading the models added (measured), marked on the memory chart.
    pub model_share: Option<u64>,
    /// Total memory, available memory and the check's headroom and limit.
    pub scale: MemoryScale,
    /// The model load the turns belong to; `None` before the first.
    pub load: Option<LoadLabel>,
    pub turns: VecDeque<TurnPoint>,
    pub live: Option<LiveAnswer>,
    pub thresholds: VoiceThresholds,
    /// Seconds since the feed started, at the last sample.
    pub now_s: f64,
}
