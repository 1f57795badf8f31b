//! Which decoded segments are speech, and the transcript they make.

use voxdeck_stt::{DecodeOptions, Segment};

/// Why a segment is not speech, if it is not: Whisper's no-speech rule, or text that is only a
/// non-speech annotation ("[BLANK_AUDIO]", "(wind blowing)", "♪") or punctuation.
pub(crate) fn non_speech(segment: &Segment, o: &DecodeOptions) -> Option<&'static str> {
    if segment.no_speech_prob > o.no_speech_threshold && segment.avg_logprob < o.logprob_threshold {
        return Some("no-speech probability");
    }
    let text = segment.text.trim();
    if !text.chars().any(char::is_alphanumeric) {
        return Some("no words");
    }
    if is_annotation(text) {
        return Some("annotation");
    }
    None
}

/// Text made only of bracketed or starred annotations: "[BLANK_AUDIO]", "(music) [Applause]", "*sigh*".
fn is_annotation(text: &str) -> bool {
    let mut rest = text.trim();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let close = match rest.chars().next() {
            Some('[') => ']',
            Some('(') => ')',
            Some('*') => '*',
            _ => return false,
        };
        let Some(end) = rest[1..].find(close) else {
            return false;
        };
        rest = rest[1 + end + 1..].trim_start_matches(|c: char| {
            c.is_whitespace() || (c.is_ascii_punctuation() && !matches!(c, '[' | '(' | '*'))
        });
    }
    true
}

/// The segments' texts, trimmed, joined by single spaces.
pub(crate) fn join_segments(segments: &[Segment]) -> String {
    let mut text = String::new();
    for s in segments {
        let t = s.text.trim();
        if t.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(t);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, no_speech_prob: f32, avg_logprob: f32) -> Segment {
        Segment {
            start_s: 0.0,
            end_s: 1.0,
            text: text.into(),
            no_speech_prob,
            avg_logprob,
        }
    }

    #[test]
    fn annotations_and_no_speech_are_dropped() {
        let o = DecodeOptions::default();
        for text in [
            " [BLANK_AUDIO]",
            "(wind blowing)",
            " [Music] (applause)",
            "*sigh*",
            " ...",
            "♪ ♪",
            "",
        ] {
            assert!(non_speech(&seg(text, 0.0, -0.1), &o).is_some(), "{text:?}");
        }
        assert!(non_speech(&seg(" Hello there.", 0.9, -1.5), &o).is_some());
        for text in [" Hello there.", " (quietly) hello", " 42", "[note] then words"] {
            assert!(non_speech(&seg(text, 0.9, -0.3), &o).is_none(), "{text:?}");
        }
    }

    #[test]
    fn segments_join_with_single_spaces() {
        let s = [seg(" Hello.", 0.0, 0.0), seg("  ", 0.0, 0.0), seg(" World. ", 0.0, 0.0)];
        assert_eq!(join_segments(&s), "Hello. World.");
    }
}
