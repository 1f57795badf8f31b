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

/// One memory sample.
#[derive(Debug, Clone, Copy)]
pub struct MemSample {
    /// Seconds since the feed started.
    pub t_s: f64,
    pub used_bytes: u64,
}

/// One finished turn's figures.
#[derive(Debug, Clone)]
pub struct TurnPoint {
    pub turn: u64,
    pub engine: Option<String>,
    pub gen_tok_s: Option<f64>,
    pub prompt_tok_s: Option<f64>,
    /// Milliseconds from the release: transcript, first token, first sentence, first audio.
    pub transcript_ms: Option<f64>,
    pub first_token_ms: Option<f64>,
    pub first_sentence_ms: Option<f64>,
    pub first_audio_ms: Option<f64>,
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
    /// "VRAM" when a GPU reports memory, else "RAM".
    pub memory_kind: &'static str,
    pub memory: VecDeque<MemSample>,
    pub memory_total: Option<u64>,
    /// What loading the models added (measured), marked on the memory chart.
    pub model_share: Option<u64>,
    pub turns: VecDeque<TurnPoint>,
    pub live: Option<LiveAnswer>,
    pub thresholds: VoiceThresholds,
    /// Seconds since the feed started, at the last sample.
    pub now_s: f64,
}
