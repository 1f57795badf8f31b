//! The OpenAI chat-completions wire format: the request body, and the chunks of its stream.

use serde::{Deserialize, Serialize};

use super::CloudError;
use super::http::truncate;
use crate::llm::ChatMessage;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    stream: bool,
    max_tokens: u32,
    temperature: f32,
    stream_options: StreamOptions,
    /// Not OpenAI's (it rejects unknown fields), but llama-server and vLLM honour it; sent only
    /// when a benchmark asks for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
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
) -> Result<Vec<u8>, CloudError> {
    let body = Body {
        model,
        messages,
        stream: true,
        max_tokens,
        temperature,
        stream_options: StreamOptions { include_usage: true },
        ignore_eos,
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
        if let Some(content) = choice.delta.and_then(|d| d.content) {
            chunk.content.push_str(&content);
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

    #[test]
    fn the_body_asks_for_a_stream_with_usage() {
        let messages = [ChatMessage::system("Be brief."), ChatMessage::user("Hi")];
        let body = chat_body("qwen", &messages, 64, 0.5, false).expect("body");
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
        let body = chat_body("qwen", &messages, 64, 0.0, true).expect("body");
        assert!(String::from_utf8_lossy(&body).contains("\"ignore_eos\":true"));
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
