//! Stage 4, the sentence splitter: turns the streamed answer into pieces to speak. The first
//! piece may be a clause (a comma after enough words, or a cut after about 8 words where a
//! phrase starts) so speech starts early; later pieces are
//! whole sentences, for natural prosody. Markdown that slipped past the system prompt is
//! stripped here, before it reaches the voice.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use super::events::Event;
use super::frames::{AnswerText, SpeakText};
use super::timeline::Mark;
use super::turn::Shared;
use crate::tts::markup::MarkdownStripper;
use crate::tts::sentences::SentenceSplitter;

/// How pieces are cut.
#[derive(Debug, Clone, Copy)]
pub struct SplitSettings {
    /// Speak sentence by sentence while the answer streams (false: wait for the whole answer,
    /// then synthesise and play it as one piece, the way it is done without streaming).
    pub stream: bool,
    /// Words before a clause break may end the first piece (0 = sentences only).
    pub clause_min_words: usize,
    /// Words after which the first piece is cut when nothing ended it (0 = no cut).
    pub first_piece_max_words: usize,
}

/// The splitting state of the answer being spoken.
struct Answer {
    turn: u64,
    splitter: SentenceSplitter,
    stripper: MarkdownStripper,
    whole: String,
    index: u32,
}

impl Answer {
    fn new(turn: u64, settings: SplitSettings) -> Answer {
        Answer {
            turn,
            splitter: SentenceSplitter::with_clause_breaks(settings.clause_min_words)
                .with_word_cut(settings.first_piece_max_words)
                .first_piece_only(),
            stripper: MarkdownStripper::new(),
            whole: String::new(),
            index: 0,
        }
    }

    /// Sends one raw piece on, stripped.
    fn emit(&mut self, shared: &Shared, raw: &str, output: &Sender<SpeakText>) -> Result<(), ()> {
        match self.stripper.strip(raw) {
            Some(text) => self.emit_stripped(shared, text, output),
            None => Ok(()),
        }
    }

    /// Sends one piece on; the first one marks the turn's first sentence.
    fn emit_stripped(&mut self, shared: &Shared, text: String, output: &Sender<SpeakText>) -> Result<(), ()> {
        if self.index == 0 {
            shared.mark(self.turn, Mark::FirstSentence);
            // An aside (a spoken notice) can be the first piece: the answer after it is not.
            self.splitter.set_clause_breaks(0);
            self.splitter.set_word_cut(0);
        }
        let (turn, index) = (self.turn, self.index);
        self.index += 1;
        shared.bus.send(Event::Spoken { turn, index, text: text.clone() });
        output.send(SpeakText::Piece { turn, index, text }).map_err(drop)
    }
}

/// The splitting state of `turn`'s answer, new if the one held is another turn's.
fn answer_for(answer: &mut Option<Answer>, turn: u64, settings: SplitSettings) -> &mut Answer {
    if answer.as_ref().is_some_and(|a| a.turn != turn) {
        *answer = None;
    }
    answer.get_or_insert_with(|| Answer::new(turn, settings))
}

pub(crate) fn run(
    shared: Arc<Shared>,
    settings: SplitSettings,
    input: Receiver<AnswerText>,
    output: Sender<SpeakText>,
) {
    let mut answer: Option<Answer> = None;
    for frame in input {
        let result = match frame {
            AnswerText::Piece { turn, text } => {
                if !shared.is_current(turn) {
                    continue;
                }
                let a = answer_for(&mut answer, turn, settings);
                if settings.stream {
                    a.splitter
                        .push(&text)
                        .iter()
                        .try_for_each(|piece| a.emit(&shared, piece, &output))
                } else {
                    a.whole.push_str(&text);
                    Ok(())
                }
            }
            AnswerText::Aside { turn, text } => {
                if !shared.is_current(turn) {
                    continue;
                }
                let a = answer_for(&mut answer, turn, settings);
                // What came before it is spoken first.
                let before = if settings.stream {
                    a.splitter.finish()
                } else {
                    Some(std::mem::take(&mut a.whole)).filter(|w| !w.trim().is_empty())
                };
                before
                    .map_or(Ok(()), |piece| a.emit(&shared, &piece, &output))
                    .and_then(|()| a.emit_stripped(&shared, text, &output))
            }
            AnswerText::End { turn } => {
                let mut a = match answer.take() {
                    Some(a) if a.turn == turn => a,
                    _ => Answer::new(turn, settings),
                };
                flush(&shared, &mut a, settings, &output).and_then(|()| output.send(SpeakText::End { turn }).map_err(drop))
            }
        };
        if result.is_err() {
            return;
        }
    }
}

/// The answer is complete: speak what is left (or, not streaming, all of it).
fn flush(shared: &Shared, a: &mut Answer, settings: SplitSettings, output: &Sender<SpeakText>) -> Result<(), ()> {
    if !settings.stream {
        // The whole answer is one piece: synthesised in one go, then played.
        let whole = std::mem::take(&mut a.whole);
        let mut splitter = SentenceSplitter::new();
        let pieces: Vec<String> = splitter.push(&whole).into_iter().chain(splitter.finish()).collect();
        let spoken: Vec<String> = pieces.iter().filter_map(|p| a.stripper.strip(p)).collect();
        if !spoken.is_empty() {
            a.emit_stripped(shared, spoken.join(" "), output)?;
        }
        return Ok(());
    }
    if let Some(rest) = a.splitter.finish() {
        a.emit(shared, &rest, output)?;
    }
    Ok(())
}
