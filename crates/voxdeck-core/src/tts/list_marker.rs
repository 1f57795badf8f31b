//! List markers ("- ", "1. ", "a) ") at the start of a line: the sentence splitter must not end
//! a sentence after one, and the markdown stripper removes them. A leaf both of them use.

/// Whitespace that does not end a line.
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace() && c != '\n'
}

/// The length of a list marker at the start of `line` ("- ", "* ", "+ ", "• ", "1. ", "12) ",
/// "a) "), with the spaces after it; 0 when it has none.
pub(super) fn list_marker_len(line: &str) -> usize {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let mut chars = line[digits..].chars();
    let marker = match (digits, chars.next(), chars.next()) {
        (0, Some('-' | '*' | '+' | '•'), _) => line.chars().next().map_or(0, char::len_utf8),
        (1..=3, Some('.' | ')'), _) => digits + 1,
        (0, Some(c), Some(')')) if c.is_ascii_alphabetic() => 2,
        _ => return 0,
    };
    let rest = &line[marker..];
    let spaces = rest.len() - rest.trim_start_matches(is_space).len();
    if spaces == 0 { 0 } else { marker + spaces }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_markers() {
        for (line, len) in [
            ("- a", 2),
            ("* a", 2),
            ("+  a", 3),
            ("• a", 4),
            ("1. a", 3),
            ("12) a", 4),
            ("a) b", 3),
            ("-5", 0),
            ("**a**", 0),
            ("2010. a", 0),
            ("1.5", 0),
            ("ab) c", 0),
            ("", 0),
        ] {
            assert_eq!(list_marker_len(line), len, "{line:?}");
        }
    }
}
