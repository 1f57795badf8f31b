//! Stage 1, capture: drains the audio source started by a press into one utterance, shows the
//! input level while listening, and hands the utterance to speech to text when the source ends
//! (release, end of file, length limit or a failed device). With `pipeline.incremental_stt`
//! it also hands over the audio so far while listening, when [`DraftPlanner`] says a pass is
//! due, so speech to text can work before the release.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use super::events::{Event, TurnState};
use super::draft_plan::{DraftPlanner, DraftState};
use super::frames::{CaptureStarted, Utterance};
use super::timeline::{Mark, Outcome};
use super::turn::Shared;
use crate::audio::source::{EndReason, SourceEvent};

/// Transcribing while the button is held.
pub(crate) struct Drafting {
    /// The energy gate's threshold: frames at or above it are speech.
    pub threshold_dbfs: f32,
    /// Whether a pass may be asked for (none running, the machine keeping up).
    pub state: Arc<DraftState>,
}

pub(crate) fn run(
    shared: Arc<Shared>,
    drafting: Option<Drafting>,
    input: Receiver<CaptureStarted>,
    output: Sender<Utterance>,
) {
    for CaptureStarted { turn, events } in input {
        let mut samples = Vec::new();
        let mut reason = None;
        let mut planner = drafting.as_ref().map(|d| DraftPlanner::new(d.threshold_dbfs, Instant::now()));
        for event in &events {
            match event {
                SourceEvent::Audio(chunk) => {
                    samples.extend_from_slice(&chunk);
                    if let (Some(planner), Some(d)) = (planner.as_mut(), drafting.as_ref()) {
                        if planner.due(&samples, Instant::now(), d.state.ready()) && shared.is_current(turn) {
                            d.state.begin();
                            let draft = Utterance { turn, samples: samples.clone(), draft: true };
                            if output.send(draft).is_err() {
                                return;
                            }
                        }
                    }
                }
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
        if output.send(Utterance { turn, samples, draft: false }).is_err() {
            return;
        }
    }
}
