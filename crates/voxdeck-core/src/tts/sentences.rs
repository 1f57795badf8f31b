//! Splitting text into sentences, for speaking one sentence at a time: whole texts with
//! [`split_sentences`], and text that arrives in pieces (an LLM's streamed answer) with
//! [`SentenceSplitter`].
//!
//! A sentence ends at `.` `!` `?` `…` (or their full-width forms), after any closing quotes and
//! brackets, when whitespace follows and the next word does not start in lower case (so
//! "e.g. this" and "Wait... what" stay whole); or at a line break. A full stop after a common
//! title or abbreviation ("Mr.", "Dr.", "vs.") or a single capital ("J. R. R. Tolkien") does not
//! end one. A period inside a number ("3.5") has no whitespace after it and never does. Pieces
//! with nothing to say (no letter or digit) are dropped.

/// Abbreviations that a full stop does not end a sentence after (compared case-insensitively).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "approx", "no", "fig", "gen",
    "gov", "sen", "rep", "lt", "col", "capt", "sgt",
];

const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '»', '”', '’', '›', '」', '』'];

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？' | '．')
}

/// True when `sentence` has something to say.
fn speakable(sentence: &str) -> bool {
    sentence.chars().any(char::is_alphanumeric)
}

/// Whether a full stop at byte `dot` of `text` may end a sentence, judging the word before it.
fn dot_can_end(text: &str, dot: usize) -> bool {
    let before = &text[..dot];
    let word_start = before
        .rfind(|c: char| c.is_whitespace() || c == '(' || c == '"')
        .map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    let word = &before[word_start..];
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if c.is_uppercase() && c != 'I' {
            return false; // an initial ("I." is more often the pronoun)
        }
    }
    !ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(word))
}

/// Where the sentence that starts at `from` ends: `Some((end, next))` with the sentence in
/// `text[from..end]` and the next one starting at `next`. `complete`: no more text will come,
/// so the end of `text` ends the sentence; otherwise a boundary needs to see what follows it.
fn next_boundary(text: &str, from: usize, complete: bool) -> Option<(usize, usize)> {
    let bytes_len = text.len();
    let mut iter = text[from..].char_indices().map(|(i, c)| (i + from, c)).peekable();
    while let Some((i, c)) = iter.next() {
        if c == '\n' {
            return Some((i, i + 1));
        }
        if !is_terminal(c) {
            continue;
        }
        // The run of terminal punctuation, then closing quotes and brackets.
        let mut end = i + c.len_utf8();
        let mut run_has_dot_only = c == '.';
        while let Some(&(j, d)) = iter.peek() {
            if is_terminal(d) {
                run_has_dot_only &= d == '.';
                end = j + d.len_utf8();
                iter.next();
            } else {
                break;
            }
        }
        while let Some(&(j, d)) = iter.peek() {
            if CLOSERS.contains(&d) {
                end = j + d.len_utf8();
                iter.next();
            } else {
                break;
            }
        }
        // A single full stop after an abbreviation or an initial continues the sentence.
        if c == '.' && run_has_dot_only && end - i == 1 && !dot_can_end(text, i) {
            continue;
        }
        // Whitespace must follow, then a word that does not start in lower case.
        let rest = &text[end..];
        let after_space = rest.trim_start_matches(|c: char| c.is_whitespace() && c != '\n');
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
            Some(n) if n.is_lowercase() => continue,
            Some(_) => return Some((end, next)),
        }
    }
    complete.then_some((bytes_len, bytes_len))
}

/// Splits a whole text into sentences (trimmed; those with nothing to say are left out).
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut from = 0;
    while from < text.len() {
        let Some((end, next)) = next_boundary(text, from, true) else {
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
/// is complete, so speech can start before the answer ends.
///
/// ```
/// use voxdeck_core::tts::sentences::SentenceSplitter;
/// let mut splitter = SentenceSplitter::new();
/// let mut spoken = splitter.push("Sure. Here");
/// spoken.extend(splitter.push(" is the plan. Step"));
/// spoken.extend(splitter.finish());
/// assert_eq!(spoken, ["Sure.", "Here is the plan.", "Step"]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct SentenceSplitter {
    buffer: String,
}

impl SentenceSplitter {
    pub fn new() -> SentenceSplitter {
        SentenceSplitter::default()
    }

    /// Adds `piece`; returns the sentences it completed, in order.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.buffer.push_str(piece);
        let mut sentences = Vec::new();
        let mut from = 0;
        while let Some((end, next)) = next_boundary(&self.buffer, from, false) {
            let sentence = self.buffer[from..end].trim();
            if speakable(sentence) {
                sentences.push(sentence.to_owned());
            }
            from = next.max(end).max(from + 1).min(self.buffer.len());
            if from >= self.buffer.len() {
                break;
            }
        }
        self.buffer.drain(..from);
        sentences
    }

    /// Ends the text: returns what is left, if it has anything to say.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        let rest = rest.trim();
        speakable(rest).then(|| rest.to_owned())
    }

    /// The text received and not yet handed out.
    pub fn pending(&self) -> &str {
        &self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
