//! Word error rate, for checking what Whisper heard against what was said.

use crate::number_words::{ONES, TENS};

/// Lowercase words without punctuation; digits spelled out ("10" -> "ten"), so that Whisper's
/// "10 minutes" matches "ten minutes".
pub fn normalise(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
        .collect();
    cleaned
        .split_whitespace()
        .flat_map(|w| match w.parse::<u32>() {
            Ok(n) if n < 1000 => number_words(n),
            _ => vec![w.trim_matches('\'').to_owned()],
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn number_words(n: u32) -> Vec<String> {
    let mut words = Vec::new();
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        words.push(ONES[hundreds as usize].to_owned());
        words.push("hundred".to_owned());
    }
    if rest >= 20 {
        words.push(TENS[(rest / 10) as usize].to_owned());
        if rest % 10 > 0 {
            words.push(ONES[(rest % 10) as usize].to_owned());
        }
    } else if rest > 0 || hundreds == 0 {
        words.push(ONES[rest as usize].to_owned());
    }
    words
}

/// Word-level edit distance between reference and hypothesis.
pub fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = prev[j] + usize::from(r != h);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

/// Word error rate of `hypothesis` against `reference` after [`normalise`]: edits per reference
/// word (0 = perfect; can exceed 1 when the hypothesis adds words).
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let reference = normalise(reference);
    let errors = word_errors(&reference, &normalise(hypothesis));
    if reference.is_empty() {
        return if errors == 0 { 0.0 } else { 1.0 };
    }
    errors as f64 / reference.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wer_helper() {
        assert_eq!(
            normalise("Set a timer for 10 minutes, please!"),
            normalise("set a timer for ten minutes please")
        );
        assert_eq!(normalise("It's 42."), ["it's", "forty", "two"]);
        assert_eq!(normalise("100 and 7"), ["one", "hundred", "and", "seven"]);
        let r = normalise("the cat sat on the mat");
        assert_eq!(word_errors(&r, &normalise("the cat sat on the mat")), 0);
        assert_eq!(word_errors(&r, &normalise("the cat sat on mat")), 1);
        assert_eq!(word_errors(&r, &normalise("a cat sat on the hat today")), 3);
        assert_eq!(word_errors(&r, &[]), 6);
    }

    #[test]
    fn rate_is_errors_per_reference_word() {
        assert_eq!(word_error_rate("set a timer for 10 minutes", "Set a timer for ten minutes."), 0.0);
        assert_eq!(word_error_rate("one two three four", "one two three"), 0.25);
        assert_eq!(word_error_rate("", ""), 0.0);
    }
}
