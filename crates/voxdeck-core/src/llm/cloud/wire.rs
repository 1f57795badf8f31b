//! The OpenAI chat-completions wire format: the request body, and the chunks of its stream.

use serde::{Deserialize, Serialize};

use super::CloudError;
use super::calls::CallDelta;
use super::http::truncate;
use crate::llm::{ChatMessage, Role};
use crate::tools::ToolOffer;
use crate::tools::spec::openai_tools;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    max_tokens: u32,
    temperature: f32,
    stream_options: StreamOptions,
    /// Not OpenAI's (it rejects unknown fields), but llama-server and vLLM honour it; sent only
    /// when a benchmark asks for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
    /// OpenAI's `tools` array, only when the request offers tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<serde_json::Value>,
}

/// A message as OpenAI takes it: an assistant's calls nested as `{id, type, function: {name,
/// arguments}}` (not [`ToolCall`](crate::tools::ToolCall)'s flat shape), a tool's result with
/// its `tool_call_id`. A plain message is `{role, content}`, as before tools.
#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    /// Always a string: "" for an assistant message that only calls tools (llama-cpp-python
    /// refuses `null` there, OpenAI takes either).
    content: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
struct WireCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    /// A JSON object's text; `{}` for a call that was given none.
    arguments: &'a str,
}

impl<'a> WireMessage<'a> {
    fn from(m: &'a ChatMessage) -> WireMessage<'a> {
        let tool_calls = if m.role == Role::Assistant { &m.tool_calls[..] } else { &[] };
        WireMessage {
            role: m.role.as_str(),
            content: &m.content,
            tool_calls: tool_calls
                .iter()
                .map(|c| WireCall {
                    id: &c.id,
                    kind: "function",
                    function: WireFunction {
                        name: &c.name,
                        arguments: if c.arguments.trim().is_empty() { "{}" } else { &c.arguments },
                    },
                })
                .collect(),
            tool_call_id: if m.role == Role::Tool { m.tool_call_id.as_deref() } else { None },
        }
    }
}

/// `tool_choice`: "auto", or a call required: the one tool by name when only one is offered
/// (servers that ignore "required", llama-cpp-python among them, honour a named tool by
/// constraining the call to its schema), "required" otherwise.
fn tool_choice(offer: &ToolOffer) -> serde_json::Value {
    match offer.tools.as_slice() {
        [only] if offer.require_call => {
            serde_json::json!({"type": "function", "function": {"name": only.as_str()}})
        }
        _ if offer.require_call => "required".into(),
        _ => "auto".into(),
    }
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The JSON body of a streamed chat completion.
pub(crate) fn chat_body(
    model: &str,
    messages: &[ChatMessage],
    max_tokens: u32,
    temperature: f32,
    ignore_eos: bool,
    tools: Option<&ToolOffer>,
) -> Result<Vec<u8>, CloudError> {
    // OpenAI refuses an empty `tools` array: no tools is no offer.
    let tools = tools.filter(|o| !o.tools.is_empty());
    let body = Body {
        model,
        messages: messages.iter().map(WireMessage::from).collect(),
        stream: true,
        max_tokens,
        temperature,
        stream_options: StreamOptions { include_usage: true },
        ignore_eos,
        tools: tools.map(|o| openai_tools(&o.tools)),
        tool_choice: tools.map(tool_choice),
    };
    serde_json::to_vec(&body).map_err(|e| CloudError::Request(e.to_string()))
}

/// Token counts the server reports in its last chunk.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: Option<u32>,
    pub cached_tokens: u32,
}

/// What one stream chunk said.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Chunk {
    /// New answer text ("" for role-only or empty deltas).
    pub content: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    /// An error the server reported inside the stream (OpenRouter, llama-server do this).
    pub error: Option<String>,
    /// Fragments of tool calls ([`super::calls::CallAssembler`] joins them).
    pub tool_calls: Vec<CallDelta>,
}

#[derive(Deserialize)]
struct RawChunk {
    choices: Option<Vec<RawChoice>>,
    usage: Option<RawUsage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawChoice {
    delta: Option<RawDelta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct RawDelta {
    content: Option<String>,
    tool_calls: Option<Vec<RawCallDelta>>,
}

#[derive(Deserialize)]
struct RawCallDelta {
    /// Missing on some servers that send each call whole: then its place in the array.
    index: Option<usize>,
    id: Option<String>,
    function: Option<RawFunctionDelta>,
}

#[derive(Deserialize)]
struct RawFunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct RawUsage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    prompt_tokens_details: Option<RawPromptDetails>,
}

#[derive(Deserialize)]
struct RawPromptDetails {
    cached_tokens: Option<u32>,
}

/// Parses one `data:` payload; `Err` says why it is not a chat-completion chunk.
pub(crate) fn parse_chunk(payload: &str) -> Result<Chunk, String> {
    let raw: RawChunk = serde_json::from_str(payload)
        .map_err(|e| format!("not a chat completion chunk ({e}): {}", truncate(payload.trim(), 120)))?;
    if let Some(error) = raw.error.filter(|e| !e.is_null()) {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| error.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| error.to_string());
        return Ok(Chunk { error: Some(truncate(&message, 200)), ..Chunk::default() });
    }
    let usage = raw.usage.map(|u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens,
        cached_tokens: u.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
    });
    let Some(choices) = raw.choices else {
        if usage.is_some() {
            return Ok(Chunk { usage, ..Chunk::default() });
        }
        return Err(format!("a chunk without choices: {}", truncate(payload.trim(), 120)));
    };
    let mut chunk = Chunk { usage, ..Chunk::default() };
    for choice in choices {
        let Some(delta) = choice.delta else {
            chunk.finish_reason = choice.finish_reason.or(chunk.finish_reason);
            continue;
        };
        if let Some(content) = delta.content {
            chunk.content.push_str(&content);
        }
        for (i, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
            let (name, arguments) = call.function.map(|f| (f.name, f.arguments)).unwrap_or_default();
            chunk.tool_calls.push(CallDelta { index: call.index.unwrap_or(i), id: call.id, name, arguments });
        }
        if choice.finish_reason.is_some() {
            chunk.finish_reason = choice.finish_reason;
        }
    }
    Ok(chunk)
}

/// The model ids a `/models` listing names, `None` when the body is not a listing.
pub(crate) fn model_ids(body: &[u8]) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let data = value.get("data")?.as_array()?;
    Some(data.iter().filter_map(|m| m.get("id")?.as_str().map(str::to_owned)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{ToolCall, ToolName};

    #[test]
    fn the_body_asks_for_a_stream_with_usage() {
        let messages = [ChatMessage::system("Be brief."), ChatMessage::user("Hi")];
        let body = chat_body("qwen", &messages, 64, 0.5, false, None).expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "model": "qwen",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                "stream": true,
                "max_tokens": 64,
                "temperature": 0.5,
                "stream_options": {"include_usage": true},
            })
        );
        let body = chat_body("qwen", &messages, 64, 0.0, true, None).expect("body");
        assert!(String::from_utf8_lossy(&body).contains("\"ignore_eos\":true"));
    }

    #[test]
    fn tools_are_offered_and_calls_and_results_take_openais_shape() {
        let call = ToolCall { id: "call_1".into(), name: "get_time".into(), arguments: r#"{"what":"time"}"#.into() };
        let bare = ToolCall { id: "call_2".into(), name: "list_timers".into(), arguments: String::new() };
        let messages = [
            ChatMessage::user("What time is it?"),
            ChatMessage::tool_calls(vec![call, bare]),
            ChatMessage::tool_result("call_1", "10:42"),
        ];
        let offer = ToolOffer { tools: vec![ToolName::GetTime, ToolName::ListTimers], require_call: false };
        let body = chat_body("qwen", &messages, 64, 0.0, false, Some(&offer)).expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            v["messages"],
            serde_json::json!([
                {"role": "user", "content": "What time is it?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{\"what\":\"time\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "list_timers", "arguments": "{}"}},
                ]},
                {"role": "tool", "content": "10:42", "tool_call_id": "call_1"},
            ])
        );
        assert_eq!(v["tools"], openai_tools(&offer.tools));
        assert_eq!(v["tool_choice"], "auto");

        let required = ToolOffer { require_call: true, ..offer };
        let v: serde_json::Value =
            serde_json::from_slice(&chat_body("m", &messages, 8, 0.0, false, Some(&required)).unwrap()).unwrap();
        assert_eq!(v["tool_choice"], "required");
        let one = ToolOffer { tools: vec![ToolName::GetTime], require_call: true };
        let v: serde_json::Value =
            serde_json::from_slice(&chat_body("m", &messages, 8, 0.0, false, Some(&one)).unwrap()).unwrap();
        assert_eq!(v["tool_choice"], serde_json::json!({"type": "function", "function": {"name": "get_time"}}));
        assert_eq!(v["tools"].as_array().map(Vec::len), Some(1));

        // No offer, or an empty one: no `tools`, no `tool_choice`, the rest as before.
        let none = ToolOffer { tools: vec![], require_call: true };
        for offer in [None, Some(&none)] {
            let text = String::from_utf8(chat_body("m", &messages[..1], 8, 0.0, false, offer).unwrap()).unwrap();
            assert_eq!(
                text,
                r#"{"model":"m","messages":[{"role":"user","content":"What time is it?"}],"stream":true,"max_tokens":8,"temperature":0.0,"stream_options":{"include_usage":true}}"#
            );
        }
    }

    #[test]
    fn tool_call_fragments_are_read_from_deltas() {
        // OpenAI: the first fragment names the call, the next ones carry argument pieces.
        let c = parse_chunk(
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":null}]}"#,
        )
        .expect("chunk");
        assert_eq!(
            c.tool_calls,
            [CallDelta { index: 0, id: Some("call_x".into()), name: Some("get_time".into()), arguments: Some(String::new()) }]
        );
        assert_eq!(c.content, "");
        let c = parse_chunk(r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"wh"}}]}}]}"#)
            .expect("chunk");
        assert_eq!(c.tool_calls, [CallDelta { index: 1, arguments: Some("{\"wh".into()), ..CallDelta::default() }]);
        // llama-cpp-python: `tool_calls: null` in deltas without calls, "tool_calls" as the finish.
        let c = parse_chunk(
            r#"{"choices":[{"index":0,"delta":{"role":null,"content":null,"function_call":null,"tool_calls":null},"finish_reason":"tool_calls"}]}"#,
        )
        .expect("chunk");
        assert_eq!((c.tool_calls.len(), c.finish_reason.as_deref()), (0, Some("tool_calls")));
        // A server that omits `index` sends each call whole: its place in the array.
        let c = parse_chunk(
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"list_timers","arguments":"{}"}},{"id":"b","function":{"name":"get_time","arguments":"{}"}}]}}]}"#,
        )
        .expect("chunk");
        assert_eq!(c.tool_calls.iter().map(|d| d.index).collect::<Vec<_>>(), [0, 1]);
        assert!(parse_chunk(r#"{"choices":[{"delta":{"tool_calls":[{"index":"zero"}]}}]}"#).is_err());
    }

    #[test]
    fn chunks_yield_content_finish_and_usage() {
        let c = parse_chunk(r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#);
        assert_eq!(c, Ok(Chunk::default()));
        let c = parse_chunk(r#"{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#);
        assert_eq!(c.map(|c| c.content), Ok("Hel".into()));
        let c = parse_chunk(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#).expect("chunk");
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        let c = parse_chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":16}}}"#,
        )
        .expect("chunk");
        assert_eq!(c.usage, Some(Usage { prompt_tokens: 20, completion_tokens: Some(7), cached_tokens: 16 }));
        let c = parse_chunk(r#"{"usage":{"prompt_tokens":3,"completion_tokens":1}}"#).expect("usage only");
        assert_eq!(c.usage.map(|u| u.prompt_tokens), Some(3));
    }

    #[test]
    fn errors_inside_the_stream_are_reported() {
        let c = parse_chunk(r#"{"error":{"message":"upstream timed out","code":502}}"#).expect("chunk");
        assert_eq!(c.error.as_deref(), Some("upstream timed out"));
        let c = parse_chunk(r#"{"error":"overloaded"}"#).expect("chunk");
        assert_eq!(c.error.as_deref(), Some("overloaded"));
    }

    #[test]
    fn payloads_that_are_not_chunks_are_malformed() {
        for payload in ["not json", "{\"id\":\"x\"}", "[1,2]", "{\"choices\":3}", "42"] {
            assert!(parse_chunk(payload).is_err(), "{payload}");
        }
    }

    #[test]
    fn model_listings_are_read() {
        let ids = model_ids(br#"{"object":"list","data":[{"id":"a"},{"id":"b","object":"model"}]}"#);
        assert_eq!(ids, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(model_ids(b"<html>"), None);
        assert_eq!(model_ids(br#"{"models":[]}"#), None);
    }
}
