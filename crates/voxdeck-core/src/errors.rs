//! Errors in words, for logs and front ends.

use std::error::Error;

/// An error and its causes on one line, `: `-separated, skipping a cause whose text an outer
/// message already quotes (several errors name their source in their own message). reqwest's
/// own message ("error sending request") says little without its causes. An `anyhow::Error`
/// passes as `&*e`.
pub fn error_chain(e: &dyn Error) -> String {
    let mut line = String::new();
    for cause in std::iter::successors(Some(e), |&e| e.source()) {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        let mut texts = texts.iter().rev();
        let mut layer = Layer(texts.next().expect("one layer"), None);
        for text in texts {
            layer = Layer(text, Some(Box::new(layer)));
        }
        layer
    }

    #[test]
    fn causes_follow_the_error_once_each() {
        let table: [(&[&str], &str); 5] = [
            (&["alone"], "alone"),
            (
                &["error sending request", "connection refused"],
                "error sending request: connection refused",
            ),
            // A cause the outer message already quotes is not repeated.
            (
                &["cannot read a.toml: no such file", "no such file"],
                "cannot read a.toml: no such file",
            ),
            (&["a", "b", "c"], "a: b: c"),
            // An empty message adds no separator.
            (&["", "inner"], "inner"),
        ];
        for (texts, expected) in table {
            assert_eq!(error_chain(&chain(texts)), expected, "{texts:?}");
        }
    }
}
