//! What a finished turn leaves behind: [`TurnRecord`] and its [`Outcome`]. A leaf module:
//! the voice loop (`pipeline`) fills records in, `history` stores and reads them back, and
//! neither needs the other to know the type.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, for records that outlive the process.
pub fn unix_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered and spoken to the end.
    Answered,
    /// Cut short by a press (barge-in); `answer` holds what was actually spoken.
    Interrupted,
    /// Nothing was understood (too short, silence, or an empty transcript): no LLM call.
    NoSpeech,
    /// A stage failed; `error` says which and why.
    Failed,
}

/// Everything a turn leaves behind: its text, which engine answered and why, and its timeline.
/// This is `voxdeck talk --json`'s object, the history's row and the UI's per-turn record, so
/// its keys are stable (documented in the README). Times are milliseconds relative to the
/// push-to-talk release; a milestone that did not happen is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct TurnRecord {
    /// Turn number within its conversation, from 1.
    pub turn: u64,
    /// The conversation (one engine session) the turn belongs to.
    pub conversation: String,
    /// Wall-clock time of the press, milliseconds since the Unix epoch.
    pub started_unix_ms: i64,
    pub outcome: Outcome,
    /// What the user said (Whisper's transcript); empty when nothing was understood.
    pub transcript: String,
    /// The answer as kept in history: the whole answer, or for an interrupted turn only what
    /// was actually spoken before the press.
    pub answer: String,
    /// The answer as generated (longer than `answer` when interrupted).
    pub generated: String,
    /// Whether the turn was cut short by a press.
    pub interrupted: bool,
    /// "local" or "cloud"; `null` when no LLM was asked.
    pub engine: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// Its short name, as the panel labels the turn ("SmolLM2 135M", "Qwen 2.5 7B").
    pub model_name: Option<String>,
    /// Why that engine was chosen ("mode local", "auto: code question", ...).
    pub route_reason: Option<String>,
    /// That reason in a few words, for a badge ("local", "auto → local: short question").
    pub route_label: Option<String>,
    /// Why the chosen engine was abandoned for another (cloud failures), if it was.
    pub fallback: Option<String>,
    /// What went wrong, for `outcome: failed` (and warnings such as a cut stream).
    pub error: Option<String>,

    pub press_ms: Option<f64>,
    pub release_ms: Option<f64>,
    pub transcript_ms: Option<f64>,
    pub first_token_ms: Option<f64>,
    pub first_sentence_ms: Option<f64>,
    pub first_audio_ms: Option<f64>,
    /// The first answer sample above -40 dBFS leaving the output: what the user hears first.
    /// For the speaker, when the output callback took it; for a WAV file, the write time plus
    /// the piece's leading silence.
    pub first_audible_ms: Option<f64>,
    pub last_token_ms: Option<f64>,
    pub last_audio_ms: Option<f64>,
    /// The barge-in press that ended this turn, and when playback and generation were stopped.
    pub interrupted_ms: Option<f64>,
    pub silenced_ms: Option<f64>,

    /// Seconds of speech captured.
    pub utterance_s: f64,
    /// Speech to text wall time after the release (0 when a pass made while the button was
    /// held was kept).
    pub stt_ms: Option<f64>,
    /// Whisper passes made while the button was held (`pipeline.incremental_stt`).
    pub stt_passes: u32,
    /// The transcript is the last pass made while the button was held (only silence came
    /// after it), so none was needed after release.
    pub stt_reused: bool,
    /// The LLM's figures: new prompt tokens, reused cached ones, their rates.
    pub prompt_tokens: Option<u32>,
    pub cached_tokens: Option<u32>,
    pub prompt_tok_s: Option<f64>,
    pub gen_tokens: Option<u32>,
    pub gen_tok_s: Option<f64>,
    /// Engine time to first token (template, prompt processing, network for the cloud).
    pub ttft_ms: Option<f64>,
    /// Sentences (or first clause) spoken, and the text-to-speech time they took.
    pub sentences: u32,
    pub tts_ms: Option<f64>,
    /// Synthesis time of the first sentence alone (a term of time to first audio).
    pub first_sentence_tts_ms: Option<f64>,
    /// Seconds of answer audio synthesised, and `tts_ms / 1000 / tts_audio_s`.
    pub tts_audio_s: f64,
    pub tts_rtf: Option<f64>,
    /// The TTS voice.
    pub voice: Option<String>,
    /// Where the turn ran on the GPU and what voxdeck held there when it ended.
    pub gpu: TurnGpu,
    /// The tools the assistant called in this turn, in order (empty for a plain answer).
    pub tool_calls: Vec<ToolCallRecord>,
    /// When the first tool call's result was ready, ms from release.
    pub tool_ms: Option<f64>,
    /// Not an answer to a question: something the assistant said on its own (a timer is due).
    pub announcement: bool,
}

/// One tool call of a turn: what was called, by whom, what it gave and how long it took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct ToolCallRecord {
    /// The tool's name as called (refused calls keep the name the model gave).
    pub name: String,
    /// The arguments, a JSON object's text, as called.
    pub arguments: String,
    /// Who made the call: "fast_path" (matched without an LLM), "local" or "cloud".
    pub source: String,
    /// Carried out (false: refused or failed; `result` says why).
    pub ok: bool,
    /// What the tool gave the model.
    pub result: String,
    /// The sentence for the user.
    pub spoken: String,
    /// When the call was made, ms from release.
    pub at_ms: Option<f64>,
    /// How long running the tool took, ms.
    pub run_ms: f64,
}

/// A turn's GPU facts, each from the component that knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(default)]
pub struct TurnGpu {
    /// The local LLM's layers on the GPU and its total (llama.cpp's load log; 0 of N on the
    /// CPU). `None` when the cloud answered.
    pub llm_layers: Option<u32>,
    pub llm_total_layers: Option<u32>,
    /// The GPU the Whisper worker ran on ("CUDA0"); `None`: the CPU.
    pub stt_device: Option<String>,
    /// The GPU reading when the turn ended: the device, voxdeck's memory per process and where
    /// that figure comes from, load, clock, power mode. `None` without a GPU source.
    pub reading: Option<crate::sysmon::GpuSnapshot>,
}

impl Default for TurnRecord {
    /// Fields missing from a stored record (written by an older voxdeck) read as empty.
    fn default() -> Self {
        let mut r = TurnRecord::new("", 0);
        r.started_unix_ms = 0;
        r
    }
}

impl TurnRecord {
    /// An empty record for turn `turn` of `conversation`.
    pub fn new(conversation: &str, turn: u64) -> TurnRecord {
        TurnRecord {
            turn,
            conversation: conversation.to_owned(),
            started_unix_ms: unix_ms_now(),
            outcome: Outcome::Failed,
            transcript: String::new(),
            answer: String::new(),
            generated: String::new(),
            interrupted: false,
            engine: None,
            model: None,
            model_name: None,
            route_reason: None,
            route_label: None,
            fallback: None,
            error: None,
            press_ms: None,
            release_ms: None,
            transcript_ms: None,
            first_token_ms: None,
            first_sentence_ms: None,
            first_audio_ms: None,
            first_audible_ms: None,
            last_token_ms: None,
            last_audio_ms: None,
            interrupted_ms: None,
            silenced_ms: None,
            utterance_s: 0.0,
            stt_ms: None,
            stt_passes: 0,
            stt_reused: false,
            prompt_tokens: None,
            cached_tokens: None,
            prompt_tok_s: None,
            gen_tokens: None,
            gen_tok_s: None,
            ttft_ms: None,
            sentences: 0,
            tts_ms: None,
            first_sentence_tts_ms: None,
            tts_audio_s: 0.0,
            tts_rtf: None,
            gpu: TurnGpu::default(),
            voice: None,
            tool_calls: Vec::new(),
            tool_ms: None,
            announcement: false,
        }
    }
}
