//! Stage 6, playback: hands each piece's audio to the speaker (or a file) and ends the turn
//! when the last of it has been heard; a turn whose answer could not be played ends failed.
//! Writing happens under the turn's lock, so a barge-in press either comes before a piece
//! (which is then dropped) or after it (and silences it).

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use super::events::TurnState;
use super::frames::SpeechAudio;
use super::timeline::{Mark, Outcome};
use super::turn::{Shared, SpokenPiece};

pub(crate) fn run(shared: Arc<Shared>, input: Receiver<SpeechAudio>) {
    for frame in input {
        match frame {
            SpeechAudio::Piece { turn, index: _, text, audio } => {
                let seconds = audio.duration_s();
                let written = shared.with_turn(turn, |t| {
                    let result = shared.sink.write(audio);
                    if result.is_ok() {
                        t.timeline.mark(Mark::FirstAudioOut);
                        t.spoken.push(SpokenPiece { text, seconds });
                    }
                    result
                });
                match written {
                    None => {}
                    Some(Ok(())) => shared.set_state(turn, TurnState::Speaking),
                    Some(Err(e)) => {
                        // The first failure is the turn's error; later pieces fail the same way.
                        let message = format!("could not play the answer: {e}");
                        let first = shared.with_turn(turn, |t| {
                            let first = !t.undelivered;
                            if first {
                                t.record.error = Some(message.clone());
                                t.undelivered = true;
                            }
                            first
                        });
                        if first == Some(true) {
                            shared.bus.error(Some(turn), "playback", &message);
                        }
                    }
                }
            }
            SpeechAudio::End { turn } => {
                if !shared.is_current(turn) {
                    continue;
                }
                // Blocks until heard; a barge-in's stop makes it return at once.
                let finished = shared.sink.finish();
                shared.end_turn(turn, Outcome::Answered, |t| {
                    if t.timeline.get(Mark::FirstAudioOut).is_some() {
                        t.timeline.mark(Mark::LastAudioOut);
                    }
                    if let Err(e) = finished
                        && !t.undelivered
                    {
                        t.record.error = Some(format!("playback did not finish: {e}"));
                        t.undelivered = true;
                    }
                });
            }
        }
    }
}
