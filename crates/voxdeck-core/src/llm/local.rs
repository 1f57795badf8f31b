//! The local engine: a GGUF model on llama.cpp, owned by one inference thread.
//!
//! llama.cpp's context borrows its model and is not thread-safe, so one thread owns both and
//! takes jobs from a channel. It keeps the tokens already in the KV cache, so a new turn decodes
//! only what differs from the previous prompt (the system prompt and history stay cached).
//!
//! Prefill jobs ([`LocalLlm::prefill`], [`LocalLlm::warm_prompt`]) fill the cache ahead of a
//! question (the system prompt at load, a draft transcript while the button is held) without
//! generating. They give way to answers: an answer that arrives while one runs stops it at the
//! next small chunk, and a newer prefill supersedes an older one.
//!
//! With tools offered ([`ChatRequest::tools`]) the prompt lists them in the model family's own
//! style ([`CallStyle`]) and a call is written under a grammar: when the first token of the answer
//! starts one (or from the first token, with `require_call`), that token is drawn again from
//! the same logits under the grammar, which makes the call valid JSON naming an offered tool
//! with valid arguments, and bounded, so it always ends. Plain answers pay nothing for it.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use super::backend::backend;
use super::grammar_gate::GrammarGate;
use super::load_log::{self, LoadLog};
use super::tool_chat::template_messages;
use super::utf8::Utf8Assembler;
use super::{
    AnswerMetrics, AnswerStream, CancelToken, ChatEngine, ChatMessage, ChatRequest, FinishReason, LlmError,
    LlmEvent, Role, per_second,
};
use crate::config::{FlashAttn, LlmConfig};
use crate::gguf;
use crate::models::ResolvedModel;
use crate::tools::call_format::CallStyle;
use crate::tools::{ToolCall, ToolOffer};

/// What was loaded, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub path: PathBuf,
    pub architecture: String,
    pub file_size_bytes: u64,
    /// Weights as llama.cpp holds them.
    pub weights_bytes: u64,
    /// KV cache for `n_ctx` tokens (f16 keys and values, every layer).
    pub kv_cache_bytes: u64,
    pub n_params: u64,
    /// Repeating layers; llama.cpp counts one more (the output layer) when offloading.
    pub n_layer: u32,
    /// Layers offloaded to the GPU, of `total_layers`, as llama.cpp's load log states it (0 on a
    /// CPU build or without a device).
    pub gpu_layers: u32,
    pub total_layers: u32,
    /// What llama.cpp put on each GPU (weights, KV cache, compute buffers), from its log.
    pub load_log: LoadLog,
    pub n_ctx: u32,
    pub n_ctx_train: u32,
    pub n_batch: u32,
    pub threads: u32,
    /// The chat template in use: "model" (its own), or the built-in one used in its place.
    pub chat_template: String,
    /// How tools are listed and called: the family's own format or the generic one.
    pub call_style: CallStyle,
    pub load_ms: f64,
}

/// Prompt processing throughput, measured like llama-bench's `pp` test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PromptBench {
    pub tokens: u32,
    pub ms: f64,
    pub tok_s: f64,
}

/// Whitespace tokens an answer with tools offered may begin with before it is clear whether a
/// call follows; past them it is text.
const MAX_HELD_SPACES: usize = 4;

/// Tokens decoded per step of a prefill job: small, so an answer that arrives meanwhile waits
/// for at most one step (about 16 tokens of prompt processing) before it takes over.
const PREFILL_CHUNK: usize = 16;

/// What a prefill job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PrefillStats {
    /// Tokens of the rendered prompt the cache now holds from this job (reused + decoded).
    pub cached_tokens: u32,
    /// Tokens decoded by this job.
    pub decoded_tokens: u32,
    /// False when an answer or a newer prefill cut it short (what it decoded stays cached).
    pub completed: bool,
}

/// A prefill job queued on the inference thread; dropping it does not cancel the job.
pub struct Prefilling {
    done: mpsc::Receiver<Result<PrefillStats, LlmError>>,
}

impl Prefilling {
    /// Blocks until the job has finished, given way or failed.
    pub fn wait(self) -> Result<PrefillStats, LlmError> {
        self.done.recv().map_err(|_| LlmError::WorkerGone)?
    }
}

enum Job {
    Chat {
        request: ChatRequest,
        events: UnboundedSender<LlmEvent>,
        cancel: CancelToken,
    },
    Prefill {
        messages: Vec<ChatMessage>,
        /// The tools the answer will offer (part of the prompt).
        tools: Option<ToolOffer>,
        /// Remember these messages and prefill them again after every reset.
        warm: bool,
        /// The job's number in [`Shared::prefills`]; a newer one supersedes it.
        generation: u64,
        done: mpsc::Sender<Result<PrefillStats, LlmError>>,
    },
    PromptBench {
        tokens: u32,
        reply: mpsc::Sender<Result<PromptBench, LlmError>>,
    },
    Reset,
}

/// What the callers and the inference thread both see: when a prefill job must give way.
#[derive(Default)]
struct Shared {
    shutdown: AtomicBool,
    /// Answers sent and not yet taken up by the inference thread.
    answers_waiting: AtomicUsize,
    /// The number of the latest prefill job.
    prefills: AtomicU64,
}

impl Shared {
    /// Whether prefill job `generation` must stop: an answer waits, a newer prefill came, or
    /// the model is being dropped.
    fn prefill_must_yield(&self, generation: u64) -> bool {
        self.answer_waits() || self.prefills.load(Ordering::Acquire) != generation
    }

    /// Whether an answer waits (or the model is being dropped): every prefill gives way.
    fn answer_waits(&self) -> bool {
        self.shutdown.load(Ordering::Acquire) || self.answers_waiting.load(Ordering::Acquire) > 0
    }
}

/// A loaded local model. Dropping it stops the inference thread and frees the model.
pub struct LocalLlm {
    jobs: Option<mpsc::Sender<Job>>,
    info: ModelInfo,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl LocalLlm {
    /// Loads `model` with the knobs in `config`; blocks until the model is ready. The file is
    /// checked first, so a missing, foreign or truncated file is an error naming it.
    pub fn load(model: &ResolvedModel, config: &LlmConfig) -> Result<LocalLlm, LlmError> {
        config.check()?;
        if !model.path.is_file() {
            return Err(LlmError::MissingModel { path: model.path.clone() });
        }
        let header = gguf::inspect(&model.path)?;
        backend()?;

        let shared = Arc::new(Shared::default());
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let worker_shared = shared.clone();
        let model = model.clone();
        let config = config.clone();
        let worker = std::thread::Builder::new()
            .name("voxdeck-llm".into())
            .spawn(move || worker_main(model, header, config, jobs_rx, ready_tx, worker_shared))
            .map_err(|e| LlmError::Backend(format!("cannot start the inference thread: {e}")))?;

        match ready_rx.recv() {
            Ok(Ok(info)) => Ok(LocalLlm {
                jobs: Some(jobs_tx),
                info,
                shared,
                worker: Some(worker),
            }),
            Ok(Err(e)) => {
                let _ = worker.join();
                Err(e)
            }
            Err(_) => {
                let _ = worker.join();
                Err(LlmError::WorkerGone)
            }
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn send(&self, job: Job) -> Result<(), LlmError> {
        self.jobs
            .as_ref()
            .ok_or(LlmError::WorkerGone)?
            .send(job)
            .map_err(|_| LlmError::WorkerGone)
    }

    /// Forgets the conversation cache; the next answer processes its whole prompt, apart from
    /// the warm prompt ([`LocalLlm::warm_prompt`]), which is prefilled again right away.
    pub fn reset(&self) -> Result<(), LlmError> {
        self.send(Job::Reset)
    }

    /// Processes the prompt `messages` render to into the cache without answering, so that an
    /// answer to a conversation starting the same way decodes only the rest (the longest common
    /// prefix is reused). A last user message with empty content stands for the question to
    /// come: the prompt is cut where its text would start (no end-of-turn, no assistant
    /// header), so exactly the tokens a real question shares are cached. Returns at once; the
    /// job gives way to any answer and to any newer prefill (see [`PrefillStats::completed`]).
    /// `tools` is the offer the answer will carry: the prompt lists them.
    pub fn prefill(&self, messages: Vec<ChatMessage>, tools: Option<ToolOffer>) -> Result<Prefilling, LlmError> {
        self.queue_prefill(messages, tools, false)
    }

    /// [`LocalLlm::prefill`] of the conversation every answer starts with (the system prompt
    /// and an empty user message), remembered so that it is prefilled again after a reset.
    pub fn warm_prompt(&self, messages: Vec<ChatMessage>, tools: Option<ToolOffer>) -> Result<Prefilling, LlmError> {
        self.queue_prefill(messages, tools, true)
    }

    fn queue_prefill(
        &self,
        messages: Vec<ChatMessage>,
        tools: Option<ToolOffer>,
        warm: bool,
    ) -> Result<Prefilling, LlmError> {
        let generation = self.shared.prefills.fetch_add(1, Ordering::AcqRel) + 1;
        let (done, rx) = mpsc::channel();
        self.send(Job::Prefill { messages, tools, warm, generation, done })?;
        Ok(Prefilling { done: rx })
    }

    /// Processes `tokens` prompt tokens from an empty cache and reports the rate (llama-bench's
    /// `pp`); the cache is empty afterwards.
    pub fn bench_prompt(&self, tokens: u32) -> Result<PromptBench, LlmError> {
        let (reply, rx) = mpsc::channel();
        self.send(Job::PromptBench { tokens, reply })?;
        rx.recv().map_err(|_| LlmError::WorkerGone)?
    }
}

impl ChatEngine for LocalLlm {
    fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
        let (events, rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        // Counted before it is queued, so a prefill running now gives way at its next step.
        self.shared.answers_waiting.fetch_add(1, Ordering::AcqRel);
        let sent = self.send(Job::Chat {
            request,
            events,
            cancel: cancel.clone(),
        });
        if sent.is_err() {
            self.shared.answers_waiting.fetch_sub(1, Ordering::AcqRel);
        }
        sent?;
        Ok(AnswerStream { events: rx, cancel })
    }

    fn prefill(&self, messages: Vec<ChatMessage>, tools: Option<&ToolOffer>) -> Result<bool, LlmError> {
        LocalLlm::prefill(self, messages, tools.cloned()).map(|_| true)
    }
}

impl Drop for LocalLlm {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn worker_main(
    model: ResolvedModel,
    header: gguf::GgufInfo,
    config: LlmConfig,
    jobs: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<ModelInfo, LlmError>>,
    shared: Arc<Shared>,
) {
    let started = Instant::now();
    load_log::start_capture();
    let loaded = match load_model(&model, &config) {
        Ok(m) => m,
        Err(e) => {
            load_log::finish_capture();
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut session = match Session::new(&loaded, &model, &header, &config, started) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(session.info.clone())).is_err() {
        return;
    }
    tracing::info!(model = %session.info.name, load_ms = session.info.load_ms, "model loaded");
    // The conversation every answer starts with, prefilled again after a reset.
    let mut warm: Option<(Vec<ChatMessage>, Option<ToolOffer>)> = None;
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Chat { request, events, cancel } => {
                shared.answers_waiting.fetch_sub(1, Ordering::AcqRel);
                if let Err(e) = session.answer(&request, &events, &cancel, &shared.shutdown) {
                    let _ = events.send(LlmEvent::Error(e));
                }
            }
            Job::Prefill { messages, tools, warm: remember, generation, done } => {
                let yield_now = || shared.prefill_must_yield(generation);
                let result = session.prefill_messages(&messages, tools.as_ref(), &yield_now);
                if let Err(e) = &result {
                    tracing::warn!("prefill failed: {e}");
                }
                if remember {
                    warm = Some((messages, tools));
                }
                let _ = done.send(result);
            }
            Job::PromptBench { tokens, reply } => {
                let _ = reply.send(session.bench_prompt(tokens));
            }
            Job::Reset => {
                session.clear_cache();
                // Gives way to answers only: a prefill queued after the reset comes after it.
                if let Some((messages, tools)) = &warm {
                    let _ = session.prefill_messages(messages, tools.as_ref(), &|| shared.answer_waits());
                }
            }
        }
    }
}

fn load_model(model: &ResolvedModel, config: &LlmConfig) -> Result<LlamaModel, LlmError> {
    let params = LlamaModelParams::default()
        .with_n_gpu_layers(config.gpu_layers.as_count())
        .with_use_mmap(config.mmap)
        .with_use_mlock(config.mlock);
    LlamaModel::load_from_file(backend()?, &model.path, &params).map_err(|e| LlmError::Load {
        path: model.path.clone(),
        reason: format!(
            "{e}: the file is a GGUF but llama.cpp refused it (unsupported architecture or damaged \
             tensors; RUST_LOG=llama_cpp_2=info shows llama.cpp's own message)"
        ),
    })
}

/// The model, its context, and what the KV cache holds.
struct Session<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    template: LlamaChatTemplate,
    config: LlmConfig,
    info: ModelInfo,
    /// Tokens whose keys and values are in the cache, position by position.
    cache: Vec<LlamaToken>,
    batch: LlamaBatch<'static>,
    /// End-of-generation tokens, suppressed when a benchmark needs an exact answer length.
    eog_tokens: Vec<LlamaToken>,
    /// Control tokens that do not end generation: never part of a tool call.
    control_tokens: Vec<LlamaToken>,
    /// Tool calls made so far, for their ids.
    calls: u64,
    /// Tokens whose text starts a call (made when first needed), sorted.
    call_starts: Option<Vec<LlamaToken>>,
}

impl<'m> Session<'m> {
    fn new(
        model: &'m LlamaModel,
        resolved: &ResolvedModel,
        header: &gguf::GgufInfo,
        config: &LlmConfig,
        started: Instant,
    ) -> Result<Session<'m>, LlmError> {
        let threads = match config.threads {
            0 => std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(4),
            n => n,
        };
        let n_ctx = config.n_ctx;
        // llama.cpp never decodes more than n_ctx tokens at once: a larger batch only costs memory.
        let n_batch = config.n_batch.min(n_ctx);
        let flash = match config.flash_attn {
            FlashAttn::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttn::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttn::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        };
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_batch)
            .with_n_ubatch(config.n_ubatch.min(n_batch))
            .with_n_threads(threads as i32)
            .with_n_threads_batch(threads as i32)
            .with_flash_attention_policy(flash);
        let backend = backend()?;
        let ctx = model.new_context(backend, params).map_err(|e| LlmError::Context {
            n_ctx,
            reason: format!("{e} (too little memory for the KV cache? lower llm.n_ctx)"),
        })?;

        let architecture = header.architecture().unwrap_or("");
        let (template, template_name) = choose_template(model, architecture)?;
        let call_style = CallStyle::detect(architecture, template.to_str().unwrap_or(""));
        let n_layer = model.n_layer();
        // Model and context are made: the log has said where everything went.
        let load_log = load_log::finish_capture();
        let (gpu_layers, total_layers) = load_log.offloaded.unwrap_or((0, n_layer + 1));
        let vocab = model.vocab();
        let eog_tokens = vocab.tokens().filter(|t| vocab.is_eog(*t)).collect();
        // Qwen's call markers may be typed as control tokens; they belong to its calls.
        let marker = |t: LlamaToken| {
            let piece = vocab.token_to_piece(t, true, None);
            piece == b"<tool_call>" || piece == b"</tool_call>"
        };
        let control_tokens =
            vocab.tokens().filter(|t| vocab.is_control(*t) && !vocab.is_eog(*t) && !marker(*t)).collect();
        let info = ModelInfo {
            name: resolved.name.clone(),
            path: resolved.path.clone(),
            architecture: header.architecture().unwrap_or("unknown").to_owned(),
            file_size_bytes: header.file_size,
            weights_bytes: model.size(),
            kv_cache_bytes: kv_cache_bytes(model, header, n_ctx),
            n_params: model.n_params(),
            n_layer,
            gpu_layers,
            total_layers,
            load_log,
            n_ctx,
            n_ctx_train: model.n_ctx_train(),
            n_batch,
            threads,
            chat_template: template_name,
            call_style,
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        if n_ctx > info.n_ctx_train && info.n_ctx_train > 0 {
            tracing::warn!(n_ctx, n_ctx_train = info.n_ctx_train, "llm.n_ctx exceeds the model's training context");
        }
        Ok(Session {
            model,
            ctx,
            template,
            config: config.clone(),
            info,
            cache: Vec::new(),
            batch: LlamaBatch::new(n_batch as usize, 1),
            eog_tokens,
            control_tokens,
            calls: 0,
            call_starts: None,
        })
    }

    fn clear_cache(&mut self) {
        self.ctx.clear_kv_cache();
        self.cache.clear();
    }

    /// The prompt for `messages`, listing `tools` when offered (calls and results are written in
    /// the model's call style either way).
    fn render(&self, messages: &[ChatMessage], tools: Option<&ToolOffer>) -> Result<String, LlmError> {
        let chat = template_messages(self.info.call_style, messages, tools)
            .into_iter()
            .map(|(role, content)| LlamaChatMessage::new(role, content))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| LlmError::NulInMessage)?;
        self.model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| LlmError::Template(e.to_string()))
    }

    /// Decodes `tokens` after what the cache holds, in chunks of `chunk` tokens (at most
    /// `n_batch`); logits for the last token only. Returns false if cancelled between chunks.
    fn prefill(&mut self, tokens: &[LlamaToken], chunk: usize, cancel: &dyn Fn() -> bool) -> Result<bool, LlmError> {
        let n_batch = chunk.clamp(1, self.info.n_batch as usize);
        let chunks = tokens.chunks(n_batch).count();
        for (i, chunk) in tokens.chunks(n_batch).enumerate() {
            if cancel() {
                return Ok(false);
            }
            self.batch.clear();
            let last_chunk = i + 1 == chunks;
            for (j, token) in chunk.iter().enumerate() {
                let pos = (self.cache.len() + j) as i32;
                let logits = last_chunk && j + 1 == chunk.len();
                self.batch
                    .add(*token, pos, &[0], logits)
                    .map_err(|e| LlmError::Decode(e.to_string()))?;
            }
            self.decode()?;
            self.cache.extend_from_slice(chunk);
        }
        Ok(true)
    }

    /// Keeps the cache's longest common prefix with `tokens`, at most `limit` tokens of it, and
    /// drops the rest; returns how many tokens stay cached.
    fn keep_prefix(&mut self, tokens: &[LlamaToken], limit: usize) -> Result<usize, LlmError> {
        let common = self.cache.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        let keep = common.min(limit);
        if keep < self.cache.len() {
            let removed = self
                .ctx
                .clear_kv_cache_seq(Some(0), Some(keep as u32), None)
                .map_err(|e| LlmError::Decode(e.to_string()))?;
            if removed {
                self.cache.truncate(keep);
            } else {
                // Some memory types (recurrent, SWA) cannot drop a suffix: start over.
                self.clear_cache();
            }
        }
        Ok(self.cache.len())
    }

    /// The tokens of the prompt `messages` render to, for a prefill (see [`LocalLlm::prefill`]
    /// for the empty last user message).
    fn prefill_tokens(&self, messages: &[ChatMessage], tools: Option<&ToolOffer>) -> Result<Vec<LlamaToken>, LlmError> {
        // Invisible separators: no template trims or escapes them, no question contains them.
        const MARK: &str = "\u{2063}voxdeck-question\u{2063}";
        let open = messages.last().is_some_and(|m| m.role == Role::User && m.content.is_empty());
        let prompt = if open {
            let mut marked = messages.to_vec();
            if let Some(last) = marked.last_mut() {
                last.content = MARK.to_owned();
            }
            let rendered = self.render(&marked, tools)?;
            let cut = rendered
                .find(MARK)
                .ok_or_else(|| LlmError::Template("the template dropped the question".into()))?;
            rendered[..cut].to_owned()
        } else {
            self.render(messages, tools)?
        };
        Ok(self.model.vocab().tokenize(prompt.as_bytes(), true, true))
    }

    /// A prefill job: the cache keeps its common prefix with `messages`' prompt and decodes the
    /// rest in small steps, stopping when `yield_now` says so.
    fn prefill_messages(
        &mut self,
        messages: &[ChatMessage],
        tools: Option<&ToolOffer>,
        yield_now: &dyn Fn() -> bool,
    ) -> Result<PrefillStats, LlmError> {
        if yield_now() {
            return Ok(PrefillStats { cached_tokens: 0, decoded_tokens: 0, completed: false });
        }
        let tokens = self.prefill_tokens(messages, tools)?;
        if tokens.len() >= self.info.n_ctx as usize {
            return Err(LlmError::PromptTooLong { prompt_tokens: tokens.len(), n_ctx: self.info.n_ctx });
        }
        let cached = self.keep_prefix(&tokens, tokens.len())?;
        let completed = self.prefill(&tokens[cached..], PREFILL_CHUNK, yield_now)?;
        let now = self.cache.len().min(tokens.len());
        Ok(PrefillStats { cached_tokens: now as u32, decoded_tokens: (now - cached) as u32, completed })
    }

    fn decode(&mut self) -> Result<(), LlmError> {
        if let Err(e) = self.ctx.decode(&mut self.batch) {
            // The cache's state after a failed decode is unknown: start the next turn afresh.
            self.clear_cache();
            return Err(LlmError::Decode(e.to_string()));
        }
        Ok(())
    }

    /// The most likely token at `logits_index` (the first on ties, as llama.cpp's greedy
    /// sampler), never an end-of-generation token when `skip_eog`.
    fn argmax(&self, logits_index: i32, skip_eog: bool) -> LlamaToken {
        let logits = self.ctx.get_logits_ith(logits_index);
        let mut best = (0usize, f32::NEG_INFINITY);
        for (id, &logit) in logits.iter().enumerate() {
            if logit > best.1 && !(skip_eog && self.eog_tokens.contains(&LlamaToken(id as i32))) {
                best = (id, logit);
            }
        }
        LlamaToken(best.0 as i32)
    }

    /// The sampler chain for temperature > 0 (greedy decoding uses [`Self::argmax`]).
    fn sampler(&self, request: &ChatRequest) -> LlamaSampler {
        let c = &self.config;
        let mut chain = Vec::new();
        if request.ignore_eos && !self.eog_tokens.is_empty() {
            let biases: Vec<_> = self
                .eog_tokens
                .iter()
                .map(|t| LlamaLogitBias::new(*t, f32::NEG_INFINITY))
                .collect();
            chain.push(LlamaSampler::logit_bias(self.model.n_vocab(), &biases));
        }
        let temperature = request.temperature.unwrap_or(c.temperature);
        let seed = if c.seed != 0 {
            c.seed
        } else {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(1)
        };
        chain.extend([
            LlamaSampler::top_k(c.top_k as i32),
            LlamaSampler::top_p(c.top_p, 1),
            LlamaSampler::min_p(c.min_p, 1),
            LlamaSampler::temp(temperature),
            LlamaSampler::dist(seed),
        ]);
        LlamaSampler::chain_simple(chain)
    }

    /// Produces one answer, streaming tokens to `events`.
    fn answer(
        &mut self,
        request: &ChatRequest,
        events: &UnboundedSender<LlmEvent>,
        cancel: &CancelToken,
        shutdown: &AtomicBool,
    ) -> Result<(), LlmError> {
        let start = Instant::now();
        let stop = || cancel.is_cancelled() || shutdown.load(Ordering::Acquire) || events.is_closed();
        let mut prompt = self.render(&request.messages, request.tools.as_ref())?;
        if let Some(start) = &request.continue_from {
            // After the generation prompt, so the model writes the rest of this answer.
            prompt.push_str(start);
        }
        let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
        let n_ctx = self.info.n_ctx as usize;
        if tokens.is_empty() || tokens.len() >= n_ctx {
            return Err(LlmError::PromptTooLong {
                prompt_tokens: tokens.len(),
                n_ctx: self.info.n_ctx,
            });
        }

        // Reuse the longest common prefix; at least one token must be decoded for fresh logits.
        let cached = self.keep_prefix(&tokens, tokens.len() - 1)?;
        let prefill_start = Instant::now();
        let completed = self.prefill(&tokens[cached..], usize::MAX, &stop)?;
        let prompt_ms = ms(prefill_start.elapsed());
        let prompt_tokens = (tokens.len() - cached) as u32;

        let max_tokens = request.max_tokens.unwrap_or(self.config.max_tokens);
        // Greedy decoding is an argmax over the logits: done here, it skips building the
        // sampler's candidate array of the whole vocabulary (262k entries for Gemma 3) per token.
        let greedy = request.temperature.unwrap_or(self.config.temperature) <= 0.0;
        let mut sampler = (!greedy).then(|| self.sampler(request));
        let mut out = Streamed::default();
        let mut logits_index = self.batch.n_tokens() - 1;
        let vocab = self.model.vocab();
        // A call may begin the answer to the user, not one to a tool's result (one call a turn:
        // then the model says what happened) nor the rest of an answer begun elsewhere.
        let offer = request
            .tools
            .as_ref()
            .filter(|o| !o.tools.is_empty() && request.continue_from.is_none())
            .filter(|_| request.messages.last().is_some_and(|m| m.role == Role::User));
        let mut sniffing = offer.is_some();
        // After a tool's result the answer is words for the user: it may not open another call.
        let words_only = request.tools.is_some() && request.messages.last().is_some_and(|m| m.role == Role::Tool);
        // Whitespace the answer begins with, held back until it is clear whether a call follows.
        let mut held: Vec<LlamaToken> = Vec::new();
        let mut call = None;
        let finish = if !completed {
            FinishReason::Cancelled
        } else {
            loop {
                let mut token = match sampler.as_mut() {
                    Some(sampler) => sampler.sample(&self.ctx, logits_index),
                    None => self.argmax(logits_index, request.ignore_eos),
                };
                if words_only && out.gen_tokens == 0 && self.call_starts().binary_search(&token).is_ok() {
                    token = self.pick_without_call_start(logits_index, sampler.as_mut());
                }
                if let Some(offer) = offer.filter(|_| sniffing) {
                    let eog = vocab.is_eog(token);
                    let piece = String::from_utf8_lossy(&vocab.token_to_piece(token, true, None)).into_owned();
                    let rest = piece.trim_start();
                    if offer.require_call || (!eog && self.info.call_style.starts_call(rest)) {
                        // The free token is put back: the call is drawn from the same logits.
                        let written = self.write_call(offer, token, logits_index, sampler.as_mut(), &stop, start)?;
                        out.gen_tokens += held.len() as u32 + written.tokens;
                        out.first_at = out.first_at.or(written.first_at);
                        out.last_at = written.last_at.max(out.last_at);
                        call = written.call;
                        break written.finish;
                    }
                    if !eog && rest.is_empty() && held.len() < MAX_HELD_SPACES && self.cache.len() < n_ctx {
                        held.push(token);
                        self.step(token)?;
                        logits_index = 0;
                        if stop() {
                            break FinishReason::Cancelled;
                        }
                        continue;
                    }
                    sniffing = false;
                    for token in std::mem::take(&mut held) {
                        out.send(events, &vocab.token_to_piece(token, false, None), start.elapsed());
                    }
                }
                if !request.ignore_eos && vocab.is_eog(token) {
                    break FinishReason::Stop;
                }
                let sent = out.send(events, &vocab.token_to_piece(token, false, None), start.elapsed());
                if !sent || stop() {
                    break FinishReason::Cancelled;
                }
                if out.gen_tokens >= max_tokens {
                    break FinishReason::Length;
                }
                if self.cache.len() >= n_ctx {
                    break FinishReason::ContextFull;
                }
                self.step(token)?;
                logits_index = 0;
            }
        };
        let Streamed { mut utf8, mut text, gen_tokens, first_at, last_at } = out;
        let tail = utf8.finish();
        if !tail.is_empty() {
            text.push_str(&tail);
            let _ = events.send(LlmEvent::Token {
                text: tail,
                index: gen_tokens.saturating_sub(1),
                elapsed: last_at,
            });
        }

        let first = first_at.unwrap_or(last_at);
        let gen_ms = ms(last_at.saturating_sub(first));
        let metrics = AnswerMetrics {
            prompt_tokens,
            cached_tokens: cached as u32,
            prompt_ms,
            prompt_tok_s: per_second(f64::from(prompt_tokens), prompt_ms),
            ttft_ms: first_at.map(ms).unwrap_or(0.0),
            gen_tokens,
            gen_ms,
            gen_tok_s: per_second(f64::from(gen_tokens.saturating_sub(1)), gen_ms),
            total_ms: ms(start.elapsed()),
            finish,
            weights_bytes: self.info.weights_bytes,
            kv_cache_bytes: self.info.kv_cache_bytes,
            gpu_layers: self.info.gpu_layers,
            total_layers: self.info.total_layers,
            ttfb_ms: None,
        };
        if let Some(call) = call {
            let _ = events.send(LlmEvent::ToolCall(call));
        }
        let _ = events.send(LlmEvent::Done { text, metrics });
        Ok(())
    }

    /// The tokens whose text (after any whitespace) starts a call in this model's style.
    fn call_starts(&mut self) -> &[LlamaToken] {
        let (model, style) = (self.model, self.info.call_style);
        self.call_starts.get_or_insert_with(|| {
            let vocab = model.vocab();
            let starts = |t: &LlamaToken| {
                let piece = vocab.token_to_piece(*t, true, None);
                style.starts_call(String::from_utf8_lossy(&piece).trim_start())
            };
            vocab.tokens().filter(starts).collect()
        })
    }

    /// The token at `logits_index` (greedy, or drawn by `sampler`) among those that do not
    /// start a call.
    fn pick_without_call_start(&mut self, logits_index: i32, sampler: Option<&mut LlamaSampler>) -> LlamaToken {
        let excluded = self.call_starts().to_vec();
        let logits = self.ctx.get_logits_ith(logits_index);
        let allowed = |id: usize| excluded.binary_search(&LlamaToken(id as i32)).is_err();
        match sampler {
            Some(sampler) => {
                let mut candidates = LlamaTokenDataArray::from_iter(
                    logits.iter().enumerate().filter(|(id, _)| allowed(*id)).map(|(id, &logit)| {
                        LlamaTokenData::new(LlamaToken(id as i32), logit, 0.0)
                    }),
                    false,
                );
                candidates.apply_sampler(sampler);
                candidates.selected_token().unwrap_or_else(|| self.vocab_eos())
            }
            None => {
                let best = logits
                    .iter()
                    .enumerate()
                    .filter(|(id, _)| allowed(*id))
                    .fold((0usize, f32::NEG_INFINITY), |best, (id, &l)| if l > best.1 { (id, l) } else { best });
                LlamaToken(best.0 as i32)
            }
        }
    }

    fn vocab_eos(&self) -> LlamaToken {
        self.model.vocab().eos()
    }

    /// Decodes `token` after the cache, for the next token's logits (index 0).
    fn step(&mut self, token: LlamaToken) -> Result<(), LlmError> {
        self.batch.clear();
        self.batch.add(token, self.cache.len() as i32, &[0], true).map_err(|e| LlmError::Decode(e.to_string()))?;
        self.decode()?;
        self.cache.push(token);
        Ok(())
    }

    /// Writes one call to a tool of `offer` under its grammar, from the logits at
    /// `logits_index`, where the model freely chose `proposed`. The call's tokens stay in the
    /// cache as generated. No call when it was cancelled or the context filled up.
    fn write_call(
        &mut self,
        offer: &ToolOffer,
        proposed: LlamaToken,
        logits_index: i32,
        mut sampler: Option<&mut LlamaSampler>,
        stop: &dyn Fn() -> bool,
        start: Instant,
    ) -> Result<CallWritten, LlmError> {
        let style = self.info.call_style;
        let mut gate = GrammarGate::new(self.model, &style.grammar(&offer.tools), &self.control_tokens)?;
        // Every token adds at least a byte of the call, whose length the grammar bounds.
        let cap = style.max_call_bytes(&offer.tools);
        let vocab = self.model.vocab();
        let n_ctx = self.info.n_ctx as usize;
        let mut bytes = Vec::new();
        let mut written =
            CallWritten { call: None, finish: FinishReason::Length, tokens: 0, first_at: None, last_at: Duration::ZERO };
        let (mut proposed, mut index) = (proposed, logits_index);
        let finish = loop {
            let token = gate.pick(proposed, self.ctx.get_logits_ith(index), sampler.as_deref_mut())?;
            // End of generation is allowed only once the call is complete.
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            if written.tokens as usize >= cap {
                break FinishReason::Length;
            }
            gate.accept(token);
            bytes.extend_from_slice(&vocab.token_to_piece(token, true, None));
            let at = start.elapsed();
            written.first_at.get_or_insert(at);
            written.last_at = at;
            written.tokens += 1;
            if stop() {
                break FinishReason::Cancelled;
            }
            if self.cache.len() >= n_ctx {
                break FinishReason::ContextFull;
            }
            self.step(token)?;
            index = 0;
            proposed = match sampler.as_deref_mut() {
                Some(sampler) => sampler.sample(&self.ctx, 0),
                None => self.argmax(0, false),
            };
        };
        tracing::debug!(tokens = written.tokens, resampled = gate.resampled, ?finish, "tool call written");
        written.finish = finish;
        if finish == FinishReason::Stop {
            let text = String::from_utf8(bytes).map_err(|_| LlmError::Decode("the tool call is not UTF-8".into()))?;
            let (name, arguments) = style
                .parse_call(&text)
                .ok_or_else(|| LlmError::Decode(format!("the tool call does not parse: {text:?}")))?;
            self.calls += 1;
            written.call = Some(ToolCall { id: format!("local-{}", self.calls), name, arguments });
        }
        Ok(written)
    }

    fn bench_prompt(&mut self, n: u32) -> Result<PromptBench, LlmError> {
        let n_ctx = self.info.n_ctx;
        if n == 0 || n >= n_ctx {
            return Err(LlmError::PromptTooLong { prompt_tokens: n as usize, n_ctx });
        }
        let tokens = filler_tokens(self.model, n as usize);
        self.clear_cache();
        let start = Instant::now();
        let result = self.prefill(&tokens, tokens.len(), &|| false);
        let elapsed = ms(start.elapsed());
        self.clear_cache();
        result?;
        Ok(PromptBench {
            tokens: n,
            ms: elapsed,
            tok_s: per_second(f64::from(n), elapsed),
        })
    }
}

/// An answer's text as streamed so far.
#[derive(Default)]
struct Streamed {
    utf8: Utf8Assembler,
    text: String,
    gen_tokens: u32,
    first_at: Option<Duration>,
    last_at: Duration,
}

impl Streamed {
    /// Streams one token's `piece`, generated `at` after the request; false when the receiver
    /// has gone.
    fn send(&mut self, events: &UnboundedSender<LlmEvent>, piece: &[u8], at: Duration) -> bool {
        self.first_at.get_or_insert(at);
        self.last_at = at;
        let piece = self.utf8.push(piece);
        self.text.push_str(&piece);
        let sent = events.send(LlmEvent::Token { text: piece, index: self.gen_tokens, elapsed: at });
        self.gen_tokens += 1;
        sent.is_ok()
    }
}

/// A call written under the grammar ([`Session::write_call`]).
struct CallWritten {
    /// None when it did not finish.
    call: Option<ToolCall>,
    finish: FinishReason,
    tokens: u32,
    first_at: Option<Duration>,
    last_at: Duration,
}

/// The model's own template if llama.cpp can apply it; else llama.cpp's built-in template for
/// the model's family (some GGUFs ship without one), ChatML for everything else.
fn choose_template(model: &LlamaModel, architecture: &str) -> Result<(LlamaChatTemplate, String), LlmError> {
    let probe = [
        LlamaChatMessage::new("system".into(), "s".into()),
        LlamaChatMessage::new("user".into(), "u".into()),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| LlmError::Template(e.to_string()))?;
    if let Ok(own) = model.chat_template(None)
        && model.apply_chat_template(&own, &probe, true).is_ok()
    {
        return Ok((own, "model".to_owned()));
    }
    let builtin = if architecture.starts_with("gemma") { "gemma" } else { "chatml" };
    tracing::warn!(architecture, builtin, "the model has no chat template llama.cpp can apply; using a built-in one");
    let template = LlamaChatTemplate::new(builtin).map_err(|e| LlmError::Template(e.to_string()))?;
    Ok((template, builtin.to_owned()))
}

/// `n` tokens of ordinary English (with the model's BOS first, if it uses one), like a long
/// spoken request, for prompt-processing measurements.
fn filler_tokens(model: &LlamaModel, n: usize) -> Vec<LlamaToken> {
    const TEXT: &str = "The quick brown fox jumps over the lazy dog while the morning sun rises \
        over quiet hills, and a voice assistant on a small computer listens, thinks and answers \
        in plain words about the weather, the news, a recipe for dinner or the time of a train. ";
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(b"", true, false);
    let unit = vocab.tokenize(TEXT.as_bytes(), false, false);
    while tokens.len() < n && !unit.is_empty() {
        tokens.extend_from_slice(&unit);
    }
    tokens.truncate(n);
    tokens
}

/// KV cache size for `n_ctx` positions: every layer stores f16 keys and values of
/// `n_head_kv * head_dim` each. An upper bound for sliding-window models.
fn kv_cache_bytes(model: &LlamaModel, header: &gguf::GgufInfo, n_ctx: u32) -> u64 {
    let n_head = u64::from(model.n_head().max(1));
    let head_dim = (model.n_embd() as u64) / n_head;
    let k = header.arch_u64("attention.key_length").unwrap_or(head_dim);
    let v = header.arch_u64("attention.value_length").unwrap_or(head_dim);
    u64::from(n_ctx) * u64::from(model.n_layer()) * u64::from(model.n_head_kv()) * (k + v) * 2
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
