//! Text to Piper phonemes with libespeak-ng, grouped by sentence as Piper groups them.
//!
//! Piper phonemizes with `espeak_TextToPhonemes` in IPA mode, one clause per call, and writes
//! each clause's punctuation (`.` `?` `!` `,` `:` `;`) into the phonemes, because the voices
//! were trained with it: `,` `:` `;` are followed by a space and continue the sentence, `.` `?`
//! `!` end it. Piper reads the punctuation from `espeak_TextToPhonemesWithTerminator`, which
//! Debian's libespeak-ng 1.51 does not have; here it is recovered from how far espeak-ng advanced
//! the text pointer: the consumed text, less the one character espeak-ng reads ahead, ends with
//! the clause's punctuation (possibly followed by closing quotes or brackets and spaces).
//! The phonemes are then decomposed (Unicode NFD: `ç` becomes `c` + U+0327, and the voices
//! have an id for each), one `char` per phoneme, as Piper does.
//!
//! Where this differs from Piper: after a clause that ends without one of those six marks in
//! mid-text (an ellipsis, a very long run of words that espeak-ng cuts) Piper glues the next
//! word on ("Wait... what" → `wˈeɪtwˌʌt`); here an ellipsis reads as `;` and a cut as a space.

use unicode_normalization::UnicodeNormalization as _;

use super::TtsError;
use super::espeak_ng::{self, RawClause};

/// Characters that may follow a clause's punctuation and belong to it: closing quotes and brackets.
const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '»', '”', '’', '›', '」', '』'];

/// The punctuation espeak-ng ended a clause with, as Piper writes it into the phonemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Terminator {
    /// `.` `?` `!` `,` `:` `;`, or none (a paragraph break, a cut in a long run of words).
    pub symbol: Option<char>,
    /// The clause ends a sentence.
    pub sentence_end: bool,
}

/// Recovers a clause's terminator from the text espeak-ng consumed for it (`last`: it was the
/// end of the text, so there is no look-ahead character to drop).
pub(crate) fn clause_terminator(consumed: &str, last: bool) -> Terminator {
    let mut text = consumed;
    if !last {
        // Drop the look-ahead character: the first one of the next clause.
        if let Some((i, _)) = text.char_indices().next_back() {
            text = &text[..i];
        }
    }
    let trimmed = text.trim_end();
    let paragraph = text[trimmed.len()..].matches('\n').count() >= 2;
    let core = trimmed.trim_end_matches(CLOSERS);
    let t = |symbol, sentence_end| Terminator {
        symbol: Some(symbol),
        sentence_end,
    };
    match core.chars().next_back() {
        Some('.') if core.ends_with("..") => t(';', false),
        Some('.' | '。' | '．') => t('.', true),
        Some('?' | '？') => t('?', true),
        Some('!' | '！') => t('!', true),
        Some(',' | '，' | '、') => t(',', false),
        Some(':' | '：') => t(':', false),
        Some(';' | '；' | '…' | '—' | '–') => t(';', false),
        // The end of the text ends a sentence with a full stop (espeak-ng's CLAUSE_EOF).
        _ if last => t('.', true),
        _ => Terminator {
            symbol: None,
            sentence_end: paragraph,
        },
    }
}

/// Removes espeak-ng's language-switch flags, e.g. `(fr)` around a French word in English text.
fn strip_language_flags(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        match rest[open..].find(')') {
            Some(close) if close > 1 => {
                out.push_str(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Groups espeak-ng's clauses of `text` into sentences of phonemes (one `char` each).
pub(crate) fn sentences_from_clauses(text: &str, clauses: &[RawClause]) -> Vec<Vec<char>> {
    let mut sentences = Vec::new();
    let mut sentence: Vec<char> = Vec::new();
    for clause in clauses {
        let consumed = text.get(clause.consumed.clone()).unwrap_or("");
        let terminator = clause_terminator(consumed, clause.last);
        let phonemes = strip_language_flags(&clause.phonemes);
        if phonemes.trim().is_empty() {
            // Nothing to say (punctuation or spaces only); it may still close a sentence.
            if terminator.sentence_end && !sentence.is_empty() {
                sentences.push(std::mem::take(&mut sentence));
            }
            continue;
        }
        let mut clause_text = phonemes;
        match terminator.symbol {
            Some(symbol @ (',' | ':' | ';')) => {
                clause_text.push(symbol);
                clause_text.push(' ');
            }
            Some(symbol) => clause_text.push(symbol),
            None if !terminator.sentence_end => clause_text.push(' '),
            None => {}
        }
        sentence.extend(clause_text.nfd());
        if terminator.sentence_end {
            sentences.push(std::mem::take(&mut sentence));
        }
    }
    // A trailing ", " or similar can leave a space at the very end; Piper keeps it, and so do we.
    if !sentence.is_empty() {
        sentences.push(sentence);
    }
    sentences
}

/// Phonemizes `text` with the espeak-ng voice `espeak_voice` (e.g. "en-us"): one phoneme
/// sequence per sentence, as Piper feeds its voices. Text with nothing to say gives no sentences.
pub fn phonemize(text: &str, espeak_voice: &str) -> Result<Vec<Vec<char>>, TtsError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let clauses = {
        let mut espeak = espeak_ng::lock()?;
        espeak.set_voice(espeak_voice)?;
        espeak.text_to_phonemes(text)
    };
    Ok(sentences_from_clauses(text, &clauses))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(consumed: &str, last: bool) -> (Option<char>, bool) {
        let t = clause_terminator(consumed, last);
        (t.symbol, t.sentence_end)
    }

    #[test]
    fn terminators_from_consumed_text() {
        // What espeak-ng 1.51 consumes per clause, look-ahead character included.
        assert_eq!(term("Hello, w", false), (Some(','), false));
        assert_eq!(term("orld. H", false), (Some('.'), true));
        assert_eq!(term("ow are you? I", false), (Some('?'), true));
        assert_eq!(term(" am fine! M", false), (Some('!'), true));
        assert_eq!(term("mith said: \"", false), (Some(':'), false));
        assert_eq!(term("go; n", false), (Some(';'), false));
        assert_eq!(term("He said \"hi.\"", false), (Some('.'), true));
        assert_eq!(term("(Hi.)", false), (Some('.'), true));
        assert_eq!(term("Wait... w", false), (Some(';'), false));
        assert_eq!(term("a – b", false), (Some(';'), false));
        assert_eq!(term("Hello.   W", false), (Some('.'), true));
        assert_eq!(term("No punct\n\nn", false), (None, true));
        assert_eq!(term("banana banana b", false), (None, false));
        // The last clause: no look-ahead; no punctuation reads as a full stop.
        assert_eq!(term("Last one?  ", true), (Some('?'), true));
        assert_eq!(term("orld", true), (Some('.'), true));
        assert_eq!(term("Hello,", true), (Some(','), false));
        assert_eq!(term("", true), (Some('.'), true));
        assert_eq!(term("Ça va? Ü", false), (Some('?'), true));
    }

    #[test]
    fn language_flags_are_removed() {
        assert_eq!(strip_language_flags("ðə (fr)ʃɑːtˈoʊ(en) ɪz"), "ðə ʃɑːtˈoʊ ɪz");
        assert_eq!(strip_language_flags("a(b"), "a(b");
        assert_eq!(strip_language_flags("a()b"), "a()b");
    }

    fn clause(phonemes: &str, consumed: std::ops::Range<usize>, last: bool) -> RawClause {
        RawClause {
            phonemes: phonemes.to_owned(),
            consumed,
            last,
        }
    }

    #[test]
    fn clauses_group_into_sentences_with_punctuation() {
        let text = "Hello, world. How are you?";
        let clauses = [
            clause("həlˈoʊ", 0..8, false),
            clause("wˈɜːld", 8..15, false),
            clause("hˈaʊ ɑːɹ juː", 15..text.len(), true),
        ];
        let sentences: Vec<String> = sentences_from_clauses(text, &clauses)
            .into_iter()
            .map(|s| s.into_iter().collect())
            .collect();
        assert_eq!(sentences, ["həlˈoʊ, wˈɜːld.", "hˈaʊ ɑːɹ juː?"]);
    }

    #[test]
    fn phonemes_are_decomposed_one_char_each() {
        let text = "x y";
        let clauses = [clause("çæ ǖ ɚa", 0..text.len(), true)];
        let sentences = sentences_from_clauses(text, &clauses);
        let expected: Vec<char> = "c\u{327}æ u\u{308}\u{304} ɚa.".chars().collect();
        assert_eq!(sentences, [expected]);
    }

    #[test]
    fn empty_clauses_are_skipped() {
        let text = "Hi. ...";
        let clauses = [clause("hˈaɪ", 0..5, false), clause("", 5..text.len(), true)];
        let sentences = sentences_from_clauses(text, &clauses);
        assert_eq!(sentences.len(), 1);
    }

    #[test]
    fn real_espeak_phonemes() {
        let sentences = phonemize("Hello, world. How are you?", "en-us").unwrap();
        let sentences: Vec<String> = sentences.into_iter().map(|s| s.into_iter().collect()).collect();
        assert_eq!(sentences.len(), 2, "{sentences:?}");
        assert!(sentences[0].starts_with("həlˈoʊ, "), "{sentences:?}");
        assert!(sentences[0].ends_with('.'), "{sentences:?}");
        assert!(sentences[1].ends_with('?'), "{sentences:?}");
        assert!(phonemize("  ", "en-us").unwrap().is_empty());
        assert!(phonemize("", "en-us").unwrap().is_empty());
        assert!(matches!(
            phonemize("Hi", "xx-nowhere"),
            Err(TtsError::EspeakVoice { .. })
        ));
    }
}
