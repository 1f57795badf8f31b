//! Server-sent events as OpenAI-compatible servers stream them: `data: <json>` lines, a blank
//! line between events, `: comment` keep-alives, `data: [DONE]` at the end. Bytes arrive in
//! arbitrary pieces, so lines are assembled across them.

/// One thing a stream said.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    /// A `data:` payload (without the prefix).
    Data(String),
    /// `data: [DONE]`.
    Done,
}

/// Assembles lines from byte pieces and yields `data:` payloads.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds bytes; returns the payloads completed by them. Lines that are not UTF-8 are
    /// returned as lossy text so the caller can report them as malformed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        self.pending.extend_from_slice(bytes);
        let mut items = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(payload) = line.strip_prefix("data:") {
                let payload = payload.strip_prefix(' ').unwrap_or(payload);
                if payload.trim() == "[DONE]" {
                    items.push(SseItem::Done);
                } else {
                    items.push(SseItem::Data(payload.to_owned()));
                }
            }
            // Blank lines end events; `:` comments, `event:`, `id:` and `retry:` carry nothing
            // an OpenAI stream needs.
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_assembled_across_pieces() {
        let stream = b": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\n\nevent: x\ndata: [DONE]\n\n";
        for size in 1..stream.len() {
            let mut p = SseParser::new();
            let items: Vec<SseItem> = stream.chunks(size).flat_map(|c| p.push(c)).collect();
            assert_eq!(
                items,
                [SseItem::Data("{\"a\":1}".into()), SseItem::Data("{\"b\":2}".into()), SseItem::Done],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn an_unfinished_line_waits() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: {\"a\"").is_empty());
        assert_eq!(p.push(b":1}\n"), [SseItem::Data("{\"a\":1}".into())]);
    }
}
