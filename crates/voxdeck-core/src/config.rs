//! The one configuration file, `config.toml`.
//!
//! Every field has a default, so an empty or missing file is a valid configuration; unknown keys
//! are rejected (with their name and line) because a misspelt knob that silently does nothing
//! is worse than an error.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bounds::{self, OutOfRange};
use crate::paths;

/// Errors reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("config file {path}: `{field}` {message}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
}

/// A setting out of its range, or inconsistent with another; a [`ConfigError`] adds the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: String) -> Invalid {
    Invalid { field, message }
}

impl From<OutOfRange> for Invalid {
    fn from(e: OutOfRange) -> Invalid {
        Invalid { field: e.key, message: e.requirement }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where model files live. `VOXDECK_MODELS` overrides it; default `$XDG_DATA_HOME/voxdeck/models`.
    pub models_dir: Option<PathBuf>,
    /// The local LLM and how it is loaded.
    pub llm: LlmConfig,
    /// The voice latency budget that every verdict is judged against.
    pub voice: VoiceThresholds,
    /// `voxdeck bench` settings.
    pub bench: BenchConfig,
    /// Text to speech: the voice, the engine and how fast it speaks.
    pub tts: TtsConfig,
    /// Microphone and speaker.
    pub audio: AudioConfig,
    /// Speech to text: the Whisper model, its worker process and how it decodes.
    pub stt: SttConfig,
    /// The voice loop: sentence streaming, history, threads.
    pub pipeline: PipelineConfig,
    /// The memory check made before any model is loaded.
    pub memory: MemoryConfig,
    /// The system metrics sampled while the engine runs.
    pub metrics: MetricsConfig,
    /// The cloud LLM: an OpenAI-compatible API (OpenRouter, Groq, vLLM, llama-server, ...).
    pub cloud: CloudConfig,
    /// Which engine answers: local, cloud, or chosen per question.
    pub router: RouterConfig,
    /// The control panel (desktop app and `voxdeck serve`).
    pub ui: UiConfig,
    /// The assistant's tools: timers, memory facts, the time, its own state.
    pub tools: ToolsConfig,
}

/// How many layers to offload to the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GpuLayers {
    /// A fixed number of layers (0 = CPU only).
    Count(u32),
    /// `"all"`: every layer, the seed's 29/29.
    Named(AllLayers),
}

/// The only accepted string for [`GpuLayers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllLayers {
    All,
}

impl GpuLayers {
    pub const ALL: GpuLayers = GpuLayers::Named(AllLayers::All);

    /// The count to hand llama.cpp; it clamps to the model's layer count itself.
    pub fn as_count(self) -> u32 {
        match self {
            GpuLayers::Count(n) => n,
            GpuLayers::Named(AllLayers::All) => u32::MAX,
        }
    }
}

impl Default for GpuLayers {
    fn default() -> Self {
        GpuLayers::ALL
    }
}

/// Flash attention policy, as llama.cpp's `--flash-attn auto|on|off`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashAttn {
    #[default]
    Auto,
    On,
    Off,
}

/// The local model and the seed's loading knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Catalog id or path to a GGUF file. Empty: the best installed LLM (Llama 3.2 3B first).
    pub model: String,
    pub gpu_layers: GpuLayers,
    pub flash_attn: FlashAttn,
    /// Lock the weights in RAM so the OS never pages them out mid-answer.
    pub mlock: bool,
    pub mmap: bool,
    pub n_ctx: u32,
    pub n_batch: u32,
    pub n_ubatch: u32,
    /// Threads for generation and prompt processing; 0 = one per available core.
    pub threads: u32,
    /// Upper bound on generated tokens per answer.
    pub max_tokens: u32,
    /// 0 = greedy decoding.
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    pub min_p: f32,
    /// Sampling seed; 0 = a new random seed per answer.
    pub seed: u32,
    pub system_prompt: String,
    /// Prefill the system prompt into the KV cache as soon as the model loads (and again after a
    /// reset), so the first question decodes only its own tokens.
    pub warm_prompt: bool,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            model: String::new(),
            gpu_layers: GpuLayers::ALL,
            flash_attn: FlashAttn::Auto,
            mlock: false,
            mmap: true,
            n_ctx: 4096,
            n_batch: 512,
            n_ubatch: 512,
            threads: 0,
            max_tokens: 256,
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            seed: 0,
            system_prompt: DEFAULT_SYSTEM_PROMPT.to_owned(),
            warm_prompt: true,
        }
    }
}

impl LlmConfig {
    /// Checks the `[llm]` values ([`bounds`] and the rules between them).
    pub fn check(&self) -> Result<(), Invalid> {
        bounds::LLM_N_CTX.check(self.n_ctx)?;
        bounds::LLM_N_BATCH.check(self.n_batch)?;
        bounds::LLM_N_UBATCH.check(self.n_ubatch)?;
        if self.n_ubatch > self.n_batch {
            return Err(invalid(
                "llm.n_ubatch",
                format!("must be at most llm.n_batch ({}), got {}", self.n_batch, self.n_ubatch),
            ));
        }
        bounds::LLM_THREADS.check(self.threads)?;
        bounds::LLM_MAX_TOKENS.check(self.max_tokens)?;
        if let GpuLayers::Count(n) = self.gpu_layers {
            bounds::LLM_GPU_LAYERS.check(n)?;
        }
        bounds::LLM_TEMPERATURE.check(self.temperature)?;
        bounds::LLM_TOP_K.check(self.top_k)?;
        bounds::LLM_TOP_P.check(self.top_p)?;
        bounds::LLM_MIN_P.check(self.min_p)?;
        Ok(())
    }
}

/// Answers are spoken, so ask for speech: short, plain sentences, no markup.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful voice assistant. Your answers are \
spoken aloud, so reply in one to three short, plain sentences. Never use lists, markdown, code \
blocks or emoji.";

/// Voice latency thresholds in seconds (the seed's: natural < 2 s, acceptable < 3 s, unusable > 4 s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceThresholds {
    pub natural_s: f64,
    pub acceptable_s: f64,
    pub unusable_s: f64,
}

impl Default for VoiceThresholds {
    fn default() -> Self {
        VoiceThresholds {
            natural_s: 2.0,
            acceptable_s: 3.0,
            unusable_s: 4.0,
        }
    }
}

impl VoiceThresholds {
    /// Checks the `[voice]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::VOICE_NATURAL_S.check(self.natural_s)?;
        bounds::VOICE_ACCEPTABLE_S.check(self.acceptable_s)?;
        bounds::VOICE_UNUSABLE_S.check(self.unusable_s)?;
        // The later threshold is the one named: it is the field to raise.
        if self.natural_s > self.acceptable_s {
            return Err(invalid(
                "voice.acceptable_s",
                format!("must be at least voice.natural_s ({}), got {}", self.natural_s, self.acceptable_s),
            ));
        }
        if self.acceptable_s > self.unusable_s {
            return Err(invalid(
                "voice.unusable_s",
                format!("must be at least voice.acceptable_s ({}), got {}", self.acceptable_s, self.unusable_s),
            ));
        }
        Ok(())
    }
}

/// `voxdeck bench` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchConfig {
    /// Measured runs per model, after one warm-up; the report gives their median.
    pub runs: u32,
    /// Prompt length for the prompt-processing rate (llama-bench's pp512).
    pub prompt_tokens: u32,
    /// Answer lengths whose response time is reported (the seed's 30/50/100).
    pub response_tokens: Vec<u32>,
    /// The answer length whose verdict is the model's verdict (the seed judged at 50).
    pub verdict_tokens: u32,
    /// The short spoken-style question the response times are measured on.
    pub question: String,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            runs: 3,
            prompt_tokens: 512,
            response_tokens: vec![30, 50, 100],
            verdict_tokens: 50,
            question: "Hey, what's a good way to wind down in the evening?".to_owned(),
        }
    }
}

impl BenchConfig {
    /// Checks the `[bench]` values. A length past the model's context is the bench's own error
    /// (in words, with the context size), not the config's.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::BENCH_RUNS.check(self.runs)?;
        bounds::BENCH_PROMPT_TOKENS.check(self.prompt_tokens)?;
        let lengths = self.response_tokens.len();
        if lengths == 0 || lengths > bounds::BENCH_MAX_RESPONSE_LENGTHS {
            return Err(invalid(
                "bench.response_tokens",
                format!("must list 1 to {} token counts, got {lengths}", bounds::BENCH_MAX_RESPONSE_LENGTHS),
            ));
        }
        for &n in &self.response_tokens {
            bounds::BENCH_RESPONSE_TOKENS.check(n)?;
        }
        if !self.response_tokens.contains(&self.verdict_tokens) {
            return Err(invalid(
                "bench.verdict_tokens",
                format!("must be one of bench.response_tokens {:?}", self.response_tokens),
            ));
        }
        Ok(())
    }
}

/// Which text-to-speech engine speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum TtsEngine {
    /// Piper when a voice is installed and ONNX Runtime loads, else espeak-ng (with a warning).
    #[default]
    Auto,
    /// Piper only: a missing voice or ONNX Runtime is an error.
    Piper,
    /// espeak-ng's own synthesis, always available.
    Espeak,
}

/// `[tts]`: text to speech.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtsConfig {
    /// Piper voice: a catalog id or a path to a `.onnx` file (its `.onnx.json` beside it).
    /// Empty: the best installed voice (catalog order); none installed: espeak-ng.
    pub voice: String,
    pub engine: TtsEngine,
    /// Speaking speed, 1.0 = the voice's normal pace, 2.0 = twice as fast. Piper divides the
    /// voice's length_scale by it; espeak-ng speaks at 175 words per minute times it.
    pub rate: f32,
    /// Piper's generator noise; absent: the voice's own (its `.onnx.json`). 0 = deterministic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f32>,
    /// Piper's phoneme-duration noise; absent: the voice's own. 0 = deterministic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_w: Option<f32>,
    /// Path to ONNX Runtime's `libonnxruntime.so`. Empty: `ORT_DYLIB_PATH`, else the test set's
    /// copy in the models directory (`voxdeck models fetch --test-set`).
    pub onnxruntime: String,
    /// espeak-ng voice for the espeak engine (`espeak-ng --voices` lists them). Piper voices use
    /// the espeak-ng voice their `.onnx.json` names for phonemes.
    pub espeak_voice: String,
    /// Piper inference threads; 0 = ONNX Runtime's default (one per core).
    pub threads: u32,
    /// Trim the silence a voice puts before each sentence to 10 ms (Piper: 30-50 ms, heard as
    /// latency before the first word).
    pub trim_leading_silence: bool,
    /// Piper's idle intra-op threads spin before sleeping (ONNX Runtime's default). Off: with
    /// two or more threads they burn the cores the LLM needs between operators (2 threads
    /// measured 1.2-1.45x slower with spinning on a busy 2-core machine; 1 thread has no pool).
    pub spin_threads: bool,
    /// Piper computes subnormal floats as 0 (`session.set_denormal_as_zero`): x86 handles them
    /// in microcode (measured 0.8-0.95x the synthesis time on a busy machine, no change on a
    /// quiet one).
    pub denormal_as_zero: bool,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            voice: String::new(),
            engine: TtsEngine::Auto,
            rate: 1.0,
            noise_scale: None,
            noise_w: None,
            onnxruntime: String::new(),
            espeak_voice: "en-us".to_owned(),
            threads: 0,
            trim_leading_silence: true,
            spin_threads: false,
            denormal_as_zero: true,
        }
    }
}

impl TtsConfig {
    /// Checks the `[tts]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::TTS_RATE.check(self.rate)?;
        if let Some(v) = self.noise_scale {
            bounds::TTS_NOISE_SCALE.check(v)?;
        }
        if let Some(v) = self.noise_w {
            bounds::TTS_NOISE_W.check(v)?;
        }
        bounds::TTS_THREADS.check(self.threads)?;
        let voice_ok = !self.espeak_voice.is_empty()
            && !self.espeak_voice.contains(|c: char| c.is_whitespace() || c.is_control());
        if !voice_ok {
            return Err(invalid(
                "tts.espeak_voice",
                format!("must be an espeak-ng voice name such as \"en-us\", got {:?}", self.espeak_voice),
            ));
        }
        Ok(())
    }
}

/// `[audio]`: microphone and speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    /// Microphone, by name as `voxdeck devices` lists it (exact, else a unique part of it,
    /// case-insensitive). Empty: the system's default input.
    pub input_device: String,
    /// Speaker, by name as `voxdeck devices` lists it. Empty: the system's default output.
    pub output_device: String,
    /// The longest utterance recorded, in seconds: capture stops there (push-to-talk held down
    /// for 10 minutes ends at this limit with a notice, never with unbounded memory).
    pub max_utterance_s: f64,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            input_device: String::new(),
            output_device: String::new(),
            max_utterance_s: 60.0,
        }
    }
}

impl AudioConfig {
    /// Checks the `[audio]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::AUDIO_MAX_UTTERANCE_S.check(self.max_utterance_s)?;
        Ok(())
    }
}

/// `[stt]`: speech to text with Whisper, which runs in its own worker process (`voxdeck-stt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SttConfig {
    /// Catalog id or path to a whisper.cpp ggml file. Empty: the best installed STT model
    /// (catalog order: Whisper base.en first, then the test set's tiny.en).
    pub model: String,
    /// Whisper threads; 0 = one per core, at most 4.
    pub threads: u32,
    /// Spoken language ("en"); "auto" detects it (multilingual models only).
    pub language: String,
    /// 0 = greedy decoding; otherwise the beam width (at most 16).
    pub beam_size: u32,
    /// Text that conditions the decoder: names and spellings it should prefer.
    pub initial_prompt: String,
    /// The worker binary. Absent: `voxdeck-stt` next to the running executable, else on PATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<PathBuf>,
    /// A segment is dropped as non-speech when Whisper's no-speech probability is above this
    /// and its tokens are unlikely (average log-probability below -1).
    pub no_speech_threshold: f32,
    /// Windows whose 20 ms frames never reach this level (dBFS) are silence and are not sent to
    /// Whisper at all.
    pub energy_gate_dbfs: f32,
    /// Longest wait, in seconds, for the model to load and for each 30 s window; a worker that
    /// takes longer is stopped (and restarted on the next request).
    pub timeout_s: f64,
    /// Encode only as much of Whisper's 30 s window as the utterance fills (plus a second):
    /// a short question transcribes several times faster. false = the full window, always.
    pub fit_audio_ctx: bool,
    /// Run Whisper on the GPU (a CUDA build of the worker with a device present). The worker
    /// then holds a second CUDA context beside the LLM's; the memory check counts both.
    pub gpu: bool,
}

impl Default for SttConfig {
    fn default() -> Self {
        SttConfig {
            model: String::new(),
            threads: 0,
            language: "en".to_owned(),
            beam_size: 0,
            initial_prompt: String::new(),
            worker: None,
            no_speech_threshold: 0.6,
            energy_gate_dbfs: -50.0,
            timeout_s: 120.0,
            fit_audio_ctx: true,
            gpu: true,
        }
    }
}

impl SttConfig {
    /// Checks the `[stt]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::STT_THREADS.check(self.threads)?;
        let language_ok = (2..=5).contains(&self.language.len()) && self.language.chars().all(|c| c.is_ascii_lowercase());
        if !language_ok {
            return Err(invalid(
                "stt.language",
                format!("must be a Whisper language code such as \"en\", or \"auto\", got {:?}", self.language),
            ));
        }
        bounds::STT_BEAM_SIZE.check(self.beam_size)?;
        if self.initial_prompt.contains('\0') {
            return Err(invalid("stt.initial_prompt", "must not contain NUL characters".into()));
        }
        bounds::STT_NO_SPEECH_THRESHOLD.check(self.no_speech_threshold)?;
        bounds::STT_ENERGY_GATE_DBFS.check(self.energy_gate_dbfs)?;
        bounds::STT_TIMEOUT_S.check(self.timeout_s)?;
        Ok(())
    }
}

/// `[pipeline]`: how a push-to-talk turn runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Speak each sentence as soon as it is complete (true), or wait for the whole answer and
    /// then speak it (false; for comparison only, it is much slower to first audio).
    pub stream_sentences: bool,
    /// The first thing spoken may be a clause rather than a sentence: a break at `,` `;` `:` or
    /// a dash after at least this many words starts speech early. 0 = whole sentences only.
    pub clause_min_words: u32,
    /// The first thing spoken is cut after about this many words when no clause break or
    /// sentence end came first (before a word such as "and", "which", "of"; never beside a
    /// number). 0 = off. Later pieces are whole sentences.
    pub first_piece_max_words: u32,
    /// Utterances shorter than this (milliseconds) are "didn't catch that", with no
    /// transcription and no LLM call.
    pub min_utterance_ms: u32,
    /// Keep every turn in the history database (`$XDG_DATA_HOME/voxdeck/history.sqlite3`).
    pub history: bool,
    /// The history database; empty = the default path above.
    pub history_path: String,
    /// Earlier turns offered to the LLM as context at most (fewer when they do not fit n_ctx).
    pub context_turns: u32,
    /// Transcribe while the button is held (at each pause, or every second of new speech), so
    /// that at release the last pass is the transcript when only silence followed it.
    pub incremental_stt: bool,
    /// Prefill the conversation with each transcript made while the button is held (local model
    /// only), so that at release only what the final question changes is decoded.
    pub draft_prefill: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            stream_sentences: true,
            clause_min_words: 3,
            first_piece_max_words: 8,
            min_utterance_ms: 250,
            history: true,
            history_path: String::new(),
            context_turns: 16,
            incremental_stt: true,
            draft_prefill: true,
        }
    }
}

impl PipelineConfig {
    /// Checks the `[pipeline]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::PIPELINE_CLAUSE_MIN_WORDS.check(self.clause_min_words)?;
        bounds::PIPELINE_FIRST_PIECE_MAX_WORDS.check(self.first_piece_max_words)?;
        bounds::PIPELINE_MIN_UTTERANCE_MS.check(self.min_utterance_ms)?;
        bounds::PIPELINE_CONTEXT_TURNS.check(self.context_turns)?;
        Ok(())
    }
}

/// `[memory]`: the check made before a model is loaded, so that a model that does not fit is
/// refused with the numbers instead of the machine running out of memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Check before loading (true), or load whatever happens (false).
    pub check: bool,
    /// Memory kept free for the system and other programs, MiB.
    pub headroom_mb: u64,
    /// Pretend at most this much memory is available, MiB (0 = what the system reports). For
    /// sharing a machine with other work, and for testing the refusal.
    pub limit_mb: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            check: true,
            headroom_mb: 256,
            limit_mb: 0,
        }
    }
}

impl MemoryConfig {
    /// Checks the `[memory]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::MEMORY_HEADROOM_MB.check(self.headroom_mb)?;
        bounds::MEMORY_LIMIT_MB.check(self.limit_mb)?;
        Ok(())
    }
}

/// `[metrics]`: the background sampler of RAM, CPU and GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Samples per second (2 to 4 keeps the charts live for well under 1 % of a core).
    pub hz: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { hz: 2.0 }
    }
}

impl MetricsConfig {
    /// Checks the `[metrics]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::METRICS_HZ.check(self.hz)?;
        Ok(())
    }
}

/// `[ui]`: the control panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Push-to-talk from anywhere on the desktop (hold to talk), in Tauri's accelerator syntax.
    /// Empty: none (Space still works while the window has focus).
    pub global_shortcut: String,
    /// How often the live charts are redrawn and pushed while something changes (2 to 4).
    pub charts_hz: f64,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            global_shortcut: "CommandOrControl+Shift+Space".into(),
            charts_hz: 2.0,
        }
    }
}

impl UiConfig {
    /// Checks the `[ui]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::UI_CHARTS_HZ.check(self.charts_hz)?;
        crate::shortcut::check(&self.global_shortcut).map_err(|message| invalid("ui.global_shortcut", message))?;
        Ok(())
    }
}

/// Known OpenAI-compatible providers; `custom` takes `base_url` and `model` as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    OpenRouter,
    Groq,
    Custom,
}

impl CloudProvider {
    /// (base URL, model, API key variable) when not configured.
    pub fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            CloudProvider::OpenRouter => ("https://openrouter.ai/api/v1", "qwen/qwen-2.5-7b-instruct", "OPENROUTER_API_KEY"),
            CloudProvider::Groq => ("https://api.groq.com/openai/v1", "qwen/qwen3-32b", "GROQ_API_KEY"),
            CloudProvider::Custom => ("", "", "VOXDECK_CLOUD_API_KEY"),
        }
    }
}

/// `[cloud]`: the cloud engine. The API key is never stored here: it comes from the OS keyring
/// (`voxdeck cloud set-key`) or from the environment variable `api_key_env`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    pub provider: CloudProvider,
    /// The API's base URL, up to and including `/v1`; empty = the provider's.
    pub base_url: String,
    /// The model name the API knows; empty = the provider's Qwen 2.5 7B (or equivalent).
    pub model: String,
    /// The environment variable holding the API key; empty = the provider's usual one.
    pub api_key_env: String,
    /// Look for the key in the OS keyring (Secret Service) before the environment.
    pub use_keyring: bool,
    /// Connecting longer than this is a failure (answered locally).
    pub connect_timeout_s: f64,
    /// No first token within this, from the request, is a failure (the seed's "unusable").
    pub first_token_timeout_s: f64,
    /// A stream that sends nothing for this long after its first token is broken.
    pub stall_timeout_s: f64,
    /// For `provider = "custom"`: the base URL whose host the environment key is sent to;
    /// empty = `base_url` as this file sets it. The panel never changes it: when a base URL is
    /// changed from the panel, the one the key was for is written here, so the key does not
    /// follow the change, now or after a restart (`llm::cloud::pin_env_key`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key_url: String,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            provider: CloudProvider::OpenRouter,
            base_url: String::new(),
            model: String::new(),
            api_key_env: String::new(),
            use_keyring: true,
            connect_timeout_s: 2.0,
            first_token_timeout_s: 4.0,
            stall_timeout_s: 4.0,
            key_url: String::new(),
        }
    }
}

impl CloudConfig {
    pub fn base_url(&self) -> &str {
        if self.base_url.is_empty() { self.provider.defaults().0 } else { &self.base_url }
    }
    pub fn model(&self) -> &str {
        if self.model.is_empty() { self.provider.defaults().1 } else { &self.model }
    }
    pub fn api_key_env(&self) -> &str {
        if self.api_key_env.is_empty() { self.provider.defaults().2 } else { &self.api_key_env }
    }

    /// Checks the `[cloud]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::CLOUD_CONNECT_TIMEOUT_S.check(self.connect_timeout_s)?;
        bounds::CLOUD_FIRST_TOKEN_TIMEOUT_S.check(self.first_token_timeout_s)?;
        bounds::CLOUD_STALL_TIMEOUT_S.check(self.stall_timeout_s)?;
        if !self.base_url.is_empty() {
            check_url(&self.base_url).map_err(|message| invalid("cloud.base_url", message))?;
        }
        if self.provider == CloudProvider::Custom {
            let custom = |field| invalid(field, "must be set when provider = \"custom\"".into());
            if self.base_url.is_empty() {
                return Err(custom("cloud.base_url"));
            }
            if self.model.is_empty() {
                return Err(custom("cloud.model"));
            }
        }
        Ok(())
    }
}

/// An API base URL the cloud client can call: http or https, with a host (the `url` crate's
/// parser, as reqwest re-exports it).
fn check_url(text: &str) -> Result<(), String> {
    let example = "such as https://openrouter.ai/api/v1";
    match reqwest::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(format!("must be an http:// or https:// URL {example}, got {text:?}")),
        Err(_) => Err(format!("must be a URL {example}, got {text:?}")),
    }
}

/// Which engine answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Always the local model.
    Local,
    /// Always the cloud (the local model answers only when the cloud fails).
    Cloud,
    /// Per question, by the router's policy.
    #[default]
    Auto,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Cloud => "cloud",
            Mode::Auto => "auto",
        }
    }
}

/// `[router]`: the `auto` policy, in the order it is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    pub mode: Mode,
    /// Phrases that ask for the cloud outright ("think hard").
    pub deep_phrases: Vec<String>,
    /// Words that mark a task the small local model does badly: code, planning, research.
    pub cloud_cues: Vec<String>,
    /// Questions longer than this many words, or with several parts, go to the cloud.
    pub long_question_words: u32,
    /// The answer length (tokens) used to predict the local model's time to answer.
    pub expected_answer_tokens: u32,
}

impl Default for RouterConfig {
    fn default() -> Self {
        let words = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        RouterConfig {
            mode: Mode::Auto,
            deep_phrases: words(&["think hard", "deep think", "think deeply", "think carefully", "take your time"]),
            cloud_cues: words(&[
                "code", "program", "function", "script", "python", "rust", "javascript", "sql", "regex", "debug",
                "compile", "algorithm", "plan", "itinerary", "schedule", "strategy", "research", "compare",
                "analyze", "analyse", "explain in detail", "step by step", "pros and cons", "summarize",
                "summarise", "essay", "prove", "calculate",
            ]),
            long_question_words: 40,
            expected_answer_tokens: 50,
        }
    }
}

impl RouterConfig {
    /// Checks the `[router]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::ROUTER_LONG_QUESTION_WORDS.check(self.long_question_words)?;
        bounds::ROUTER_EXPECTED_ANSWER_TOKENS.check(self.expected_answer_tokens)?;
        Ok(())
    }
}

/// `[tools]`: what the assistant may do besides talking (the allowlist is `tools::spec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    /// Tools at all: timers, memory, the time, the assistant's own state.
    pub enabled: bool,
    /// Match common phrasings ("set a timer for ten minutes") without any LLM.
    pub fast_path: bool,
    /// Offer the tools to the LLMs (local under a grammar, cloud as OpenAI `tools`).
    pub offer_to_llm: bool,
    /// Running timers at most; one more is refused.
    pub max_timers: u32,
    /// Stored facts at most; one more is refused.
    pub max_facts: u32,
    /// Facts put in the LLM's context for a question, the most relevant first (0 = none).
    pub facts_in_context: u32,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig { enabled: true, fast_path: true, offer_to_llm: true, max_timers: 50, max_facts: 200, facts_in_context: 3 }
    }
}

impl ToolsConfig {
    /// Checks the `[tools]` values.
    fn validate(&self) -> Result<(), Invalid> {
        bounds::TOOLS_MAX_TIMERS.check(self.max_timers)?;
        bounds::TOOLS_MAX_FACTS.check(self.max_facts)?;
        bounds::TOOLS_FACTS_IN_CONTEXT.check(self.facts_in_context)?;
        Ok(())
    }
}

impl Config {
    /// Loads the configuration: `explicit` (from `--config`), else `VOXDECK_CONFIG`, else the
    /// XDG file. A missing XDG file means defaults; a missing explicit file is an error.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match paths::config_file(explicit) {
            paths::ConfigLocation::Explicit(path) => Config::from_file(&path),
            paths::ConfigLocation::Default(path) if path.exists() => Config::from_file(&path),
            paths::ConfigLocation::Default(_) | paths::ConfigLocation::None => Ok(Config::default()),
        }
    }

    /// Reads and validates one file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Parses and validates TOML text; `path` is only used in error messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text.as_bytes()[..span.start.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1)
                .unwrap_or(1);
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                message: e.message().to_owned(),
            }
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks every section against [`bounds`] and its own rules between settings; the first
    /// problem is the error. Front ends call it again after applying their flags.
    pub fn check(&self) -> Result<(), Invalid> {
        self.llm.check()?;
        self.voice.validate()?;
        self.bench.validate()?;
        self.tts.validate()?;
        self.audio.validate()?;
        self.stt.validate()?;
        self.pipeline.validate()?;
        self.memory.validate()?;
        self.cloud.validate()?;
        self.router.validate()?;
        self.tools.validate()?;
        self.ui.validate()?;
        self.metrics.validate()
    }

    /// Every section's first problem, for a form that marks each field at once (the same
    /// rules as [`Config::check`]).
    pub fn problems(&self) -> Vec<Invalid> {
        [
            self.llm.check(),
            self.voice.validate(),
            self.bench.validate(),
            self.tts.validate(),
            self.audio.validate(),
            self.stt.validate(),
            self.pipeline.validate(),
            self.memory.validate(),
            self.cloud.validate(),
            self.router.validate(),
            self.tools.validate(),
            self.ui.validate(),
            self.metrics.validate(),
        ]
        .into_iter()
        .filter_map(Result::err)
        .collect()
    }

    /// [`Config::check`], with the file named in the error.
    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        self.check().map_err(|Invalid { field, message }| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            message,
        })
    }

    /// The models directory after the `VOXDECK_MODELS` override.
    pub fn models_dir(&self) -> PathBuf {
        paths::models_dir(self.models_dir.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn seed_knobs_parse() {
        let c = parse(
            "[llm]\nmodel = \"qwen2.5-7b\"\ngpu_layers = 20\nflash_attn = \"on\"\nmlock = true\n\
             n_ctx = 2048\nn_batch = 512\nn_ubatch = 256\nthreads = 1\n",
        )
        .unwrap();
        assert_eq!(c.llm.gpu_layers, GpuLayers::Count(20));
        assert_eq!(c.llm.flash_attn, FlashAttn::On);
        assert!(c.llm.mlock);
        assert_eq!((c.llm.n_ctx, c.llm.n_batch, c.llm.n_ubatch, c.llm.threads), (2048, 512, 256, 1));
        assert_eq!(parse("[llm]\ngpu_layers = \"all\"").unwrap().llm.gpu_layers, GpuLayers::ALL);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse("[llm]\nn_ctx = 2048\ngpu_layer = 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::Parse { line: 3, .. }), "{msg}");
        assert!(msg.contains("gpu_layer"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn wrong_type_names_field_and_line() {
        let err = parse("[voice]\nnatural_s = 2.0\n\n[llm]\nn_ctx = \"big\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn bad_gpu_layers_string_is_rejected() {
        assert!(parse("[llm]\ngpu_layers = \"most\"").is_err());
    }

    #[test]
    fn inconsistent_values_name_the_field() {
        let msg = parse("[llm]\nn_batch = 128\nn_ubatch = 512\n").unwrap_err().to_string();
        assert!(msg.contains("llm.n_ubatch"), "{msg}");
        let msg = parse("[voice]\nnatural_s = 5.0\n").unwrap_err().to_string();
        assert!(msg.contains("voice"), "{msg}");
        let msg = parse("[bench]\nverdict_tokens = 40\n").unwrap_err().to_string();
        assert!(msg.contains("bench.verdict_tokens"), "{msg}");
    }

    #[test]
    fn tts_section_parses() {
        let c = parse(
            "[tts]\nvoice = \"piper-en_us-joe-medium\"\nengine = \"piper\"\nrate = 1.25\nnoise_scale = 0.0\n\
             onnxruntime = \"/opt/ort/libonnxruntime.so\"\nespeak_voice = \"en-gb\"\nthreads = 1\n",
        )
        .unwrap();
        assert_eq!(c.tts.voice, "piper-en_us-joe-medium");
        assert_eq!(c.tts.engine, TtsEngine::Piper);
        assert_eq!(c.tts.rate, 1.25);
        assert_eq!((c.tts.noise_scale, c.tts.noise_w), (Some(0.0), None));
        assert_eq!(c.tts.onnxruntime, "/opt/ort/libonnxruntime.so");
        assert_eq!((c.tts.espeak_voice.as_str(), c.tts.threads), ("en-gb", 1));
        assert_eq!(parse("").unwrap().tts, TtsConfig::default());
        assert_eq!(parse("[tts]\nengine = \"espeak\"").unwrap().tts.engine, TtsEngine::Espeak);
    }

    #[test]
    fn bad_tts_values_name_the_field() {
        let msg = parse("[tts]\nrate = 0.0\n").unwrap_err().to_string();
        assert!(msg.contains("tts.rate"), "{msg}");
        let msg = parse("[tts]\nnoise_w = -1.0\n").unwrap_err().to_string();
        assert!(msg.contains("tts.noise_w"), "{msg}");
        let msg = parse("[tts]\nespeak_voice = \"\"\n").unwrap_err().to_string();
        assert!(msg.contains("tts.espeak_voice"), "{msg}");
        let msg = parse("[tts]\nengine = \"festival\"\n").unwrap_err().to_string();
        assert!(msg.contains("line 2"), "{msg}");
        let msg = parse("[tts]\nspeed = 1.0\n").unwrap_err().to_string();
        assert!(msg.contains("speed"), "{msg}");
    }

    #[test]
    fn audio_section_parses_and_validates() {
        assert_eq!(parse("").unwrap().audio, AudioConfig::default());
        assert_eq!(AudioConfig::default().max_utterance_s, 60.0);
        let c = parse("[audio]\ninput_device = \"USB Mic\"\noutput_device = \"default\"\nmax_utterance_s = 600\n").unwrap();
        assert_eq!(c.audio.input_device, "USB Mic");
        assert_eq!(c.audio.output_device, "default");
        assert_eq!(c.audio.max_utterance_s, 600.0);
        assert_eq!(parse("[audio]\nmax_utterance_s = 2.5").unwrap().audio.max_utterance_s, 2.5);
        for bad in ["0", "-1.0", "7200", "nan", "inf"] {
            let msg = parse(&format!("[audio]\nmax_utterance_s = {bad}\n")).unwrap_err().to_string();
            assert!(msg.contains("audio.max_utterance_s"), "{bad}: {msg}");
        }
        let msg = parse("[audio]\ninput = \"x\"\n").unwrap_err().to_string();
        assert!(msg.contains("input") && msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn numbers_that_would_crash_or_exhaust_the_machine_are_refused_with_their_range() {
        let cores = bounds::cores();
        for (text, expected) in [
            ("[bench]\nruns = 4294967295", "`bench.runs` must be between 1 and 100, got 4294967295".to_owned()),
            (
                "[bench]\nresponse_tokens = [4294967295]\nverdict_tokens = 4294967295",
                "`bench.response_tokens` must be between 1 and 8192, got 4294967295".to_owned(),
            ),
            (
                "[llm]\nn_batch = 4294967295\nn_ubatch = 512",
                "`llm.n_batch` must be between 1 and 65536, got 4294967295".to_owned(),
            ),
            (
                "[tts]\nthreads = 100000",
                format!("`tts.threads` must be between 0 (automatic) and {cores} (the cores this machine has), got 100000"),
            ),
            (
                "[stt]\nthreads = 256",
                format!("`stt.threads` must be between 0 (automatic) and {cores} (the cores this machine has), got 256"),
            ),
            ("[llm]\ngpu_layers = 4294967295", "`llm.gpu_layers` must be between 0 and 1024, got 4294967295".to_owned()),
            ("[llm]\ntop_k = 4294967295", "`llm.top_k` must be between 0 and 100000, got 4294967295".to_owned()),
            ("[memory]\nheadroom_mb = 9223372036854775807", "`memory.headroom_mb` must be between 0".to_owned()),
        ] {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(&expected), "{text}:\n  got      {msg}\n  expected {expected}");
        }
        // The largest values are accepted, so the bounds do not cut off real use.
        let c = parse(&format!(
            "[llm]\nn_ctx = 131072\nn_batch = 65536\nn_ubatch = 65536\nthreads = {cores}\n\
             [bench]\nruns = 100\n[tts]\nthreads = {cores}\n"
        ))
        .unwrap();
        assert_eq!((c.llm.n_batch, c.bench.runs, c.tts.threads), (65536, 100, cores as u32));
    }

    #[test]
    fn stt_section_parses_and_validates() {
        assert_eq!(parse("").unwrap().stt, SttConfig::default());
        let c = parse(
            "[stt]\nmodel = \"whisper-tiny.en\"\nthreads = 1\nlanguage = \"en\"\nbeam_size = 5\n\
             initial_prompt = \"Voxdeck, Jetson.\"\nworker = \"/opt/voxdeck/voxdeck-stt\"\n\
             no_speech_threshold = 0.5\nenergy_gate_dbfs = -60.0\ntimeout_s = 30.0\n",
        )
        .unwrap();
        assert_eq!(c.stt.model, "whisper-tiny.en");
        assert_eq!((c.stt.threads, c.stt.beam_size), (1, 5));
        assert_eq!(c.stt.initial_prompt, "Voxdeck, Jetson.");
        assert_eq!(c.stt.worker.as_deref(), Some(Path::new("/opt/voxdeck/voxdeck-stt")));
        assert_eq!((c.stt.no_speech_threshold, c.stt.energy_gate_dbfs, c.stt.timeout_s), (0.5, -60.0, 30.0));
        for (text, field) in [
            ("beam_size = 40", "stt.beam_size"),
            ("language = \"English\"", "stt.language"),
            ("no_speech_threshold = 1.5", "stt.no_speech_threshold"),
            ("energy_gate_dbfs = 3.0", "stt.energy_gate_dbfs"),
            ("timeout_s = 0.0", "stt.timeout_s"),
        ] {
            let msg = parse(&format!("[stt]\n{text}\n")).unwrap_err().to_string();
            assert!(msg.contains(field), "{text}: {msg}");
        }
        let msg = parse("[stt]\nbeam = 5\n").unwrap_err().to_string();
        assert!(msg.contains("beam") && msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn panel_fields_are_checked_by_the_loader_with_the_field_named() {
        let msg = parse("[cloud]\nbase_url = \"not a url\"\n").unwrap_err().to_string();
        assert!(msg.contains("`cloud.base_url` must be a URL"), "{msg}");
        let msg = parse("[cloud]\nbase_url = \"ftp://example.com/v1\"\n").unwrap_err().to_string();
        assert!(msg.contains("`cloud.base_url` must be an http:// or https:// URL"), "{msg}");
        assert!(parse("[cloud]\nbase_url = \"http://127.0.0.1:8080/v1\"\n").is_ok());
        let msg = parse("[cloud]\nprovider = \"custom\"\nbase_url = \"http://h/v1\"\n").unwrap_err().to_string();
        assert!(msg.contains("`cloud.model` must be set when provider = \"custom\""), "{msg}");
        let msg = parse("[ui]\nglobal_shortcut = \"Banana+Q\"\n").unwrap_err().to_string();
        assert!(msg.contains("`ui.global_shortcut` does not know the key \"Banana\""), "{msg}");
        assert!(parse("[ui]\nglobal_shortcut = \"\"\n").is_ok(), "no shortcut");
        let msg = parse("[llm]\nmax_tokens = 1000000\n").unwrap_err().to_string();
        assert!(msg.contains("`llm.max_tokens` must be between 1 and 65536, got 1000000"), "{msg}");
        // A reversed budget names the field to change, not only the section.
        let msg = parse("[voice]\nnatural_s = 3.0\nacceptable_s = 2.0\n").unwrap_err().to_string();
        assert!(msg.contains("`voice.acceptable_s` must be at least voice.natural_s (3), got 2"), "{msg}");
        let msg = parse("[voice]\nunusable_s = 2.5\n").unwrap_err().to_string();
        assert!(msg.contains("`voice.unusable_s` must be at least voice.acceptable_s (3), got 2.5"), "{msg}");
    }

    #[test]
    fn problems_lists_each_sections_first_problem() {
        let mut c = Config::default();
        assert!(c.problems().is_empty());
        c.llm.max_tokens = 1_000_000;
        c.cloud.base_url = "not a url".into();
        c.ui.global_shortcut = "Banana+Q".into();
        c.voice.acceptable_s = 1.0;
        let fields: Vec<&str> = c.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, ["llm.max_tokens", "voice.acceptable_s", "cloud.base_url", "ui.global_shortcut"]);
        assert_eq!(c.check().unwrap_err(), c.problems()[0]);
    }
}
