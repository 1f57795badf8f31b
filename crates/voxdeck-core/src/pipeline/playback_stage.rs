//! Stage 6, playback: hands each piece's audio to the speaker (or a file) and ends the turn
//! when the last of it has been heard; a turn whose answer could not be played ends failed.
//! Writing happens under the turn's lock, so a barge-in press either comes before a piece
//! (which is then dropped) or after it (and silences it). The first write with an audible sample
//! leaves the turn its [`crate::audio::sink::Heard`], read when the turn closes (a speaker
//! reports it from its output callback, later than the write).

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
                    if let Ok(heard) = &result {
                        t.timeline.mark(Mark::FirstAudioOut);
                        t.spoken.push(SpokenPiece { text, seconds });
                        if t.heard.is_none() && heard.audible() {
                            t.heard = Some(heard.clone());
                        }
                    }
                    result.map(|_| ())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{AudioBuffer, WavSink};
    use crate::pipeline::events::{Event, EventBus};
    use std::time::Instant;

    /// Written to a file, the first piece is heard after its leading silence; the next turn,
    /// whose pieces are silent, has no heard time (nothing stale from the turn before).
    #[test]
    fn the_turn_records_when_its_first_audible_sample_is_heard() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sink = Arc::new(WavSink::create(&dir.path().join("a.wav")));
        let shared = Arc::new(Shared::new(EventBus::new(), sink, None, "c".into(), Vec::new()));
        let mut events = shared.bus.subscribe();
        let (tx, rx) = std::sync::mpsc::channel();
        let stage = std::thread::spawn({
            let shared = shared.clone();
            move || run(shared, rx)
        });
        let mut records = Vec::new();
        for loud in [0.3f32, 0.0] {
            let turn = shared.begin_turn(Instant::now());
            shared.mark(turn, Mark::Release);
            shared.with_turn(turn, |t| t.record.generated = "Paris.".into());
            // 120 ms of silence at 22.05 kHz, then 0.2 s of sound.
            let mut samples = vec![0.0f32; 2646];
            samples.extend(vec![loud; 4410]);
            let audio = AudioBuffer::mono(samples, 22_050);
            tx.send(SpeechAudio::Piece { turn, index: 0, text: "Paris.".into(), audio }).expect("sent");
            tx.send(SpeechAudio::End { turn }).expect("sent");
            let record = loop {
                if let Event::TurnComplete { record } = events.blocking_recv().expect("an event") {
                    break record;
                }
            };
            records.push(record);
        }
        drop(tx);
        stage.join().expect("the stage ends");
        let (audio, heard) = (records[0].first_audio_ms.unwrap(), records[0].first_audible_ms.unwrap());
        assert!((heard - audio - 120.0).abs() < 20.0, "first audio {audio} ms, heard {heard} ms");
        assert!(records[1].first_audio_ms.is_some());
        assert_eq!(records[1].first_audible_ms, None);
    }
}
