//! The frames that pass between the pipeline's stages, in stage order. Every frame carries its
//! turn number: a stage drops frames of a turn that is no longer current (barge-in), so a
//! cancelled answer never reaches the speaker.

use std::sync::mpsc::Receiver;

use crate::audio::AudioBuffer;
use crate::audio::source::SourceEvent;

/// press -> capture: a source was started for `turn`; drain it into an utterance.
pub struct CaptureStarted {
    pub turn: u64,
    pub events: Receiver<SourceEvent>,
}

/// capture -> STT: the whole utterance, 16 kHz mono. While the button is held, drafts (the
/// audio so far) may come first, to be transcribed ahead of the release.
pub struct Utterance {
    pub turn: u64,
    pub samples: Vec<f32>,
    /// The audio so far, not the utterance: transcribe it only if nothing newer is waiting.
    pub draft: bool,
}

/// STT -> LLM: what the user asked. While the button is still held, drafts (the transcript of
/// the audio so far) may come first, so the LLM can prefill them; the final question follows.
pub struct Question {
    pub turn: u64,
    pub text: String,
    /// A transcript of the audio so far, not the question: prefill it, don't answer it.
    pub draft: bool,
}

/// LLM -> sentence splitter: the answer's text as it is generated, and words for the user
/// that are not part of the answer ("Cloud unavailable, answering locally.").
pub enum AnswerText {
    Piece { turn: u64, text: String },
    Aside { turn: u64, text: String },
    End { turn: u64 },
}

/// splitter -> TTS: a piece ready to speak (a sentence, or the first clause), markup stripped.
pub enum SpeakText {
    Piece { turn: u64, index: u32, text: String },
    End { turn: u64 },
}

/// TTS -> playback: a piece's audio.
pub enum SpeechAudio {
    Piece {
        turn: u64,
        index: u32,
        text: String,
        audio: AudioBuffer,
    },
    End { turn: u64 },
}
