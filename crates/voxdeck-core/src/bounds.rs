//! The range of every number a user or a client can set, in one table.
//!
//! The config loader, the CLI's flags, the WebSocket and Tauri commands and the panel's fields
//! all check against these entries, so a value is refused in the same words wherever it comes
//! from, and before it can size an allocation, spawn threads or reach llama.cpp (which panics
//! or aborts on values that do not fit its `i32`s). Ranges are inclusive. Rules between two
//! settings (`llm.n_ubatch` <= `llm.n_batch`) stay with the section that has both, in the
//! config module.

use std::fmt::Display;

use serde::{Deserialize, Serialize};

/// The upper end of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Max {
    Value(f64),
    /// The cores this machine has: more threads than cores only make ggml's and ONNX Runtime's
    /// spinning threads fight over them.
    Cores,
}

/// One setting's allowed range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The setting's key in `config.toml`, as errors name it (`bench.runs`).
    pub key: &'static str,
    pub min: f64,
    pub max: Max,
    /// What the minimum means where it is special (`0` threads: one per core).
    pub min_means: Option<&'static str>,
}

/// A value outside its [`Bound`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{key}` {requirement}")]
pub struct OutOfRange {
    pub key: &'static str,
    /// "must be between 1 and 100, got 0".
    pub requirement: String,
}

/// A number a setting can hold.
pub trait Number: Copy + Display {
    fn as_f64(self) -> f64;
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn as_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
number!(u32, u64, usize, f32, f64);

impl Bound {
    const fn new(key: &'static str, min: f64, max: f64) -> Bound {
        Bound { key, min, max: Max::Value(max), min_means: None }
    }

    /// A thread count: 0 lets the engine choose, at most one per core.
    const fn threads(key: &'static str) -> Bound {
        Bound { key, min: 0.0, max: Max::Cores, min_means: Some("automatic") }
    }

    /// The largest allowed value on this machine.
    pub fn max(&self) -> f64 {
        match self.max {
            Max::Value(v) => v,
            Max::Cores => cores() as f64,
        }
    }

    /// `value` if it is in range (NaN never is), else the refusal in words.
    pub fn check<T: Number>(&self, value: T) -> Result<T, OutOfRange> {
        let v = value.as_f64();
        if v >= self.min && v <= self.max() {
            return Ok(value);
        }
        let min = match self.min_means {
            Some(means) => format!("{} ({means})", self.min),
            None => self.min.to_string(),
        };
        let max = match self.max {
            Max::Value(v) => v.to_string(),
            Max::Cores => format!("{} (the cores this machine has)", cores()),
        };
        Err(OutOfRange { key: self.key, requirement: format!("must be between {min} and {max}, got {value}") })
    }

    /// `value` pulled into range, for numbers a front end measures rather than a user types (a
    /// chart's size); only a value that is not a finite number is refused.
    pub fn clamp(&self, value: f64) -> Result<f64, OutOfRange> {
        if !value.is_finite() {
            return Err(OutOfRange { key: self.key, requirement: format!("must be a number, got {value}") });
        }
        Ok(value.clamp(self.min, self.max()))
    }

    /// The range as the panel shows it.
    pub fn view(&self) -> Limit {
        Limit { key: self.key.to_owned(), min: self.min, max: self.max() }
    }
}

/// A range as sent to the front ends, which put it on their fields (`min`/`max`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Limit {
    pub key: String,
    pub min: f64,
    pub max: f64,
}

/// The cores this process may run on (cgroup and affinity limits included).
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

// [llm]
/// Fewer than 64 positions cannot hold a system prompt and a question.
pub const LLM_N_CTX: Bound = Bound::new("llm.n_ctx", 64.0, 1_048_576.0);
/// llama.cpp's batch is an `i32` token count it allocates up front.
pub const LLM_N_BATCH: Bound = Bound::new("llm.n_batch", 1.0, 65_536.0);
pub const LLM_N_UBATCH: Bound = Bound::new("llm.n_ubatch", 1.0, 65_536.0);
pub const LLM_THREADS: Bound = Bound::threads("llm.threads");
pub const LLM_MAX_TOKENS: Bound = Bound::new("llm.max_tokens", 1.0, 65_536.0);
/// No model has more; `"all"` is the other way to say every layer.
pub const LLM_GPU_LAYERS: Bound = Bound::new("llm.gpu_layers", 0.0, 1024.0);
pub const LLM_TEMPERATURE: Bound = Bound::new("llm.temperature", 0.0, 5.0);
/// 0 = off; more than the vocabulary changes nothing, and llama.cpp takes an `i32`.
pub const LLM_TOP_K: Bound = Bound::new("llm.top_k", 0.0, 100_000.0);
pub const LLM_TOP_P: Bound = Bound::new("llm.top_p", 0.0, 1.0);
pub const LLM_MIN_P: Bound = Bound::new("llm.min_p", 0.0, 1.0);

// [voice]
pub const VOICE_NATURAL_S: Bound = Bound::new("voice.natural_s", 0.1, 60.0);
pub const VOICE_ACCEPTABLE_S: Bound = Bound::new("voice.acceptable_s", 0.1, 60.0);
pub const VOICE_UNUSABLE_S: Bound = Bound::new("voice.unusable_s", 0.1, 60.0);

// [bench]
/// Each run holds one timing per generated token: a hundred is already an hour on a slow model.
pub const BENCH_RUNS: Bound = Bound::new("bench.runs", 1.0, 100.0);
pub const BENCH_PROMPT_TOKENS: Bound = Bound::new("bench.prompt_tokens", 1.0, 65_536.0);
/// Each entry.
pub const BENCH_RESPONSE_TOKENS: Bound = Bound::new("bench.response_tokens", 1.0, 8192.0);
/// The most answer lengths one bench reports.
pub const BENCH_MAX_RESPONSE_LENGTHS: usize = 16;

// [tts]
pub const TTS_RATE: Bound = Bound::new("tts.rate", 0.25, 4.0);
pub const TTS_NOISE_SCALE: Bound = Bound::new("tts.noise_scale", 0.0, 10.0);
pub const TTS_NOISE_W: Bound = Bound::new("tts.noise_w", 0.0, 10.0);
pub const TTS_THREADS: Bound = Bound::threads("tts.threads");

// [audio]
/// Up to an hour: 230 MB of 16 kHz f32 audio.
pub const AUDIO_MAX_UTTERANCE_S: Bound = Bound::new("audio.max_utterance_s", 0.1, 3600.0);

// [stt]
pub const STT_THREADS: Bound = Bound::threads("stt.threads");
/// whisper.cpp's own limit on beams is 16 (0 = greedy).
pub const STT_BEAM_SIZE: Bound = Bound::new("stt.beam_size", 0.0, 16.0);
pub const STT_NO_SPEECH_THRESHOLD: Bound = Bound::new("stt.no_speech_threshold", 0.0, 1.0);
/// -120 dBFS lets everything through: the gate is off.
pub const STT_ENERGY_GATE_DBFS: Bound = Bound::new("stt.energy_gate_dbfs", -120.0, 0.0);
pub const STT_TIMEOUT_S: Bound = Bound::new("stt.timeout_s", 0.1, 86_400.0);

// [pipeline]
pub const PIPELINE_CLAUSE_MIN_WORDS: Bound = Bound::new("pipeline.clause_min_words", 0.0, 100.0);
pub const PIPELINE_FIRST_PIECE_MAX_WORDS: Bound = Bound::new("pipeline.first_piece_max_words", 0.0, 100.0);
pub const PIPELINE_MIN_UTTERANCE_MS: Bound = Bound::new("pipeline.min_utterance_ms", 0.0, 10_000.0);
pub const PIPELINE_CONTEXT_TURNS: Bound = Bound::new("pipeline.context_turns", 0.0, 1000.0);

// [tools]
/// Running timers at most: a desk assistant's kitchen, not a scheduler.
pub const TOOLS_MAX_TIMERS: Bound = Bound::new("tools.max_timers", 1.0, 100.0);
/// Stored facts at most: each is offered to the LLM's context by relevance, so a few hundred.
pub const TOOLS_MAX_FACTS: Bound = Bound::new("tools.max_facts", 1.0, 1000.0);
pub const TOOLS_FACTS_IN_CONTEXT: Bound = Bound::new("tools.facts_in_context", 0.0, 20.0);

// [memory]
/// 16 TiB, in MiB: past any machine this runs on.
pub const MEMORY_HEADROOM_MB: Bound = Bound::new("memory.headroom_mb", 0.0, 16_777_216.0);
pub const MEMORY_LIMIT_MB: Bound = Bound::new("memory.limit_mb", 0.0, 16_777_216.0);

// [metrics], [ui]
pub const METRICS_HZ: Bound = Bound::new("metrics.hz", 0.1, 20.0);
pub const UI_CHARTS_HZ: Bound = Bound::new("ui.charts_hz", 0.5, 10.0);

// [cloud]
pub const CLOUD_CONNECT_TIMEOUT_S: Bound = Bound::new("cloud.connect_timeout_s", 0.1, 600.0);
pub const CLOUD_FIRST_TOKEN_TIMEOUT_S: Bound = Bound::new("cloud.first_token_timeout_s", 0.1, 600.0);
pub const CLOUD_STALL_TIMEOUT_S: Bound = Bound::new("cloud.stall_timeout_s", 0.1, 600.0);

// [router]
pub const ROUTER_LONG_QUESTION_WORDS: Bound = Bound::new("router.long_question_words", 1.0, 100_000.0);
pub const ROUTER_EXPECTED_ANSWER_TOKENS: Bound = Bound::new("router.expected_answer_tokens", 1.0, 65_536.0);

/// Every entry above, for the front ends.
pub const ALL: &[Bound] = &[
    LLM_N_CTX,
    LLM_N_BATCH,
    LLM_N_UBATCH,
    LLM_THREADS,
    LLM_MAX_TOKENS,
    LLM_GPU_LAYERS,
    LLM_TEMPERATURE,
    LLM_TOP_K,
    LLM_TOP_P,
    LLM_MIN_P,
    VOICE_NATURAL_S,
    VOICE_ACCEPTABLE_S,
    VOICE_UNUSABLE_S,
    BENCH_RUNS,
    BENCH_PROMPT_TOKENS,
    BENCH_RESPONSE_TOKENS,
    TTS_RATE,
    TTS_NOISE_SCALE,
    TTS_NOISE_W,
    TTS_THREADS,
    AUDIO_MAX_UTTERANCE_S,
    STT_THREADS,
    STT_BEAM_SIZE,
    STT_NO_SPEECH_THRESHOLD,
    STT_ENERGY_GATE_DBFS,
    STT_TIMEOUT_S,
    PIPELINE_CLAUSE_MIN_WORDS,
    PIPELINE_MIN_UTTERANCE_MS,
    PIPELINE_CONTEXT_TURNS,
    TOOLS_MAX_TIMERS,
    TOOLS_MAX_FACTS,
    TOOLS_FACTS_IN_CONTEXT,
    MEMORY_HEADROOM_MB,
    MEMORY_LIMIT_MB,
    METRICS_HZ,
    UI_CHARTS_HZ,
    CLOUD_CONNECT_TIMEOUT_S,
    CLOUD_FIRST_TOKEN_TIMEOUT_S,
    CLOUD_STALL_TIMEOUT_S,
    ROUTER_LONG_QUESTION_WORDS,
    ROUTER_EXPECTED_ANSWER_TOKENS,
];

/// Every range as the front ends get it.
pub fn limits() -> Vec<Limit> {
    ALL.iter().map(Bound::view).collect()
}

// The live charts' view (`chart_view` command): measured by a front end, not settings, so not
// in [`ALL`]. CSS pixels; a pixel ratio under 1 is a zoomed-out page.
pub const CHART_WIDTH: Bound = Bound::new("chart_view.width", 160.0, 4096.0);
pub const CHART_HEIGHT: Bound = Bound::new("chart_view.height", 120.0, 2160.0);
pub const CHART_PIXEL_RATIO: Bound = Bound::new("chart_view.pixel_ratio", 0.25, 8.0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_range_values_pass_and_others_are_refused_in_words() {
        assert_eq!(BENCH_RUNS.check(3u32), Ok(3));
        assert_eq!(BENCH_RUNS.check(100u32), Ok(100));
        let err = BENCH_RUNS.check(u32::MAX).unwrap_err();
        assert_eq!(err.to_string(), "`bench.runs` must be between 1 and 100, got 4294967295");
        assert!(BENCH_RUNS.check(0u32).is_err());
        assert!(TTS_RATE.check(f32::NAN).is_err());
        assert!(AUDIO_MAX_UTTERANCE_S.check(f64::INFINITY).is_err());
        // f32 values are shown as written, not widened (0.7, not 0.699999988079071).
        let msg = TTS_RATE.check(4.7f32).unwrap_err().to_string();
        assert!(msg.ends_with("got 4.7"), "{msg}");
    }

    #[test]
    fn a_measured_chart_size_is_pulled_into_range_and_nan_refused() {
        assert_eq!(CHART_WIDTH.clamp(612.4), Ok(612.4));
        assert_eq!(CHART_WIDTH.clamp(20.0), Ok(160.0));
        assert_eq!(CHART_WIDTH.clamp(1e9), Ok(4096.0));
        assert_eq!(CHART_PIXEL_RATIO.clamp(0.0), Ok(0.25));
        let err = CHART_HEIGHT.clamp(f64::NAN).unwrap_err().to_string();
        assert_eq!(err, "`chart_view.height` must be a number, got NaN");
        assert!(CHART_WIDTH.clamp(f64::INFINITY).is_err());
    }

    #[test]
    fn thread_counts_stop_at_the_cores_and_say_so() {
        let n = cores() as u32;
        assert_eq!(TTS_THREADS.check(0u32), Ok(0));
        assert_eq!(TTS_THREADS.check(n), Ok(n));
        let msg = TTS_THREADS.check(100_000u32).unwrap_err().to_string();
        assert_eq!(
            msg,
            format!("`tts.threads` must be between 0 (automatic) and {n} (the cores this machine has), got 100000")
        );
    }

    #[test]
    fn every_key_is_a_real_setting() {
        // Serialize the defaults and look each key up, so a renamed setting cannot leave a
        // bound behind that checks nothing.
        let mut config = crate::Config::default();
        config.tts.noise_scale = Some(0.0);
        config.tts.noise_w = Some(0.0);
        let table: toml::Table = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
        for bound in ALL {
            let key = bound.key;
            let (section, field) = key.split_once('.').unwrap();
            let found = table.get(section).and_then(|s| s.get(field));
            assert!(found.is_some(), "{key} is not in the configuration");
            assert!(bound.min <= bound.max(), "{key}");
        }
        let limits = limits();
        assert_eq!(limits.len(), ALL.len());
        assert!(limits.iter().any(|l| l.key == "bench.runs" && l.max == 100.0));
    }
}
