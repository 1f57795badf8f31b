//! Stage 2, speech to text: transcribes an utterance with the Whisper worker. An utterance too
//! short or without words ends the turn with "didn't catch that" and no LLM call.
//!
//! With `pipeline.incremental_stt` the capture stage also sends the audio so far while the
//! button is held (see `draft_plan`): each such pass is sent on as a draft question (for the
//! LLM to prefill), and when nothing but silence followed the last one, its transcript is the
//! utterance's, with no pass after the release. A draft never runs ahead of a newer frame, and
//! every pass tells [`DraftState`] how fast it was, so drafting stops while passes are slow.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use super::draft_plan::DraftState;
use super::events::{Event, TurnState};
use super::frames::{Question, Utterance};
use super::timeline::{Mark, Outcome};
use super::turn::Shared;
use crate::audio::CAPTURE_RATE;
use crate::stt::{EnergyGate, Stt, SttError, Transcript};

/// What the user hears when nothing was understood.
pub const DIDNT_CATCH: &str = "Sorry, I didn't catch that.";

/// The last pass made while the button was held.
struct Draft {
    turn: u64,
    /// Samples it covered (the utterance's first ones).
    samples: usize,
    text: String,
}

pub(crate) fn run(
    shared: Arc<Shared>,
    mut stt: Stt,
    min_utterance_ms: u32,
    drafts: Arc<DraftState>,
    input: Receiver<Utterance>,
    output: Sender<Question>,
) {
    let mut last: Option<Draft> = None;
    let mut queued: Option<Utterance> = None;
    loop {
        let utterance = match queued.take() {
            Some(u) => u,
            None => match input.recv() {
                Ok(u) => u,
                Err(_) => return,
            },
        };
        let Utterance { turn, samples, draft } = utterance;
        if draft {
            // Never ahead of something newer: the utterance itself must not wait for a draft.
            if let Ok(next) = input.try_recv() {
                drafts.end();
                queued = Some(next);
                continue;
            }
            last = draft_pass(&shared, &mut stt, &drafts, turn, &samples);
            drafts.end();
            let text = last.as_ref().filter(|d| d.turn == turn).map(|d| d.text.clone()).unwrap_or_default();
            if text.chars().any(char::is_alphanumeric) && shared.is_current(turn) {
                if output.send(Question { turn, text, draft: true }).is_err() {
                    return;
                }
            }
            continue;
        }
        if !shared.is_current(turn) {
            continue;
        }
        let seconds = samples.len() as f64 / f64::from(CAPTURE_RATE);
        shared.with_turn(turn, |t| t.record.utterance_s = seconds);
        if seconds * 1000.0 < f64::from(min_utterance_ms) {
            no_speech(&shared, turn, &format!("the utterance was {:.0} ms long", seconds * 1000.0));
            continue;
        }
        // Only silence after the last pass made while held (not one frame at the gate's level):
        // its transcript is the utterance's.
        let silence = EnergyGate { min_active_frames: 1, ..stt.gate() };
        let reused = last
            .take()
            .filter(|d| d.turn == turn && d.samples <= samples.len() && !silence.is_open(&samples[d.samples..]));
        let stt_reused = reused.is_some();
        let (text, stt_ms) = match reused {
            // Nothing was transcribed after the release.
            Some(d) => (d.text, 0.0),
            None => match timed(&mut stt, &drafts, &samples) {
                Ok(t) => (t.text.trim().to_owned(), t.timings.total_ms),
                Err(e) => {
                    let message = format!("speech to text failed: {e}");
                    shared.bus.error(Some(turn), "stt", &message);
                    shared.end_turn(turn, Outcome::Failed, |t| t.record.error = Some(message));
                    continue;
                }
            },
        };
        let stt_device = stt.worker().gpu_device().map(str::to_owned);
        shared.with_turn(turn, |t| {
            t.timeline.mark(Mark::TranscriptReady);
            t.record.stt_ms = Some(stt_ms);
            t.record.stt_reused = stt_reused;
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

/// A pass over the audio so far of turn `turn`, counted in its record; `None` when the turn
/// has ended or the pass failed (the utterance is then transcribed whole at release).
fn draft_pass(shared: &Shared, stt: &mut Stt, drafts: &DraftState, turn: u64, samples: &[f32]) -> Option<Draft> {
    if !shared.is_current(turn) {
        return None;
    }
    match timed(stt, drafts, samples) {
        Ok(t) => {
            shared.with_turn(turn, |t| t.record.stt_passes += 1)?;
            tracing::debug!(turn, audio_s = t.timings.audio_s, ms = t.timings.total_ms, text = %t.text, "draft pass");
            Some(Draft { turn, samples: samples.len(), text: t.text.trim().to_owned() })
        }
        Err(e) => {
            tracing::warn!(turn, "a pass while the button was held failed: {e}");
            None
        }
    }
}

/// A pass, its speed told to `drafts` (slow passes stop drafting).
fn timed(stt: &mut Stt, drafts: &DraftState, samples: &[f32]) -> Result<Transcript, SttError> {
    let started = Instant::now();
    let result = stt.transcribe(samples);
    if result.is_ok() {
        drafts.measured(samples.len(), started.elapsed());
    }
    result
}

fn no_speech(shared: &Shared, turn: u64, why: &str) {
    tracing::info!(turn, "nothing to answer: {why}");
    shared.bus.notice(Some(turn), DIDNT_CATCH);
    shared.end_turn(turn, Outcome::NoSpeech, |t| t.record.error = Some(format!("{DIDNT_CATCH} ({why})")));
}
