//! One turn's timeline on one monotonic clock, and the record a finished turn leaves.
//!
//! Every stage marks the moment it reached a milestone with [`Timeline::mark`]; the record
//! reports each milestone in milliseconds relative to the push-to-talk release, the moment the
//! user starts waiting (so `press_ms` is negative and everything after release is positive).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The milestones of a turn, in the order they normally happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    Press,
    Release,
    TranscriptReady,
    FirstToken,
    FirstSentence,
    FirstAudioOut,
    LastToken,
    LastAudioOut,
    /// The next press cut this turn short (barge-in).
    Interrupted,
    /// Playback was silenced and generation cancelled after the barge-in press.
    Silenced,
}

const MARKS: usize = 10;

impl Mark {
    fn index(self) -> usize {
        self as usize
    }
}

/// When each milestone of one turn happened. The first mark of a kind wins.
#[derive(Debug, Clone)]
pub struct Timeline {
    at: [Option<Instant>; MARKS],
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline { at: [None; MARKS] }
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Records `mark` now, unless it was recorded already.
    pub fn mark(&mut self, mark: Mark) {
        self.mark_at(mark, Instant::now());
    }

    /// Records `mark` at `at`, unless it was recorded already.
    pub fn mark_at(&mut self, mark: Mark, at: Instant) {
        let slot = &mut self.at[mark.index()];
        if slot.is_none() {
            *slot = Some(at);
        }
    }

    pub fn get(&self, mark: Mark) -> Option<Instant> {
        self.at[mark.index()]
    }

    /// Milliseconds from release to `mark` (negative before release); `None` if either is missing.
    pub fn ms_from_release(&self, mark: Mark) -> Option<f64> {
        let release = self.get(Mark::Release)?;
        let at = self.get(mark)?;
        Some(signed_ms(release, at))
    }

    /// Milliseconds from `from` to `to`; `None` if either is missing.
    pub fn span_ms(&self, from: Mark, to: Mark) -> Option<f64> {
        Some(signed_ms(self.get(from)?, self.get(to)?))
    }
}

/// `to - from` in milliseconds, negative when `to` is earlier.
pub fn signed_ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1000.0
    } else {
        -((from - to).as_secs_f64() * 1000.0)
    }
}

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
    /// Why that engine was chosen ("mode local", "auto: code question", ...).
    pub route_reason: Option<String>,
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
    pub last_token_ms: Option<f64>,
    pub last_audio_ms: Option<f64>,
    /// The barge-in press that ended this turn, and when playback and generation were stopped.
    pub interrupted_ms: Option<f64>,
    pub silenced_ms: Option<f64>,

    /// Seconds of speech captured.
    pub utterance_s: f64,
    /// Speech to text wall time.
    pub stt_ms: Option<f64>,
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
            route_reason: None,
            fallback: None,
            error: None,
            press_ms: None,
            release_ms: None,
            transcript_ms: None,
            first_token_ms: None,
            first_sentence_ms: None,
            first_audio_ms: None,
            last_token_ms: None,
            last_audio_ms: None,
            interrupted_ms: None,
            silenced_ms: None,
            utterance_s: 0.0,
            stt_ms: None,
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
            voice: None,
        }
    }

    /// Copies the timeline's milestones into the record.
    pub fn fill_times(&mut self, t: &Timeline) {
        self.press_ms = t.ms_from_release(Mark::Press);
        self.release_ms = t.ms_from_release(Mark::Release);
        self.transcript_ms = t.ms_from_release(Mark::TranscriptReady);
        self.first_token_ms = t.ms_from_release(Mark::FirstToken);
        self.first_sentence_ms = t.ms_from_release(Mark::FirstSentence);
        self.first_audio_ms = t.ms_from_release(Mark::FirstAudioOut);
        self.last_token_ms = t.ms_from_release(Mark::LastToken);
        self.last_audio_ms = t.ms_from_release(Mark::LastAudioOut);
        self.interrupted_ms = t.ms_from_release(Mark::Interrupted);
        self.silenced_ms = t.ms_from_release(Mark::Silenced);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_relative_to_release_and_first_mark_wins() {
        let base = Instant::now();
        let mut t = Timeline::new();
        t.mark_at(Mark::Press, base);
        t.mark_at(Mark::Release, base + Duration::from_millis(1500));
        t.mark_at(Mark::FirstToken, base + Duration::from_millis(1800));
        t.mark_at(Mark::FirstToken, base + Duration::from_millis(9000));
        assert_eq!(t.ms_from_release(Mark::Press).map(f64::round), Some(-1500.0));
        assert_eq!(t.ms_from_release(Mark::FirstToken).map(f64::round), Some(300.0));
        assert_eq!(t.ms_from_release(Mark::LastAudioOut), None);

        let mut r = TurnRecord::new("c", 1);
        r.fill_times(&t);
        assert_eq!(r.release_ms, Some(0.0));
        assert_eq!(r.first_token_ms.map(f64::round), Some(300.0));
        let json = serde_json::to_value(&r).expect("serialises");
        for key in [
            "transcript", "answer", "engine", "route_reason", "fallback", "transcript_ms", "first_token_ms",
            "first_sentence_ms", "first_audio_ms", "last_token_ms", "last_audio_ms", "gen_tok_s",
        ] {
            assert!(json.get(key).is_some(), "missing key {key}");
        }
        let back: TurnRecord = serde_json::from_value(json).expect("round trips");
        assert_eq!(back, r);
    }
}
