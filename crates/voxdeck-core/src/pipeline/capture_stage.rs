//! Stage 1, capture: drains the audio source started by a press into one utterance, shows the
//! input level while listening, and hands the utterance to speech to text when the source ends
//! (release, end of file, length limit or a failed device).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use super::events::{Event, TurnState};
use super::frames::{CaptureStarted, Utterance};
use super::timeline::{Mark, Outcome};
use super::turn::Shared;
use crate::audio::source::{EndReason, SourceEvent};

pub(crate) fn run(shared: Arc<Shared>, input: Receiver<CaptureStarted>, output: Sender<Utterance>) {
    for CaptureStarted { turn, events } in input {
        let mut samples = Vec::new();
        let mut reason = None;
        for event in &events {
            match event {
                SourceEvent::Audio(chunk) => samples.extend_from_slice(&chunk),
                SourceEvent::Level(level) => {
                    if shared.is_current(turn) {
                        shared.bus.send(Event::InputLevel {
                            turn,
                            rms_dbfs: level.rms_dbfs,
                            peak_dbfs: level.peak_dbfs,
                        });
                    }
                }
                SourceEvent::End(r) => {
                    reason = Some(r);
                    break;
                }
            }
        }
        let ended = Instant::now();
        match reason {
            Some(EndReason::Stopped) => {}
            Some(EndReason::Finished) => {
                // A file has no release: its end is the moment the user starts waiting.
                shared.with_turn(turn, |t| t.timeline.mark_at(Mark::Release, ended));
            }
            Some(EndReason::LimitReached { max_s }) => {
                shared.with_turn(turn, |t| t.timeline.mark_at(Mark::Release, ended));
                shared.bus.notice(
                    Some(turn),
                    format!("Stopped listening after {max_s} s (audio.max_utterance_s); answering what was said."),
                );
            }
            Some(EndReason::Failed(e)) => {
                let message = format!("the microphone failed: {e}");
                shared.bus.error(Some(turn), "capture", &message);
                shared.end_turn(turn, Outcome::Failed, |t| {
                    t.timeline.mark_at(Mark::Release, ended);
                    t.record.error = Some(message);
                });
                continue;
            }
            None => {
                let message = "the audio source ended without saying why".to_owned();
                shared.bus.error(Some(turn), "capture", &message);
                shared.end_turn(turn, Outcome::Failed, |t| t.record.error = Some(message));
                continue;
            }
        }
        shared.set_state(turn, TurnState::Transcribing);
        if output.send(Utterance { turn, samples }).is_err() {
            return;
        }
    }
}
