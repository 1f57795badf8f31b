//! Reassembling UTF-8 across tokens: a token's bytes can end mid-character (emoji, CJK), so the
//! stream holds back an incomplete tail until the next token completes it.

#[derive(Debug, Default)]
pub(crate) struct Utf8Assembler {
    pending: Vec<u8>,
}

impl Utf8Assembler {
    /// Adds a token's bytes; returns the text that is now complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // Safe: `valid_up_to` bytes were just validated.
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match e.error_len() {
                        // An incomplete character at the end: keep it for the next token.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Invalid bytes: replace them, as a lossy decoder would, and go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left at the end of the answer, lossily.
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_split_across_tokens_are_joined() {
        let mut a = Utf8Assembler::default();
        let smile = "😀".as_bytes();
        assert_eq!(a.push(b"hi "), "hi ");
        assert_eq!(a.push(&smile[..1]), "");
        assert_eq!(a.push(&smile[1..3]), "");
        assert_eq!(a.push(&smile[3..]), "😀");
        assert_eq!(a.push("é!".as_bytes()), "é!");
        assert_eq!(a.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut a = Utf8Assembler::default();
        assert_eq!(a.push(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(a.push(&"€".as_bytes()[..2]), "");
        assert_eq!(a.finish(), "\u{FFFD}");
    }
}
