//! Tool calls as a stream sends them: fragments of each call (keyed by its `index`) carrying
//! the id, the function's name and pieces of its arguments, put together until the stream ends.
//!
//! Bounded: a server sending thousands of calls or megabytes of arguments is refused in words
//! (the answer then fails before any answer token, and the router falls back), never a growing
//! buffer. A call is only handed out whole, after the stream's end: a stream that breaks inside
//! a call's arguments leaves nothing to run.

use crate::tools::ToolCall;

/// The most calls one answer may make. The assistant's tools are few and a spoken question
/// needs one or two; more is a confused or hostile server.
pub(crate) const MAX_CALLS: usize = 8;
/// The longest arguments of one call, bytes. The largest valid call (a fact of
/// `tools::spec::MAX_FACT_CHARS` characters, escaped) fits several times over.
pub(crate) const MAX_ARGUMENTS_BYTES: usize = 16 * 1024;
/// The longest tool name, bytes (every real one is far shorter).
const MAX_NAME_BYTES: usize = 64;
/// The longest call id, bytes.
const MAX_ID_BYTES: usize = 256;

/// One fragment of a call, as a chunk's `delta.tool_calls[i]` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CallDelta {
    pub index: usize,
    pub id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

#[derive(Debug, Default)]
struct Partial {
    seen: bool,
    id: String,
    name: String,
    arguments: String,
}

/// The calls of one answer, as they arrive.
#[derive(Debug, Default)]
pub(crate) struct CallAssembler {
    calls: Vec<Partial>,
}

impl CallAssembler {
    /// Whether any fragment has arrived.
    pub fn is_empty(&self) -> bool {
        !self.calls.iter().any(|c| c.seen)
    }

    /// Adds one fragment; `Err` says, in words, which bound it broke.
    pub fn push(&mut self, delta: CallDelta) -> Result<(), String> {
        if delta.index >= MAX_CALLS {
            return Err(format!("the server sent more than {MAX_CALLS} tool calls in one answer"));
        }
        if self.calls.len() <= delta.index {
            self.calls.resize_with(delta.index + 1, Partial::default);
        }
        let call = &mut self.calls[delta.index];
        call.seen = true;
        if let Some(id) = delta.id.filter(|id| !id.is_empty()) {
            // OpenAI sends the id once; servers that repeat it repeat the same one.
            if call.id.is_empty() {
                if id.len() > MAX_ID_BYTES {
                    return Err(format!("a tool call's id is longer than {MAX_ID_BYTES} bytes"));
                }
                call.id = id;
            }
        }
        if let Some(name) = delta.name.filter(|n| !n.is_empty()) {
            // OpenAI sends the name once; llama-cpp-python repeats it whole in every fragment.
            if name != call.name {
                if call.name.len() + name.len() > MAX_NAME_BYTES {
                    return Err(format!("a tool call's name is longer than {MAX_NAME_BYTES} bytes"));
                }
                call.name.push_str(&name);
            }
        }
        if let Some(piece) = delta.arguments {
            if call.arguments.len() + piece.len() > MAX_ARGUMENTS_BYTES {
                return Err(format!("a tool call's arguments are longer than {} KiB", MAX_ARGUMENTS_BYTES / 1024));
            }
            call.arguments.push_str(&piece);
        }
        Ok(())
    }

    /// The stream ended whole: the calls, in index order. A call without a name is an error; one
    /// without an id is given one (`call_<index>`).
    pub fn finish(self) -> Result<Vec<ToolCall>, String> {
        let mut calls = Vec::new();
        for (index, call) in self.calls.into_iter().enumerate().filter(|(_, c)| c.seen) {
            if call.name.trim().is_empty() {
                return Err(format!("tool call {index} has no function name"));
            }
            let id = if call.id.is_empty() { format!("call_{index}") } else { call.id };
            calls.push(ToolCall { id, name: call.name, arguments: call.arguments });
        }
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(index: usize, id: Option<&str>, name: Option<&str>, arguments: Option<&str>) -> CallDelta {
        CallDelta {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: arguments.map(str::to_owned),
        }
    }

    #[test]
    fn openai_fragments_are_joined_by_index() {
        let mut a = CallAssembler::default();
        assert!(a.is_empty());
        // OpenAI: the id and name once, then argument pieces; two calls interleaved.
        a.push(delta(0, Some("call_a"), Some("set_timer"), Some(""))).unwrap();
        a.push(delta(1, Some("call_b"), Some("get_time"), None)).unwrap();
        a.push(delta(0, None, None, Some("{\"seco"))).unwrap();
        a.push(delta(1, None, None, Some("{\"what\":\"time\"}"))).unwrap();
        a.push(delta(0, None, None, Some("nds\": 600}"))).unwrap();
        assert!(!a.is_empty());
        let calls = a.finish().unwrap();
        assert_eq!(
            calls,
            [
                ToolCall { id: "call_a".into(), name: "set_timer".into(), arguments: "{\"seconds\": 600}".into() },
                ToolCall { id: "call_b".into(), name: "get_time".into(), arguments: "{\"what\":\"time\"}".into() },
            ]
        );
    }

    #[test]
    fn a_repeated_name_and_id_are_not_doubled_and_a_missing_id_is_made_up() {
        // llama-cpp-python: every fragment carries the id and the whole name.
        let mut a = CallAssembler::default();
        for piece in ["{", "\"what\"", ": \"date\"", "}"] {
            a.push(delta(0, Some("call__0_get_time_x"), Some("get_time"), Some(piece))).unwrap();
        }
        // A name split over fragments is joined; a call without an id gets one.
        a.push(delta(2, None, Some("list_"), None)).unwrap();
        a.push(delta(2, None, Some("timers"), Some("{}"))).unwrap();
        let calls = a.finish().unwrap();
        assert_eq!(
            calls[0],
            ToolCall {
                id: "call__0_get_time_x".into(),
                name: "get_time".into(),
                arguments: "{\"what\": \"date\"}".into()
            }
        );
        assert_eq!(calls[1], ToolCall { id: "call_2".into(), name: "list_timers".into(), arguments: "{}".into() });
        assert_eq!(calls.len(), 2, "index 1 never came: no call");
    }

    #[test]
    fn hostile_streams_are_refused_in_words() {
        let mut a = CallAssembler::default();
        let err = a.push(delta(MAX_CALLS, Some("x"), Some("get_time"), None)).unwrap_err();
        assert_eq!(err, "the server sent more than 8 tool calls in one answer");
        let err = a.push(delta(1_000_000_000, None, None, None)).unwrap_err();
        assert!(err.contains("more than 8"), "{err}");
        assert!(a.calls.len() <= MAX_CALLS, "no slots were made for it");

        let mut a = CallAssembler::default();
        a.push(delta(0, Some("x"), Some("remember"), Some("{\"fact\": \""))).unwrap();
        let piece = "a".repeat(4096);
        let err = (0..100).find_map(|_| a.push(delta(0, None, None, Some(&piece))).err()).expect("a bound");
        assert_eq!(err, "a tool call's arguments are longer than 16 KiB");
        assert!(a.calls[0].arguments.len() <= MAX_ARGUMENTS_BYTES);

        let mut a = CallAssembler::default();
        let err = a.push(delta(0, None, Some(&"n".repeat(65)), None)).unwrap_err();
        assert_eq!(err, "a tool call's name is longer than 64 bytes");
        let err = a.push(delta(0, Some(&"i".repeat(257)), None, None)).unwrap_err();
        assert_eq!(err, "a tool call's id is longer than 256 bytes");

        let mut a = CallAssembler::default();
        a.push(delta(0, Some("x"), None, Some("{}"))).unwrap();
        assert_eq!(a.finish().unwrap_err(), "tool call 0 has no function name");
    }
}
