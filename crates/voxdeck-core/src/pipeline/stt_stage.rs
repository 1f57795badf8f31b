//! Stage 2, speech to text: transcribes an utterance with the Whisper worker. An utterance too
//! short or without words ends the turn with "didn't catch that" and no LLM call.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use super::events::{Event, TurnState};
use super::frames::{Question, Utterance};
use super::timeline::{Mark, Outcome};
use super::turn::Shared;
use crate::audio::CAPTURE_RATE;
use crate::stt::Stt;

/// What the user hears when nothing was understood.
pub const DIDNT_CATCH: &str = "Sorry, I didn't catch that.";

pub(crate) fn run(
    shared: Arc<Shared>,
    mut stt: Stt,
    min_utterance_ms: u32,
    input: Receiver<Utterance>,
    output: Sender<Question>,
) {
    for Utterance { turn, samples } in input {
        if !shared.is_current(turn) {
            continue;
        }
        let seconds = samples.len() as f64 / f64::from(CAPTURE_RATE);
        shared.with_turn(turn, |t| t.record.utterance_s = seconds);
        if seconds * 1000.0 < f64::from(min_utterance_ms) {
            no_speech(&shared, turn, &format!("the utterance was {:.0} ms long", seconds * 1000.0));
            continue;
        }
        let transcript = match stt.transcribe(&samples) {
            Ok(t) => t,
            Err(e) => {
                let message = format!("speech to text failed: {e}");
                shared.bus.error(Some(turn), "stt", &message);
                shared.end_turn(turn, Outcome::Failed, |t| t.record.error = Some(message));
                continue;
            }
        };
        let text = transcript.text.trim().to_owned();
        let stt_device = stt.worker().gpu_device().map(str::to_owned);
        shared.with_turn(turn, |t| {
            t.timeline.mark(Mark::TranscriptReady);
            t.record.stt_ms = Some(transcript.timings.total_ms);
            t.record.gpu.stt_device = stt_device.clone();
            t.record.transcript = text.clone();
        });
        if !text.chars().any(char::is_alphanumeric) {
            no_speech(&shared, turn, "no words were recognised");
            continue;
        }
        if !shared.is_current(turn) {
            continue;
        }
        shared.bus.send(Event::Transcript { turn, text: text.clone() });
        shared.set_state(turn, TurnState::Thinking);
        if output.send(Question { turn, text, draft: false }).is_err() {
            return;
        }
    }
}

fn no_speech(shared: &Shared, turn: u64, why: &str) {
    tracing::info!(turn, "nothing to answer: {why}");
    shared.bus.notice(Some(turn), DIDNT_CATCH);
    shared.end_turn(turn, Outcome::NoSpeech, |t| t.record.error = Some(format!("{DIDNT_CATCH} ({why})")));
}
