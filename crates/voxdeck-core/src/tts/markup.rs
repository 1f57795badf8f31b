//! Markdown to speakable text. The system prompt asks the LLM for plain spoken answers; what
//! markdown still comes is stripped here before it reaches the voice, which would otherwise read
//! out "asterisk asterisk" or a whole URL.
//!
//! [`MarkdownStripper`] takes the pieces [`SentenceSplitter`](super::SentenceSplitter) hands out
//! (a sentence, a clause or a line) and keeps the state that spans pieces: whether a code block
//! is open. [`strip_markdown`] does the same for a whole text.
//!
//! What goes, line by line:
//!
//! - Code blocks: from a fence (```` ``` ```` or `~~~`) to the next, fence lines included, also
//!   when a fence comes in the middle of a piece ("Run: ```bash"); a backtick run that closes on
//!   the same line ("```ls```") is inline code instead.
//! - At the start of a line or piece: blockquote `>`, heading `#`..`######` (and closing `#`s),
//!   list markers (`- ` `* ` `+ ` `• ` `1. ` `1) ` `a) `) and task boxes (`[ ]`, `[x]`). Pieces
//!   do not say whether they start a line, so an answer that begins "5. That's it" loses its "5."
//!   as a list number would; lists are the far commoner case.
//! - Tables: a row `| a | b |` is read "a, b"; the `|---|` rule says nothing.
//! - Horizontal rules (`---`, `***`) and other lines with no letter or digit: nothing ([`None`]).
//! - Emphasis markers `**` `__` `*` `_` `~~`, keeping the words. An `_` inside a word
//!   ("snake_case") and a `*` between spaces or digits ("2 * 3", "2*3") are text, not markup.
//! - Inline code: the backticks; the code itself is kept verbatim ("`snake_case`").
//! - Links `[text](url)` and `[text][ref]` become their text, images `![alt](src)` their alt
//!   text; footnote marks `[^1]` go.
//! - Bare URLs (`https://…`, `www.…`) and autolinks (`<https://…>`) become their host
//!   ("example.com"): read out whole they are noise, and the host is what a listener can use.
//! - HTML tags (`<br>`, `<b>`, known tag names only, so "Vec<T>" stays) and comments; the
//!   entities `&amp;` `&lt;` `&gt;` `&quot;` `&#39;` `&apos;` `&nbsp;` are decoded.
//! - Emoji (and their joiners and variation selectors): the voice cannot say them.
//! - Backslash escapes (`\*`) keep the character as text.

use super::list_marker::list_marker_len;

/// HTML tags that are removed; anything else in angle brackets is left as text.
const HTML_TAGS: &[&str] = &[
    "a",
    "b",
    "blockquote",
    "br",
    "center",
    "code",
    "del",
    "details",
    "div",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "td",
    "th",
    "tr",
    "u",
    "ul",
];

const ENTITIES: &[(&str, &str)] = &[
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", "\""),
    ("&#39;", "'"),
    ("&apos;", "'"),
    ("&nbsp;", " "),
];

/// Strips markdown from the pieces of a streamed answer, one piece at a time, remembering across
/// pieces whether a code block is open.
///
/// ```
/// use voxdeck_core::tts::markup::MarkdownStripper;
/// let mut stripper = MarkdownStripper::new();
/// assert_eq!(stripper.strip("**Note:** see [the docs](https://x.org).").as_deref(), Some("Note: see the docs."));
/// assert_eq!(stripper.strip("```rust"), None);
/// assert_eq!(stripper.strip("let x = 1;"), None);
/// assert_eq!(stripper.strip("```"), None);
/// assert_eq!(stripper.strip("- Done"), Some("Done".to_owned()));
/// ```
#[derive(Debug, Default, Clone)]
pub struct MarkdownStripper {
    in_code: bool,
}

impl MarkdownStripper {
    pub fn new() -> MarkdownStripper {
        MarkdownStripper::default()
    }

    /// Whether a code block is open: the pieces that come next are code until its fence.
    pub fn in_code_block(&self) -> bool {
        self.in_code
    }

    /// The text to speak for `piece` (a sentence, clause or line from the splitter), or `None`
    /// when nothing speakable is left. A piece of several lines is spoken as one.
    pub fn strip(&mut self, piece: &str) -> Option<String> {
        let lines: Vec<String> = piece.lines().filter_map(|line| self.strip_line(line)).collect();
        (!lines.is_empty()).then(|| lines.join(" "))
    }

    fn strip_line(&mut self, line: &str) -> Option<String> {
        let mut spoken = String::new();
        let mut rest = line;
        let mut line_start = true;
        loop {
            if self.in_code {
                let Some(end) = closing_fence(rest) else {
                    break;
                };
                self.in_code = false;
                rest = &rest[end..];
            } else if let Some((start, end)) = opening_fence(rest, line_start) {
                spoken.push_str(&speakable_text(&rest[..start], line_start));
                spoken.push(' ');
                self.in_code = true;
                rest = &rest[end..];
            } else {
                spoken.push_str(&speakable_text(rest, line_start));
                break;
            }
            line_start = false;
        }
        let spoken = tidy(&spoken);
        spoken.chars().any(char::is_alphanumeric).then_some(spoken)
    }
}

/// Strips markdown from a whole text (for history and display): each line as
/// [`MarkdownStripper::strip`] would, lines with nothing left dropped, the rest joined by `\n`.
pub fn strip_markdown(text: &str) -> String {
    let mut stripper = MarkdownStripper::new();
    let lines: Vec<String> = text.lines().filter_map(|line| stripper.strip_line(line)).collect();
    lines.join("\n")
}

/// The length of the run of `c` that `text` starts with, in bytes.
fn run_len(text: &str, c: char) -> usize {
    text.len() - text.trim_start_matches(c).len()
}

/// Where a run of exactly `n` backticks starts in `text`.
fn find_backtick_run(text: &str, n: usize) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = text[from..].find('`') {
        let start = from + offset;
        let len = run_len(&text[start..], '`');
        if len == n {
            return Some(start);
        }
        from = start + len;
    }
    None
}

/// The fence that opens a code block in `text`, as `(start, end)` of its marker: `~~~` at the
/// start of a line, or a run of three or more backticks that does not close on the same line
/// (one that does is inline code).
fn opening_fence(text: &str, line_start: bool) -> Option<(usize, usize)> {
    let trimmed = text.trim_start();
    if line_start && trimmed.starts_with("~~~") {
        let start = text.len() - trimmed.len();
        return Some((start, start + run_len(trimmed, '~')));
    }
    let mut from = 0;
    while let Some(offset) = text[from..].find("```") {
        let start = from + offset;
        let end = start + run_len(&text[start..], '`');
        match find_backtick_run(&text[end..], end - start) {
            Some(close) => from = end + close + (end - start),
            None => return Some((start, end)),
        }
    }
    None
}

/// Where the text after a closing fence in `text` starts (the fence may end a line of code).
fn closing_fence(text: &str) -> Option<usize> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("~~~") {
        return Some(text.len() - trimmed.len() + run_len(trimmed, '~'));
    }
    let start = text.find("```")?;
    Some(start + run_len(&text[start..], '`'))
}

/// Markdown-free text of `text` outside code blocks; `line_start`: it starts a line (or piece),
/// where block markers (headings, quotes, list markers, table pipes) may be.
fn speakable_text(text: &str, line_start: bool) -> String {
    let text = text.trim();
    if !line_start {
        return inline(text);
    }
    let text = strip_block_markers(text);
    if text.starts_with('|') || text.ends_with('|') {
        let cells: Vec<String> = text
            .split('|')
            .map(|cell| tidy(&inline(cell)))
            .filter(|cell| cell.chars().any(char::is_alphanumeric))
            .collect();
        return cells.join(", ");
    }
    inline(text)
}

/// `line` without its leading blockquote, heading and list markers.
fn strip_block_markers(line: &str) -> &str {
    let mut line = line.trim_start();
    while let Some(rest) = line.strip_prefix('>') {
        line = rest.trim_start();
    }
    let hashes = run_len(line, '#');
    if (1..=6).contains(&hashes) && line[hashes..].chars().next().is_none_or(char::is_whitespace) {
        line = line[hashes..].trim();
        let unclosed = line.trim_end_matches('#');
        if unclosed.is_empty() || unclosed.ends_with(char::is_whitespace) {
            line = unclosed.trim_end();
        }
    }
    line = &line[list_marker_len(line)..];
    for task in ["[ ] ", "[x] ", "[X] "] {
        if let Some(rest) = line.strip_prefix(task) {
            line = rest;
        }
    }
    line.trim()
}

/// `text` without inline markdown: emphasis, code spans, links, URLs, HTML, emoji.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let rest = &text[i..];
        let prev = text[..i].chars().next_back();
        let used = match c {
            '\\' => match rest[1..].chars().next() {
                Some(n) if n.is_ascii_punctuation() => {
                    out.push(n);
                    2
                }
                _ => {
                    out.push('\\');
                    1
                }
            },
            '`' => {
                let n = run_len(rest, '`');
                match find_backtick_run(&rest[n..], n) {
                    Some(close) => {
                        out.push_str(rest[n..n + close].trim());
                        n + close + n
                    }
                    None => n, // a stray backtick says nothing
                }
            }
            '!' if rest.starts_with("![") => match link(&rest[1..]) {
                Some((alt, len)) => {
                    out.push_str(&inline(alt));
                    1 + len
                }
                None => {
                    out.push('!');
                    1
                }
            },
            '[' => {
                if let Some(close) = rest.find(']').filter(|_| rest.starts_with("[^")) {
                    close + 1 // a footnote mark
                } else if let Some((label, len)) = link(rest) {
                    out.push_str(&inline(label));
                    len
                } else {
                    out.push('[');
                    1
                }
            }
            '<' => angle_bracket(rest, &mut out),
            '&' => match ENTITIES.iter().find(|(entity, _)| rest.starts_with(entity)) {
                Some((entity, text)) => {
                    out.push_str(text);
                    entity.len()
                }
                None => {
                    out.push('&');
                    1
                }
            },
            '*' | '_' | '~' => {
                let n = run_len(rest, c);
                if !is_emphasis(c, n, prev, rest[n..].chars().next()) {
                    out.push_str(&rest[..n]);
                }
                n
            }
            'h' | 'H' | 'w' | 'W' if !prev.is_some_and(char::is_alphanumeric) => match url(rest) {
                Some((host, len)) => {
                    out.push_str(host);
                    len
                }
                None => {
                    out.push(c);
                    c.len_utf8()
                }
            },
            c if is_emoji(c) => c.len_utf8(),
            c => {
                out.push(c);
                c.len_utf8()
            }
        };
        i += used;
    }
    out
}

/// Whether a run of `n` × `c` between `prev` and `next` is an emphasis marker rather than text.
fn is_emphasis(c: char, n: usize, prev: Option<char>, next: Option<char>) -> bool {
    let space = |o: Option<char>| o.is_none_or(char::is_whitespace);
    let word = |o: Option<char>| o.is_some_and(char::is_alphanumeric);
    let digit = |o: Option<char>| o.is_some_and(|c| c.is_ascii_digit());
    match c {
        '*' => !(space(prev) && space(next) || digit(prev) && digit(next)),
        // Opens before a word but not inside one, or closes after one but not inside one.
        '_' => !space(next) && !word(prev) || !space(prev) && !word(next),
        _ => n == 2,
    }
}

/// A link at the start of `text` ("[label](url)" or "[label][ref]"): its label and length.
fn link(text: &str) -> Option<(&str, usize)> {
    let close = matching(text, '[', ']')?;
    let label = &text[1..close];
    let after = &text[close + 1..];
    let open = after.chars().next().filter(|c| matches!(c, '(' | '['))?;
    let end = matching(after, open, if open == '(' { ')' } else { ']' })?;
    Some((label, close + 1 + end + 1))
}

/// Where the bracket that `text` opens with (`open`) is closed, counting nesting.
fn matching(text: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i);
            }
        } else if c == '\n' {
            return None;
        }
    }
    None
}

/// An HTML tag, comment or autolink at the start of `text` (which starts with `<`): writes what
/// to say for it and returns its length.
fn angle_bracket(text: &str, out: &mut String) -> usize {
    if text.starts_with("<!--") {
        return text.find("-->").map_or(text.len(), |end| end + 3);
    }
    let Some(close) = text.find('>').filter(|&close| !text[1..close].contains(['<', '\n'])) else {
        out.push('<');
        return 1;
    };
    let inner = &text[1..close];
    if let Some((host, _)) = url(inner).filter(|&(_, len)| len == inner.len()) {
        out.push_str(host);
        return close + 1;
    }
    let name = inner.trim_start_matches('/');
    let name_len = name.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(name.len());
    let after_name = name[name_len..].chars().next();
    if HTML_TAGS.iter().any(|tag| tag.eq_ignore_ascii_case(&name[..name_len]))
        && after_name.is_none_or(|c| c.is_whitespace() || c == '/')
    {
        out.push(' ');
        close + 1
    } else {
        out.push('<');
        1
    }
}

/// A bare URL at the start of `text` (`http://`, `https://` or `www.`): its host, without
/// "www.", and the URL's length (trailing punctuation is not part of it).
fn url(text: &str) -> Option<(&str, usize)> {
    let starts = |prefix: &str| text.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    let scheme = if starts("https://") {
        8
    } else if starts("http://") {
        7
    } else if starts("www.") {
        0
    } else {
        return None;
    };
    let len = text
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ')' | ']' | '|' | '`'))
        .unwrap_or(text.len());
    let url = text[..len].trim_end_matches(['.', ',', ';', ':', '!', '?', '\'']);
    let authority = url[scheme..].split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let host = match host.get(..4) {
        Some(www) if www.eq_ignore_ascii_case("www.") => &host[4..],
        _ => host,
    };
    (!host.is_empty() && host.contains(|c: char| c.is_alphanumeric())).then_some((host, url.len()))
}

/// Pictographs, dingbats, flags and the joiners, variation selectors and keycaps that build
/// emoji sequences.
fn is_emoji(c: char) -> bool {
    matches!(
        c as u32,
        0x1F000..=0x1FAFF
            | 0x2600..=0x27BF
            | 0x2B00..=0x2BFF
            | 0x231A..=0x231B
            | 0x2328
            | 0x23CF
            | 0x23E9..=0x23F3
            | 0x23F8..=0x23FA
            | 0x200D
            | 0x20E3
            | 0xFE0E..=0xFE0F
            | 0xE0020..=0xE007F
            | 0x3030
            | 0x303D
            | 0x3297
            | 0x3299
    )
}

/// Single spaces between words, none before punctuation that lost its word ("Great 🎉!").
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        let punctuation = word.chars().all(|c| matches!(c, ',' | '.' | ';' | ':' | '!' | '?'));
        if !out.is_empty() && !punctuation {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::sentences::SentenceSplitter;

    fn one(piece: &str) -> Option<String> {
        MarkdownStripper::new().strip(piece)
    }

    #[test]
    fn inline_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Plain text, nothing to do.", Some("Plain text, nothing to do.")),
            ("**Note:** do X.", Some("Note: do X.")),
            (
                "This is __bold__ and *em* and _em_ too.",
                Some("This is bold and em and em too."),
            ),
            ("***Both*** at once.", Some("Both at once.")),
            ("~~Old~~ new.", Some("Old new.")),
            ("About ~5 minutes.", Some("About ~5 minutes.")),
            (
                "Set snake_case_names and my_var here.",
                Some("Set snake_case_names and my_var here."),
            ),
            ("Then 2 * 3 and 2*3 are 6.", Some("Then 2 * 3 and 2*3 are 6.")),
            ("Run `cargo build` or ``a `b` c``.", Some("Run cargo build or a `b` c.")),
            ("Call `__init__` and `**kwargs`.", Some("Call __init__ and **kwargs.")),
            ("A stray ` backtick.", Some("A stray backtick.")),
            (
                "See [the guide](https://example.com/a_(b)) now.",
                Some("See the guide now."),
            ),
            ("See [**the** guide][1] now.", Some("See the guide now.")),
            ("A [bracket] stays.", Some("A [bracket] stays.")),
            ("Look: ![a cat](cat.png)!", Some("Look: a cat!")),
            ("True[^1].", Some("True.")),
            ("Go to https://www.example.com/a/b?c=d.", Some("Go to example.com.")),
            (
                "Go to www.rust-lang.org, then read.",
                Some("Go to rust-lang.org, then read."),
            ),
            ("Or (http://user@localhost:8080/x) here.", Some("Or (localhost) here.")),
            ("Mail <https://docs.rs/foo> today.", Some("Mail docs.rs today.")),
            ("The whatever word stays www.", Some("The whatever word stays www.")),
            (
                "Line<br>break and <b>bold</b> <a href=\"x\">link</a>.",
                Some("Line break and bold link."),
            ),
            ("A Vec<T> and a < b > c.", Some("A Vec<T> and a < b > c.")),
            ("Hidden <!-- comment --> text.", Some("Hidden text.")),
            ("Fish &amp; chips &lt;3.", Some("Fish & chips <3.")),
            ("Great job 🎉! Thumbs 👍🏽 up ✅.", Some("Great job! Thumbs up.")),
            ("Family 👨‍👩‍👧 and flag 🇫🇷 and ❤️ love.", Some("Family and flag and love.")),
            ("Keycap 1️⃣ one.", Some("Keycap 1 one.")),
            ("Escaped \\*stars\\* stay.", Some("Escaped *stars* stay.")),
            ("Arrows → stay, as does café.", Some("Arrows → stay, as does café.")),
            ("🎉🎉", None),
            ("**", None),
            ("", None),
        ];
        for (piece, want) in cases {
            assert_eq!(one(piece).as_deref(), *want, "{piece:?}");
        }
    }

    #[test]
    fn block_rules() {
        let cases: &[(&str, Option<&str>)] = &[
            ("# Title", Some("Title")),
            ("###### Deep title ###", Some("Deep title")),
            ("## Learn C#", Some("Learn C#")),
            ("#hashtag stays", Some("#hashtag stays")),
            ("####### Seven is not a heading", Some("####### Seven is not a heading")),
            ("> Quoted text.", Some("Quoted text.")),
            ("> > - Nested item", Some("Nested item")),
            ("- Item one", Some("Item one")),
            ("* Item two", Some("Item two")),
            ("+ Item three", Some("Item three")),
            ("• Item four", Some("Item four")),
            ("1. First step.", Some("First step.")),
            ("12) Twelfth step.", Some("Twelfth step.")),
            ("a) Option a.", Some("Option a.")),
            ("- [ ] Open task", Some("Open task")),
            ("- [x] Done task", Some("Done task")),
            ("* **Bold:** item", Some("Bold: item")),
            ("2010. A year, not a list.", Some("2010. A year, not a list.")),
            ("1.5 million people.", Some("1.5 million people.")),
            ("-5 degrees.", Some("-5 degrees.")),
            ("| Tea | Time |", Some("Tea, Time")),
            ("| **Green** tea | 2 min |", Some("Green tea, 2 min")),
            ("|-----|:----:|", None),
            ("|  |  |", None),
            ("---", None),
            ("***", None),
            ("___", None),
            ("===", None),
        ];
        for (piece, want) in cases {
            assert_eq!(one(piece).as_deref(), *want, "{piece:?}");
        }
    }

    #[test]
    fn code_fences_span_pieces() {
        let mut s = MarkdownStripper::new();
        let pieces: &[(&str, Option<&str>)] = &[
            ("Here it is:", Some("Here it is:")),
            ("```python", None),
            ("print('Hello. World')", None),
            ("# not a heading", None),
            ("```", None),
            ("After the code.", Some("After the code.")),
            // A fence in the middle of a piece, and text after a closing fence.
            ("Run this: ```bash", Some("Run this:")),
            ("ls -la", None),
            ("``` Then check.", Some("Then check.")),
            // Inline triple backticks close on the same line: inline code.
            ("Use ```ls``` here.", Some("Use ls here.")),
            ("```ls``` works too.", Some("ls works too.")),
            // Tilde fences, at the start of a line only.
            ("~~~", None),
            ("x = 1", None),
            ("~~~", None),
            ("Code: `a ~~~ b` is inline.", Some("Code: a ~~~ b is inline.")),
            // A whole block in one piece.
            ("Before\n```\ncode\n```\nafter", Some("Before after")),
        ];
        for (piece, want) in pieces {
            assert_eq!(s.strip(piece).as_deref(), *want, "{piece:?}");
        }
        assert!(!s.in_code_block());
        assert_eq!(s.strip("```rust"), None);
        assert!(s.in_code_block());
    }

    #[test]
    fn strips_whole_texts() {
        let text =
            "# Tea\n\nMake **good** tea:\n\n1. Boil water.\n2. Steep it.\n\n```sh\nboil --now\n```\n\n---\n> Enjoy 🍵!";
        assert_eq!(
            strip_markdown(text),
            "Tea\nMake good tea:\nBoil water.\nSteep it.\nEnjoy!"
        );
        assert_eq!(strip_markdown(""), "");
        assert_eq!(strip_markdown("Plain."), "Plain.");
    }

    /// An LLM answer with markdown, streamed in 2-4 character tokens through the splitter with
    /// clause breaks for the first piece (as the voice loop does) and then the stripper.
    #[test]
    fn streamed_markdown_answer() {
        let answer = "**Sure**, here's how to make a good cup of tea, step by step:\n\n\
            1. Boil fresh water, then let it cool for about 30 seconds.\n\
            2. Put one tea bag in a cup — or 2.5 grams of loose leaves.\n\
            3. Pour the water and steep for 3 to 5 minutes. Don't rush it!\n\n\
            ```bash\n\
            echo \"Tea. Is. Ready.\"\n\
            ```\n\n\
            > **Tip:** add milk *after* steeping, e.g. with black tea.\n\n\
            | Tea | Time |\n\
            |-----|------|\n\
            | Green | 2 min |\n\n\
            ---\n\
            See [this guide](https://example.com/tea.html) for more. Enjoy! 🍵";
        let chars: Vec<char> = answer.chars().collect();
        let mut splitter = SentenceSplitter::with_clause_breaks(6);
        let mut stripper = MarkdownStripper::new();
        let mut spoken = Vec::new();
        let mut say = |piece: String, splitter: &mut SentenceSplitter| {
            if let Some(text) = stripper.strip(&piece) {
                splitter.set_clause_breaks(0); // the first piece is out: sentences from now on
                spoken.push(text);
            }
        };
        let mut at = 0;
        for size in [2, 3, 4].into_iter().cycle() {
            if at >= chars.len() {
                break;
            }
            let token: String = chars[at..(at + size).min(chars.len())].iter().collect();
            at += size;
            for piece in splitter.push(&token) {
                say(piece, &mut splitter);
            }
        }
        if let Some(piece) = splitter.finish() {
            say(piece, &mut splitter);
        }
        assert_eq!(
            spoken,
            [
                "Sure, here's how to make a good cup of tea,",
                "step by step:",
                "Boil fresh water, then let it cool for about 30 seconds.",
                "Put one tea bag in a cup — or 2.5 grams of loose leaves.",
                "Pour the water and steep for 3 to 5 minutes.",
                "Don't rush it!",
                "Tip: add milk after steeping, e.g. with black tea.",
                "Tea, Time",
                "Green, 2 min",
                "See this guide for more.",
                "Enjoy!",
            ]
        );
    }
}
