//! The cloud engine: any OpenAI-compatible `/v1/chat/completions` API (OpenRouter, Groq, vLLM,
//! llama.cpp's llama-server, Ollama's `/v1`, LM Studio), streamed over server-sent events with
//! reqwest and rustls, behind the same [`ChatEngine`] trait as the local model.
//!
//! Each request runs as a task on the engine's own small tokio runtime, so callers need no
//! runtime. While it waits, the task watches two deadlines and the cancel token: no first token
//! within `first_token_timeout` (from the request, connecting included), no bytes for
//! `stall_timeout` after the first token, and cancellation (checked every 10 ms; the request is
//! dropped, which closes the connection). Failures are typed ([`CloudError`]) so the router can
//! fall back to the local model and record why.

mod calls;
mod error;
mod http;
mod key;
mod sse;
mod stream;
mod url_policy;
mod wire;

#[cfg(test)]
mod tests;

use std::time::Duration;

use reqwest::{Client, Url};
use tokio::time::Instant;

pub use error::CloudError;
pub use url_policy::api_host;
pub use key::{
    ApiKey, KeyFile, KeySource, KeyStore, KeyWithheld, NO_KEY_REASON, delete_api_key, key_file_path, key_status, keyring_available,
    pin_env_key, resolve_api_key, store_api_key,
};

use super::{AnswerStream, CancelToken, ChatEngine, ChatMessage, ChatRequest, LlmError};
use crate::config::{CloudConfig, Config};
use stream::{Ended, Job, Waited, Watch};
use url_policy::BaseUrl;

/// Everything the cloud engine needs, resolved from the config (or given by a test).
#[derive(Debug, Clone)]
pub struct CloudSettings {
    /// Up to and including `/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    /// An environment key kept back because the base URL is not its host (then `api_key` is
    /// `None`); said to the user where the missing key would show.
    pub key_withheld: Option<KeyWithheld>,
    pub connect_timeout: Duration,
    /// From the request to the first content token.
    pub first_token_timeout: Duration,
    /// Silence after the first token that counts as a broken stream.
    pub stall_timeout: Duration,
    pub max_tokens: u32,
    pub temperature: f32,
}

impl CloudSettings {
    /// `[cloud]` with `llm.max_tokens` and `llm.temperature`; the key from the keyring or the
    /// environment.
    pub fn from_config(config: &Config) -> CloudSettings {
        let cloud = &config.cloud;
        let (api_key, key_withheld) = match resolve_api_key(cloud) {
            Ok(found) => (
                found.map(|(key, source)| {
                    tracing::debug!(?source, "cloud API key found");
                    key
                }),
                None,
            ),
            Err(withheld) => {
                tracing::warn!("{withheld}");
                (None, Some(withheld))
            }
        };
        let defaults = CloudConfig::default();
        CloudSettings {
            base_url: cloud.base_url().to_owned(),
            model: cloud.model().to_owned(),
            api_key,
            key_withheld,
            connect_timeout: seconds(cloud.connect_timeout_s, defaults.connect_timeout_s),
            first_token_timeout: seconds(cloud.first_token_timeout_s, defaults.first_token_timeout_s),
            stall_timeout: seconds(cloud.stall_timeout_s, defaults.stall_timeout_s),
            max_tokens: config.llm.max_tokens,
            temperature: config.llm.temperature,
        }
    }
}

/// A configured number of seconds; the default where it is not a positive duration.
fn seconds(value: f64, default: f64) -> Duration {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .unwrap_or_else(|| Duration::from_secs_f64(default))
}

/// What `voxdeck cloud test` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CloudCheck {
    /// An API key is configured (it may still be refused: then `check` fails with HTTP 401).
    pub key: bool,
    /// Whether `/models` lists the configured model; `None` when the server lists none.
    pub model_listed: Option<bool>,
    /// Request to first token of a short answer.
    pub ttft_ms: f64,
    /// Request to response headers of that answer.
    pub ttfb_ms: f64,
}

/// Whether `url` may be a base URL: https anywhere, plain http only to this machine.
pub fn check_url(url: &str) -> Result<(), CloudError> {
    url_policy::check_base_url(url).map(|_| ())
}

/// Whether a usable base URL points at this machine (127.0.0.0/8, ::1, localhost), where a
/// server needs no key.
pub fn is_loopback_url(url: &str) -> bool {
    url_policy::check_base_url(url).is_ok_and(|base| base.loopback)
}

/// The cloud engine. Cheap to share; each `chat` is one HTTP request.
pub struct CloudLlm {
    settings: CloudSettings,
    base: BaseUrl,
    chat_url: Url,
    client: Client,
    /// `Option` only so `Drop` can shut it down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
}

impl CloudLlm {
    /// Checks the URL policy and prepares the HTTP client; connects nothing yet.
    pub fn new(mut settings: CloudSettings) -> Result<CloudLlm, CloudError> {
        let base = url_policy::check_base_url(&settings.base_url)?;
        settings.base_url = base.text.clone();
        let chat_url = base.join("chat/completions")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("voxdeck-cloud")
            .enable_all()
            .build()
            .map_err(|e| CloudError::Runtime(e.to_string()))?;
        let mut builder = Client::builder()
            .connect_timeout(settings.connect_timeout)
            // Redirects would resend the conversation somewhere the URL policy never saw.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("voxdeck/", env!("CARGO_PKG_VERSION")));
        if base.loopback {
            // A proxy cannot reach this machine's loopback.
            builder = builder.no_proxy();
        }
        let client = {
            let _guard = runtime.enter();
            builder.build().map_err(|e| CloudError::Runtime(crate::errors::error_chain(&e)))?
        };
        Ok(CloudLlm { settings, base, chat_url, client, runtime: Some(runtime) })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    pub fn has_key(&self) -> bool {
        self.settings.api_key.is_some()
    }

    /// For `voxdeck cloud test`: is the model listed, and how fast does a short answer start?
    /// Blocks the calling thread (not for use inside an async runtime).
    pub fn check(&self) -> Result<CloudCheck, CloudError> {
        let listed = self.run_blocking(list_models(
            self.client.clone(),
            self.base.join("models")?,
            self.settings.api_key.clone(),
            self.settings.connect_timeout,
            self.settings.first_token_timeout,
        ))?;
        let model_listed = listed?.map(|ids| ids.iter().any(|id| id == &self.settings.model));
        let mut request = ChatRequest::new(vec![ChatMessage::user("Say OK.")]);
        request.max_tokens = Some(4);
        request.temperature = Some(0.0);
        let (_, metrics) = match self.start(request)?.collect_blocking(|_, _, _| {}) {
            Ok(answer) => answer,
            Err(LlmError::Cloud(e)) => return Err(e),
            Err(e) => return Err(CloudError::Runtime(e.to_string())),
        };
        Ok(CloudCheck {
            key: self.has_key(),
            model_listed,
            ttft_ms: metrics.ttft_ms,
            ttfb_ms: metrics.ttfb_ms.unwrap_or(0.0),
        })
    }

    /// Starts one answer. `continue_from` is ignored: the OpenAI API has no portable way to
    /// continue an assistant message. Tools offered go as OpenAI's `tools` and `tool_choice`;
    /// the calls streamed back arrive as [`LlmEvent::ToolCall`](super::LlmEvent::ToolCall)s
    /// just before `Done`, whole, or not at all.
    fn start(&self, request: ChatRequest) -> Result<AnswerStream, CloudError> {
        let runtime = self.runtime.as_ref().ok_or_else(|| CloudError::Runtime("shut down".into()))?;
        let body = wire::chat_body(
            &self.settings.model,
            &request.messages,
            request.max_tokens.unwrap_or(self.settings.max_tokens),
            request.temperature.unwrap_or(self.settings.temperature),
            request.ignore_eos,
            request.tools.as_ref(),
        )?;
        let job = Job {
            started: Instant::now(),
            client: self.client.clone(),
            url: self.chat_url.clone(),
            key: self.settings.api_key.clone(),
            body,
            connect_timeout: self.settings.connect_timeout,
            first_token_timeout: self.settings.first_token_timeout,
            stall_timeout: self.settings.stall_timeout,
        };
        let (events, rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        tracing::debug!(model = %self.settings.model, url = %self.chat_url, "cloud request");
        runtime.spawn(stream::answer(job, events, cancel.clone()));
        Ok(AnswerStream { events: rx, cancel })
    }

    /// Runs `fut` on the engine's runtime and waits for it (works from any thread that is not
    /// itself inside this runtime).
    fn run_blocking<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, CloudError> {
        let runtime = self.runtime.as_ref().ok_or_else(|| CloudError::Runtime("shut down".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| CloudError::Runtime("the cloud runtime stopped".into()))
    }
}

impl ChatEngine for CloudLlm {
    fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
        Ok(self.start(request)?)
    }
}

impl Drop for CloudLlm {
    fn drop(&mut self) {
        // `shutdown_background` never blocks, so dropping the engine inside another runtime is
        // fine; answers in flight end (their streams close).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `GET /models`: the ids listed, `None` when the server lists none (404, not a listing, slow).
/// A refused key is an error: nothing else will work either.
async fn list_models(
    client: Client,
    url: Url,
    key: Option<ApiKey>,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<Option<Vec<String>>, CloudError> {
    let cancel = CancelToken::new();
    let mut watch = Watch::new(&cancel, None);
    let deadline = Instant::now() + timeout;
    let mut request = client.get(url);
    if let Some(key) = &key {
        request = request.bearer_auth(key.expose());
    }
    let result = async {
        let response = match watch.wait(request.send(), deadline).await {
            Waited::Ready(response) => response.map_err(|e| stream::send_error(&e, connect_timeout))?,
            Waited::TimedOut | Waited::Cancelled => return Ok(None),
        };
        match response.status().as_u16() {
            401 | 403 => {
                return match stream::http_error(response, &mut watch).await {
                    Ok(Ended::Complete(_) | Ended::Cancelled) => Ok(None),
                    Err(e) => Err(e),
                };
            }
            200 => {}
            status => {
                tracing::debug!(status, "the cloud API does not list models");
                return Ok(None);
            }
        }
        match watch.wait(response.bytes(), deadline).await {
            Waited::Ready(Ok(body)) => Ok(wire::model_ids(&body)),
            _ => Ok(None),
        }
    }
    .await;
    result.map_err(|e: CloudError| e.redacted(key.as_ref()))
}
