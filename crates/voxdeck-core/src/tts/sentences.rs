//! Splitting text into sentences, for speaking one sentence at a time: whole texts with
//! [`split_sentences`], and text that arrives in pieces (an LLM's streamed answer) with
//! [`SentenceSplitter`], which can also hand out a clause early so speech starts sooner.
//!
//! A sentence ends at `.` `!` `?` `…` (or their full-width forms), after any closing quotes,
//! brackets and markdown markers (`**Done.**`), when whitespace follows and the next word does
//! not start in lower case (so "e.g. this" and "Wait... what" stay whole) unless it is a list
//! marker ("b) next"); or at a line break.
//! A full stop does not end one after:
//!
//! - a common title or abbreviation ("Mr.", "Dr.", "vs.", "e.g.") or a single capital
//!   ("J. R. R. Tolkien");
//! - dotted capitals ("U.S. Army", "U.K."), at the cost of running on after "in the U.S. Then";
//! - "No." before a number ("No. 5"), but not otherwise ("No. I won't");
//! - a list number or letter that is all the piece has so far ("1. First", "a. Next", "IV. End"):
//!   a piece is never only a number. Inside a sentence a number is an ordinary word, so
//!   "in step 2. Then" ends after "2.", as do "5 p.m. Then" and "v1.2.3. Then".
//!
//! A period inside a number ("3.5", "$3.50"), a version ("v1.2.3") or a URL ("example.com/a.b")
//! has no whitespace after it and never ends one; streamed text waits for the character after a
//! full stop before deciding.
//!
//! Clause breaks ([`SentenceSplitter::with_clause_breaks`]) also end a piece at `,` `;` `:` or a
//! spaced dash (" - ", " – ", " — ") followed by whitespace, once the clause has enough words.
//! Not inside numbers and times ("1,000", "3,5", "10:30": no whitespace follows), not after
//! "e.g.," or "i.e.," (what follows belongs to them), not in a spaced number range ("3 - 5"),
//! and not when the clause is only numbers.
//!
//! A word cut ([`SentenceSplitter::with_word_cut`]) ends a piece that has run to `max_words`
//! words without a break: before the next word that opens a phrase ("and", "which", "of", ...)
//! or, if none comes within [`WORD_CUT_SLACK`] more words, where it stands. Never after a word
//! with a digit or a full stop ("2.5 miles", "Mr. Smith") nor before a number or a lone mark.
//! The voice loop uses both for the first piece only: speech starts after a few words.
//!
//! Pieces with nothing to say (no letter or digit) are dropped, except that the streaming
//! splitter keeps code fences ("```") so a markdown stripper after it can follow code blocks.

use super::list_marker::{is_space, list_marker_len};

/// Abbreviations that a full stop does not end a sentence after (compared case-insensitively).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "approx", "no", "fig", "gen",
    "gov", "sen", "rep", "lt", "col", "capt", "sgt",
];

/// Abbreviations that introduce what follows them, so a comma after them is no clause break.
const INTRODUCERS: &[&str] = &["e.g", "i.e", "eg", "ie", "viz", "cf"];

const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '»', '”', '’', '›', '」', '』'];

/// Markdown emphasis and code markers: they may close around a sentence's end ("**Done.**") and
/// open the next word ("*really*"), and are skipped over like closing quotes.
const MARKUP: &[char] = &['*', '_', '`', '~'];

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？' | '．')
}

fn is_clause_mark(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | '，' | '；' | '：' | '、')
}

/// Words a speaker can pause before: a word cut prefers to fall before one of them.
const PHRASE_OPENERS: &[&str] = &[
    "and", "but", "or", "so", "because", "which", "that", "who", "whose", "where", "when", "while", "if", "although",
    "though", "since", "as", "of", "to", "in", "on", "at", "for", "with", "from", "by", "about", "into", "than",
    "like", "after", "before", "until",
];

/// Words past a word cut's limit to wait for a phrase opener before cutting anyway.
pub const WORD_CUT_SLACK: usize = 4;

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—')
}

/// True when `sentence` has something to say.
fn speakable(sentence: &str) -> bool {
    sentence.chars().any(char::is_alphanumeric)
}

/// True when a streamed piece should be handed out: it has something to say, or it opens or
/// closes a code block (which the markdown stripper must see even when it says nothing).
fn worth_handing_out(piece: &str) -> bool {
    speakable(piece) || piece.contains("```") || piece.starts_with("~~~")
}

/// Whether `piece` (the text of a piece up to a full stop) is only a list number or letter
/// ("1", "**2", "a", "iv") or a number ("3.5"): the full stop belongs to it rather than ends it.
fn is_list_stem(piece: &str) -> bool {
    let stem = piece.trim().trim_start_matches(|c: char| !c.is_alphanumeric());
    let Some(first) = stem.chars().next() else {
        return false;
    };
    let number = first.is_ascii_digit() && stem.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    let letter = stem.chars().count() == 1 && first.is_alphabetic();
    let roman = stem.len() <= 4 && stem.chars().all(|c| "ivxIVX".contains(c));
    number || letter || roman
}

/// "U.S", "U.K", "D.C": single capitals joined by full stops.
fn dotted_capitals(word: &str) -> bool {
    word.contains('.')
        && word.split('.').all(|part| {
            let mut chars = part.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
        })
}

/// Whether a full stop at byte `dot` of `text` may end a sentence, judging the word before it.
fn dot_can_end(text: &str, dot: usize) -> bool {
    let before = &text[..dot];
    let word_start = before
        .rfind(|c: char| c.is_whitespace() || c == '(' || c == '"')
        .map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    let word = before[word_start..].trim_start_matches(MARKUP);
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_uppercase()
        && c != 'I'
    {
        return false; // an initial ("I." is more often the pronoun)
    }
    if word.eq_ignore_ascii_case("no") {
        // "No. 5" abbreviates "number"; "No. I won't" ends a sentence.
        return !text[dot + 1..].trim_start().starts_with(|c: char| c.is_ascii_digit());
    }
    !dotted_capitals(word) && !ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(word))
}

/// What to do at a clause mark.
enum Clause {
    /// End the piece: `(end, next)` as [`next_boundary`] returns.
    Break(usize, usize),
    /// No break here; read on.
    Continue,
    /// Undecided until more text comes.
    Wait,
}

/// Whether the clause mark (or dash) at `text[mark..end]` ends the clause that starts at `from`,
/// given that it needs `min_words` words.
fn clause_break(text: &str, from: usize, mark: usize, end: usize, complete: bool, min_words: usize) -> Clause {
    let rest = &text[end..];
    let after_space = rest.trim_start_matches(is_space);
    match rest.chars().next() {
        None if complete => return Clause::Continue, // the end of the text ends it anyway
        None => return Clause::Wait,                 // "1," may be "1,000"
        Some(c) if !is_space(c) => return Clause::Continue, // "1,000", "10:30", or a line break
        Some(_) => {}
    }
    let clause = &text[from..mark];
    let clause = clause.trim_start();
    let clause = &clause[list_marker_len(clause)..];
    let words: Vec<&str> = clause.split_whitespace().filter(|w| speakable(w)).collect();
    if words.len() < min_words || !words.iter().any(|w| w.chars().any(char::is_alphabetic)) {
        return Clause::Continue;
    }
    let last = clause.split_whitespace().next_back().unwrap_or_default();
    let last = last
        .trim_start_matches(|c: char| MARKUP.contains(&c) || c == '(')
        .trim_end_matches('.');
    if INTRODUCERS.iter().any(|a| a.eq_ignore_ascii_case(last)) {
        return Clause::Continue;
    }
    if is_dash(text[mark..].chars().next().unwrap_or_default()) {
        // "3 - 5" is a range, not a dash: wait for the next word to tell.
        match after_space.chars().next() {
            None if !complete => return Clause::Wait,
            Some(n) if n.is_ascii_digit() && last.ends_with(|c: char| c.is_ascii_digit()) => {
                return Clause::Continue;
            }
            _ => {}
        }
    }
    Clause::Break(end, text.len() - after_space.len())
}

/// Whether the piece that starts at `from` is cut at the whitespace at `space` (which ends a
/// word), given that a word cut applies from `max_words` words on.
fn word_cut(text: &str, from: usize, space: usize, complete: bool, max_words: usize) -> Clause {
    let piece = text[from..space].trim_start();
    let piece = &piece[list_marker_len(piece)..];
    let words = piece.split_whitespace().filter(|w| speakable(w)).count();
    if words < max_words {
        return Clause::Continue;
    }
    let after = text[space..].trim_start_matches(is_space);
    let Some(next_len) = after.find(char::is_whitespace) else {
        // The next word is not complete yet (or the text ends, which ends the piece anyway).
        return if complete { Clause::Continue } else { Clause::Wait };
    };
    let next = &after[..next_len];
    let last = piece.split_whitespace().next_back().unwrap_or_default();
    let last = last.trim_end_matches(|c: char| CLOSERS.contains(&c) || MARKUP.contains(&c));
    let bad_last = last.chars().any(|c| c.is_ascii_digit())
        || last.ends_with(|c: char| c == '.' || is_clause_mark(c) || is_dash(c));
    let bare = next.trim_matches(|c: char| !c.is_alphanumeric());
    let bad_next = !speakable(next) || next.trim_start_matches(MARKUP).starts_with(|c: char| c.is_ascii_digit());
    if bad_last || bad_next {
        return Clause::Continue;
    }
    let opener = PHRASE_OPENERS.iter().any(|w| w.eq_ignore_ascii_case(bare));
    if opener || words >= max_words + WORD_CUT_SLACK {
        Clause::Break(space, text.len() - after.len())
    } else {
        Clause::Continue
    }
}

/// Where the piece that starts at `from` ends: `Some((end, next))` with the piece in
/// `text[from..end]` and the next one starting at `next`. `complete`: no more text will come,
/// so the end of `text` ends the piece; otherwise a boundary needs to see what follows it.
/// `clause_words`: end at a clause mark after this many words (0: only at sentence ends).
/// `max_words`: a word cut from this many words on ([`word_cut`]; 0: none).
fn next_boundary(
    text: &str,
    from: usize,
    complete: bool,
    clause_words: usize,
    max_words: usize,
) -> Option<(usize, usize)> {
    let bytes_len = text.len();
    let mut iter = text[from..].char_indices().map(|(i, c)| (i + from, c)).peekable();
    while let Some((i, c)) = iter.next() {
        if c == '\n' {
            return Some((i, i + 1));
        }
        if max_words > 0 && is_space(c) && !text[from..i].ends_with(is_space) && !text[from..i].trim().is_empty() {
            match word_cut(text, from, i, complete, max_words) {
                Clause::Break(end, next) => return Some((end, next)),
                Clause::Continue => {}
                Clause::Wait => return None,
            }
        }
        let dash = is_dash(c) && text[from..i].ends_with(is_space);
        if clause_words > 0 && (is_clause_mark(c) || dash) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = iter.peek() {
                let more = if dash {
                    is_dash(d)
                } else {
                    CLOSERS.contains(&d) || MARKUP.contains(&d)
                };
                if !more {
                    break;
                }
                end = j + d.len_utf8();
                iter.next();
            }
            match clause_break(text, from, i, end, complete, clause_words) {
                Clause::Break(end, next) => return Some((end, next)),
                Clause::Continue => continue,
                Clause::Wait => return None,
            }
        }
        if !is_terminal(c) {
            continue;
        }
        // The run of terminal punctuation, then closing quotes, brackets and markdown markers.
        let mut run_end = i + c.len_utf8();
        while let Some(&(j, d)) = iter.peek() {
            if is_terminal(d) {
                run_end = j + d.len_utf8();
                iter.next();
            } else {
                break;
            }
        }
        let mut end = run_end;
        let mut quoted = false;
        while let Some(&(j, d)) = iter.peek() {
            let closer = CLOSERS.contains(&d);
            if closer || MARKUP.contains(&d) {
                quoted |= closer;
                end = j + d.len_utf8();
                iter.next();
            } else {
                break;
            }
        }
        // A single full stop after a list number, an abbreviation or an initial continues.
        if c == '.' && run_end == i + 1 && (is_list_stem(&text[from..i]) || !quoted && !dot_can_end(text, i)) {
            continue;
        }
        // Whitespace must follow, then a word that does not start in lower case.
        let rest = &text[end..];
        let after_space = rest.trim_start_matches(is_space);
        if after_space.len() == rest.len() {
            if rest.is_empty() {
                if complete {
                    return Some((end, bytes_len));
                }
                return None; // wait for what follows
            }
            if rest.starts_with('\n') {
                return Some((end, end + 1));
            }
            continue; // "3.5", "e.g.x"
        }
        let next = bytes_len - after_space.len();
        match after_space.chars().next() {
            None if complete => return Some((end, bytes_len)),
            None => return None, // whitespace so far: wait for the next word
            Some('\n') => return Some((end, next + 1)),
            Some(_) => match after_space.trim_start_matches(MARKUP).chars().next() {
                // Only markers after the space: at the end of the text they are part of this
                // piece, as `finish` would have it; otherwise wait for the word they open.
                None if complete => return Some((bytes_len, bytes_len)),
                None => return None,
                Some(n) if n.is_lowercase() && list_marker_len(after_space) == 0 => continue,
                Some(_) => return Some((end, next)),
            },
        }
    }
    complete.then_some((bytes_len, bytes_len))
}

/// Splits a whole text into sentences (trimmed; those with nothing to say are left out).
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut from = 0;
    while from < text.len() {
        let Some((end, next)) = next_boundary(text, from, true, 0, 0) else {
            break;
        };
        let sentence = text[from..end].trim();
        if speakable(sentence) {
            sentences.push(sentence);
        }
        from = next.max(end).max(from + 1);
    }
    sentences
}

/// Collects streamed text (an LLM's answer, token by token) and hands out each sentence once it
/// is complete, so speech can start before the answer ends. With clause breaks on, a long
/// enough clause is handed out at its comma, so the first words are spoken sooner still; the
/// voice loop turns them on for an answer's first piece only, so the rest keeps sentence prosody.
///
/// Code fence lines ("```") are handed out although they say nothing, for
/// [`MarkdownStripper`](crate::tts::MarkdownStripper) to follow code blocks.
///
/// ```
/// use voxdeck_core::tts::sentences::SentenceSplitter;
/// let mut splitter = SentenceSplitter::new();
/// let mut spoken = splitter.push("Sure. Here");
/// spoken.extend(splitter.push(" is the plan. Step"));
/// spoken.extend(splitter.finish());
/// assert_eq!(spoken, ["Sure.", "Here is the plan.", "Step"]);
///
/// let mut splitter = SentenceSplitter::with_clause_breaks(3);
/// assert_eq!(splitter.push("Well, the answer is long, so"), ["Well, the answer is long,"]);
/// splitter.set_clause_breaks(0);
/// assert_eq!(splitter.push(" here, it goes. Done"), ["so here, it goes."]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct SentenceSplitter {
    buffer: String,
    /// Words a clause needs before its comma ends a piece; 0: clause breaks off.
    clause_words: usize,
    /// Words after which a piece with no break is cut ([`word_cut`]); 0: off.
    max_words: usize,
    /// Clause breaks and the word cut end once a piece has been handed out.
    first_only: bool,
}

impl SentenceSplitter {
    /// A splitter that ends pieces at sentence ends only.
    pub fn new() -> SentenceSplitter {
        SentenceSplitter::default()
    }

    /// A splitter that also ends a piece at a clause break (`,` `;` `:` or a spaced dash, then
    /// whitespace) once the clause has `min_words` words; 0 turns clause breaks off.
    pub fn with_clause_breaks(min_words: usize) -> SentenceSplitter {
        SentenceSplitter {
            buffer: String::new(),
            clause_words: min_words,
            max_words: 0,
            first_only: false,
        }
    }

    /// Clause breaks and the word cut apply to the first piece only: later ones are whole
    /// sentences, even those completed by the same [`SentenceSplitter::push`].
    pub fn first_piece_only(mut self) -> SentenceSplitter {
        self.first_only = true;
        self
    }

    /// Also cuts a piece that runs to `max_words` words without a break (see the module docs);
    /// 0 turns the cut off.
    pub fn with_word_cut(mut self, max_words: usize) -> SentenceSplitter {
        self.max_words = max_words;
        self
    }

    /// Turns the word cut on (`max_words` > 0) or off (0) for the text still to be handed out.
    pub fn set_word_cut(&mut self, max_words: usize) {
        self.max_words = max_words;
    }

    /// Turns clause breaks on (`min_words` > 0) or off (0) for the text still to be handed out.
    pub fn set_clause_breaks(&mut self, min_words: usize) {
        self.clause_words = min_words;
    }

    /// Adds `piece`; returns the pieces it completed, in order.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.buffer.push_str(piece);
        let mut sentences = Vec::new();
        let mut from = 0;
        while let Some((end, next)) = next_boundary(&self.buffer, from, false, self.clause_words, self.max_words) {
            let sentence = self.buffer[from..end].trim();
            if worth_handing_out(sentence) {
                sentences.push(sentence.to_owned());
                if self.first_only {
                    self.clause_words = 0;
                    self.max_words = 0;
                }
            }
            from = next.max(end).max(from + 1).min(self.buffer.len());
            if from >= self.buffer.len() {
                break;
            }
        }
        self.buffer.drain(..from);
        sentences
    }

    /// Ends the text: returns what is left, if it has anything to say (or is a code fence).
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        let rest = rest.trim();
        worth_handing_out(rest).then(|| rest.to_owned())
    }

    /// The text received and not yet handed out.
    pub fn pending(&self) -> &str {
        &self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` in chunks of `sizes` characters (cycled) and collects every piece.
    fn stream(splitter: &mut SentenceSplitter, text: &str, sizes: &[usize]) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut got = Vec::new();
        let mut at = 0;
        for &size in sizes.iter().cycle() {
            if at >= chars.len() {
                break;
            }
            let end = (at + size).min(chars.len());
            got.extend(splitter.push(&chars[at..end].iter().collect::<String>()));
            at = end;
        }
        got.extend(splitter.finish());
        got
    }

    #[test]
    fn splits_plain_sentences() {
        assert_eq!(
            split_sentences("The sun is up. Birds sing in the trees! Is it warm today?"),
            ["The sun is up.", "Birds sing in the trees!", "Is it warm today?"]
        );
        assert_eq!(split_sentences("No punctuation at all"), ["No punctuation at all"]);
        assert_eq!(split_sentences("  One.  "), ["One."]);
    }

    #[test]
    fn keeps_abbreviations_numbers_and_initials() {
        assert_eq!(
            split_sentences("Mr. Smith paid $3.50 for it. J. R. R. Tolkien wrote it, e.g. this one. Done."),
            [
                "Mr. Smith paid $3.50 for it.",
                "J. R. R. Tolkien wrote it, e.g. this one.",
                "Done."
            ]
        );
        assert_eq!(split_sentences("Wait... what? Yes!!"), ["Wait... what?", "Yes!!"]);
    }

    #[test]
    fn quotes_newlines_and_empty_pieces() {
        assert_eq!(
            split_sentences("He said \"hi.\" Then he left.\nNext line\n\n...\n"),
            ["He said \"hi.\"", "Then he left.", "Next line"]
        );
        assert!(split_sentences("").is_empty());
        assert!(split_sentences(" ... !? ").is_empty());
        assert_eq!(split_sentences("Ça va? Élan vital."), ["Ça va?", "Élan vital."]);
    }

    #[test]
    fn sentence_rules() {
        let cases: &[(&str, &[&str])] = &[
            // Lists: the marker stays with its item.
            (
                "1. First do this. 2. Then that.",
                &["1. First do this.", "2. Then that."],
            ),
            (
                "Steps:\n1. Open it.\n2. Close it.",
                &["Steps:", "1. Open it.", "2. Close it."],
            ),
            ("a. Apples.\nb. Pears.", &["a. Apples.", "b. Pears."]),
            ("IV. The end. V. Credits.", &["IV. The end.", "V. Credits."]),
            ("**1.** Boil water. Wait.", &["**1.** Boil water.", "Wait."]),
            (
                "- One thing. Another.\n* Star. Item.\n• Dot.",
                &["- One thing.", "Another.", "* Star.", "Item.", "• Dot."],
            ),
            ("a) First. b) Second.", &["a) First.", "b) Second."]),
            // A number inside a sentence is a word: a full stop after it may end the sentence.
            ("Go on in step 2. Then stop.", &["Go on in step 2.", "Then stop."]),
            ("How many? 1,000. Really.", &["How many?", "1,000. Really."]),
            // Numbers, versions, URLs, money.
            ("It costs $3.50.", &["It costs $3.50."]),
            ("Pi is 3.14 or so. Yes.", &["Pi is 3.14 or so.", "Yes."]),
            (
                "Update to v1.2.3 today. Then restart.",
                &["Update to v1.2.3 today.", "Then restart."],
            ),
            (
                "Update to v1.2.3. Then restart.",
                &["Update to v1.2.3.", "Then restart."],
            ),
            (
                "See example.com/a.b for more. Ok.",
                &["See example.com/a.b for more.", "Ok."],
            ),
            ("Visit example.com. It helps.", &["Visit example.com.", "It helps."]),
            // Abbreviations.
            ("The U.S. Army came. Then left.", &["The U.S. Army came.", "Then left."]),
            ("Dr. Smith is in. Bye.", &["Dr. Smith is in.", "Bye."]),
            ("Use fruit, e.g. this one.", &["Use fruit, e.g. this one."]),
            ("Use fruit, e.g. This one.", &["Use fruit, e.g. This one."]),
            // "p.m." then a capital: a sentence end (usually right; "5 p.m. Tuesday" runs short).
            ("It's 5 p.m. Then we eat.", &["It's 5 p.m.", "Then we eat."]),
            ("It's 5 p.m. today.", &["It's 5 p.m. today."]),
            (
                "No. I won't. Try No. 5 instead.",
                &["No.", "I won't.", "Try No. 5 instead."],
            ),
            // Markdown markers around sentence ends and starts.
            (
                "This is **important.** Next one.",
                &["This is **important.**", "Next one."],
            ),
            ("Wait... *what* now?", &["Wait... *what* now?"]),
            ("Done. **Next** step.", &["Done.", "**Next** step."]),
        ];
        for (text, want) in cases {
            assert_eq!(split_sentences(text), *want, "{text:?}");
            for sizes in [&[1][..], &[2, 3, 4], &[5]] {
                assert_eq!(
                    stream(&mut SentenceSplitter::new(), text, sizes),
                    *want,
                    "{text:?} {sizes:?}"
                );
            }
        }
    }

    #[test]
    fn streaming_never_splits_a_number_at_a_token_boundary() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("It costs 3").is_empty());
        assert!(s.push(".5 dollars. Ok").len() == 1);
        assert_eq!(s.pending(), "Ok");

        let mut s = SentenceSplitter::new();
        assert!(s.push("It costs 3.").is_empty(), "a full stop waits for what follows");
        assert_eq!(s.push("5 dollars. Ok"), ["It costs 3.5 dollars."]);

        let mut s = SentenceSplitter::new();
        assert!(s.push("It costs $3.").is_empty());
        assert!(s.push("50.").is_empty());
        assert_eq!(s.finish().as_deref(), Some("It costs $3.50."));

        let mut s = SentenceSplitter::new();
        assert!(s.push("1.").is_empty());
        assert!(s.push(" First").is_empty(), "a list number is not a sentence");
        assert_eq!(s.push(" thing. Next"), ["1. First thing."]);
    }

    #[test]
    fn clause_breaks() {
        let cases: &[(&str, usize, &[&str])] = &[
            (
                "Well, the capital of France is Paris, a city of art.",
                4,
                &["Well, the capital of France is Paris,", "a city of art."],
            ),
            (
                "Short, then more words come here, see.",
                6,
                &["Short, then more words come here,", "see."],
            ),
            (
                "One two three; four five six: seven.",
                3,
                &["One two three;", "four five six:", "seven."],
            ),
            (
                "I think it works — but check it first.",
                3,
                &["I think it works —", "but check it first."],
            ),
            (
                "I think it works – but check.",
                3,
                &["I think it works –", "but check."],
            ),
            (
                "I think it works - but check.",
                3,
                &["I think it works -", "but check."],
            ),
            (
                "I think it works -- but check.",
                3,
                &["I think it works --", "but check."],
            ),
            // Not inside numbers, times and ratios, nor in a range.
            (
                "We sold 1,000 units at 10:30 in a 3:1 ratio, then stopped.",
                3,
                &["We sold 1,000 units at 10:30 in a 3:1 ratio,", "then stopped."],
            ),
            (
                "The value was 3,5 percent, they said.",
                3,
                &["The value was 3,5 percent,", "they said."],
            ),
            (
                "Wait for about 3 - 5 minutes, then serve.",
                3,
                &["Wait for about 3 - 5 minutes,", "then serve."],
            ),
            (
                "A well-known trick is -5 degrees, really.",
                3,
                &["A well-known trick is -5 degrees,", "really."],
            ),
            // What follows "e.g.," or "i.e.," belongs to it.
            (
                "Eat more fresh fruit e.g., apples and pears.",
                3,
                &["Eat more fresh fruit e.g., apples and pears."],
            ),
            (
                "Use the big one i.e., the red one, ok.",
                3,
                &["Use the big one i.e., the red one,", "ok."],
            ),
            // A list marker is not a word; a clause of numbers is no clause.
            ("1. Boil water, then wait.", 2, &["1. Boil water,", "then wait."]),
            ("- Boil, then wait.", 2, &["- Boil, then wait."]),
            ("Pick 1, 2, 3, 4 or 5.", 1, &["Pick 1,", "2, 3, 4 or 5."]),
            // Closing quotes and markers stay with the clause.
            (
                "\"Hello there, friend,\" she said.",
                2,
                &["\"Hello there,", "friend,\" she said."],
            ),
            (
                "**Note:** do it now, please.",
                1,
                &["**Note:**", "do it now,", "please."],
            ),
            // Too few words (counted from the piece's start): no break.
            ("Yes, no, maybe.", 3, &["Yes, no, maybe."]),
            ("Yes, no, maybe, so.", 3, &["Yes, no, maybe,", "so."]),
        ];
        for (text, words, want) in cases {
            for sizes in [&[1][..], &[2, 3, 4], &[100]] {
                let mut s = SentenceSplitter::with_clause_breaks(*words);
                assert_eq!(stream(&mut s, text, sizes), *want, "{text:?} {sizes:?}");
            }
            // Off: sentences only, as split_sentences.
            let mut s = SentenceSplitter::with_clause_breaks(0);
            assert_eq!(stream(&mut s, text, &[3]), split_sentences(text), "{text:?}");
        }
    }

    /// The voice loop's first piece: clause breaks after 3 words and a word cut at 8, for the
    /// first piece only.
    fn first_piece_then_sentences(text: &str, sizes: &[usize]) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut s = SentenceSplitter::with_clause_breaks(3).with_word_cut(8).first_piece_only();
        let mut got: Vec<String> = Vec::new();
        let mut at = 0;
        for &size in sizes.iter().cycle() {
            if at >= chars.len() {
                break;
            }
            let end = (at + size).min(chars.len());
            got.extend(s.push(&chars[at..end].iter().collect::<String>()));
            at = end;
        }
        got.extend(s.finish());
        got
    }

    #[test]
    fn word_cut_ends_a_long_first_piece_where_a_phrase_starts() {
        let cases: &[(&str, &[&str])] = &[
            // Before a phrase opener once 8 words are in.
            (
                "One fun fact about cars is that they are made of a material called carbon fiber, which is derived from trees.",
                &["One fun fact about cars is that they are made", "of a material called carbon fiber, which is derived from trees."],
            ),
            // A sentence that ends within the slack stays whole; so does a short one.
            (
                "The sky is blue because of a process called Rayleigh scattering today. It is.",
                &["The sky is blue because of a process called Rayleigh scattering today.", "It is."],
            ),
            ("The capital of France is Paris.", &["The capital of France is Paris."]),
            // No opener within 4 more words: cut where it stands.
            (
                "Cats sleep twelve hours every day mostly dozing lightly near warm windows happily enough.",
                &["Cats sleep twelve hours every day mostly dozing lightly near warm windows", "happily enough."],
            ),
            // Never beside a number or after an abbreviation.
            (
                "The distance from here to there is about 2.5 miles by car.",
                &["The distance from here to there is about 2.5 miles", "by car."],
            ),
            (
                "My friend and neighbour across the road is Mr. Smith from the bakery.",
                &["My friend and neighbour across the road is Mr. Smith", "from the bakery."],
            ),
            // A comma after 3 words comes first; later pieces are whole sentences.
            (
                "Sure thing, friend, the capital of France is Paris and it is big. Then more words come here for you and me.",
                &["Sure thing, friend,", "the capital of France is Paris and it is big.", "Then more words come here for you and me."],
            ),
        ];
        for (text, want) in cases {
            for sizes in [&[1][..], &[2, 3, 4], &[100]] {
                assert_eq!(first_piece_then_sentences(text, sizes), *want, "{text:?} {sizes:?}");
            }
        }
    }

    #[test]
    fn word_cut_waits_for_the_next_word() {
        let mut s = SentenceSplitter::new().with_word_cut(8);
        assert!(s.push("One two three four five six seven eight ").is_empty());
        assert!(s.push("of").is_empty(), "\"of\" may be \"often\"");
        assert_eq!(s.push(" it"), ["One two three four five six seven eight"]);
        s.set_word_cut(0);
        assert!(s.push(" one two three four five six seven eight nine ten eleven twelve and").is_empty());
        assert_eq!(s.finish().as_deref(), Some("of it one two three four five six seven eight nine ten eleven twelve and"));
    }

    #[test]
    fn clause_breaks_wait_for_the_next_character() {
        let mut s = SentenceSplitter::with_clause_breaks(2);
        assert!(s.push("We sold 1,").is_empty(), "1, may be 1,000");
        assert!(s.push("000 units").is_empty());
        assert!(s.push(",").is_empty());
        assert_eq!(s.push(" then"), ["We sold 1,000 units,"]);
        assert!(s.push(" about 3 -").is_empty());
        assert!(
            s.push(" ").is_empty(),
            "a dash waits for the next word: 3 - 5 is a range"
        );
        assert!(s.push("5 more, ").len() == 1);
    }

    #[test]
    fn clause_breaks_only_while_enabled() {
        let text = "First of all, this is a long clause, and here is another one, then the end.";
        let mut s = SentenceSplitter::with_clause_breaks(3);
        let mut got = Vec::new();
        for chunk in text.as_bytes().chunks(3) {
            let pieces = s.push(std::str::from_utf8(chunk).unwrap_or_default());
            if !pieces.is_empty() {
                s.set_clause_breaks(0);
            }
            got.extend(pieces);
        }
        got.extend(s.finish());
        assert_eq!(
            got,
            [
                "First of all,",
                "this is a long clause, and here is another one, then the end."
            ]
        );
        s.set_clause_breaks(4);
        assert_eq!(
            s.push("Now on again, it splits, once more"),
            ["Now on again, it splits,"]
        );
    }

    #[test]
    fn code_fences_are_handed_out() {
        let mut s = SentenceSplitter::new();
        assert_eq!(
            stream(&mut s, "Run:\n```\nls -la\n```\nDone.\n---\n", &[2, 3]),
            ["Run:", "```", "ls -la", "```", "Done."]
        );
        assert_eq!(split_sentences("Run:\n```\nls\n```"), ["Run:", "ls"]);
        let mut s = SentenceSplitter::new();
        s.push("text\n");
        s.push("```");
        assert_eq!(s.finish().as_deref(), Some("```"));
    }

    #[test]
    fn streaming_matches_whole_text() {
        let text = "Sure! The capital of France is Paris. It has about 2.1 million people, Mr. Smith. Anything else?";
        let whole: Vec<String> = split_sentences(text).into_iter().map(str::to_owned).collect();
        for step in [1, 2, 3, 7] {
            let mut splitter = SentenceSplitter::new();
            let mut got = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(step) {
                got.extend(splitter.push(&piece.iter().collect::<String>()));
            }
            got.extend(splitter.finish());
            assert_eq!(got, whole, "step {step}");
        }
    }

    #[test]
    fn streaming_waits_for_the_next_word() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("Hello.").is_empty());
        assert!(s.push(" ").is_empty());
        assert_eq!(s.push("How"), ["Hello."]);
        assert_eq!(s.pending(), "How");
        assert_eq!(s.finish().as_deref(), Some("How"));
        assert_eq!(s.finish(), None);
    }
}
