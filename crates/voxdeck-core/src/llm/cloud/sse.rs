//! Server-sent events as OpenAI-compatible servers stream them: `data: <json>` lines, a blank
//! line ending each event, `: comment` keep-alives, `data: [DONE]` at the end. Bytes arrive in
//! arbitrary pieces, so lines are assembled across them (LF, CRLF or CR endings, as the SSE
//! spec allows).

/// The longest line accepted: a server that never sends a newline must not exhaust memory.
const MAX_LINE: usize = 1 << 20;

/// One thing a stream said.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    /// The `data` of one event (several `data:` lines joined by `\n`).
    Data(String),
    /// `data: [DONE]`.
    Done,
    /// A line that is not SSE (an HTML page, a plain JSON body): the server is not streaming.
    Invalid(String),
}

/// Assembles events from byte pieces.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    /// The event being assembled: its data lines so far.
    data: Option<String>,
    /// The last piece ended in CR: a LF starting the next one belongs to that line ending.
    skip_lf: bool,
    seen_line: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Feeds bytes; returns the items completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        self.pending.extend_from_slice(bytes);
        let mut items = Vec::new();
        let mut start = 0;
        loop {
            if self.skip_lf && start < self.pending.len() {
                if self.pending[start] == b'\n' {
                    start += 1;
                }
                self.skip_lf = false;
            }
            let Some(len) = self.pending[start..].iter().position(|&b| b == b'\n' || b == b'\r') else { break };
            let end = start + len;
            self.skip_lf = self.pending[end] == b'\r';
            let line = String::from_utf8_lossy(&self.pending[start..end]).into_owned();
            start = end + 1;
            self.line(&line, &mut items);
        }
        self.pending.drain(..start);
        if self.pending.len() > MAX_LINE {
            self.pending.clear();
            items.push(SseItem::Invalid(format!("a line longer than {MAX_LINE} bytes")));
        }
        items
    }

    /// The stream ended: an unterminated last line or event still counts (lenient: the spec
    /// drops it, but a server that omits the final blank line did send its data).
    pub fn finish(&mut self) -> Vec<SseItem> {
        let mut items = Vec::new();
        if !self.pending.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            self.line(&line, &mut items);
        }
        self.line("", &mut items);
        items
    }

    fn line(&mut self, line: &str, items: &mut Vec<SseItem>) {
        let line = if self.seen_line { line } else { line.strip_prefix('\u{feff}').unwrap_or(line) };
        self.seen_line = true;
        if line.is_empty() {
            match self.data.take() {
                Some(data) if data.trim() == "[DONE]" => items.push(SseItem::Done),
                Some(data) => items.push(SseItem::Data(data)),
                None => {}
            }
            return;
        }
        if line.starts_with(':') {
            return; // a comment: keep-alive
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut self.data {
                // Many short `data:` lines make one event: bounded like a line.
                Some(data) if data.len() + value.len() >= MAX_LINE => {
                    self.data = None;
                    items.push(SseItem::Invalid(format!("an event longer than {MAX_LINE} bytes")));
                }
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" | "id" | "retry" => {}
            _ => items.push(SseItem::Invalid(line.chars().take(120).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(stream: &[u8], size: usize) -> Vec<SseItem> {
        let mut p = SseParser::new();
        let mut items: Vec<SseItem> = stream.chunks(size).flat_map(|c| p.push(c)).collect();
        items.extend(p.finish());
        items
    }

    #[test]
    fn events_are_assembled_across_pieces_whatever_the_line_endings() {
        let stream = b": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\n\nevent: x\rid: 7\rdata: {\"c\":3}\r\rdata: [DONE]\n\n";
        let expected = [
            SseItem::Data("{\"a\":1}".into()),
            SseItem::Data("{\"b\":2}".into()),
            SseItem::Data("{\"c\":3}".into()),
            SseItem::Done,
        ];
        for size in 1..=stream.len() {
            assert_eq!(parse_in_pieces(stream, size), expected, "pieces of {size}");
        }
    }

    #[test]
    fn an_unfinished_event_waits_for_its_blank_line() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: {\"a\"").is_empty());
        assert!(p.push(b":1}\n").is_empty());
        assert_eq!(p.push(b"\n"), [SseItem::Data("{\"a\":1}".into())]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let stream = b"data: {\"a\":\ndata: 1}\n\n";
        assert_eq!(parse_in_pieces(stream, 3), [SseItem::Data("{\"a\":\n1}".into())]);
    }

    #[test]
    fn a_usage_chunk_with_empty_choices_is_just_data() {
        let stream = b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            parse_in_pieces(stream, 7),
            [SseItem::Data("{\"choices\":[],\"usage\":{\"prompt_tokens\":5}}".into()), SseItem::Done]
        );
    }

    #[test]
    fn a_missing_final_blank_line_still_delivers_the_event() {
        assert_eq!(parse_in_pieces(b"data: [DONE]", 4), [SseItem::Done]);
        assert_eq!(parse_in_pieces(b"data: {}\n", 4), [SseItem::Data("{}".into())]);
    }

    #[test]
    fn a_body_that_is_not_sse_is_reported() {
        let items = parse_in_pieces(b"{\"error\": \"no\"}\n", 5);
        assert_eq!(items, [SseItem::Invalid("{\"error\": \"no\"}".into())]);
        let items = parse_in_pieces(b"<html>\n", 5);
        assert_eq!(items, [SseItem::Invalid("<html>".into())]);
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert_eq!(parse_in_pieces("\u{feff}data: {}\n\n".as_bytes(), 1), [SseItem::Data("{}".into())]);
    }

    #[test]
    fn an_endless_event_of_short_lines_is_cut_off() {
        let mut p = SseParser::new();
        let line = format!("data: {}\n", "x".repeat(1000));
        let items: Vec<SseItem> = (0..(MAX_LINE / 1000 + 2)).flat_map(|_| p.push(line.as_bytes())).collect();
        assert!(matches!(items.as_slice(), [SseItem::Invalid(why)] if why.contains("event longer")), "{items:?}");
    }

    #[test]
    fn an_endless_line_is_cut_off() {
        let mut p = SseParser::new();
        let items = p.push(&vec![b'x'; MAX_LINE + 1]);
        assert!(matches!(items.as_slice(), [SseItem::Invalid(_)]));
    }
}
