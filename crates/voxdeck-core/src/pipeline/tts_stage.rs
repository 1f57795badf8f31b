//! Stage 5, text to speech: synthesises each piece as it arrives. Pieces of a turn that is no
//! longer current are skipped, so a barge-in leaves nothing queued behind it.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use super::frames::{SpeakText, SpeechAudio};
use super::turn::Shared;
use crate::tts::SpeechSynthesizer;

pub(crate) fn run(
    shared: Arc<Shared>,
    tts: Arc<dyn SpeechSynthesizer>,
    input: Receiver<SpeakText>,
    output: Sender<SpeechAudio>,
) {
    for frame in input {
        let sent = match frame {
            SpeakText::Piece { turn, index, text } => {
                if !shared.is_current(turn) {
                    continue;
                }
                let started = Instant::now();
                let audio = match tts.synthesize(&text) {
                    Ok(audio) => audio,
                    Err(e) => {
                        // One piece that cannot be spoken is shown, not fatal: the text is on
                        // screen and the next sentence may speak.
                        let message = format!("could not speak {text:?}: {e}");
                        shared.bus.error(Some(turn), "tts", &message);
                        shared.with_turn(turn, |t| t.record.error = Some(message));
                        continue;
                    }
                };
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let seconds = audio.duration_s();
                let live = shared
                    .with_turn(turn, |t| {
                        let r = &mut t.record;
                        r.tts_ms = Some(r.tts_ms.unwrap_or(0.0) + ms);
                        if index == 0 {
                            r.first_sentence_tts_ms = Some(ms);
                        }
                        r.tts_audio_s += seconds;
                        r.sentences += 1;
                        r.tts_rtf = r.tts_ms.map(|ms| if r.tts_audio_s > 0.0 { ms / 1000.0 / r.tts_audio_s } else { 0.0 });
                        r.voice = Some(tts.voice_name().to_owned());
                    })
                    .is_some();
                if !live {
                    continue;
                }
                output.send(SpeechAudio::Piece { turn, index, text, audio })
            }
            SpeakText::End { turn } => output.send(SpeechAudio::End { turn }),
        };
        if sent.is_err() {
            return;
        }
    }
}
