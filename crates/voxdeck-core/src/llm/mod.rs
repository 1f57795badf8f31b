//! LLM engines: the types every engine shares (chat messages, streamed events, per-answer
//! metrics, cancellation) and the local llama.cpp engine.

mod backend;
pub mod cloud;
mod grammar_gate;
pub mod load_log;
pub mod local;
mod tool_chat;
mod utf8;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use backend::{gpu_offload_supported, host_cpu_name};
pub use cloud::{CloudError, CloudLlm, CloudSettings};
pub use load_log::{DeviceBuffer, LoadLog};
pub use local::{LocalLlm, ModelInfo, PrefillStats, Prefilling};

use crate::tools::{ToolCall, ToolOffer};

/// Errors from an LLM engine.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model file {path} does not exist")]
    MissingModel { path: std::path::PathBuf },
    /// A setting llama.cpp would panic or abort on; checked again at load, whoever built the
    /// config.
    #[error(transparent)]
    Setting(#[from] crate::config::Invalid),
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    #[error("llama.cpp backend failed to start: {0}")]
    Backend(String),
    #[error("llama.cpp could not load {path}: {reason}")]
    Load { path: std::path::PathBuf, reason: String },
    #[error("could not create an inference context (n_ctx {n_ctx}): {reason}")]
    Context { n_ctx: u32, reason: String },
    #[error("chat template failed: {0}")]
    Template(String),
    #[error("the prompt is {prompt_tokens} tokens but the context holds {n_ctx}; shorten it or raise llm.n_ctx")]
    PromptTooLong { prompt_tokens: usize, n_ctx: u32 },
    #[error("inference failed: {0}")]
    Decode(String),
    #[error("a message contains a NUL byte")]
    NulInMessage,
    #[error("the inference thread has stopped; reload the model")]
    WorkerGone,
    #[error(transparent)]
    Cloud(#[from] cloud::CloudError),
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering the assistant's call before it ([`ChatMessage::tool_call_id`]).
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// The assistant's tool calls (its `content` is then usually empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A [`Role::Tool`] message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn new(role: Role, content: String) -> Self {
        ChatMessage { role, content, tool_calls: Vec::new(), tool_call_id: None }
    }
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage::new(Role::System, content.into())
    }
    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage::new(Role::User, content.into())
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage::new(Role::Assistant, content.into())
    }
    /// The assistant calling tools.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Self {
        ChatMessage { tool_calls: calls, ..ChatMessage::new(Role::Assistant, String::new()) }
    }
    /// A tool's result for call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { tool_call_id: Some(id.into()), ..ChatMessage::new(Role::Tool, content.into()) }
    }
}

/// One answer to produce: the whole conversation so far, ending with the user's turn. Engines
/// that keep state (the local KV cache) reuse whatever prefix they have already processed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Overrides `llm.max_tokens`.
    pub max_tokens: Option<u32>,
    /// Overrides `llm.temperature` (0 = greedy).
    pub temperature: Option<f32>,
    /// Keep generating past end-of-turn tokens (benchmarks need exact answer lengths).
    pub ignore_eos: bool,
    /// The start of the answer, already given: generation continues it (the local model
    /// finishing a cloud answer whose stream broke). Engines that cannot continue ignore it.
    pub continue_from: Option<String>,
    /// Tools the engine may call instead of answering: the answer is then one
    /// [`LlmEvent::ToolCall`] (the local model writes it under a grammar).
    pub tools: Option<ToolOffer>,
}

impl ChatRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        ChatRequest { messages, max_tokens: None, temperature: None, ignore_eos: false, continue_from: None, tools: None }
    }
}

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The context window is full.
    ContextFull,
    /// Cancelled by the caller.
    Cancelled,
}

/// Figures for one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerMetrics {
    /// Prompt tokens actually processed for this answer (the new ones).
    pub prompt_tokens: u32,
    /// Prompt tokens reused from the previous turn's cache.
    pub cached_tokens: u32,
    pub prompt_ms: f64,
    pub prompt_tok_s: f64,
    /// Request to first generated token (template, tokenisation, prompt processing, sampling).
    pub ttft_ms: f64,
    pub gen_tokens: u32,
    /// First token to last token.
    pub gen_ms: f64,
    /// Tokens per second after the first (each costs one decode step).
    pub gen_tok_s: f64,
    pub total_ms: f64,
    pub finish: FinishReason,
    /// Model weights in memory, bytes.
    pub weights_bytes: u64,
    /// KV cache allocated for the context, bytes (estimate from the model's shape).
    pub kv_cache_bytes: u64,
    /// Layers offloaded to the GPU, of `total_layers`.
    pub gpu_layers: u32,
    pub total_layers: u32,
    /// Cloud engines: request to the first byte of the response (network and server queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
}

/// What an engine streams while answering.
#[derive(Debug)]
pub enum LlmEvent {
    /// One generated token. `text` is the UTF-8 that became complete with it (may be empty when a
    /// character spans tokens); `elapsed` is measured from the request.
    Token { text: String, index: u32, elapsed: Duration },
    /// The engine calls a tool (only when the request offered tools); `Done` follows, its text
    /// what was said before the call, if anything. Not yet checked against the allowlist.
    ToolCall(ToolCall),
    /// The answer is complete (or was cancelled); the full text and its figures.
    Done { text: String, metrics: AnswerMetrics },
    /// The answer failed; nothing more follows.
    Error(LlmError),
}

/// Cancels an answer in flight; the engine checks it before every decode step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The receiving end of an answer.
pub struct AnswerStream {
    pub events: tokio::sync::mpsc::UnboundedReceiver<LlmEvent>,
    pub cancel: CancelToken,
}

impl AnswerStream {
    /// Next event, blocking the thread (not for use inside an async runtime).
    pub fn next_blocking(&mut self) -> Option<LlmEvent> {
        self.events.blocking_recv()
    }

    /// Next event.
    pub async fn next(&mut self) -> Option<LlmEvent> {
        self.events.recv().await
    }

    /// Drains the stream, calling `on_token` for each piece of text; returns the final text and
    /// metrics.
    pub fn collect_blocking(
        mut self,
        mut on_token: impl FnMut(&str, u32, Duration),
    ) -> Result<(String, AnswerMetrics), LlmError> {
        while let Some(event) = self.next_blocking() {
            match event {
                LlmEvent::Token { text, index, elapsed } => on_token(&text, index, elapsed),
                LlmEvent::Done { text, metrics } => return Ok((text, metrics)),
                LlmEvent::ToolCall(_) => {}
                LlmEvent::Error(e) => return Err(e),
            }
        }
        Err(LlmError::WorkerGone)
    }
}

/// An engine that answers a conversation with a stream of tokens.
pub trait ChatEngine: Send + Sync {
    /// Starts an answer; tokens arrive on the returned stream.
    fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError>;

    /// Starts processing the prompt of `messages` ahead of the question, without answering, so
    /// that an answer starting the same way begins sooner. `tools` is the offer the answer will
    /// carry ([`ChatRequest::tools`]): it is part of the prompt. Returns whether the engine does
    /// this (engines without a cache of their own, such as the cloud, do nothing).
    fn prefill(&self, messages: Vec<ChatMessage>, tools: Option<&ToolOffer>) -> Result<bool, LlmError> {
        let _ = (messages, tools);
        Ok(false)
    }
}

/// Rate in units per second, 0 where the duration is zero.
pub(crate) fn per_second(count: f64, ms: f64) -> f64 {
    if ms > 0.0 { count * 1000.0 / ms } else { 0.0 }
}
