//! The local engine on real GGUF models from the test set.

use crate::common::{GEMMA3, SMOLLM2, conversation, test_config, test_model};
use voxdeck_core::config::LlmConfig;
use voxdeck_core::llm::{ChatEngine, ChatMessage, ChatRequest, FinishReason, LlmError, LlmEvent, LocalLlm};
use voxdeck_core::models::ResolvedModel;

#[test]
fn loads_chats_and_streams_tokens() {
    let _heavy = crate::heavy();
    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let info = llm.info();
    assert_eq!(info.chat_template, "model", "SmolLM2 ships its ChatML template");
    assert!(info.n_layer > 0 && info.total_layers == info.n_layer + 1);
    assert!(info.weights_bytes > 50_000_000 && info.weights_bytes <= info.file_size_bytes);
    assert!(info.kv_cache_bytes > 0);

    let mut request = ChatRequest::new(conversation("What is the capital of France?"));
    request.max_tokens = Some(40);
    let mut stream = llm.chat(request).unwrap();
    let mut streamed = String::new();
    let mut indices = Vec::new();
    let (text, metrics) = loop {
        match stream.next_blocking().expect("stream ended without Done") {
            LlmEvent::Token { text, index, .. } => {
                streamed.push_str(&text);
                indices.push(index);
            }
            LlmEvent::Done { text, metrics } => break (text, metrics),
            LlmEvent::Error(e) => panic!("{e}"),
            LlmEvent::ToolCall(call) => panic!("no tools were offered, yet {call:?}"),
        }
    };
    assert_eq!(streamed, text, "the stream must add up to the final text");
    assert!(text.contains("Paris"), "answer: {text:?}");
    assert_eq!(indices, (0..metrics.gen_tokens).collect::<Vec<_>>(), "one event per token, in order");
    assert!(matches!(metrics.finish, FinishReason::Stop | FinishReason::Length));
    assert!(metrics.prompt_tokens > 10 && metrics.cached_tokens == 0);
    assert!(metrics.ttft_ms > 0.0 && metrics.ttft_ms <= metrics.total_ms);
    assert!(metrics.prompt_tok_s > 0.0 && metrics.gen_tok_s > 0.0);
}

#[test]
fn cancel_stops_within_one_token() {
    let _heavy = crate::heavy();
    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let mut request = ChatRequest::new(conversation("Tell me a very long story about a dragon."));
    request.max_tokens = Some(400);
    request.ignore_eos = true;
    let mut stream = llm.chat(request).unwrap();
    let mut tokens_after_cancel = 0;
    let mut cancelled = false;
    let metrics = loop {
        match stream.next_blocking().expect("stream ended without Done") {
            LlmEvent::Token { index, .. } => {
                if cancelled {
                    tokens_after_cancel += 1;
                }
                if index == 4 {
                    stream.cancel.cancel();
                    cancelled = true;
                }
            }
            LlmEvent::Done { metrics, .. } => break metrics,
            LlmEvent::Error(e) => panic!("{e}"),
            LlmEvent::ToolCall(call) => panic!("no tools were offered, yet {call:?}"),
        }
    };
    assert_eq!(metrics.finish, FinishReason::Cancelled);
    assert!(tokens_after_cancel <= 1, "{tokens_after_cancel} tokens came after cancel");
    assert!(metrics.gen_tokens <= 6, "generated {}", metrics.gen_tokens);

    // The engine is usable right after a cancelled answer.
    let mut request = ChatRequest::new(conversation("Say hello."));
    request.max_tokens = Some(8);
    let (text, _) = llm.chat(request).unwrap().collect_blocking(|_, _, _| {}).unwrap();
    assert!(!text.is_empty());
}

#[test]
fn second_turn_decodes_only_the_new_tokens() {
    let _heavy = crate::heavy();
    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let mut history = conversation("Name a colour of the sky.");
    let mut first = ChatRequest::new(history.clone());
    first.max_tokens = Some(24);
    let (answer, m1) = llm.chat(first).unwrap().collect_blocking(|_, _, _| {}).unwrap();
    assert_eq!(m1.cached_tokens, 0);

    history.push(ChatMessage::assistant(answer));
    history.push(ChatMessage::user("And the colour of grass?"));
    let mut second = ChatRequest::new(history.clone());
    second.max_tokens = Some(24);
    let (_, m2) = llm.chat(second.clone()).unwrap().collect_blocking(|_, _, _| {}).unwrap();

    // The same prompt from an empty cache, for comparison.
    llm.reset().unwrap();
    let (_, fresh) = llm.chat(second).unwrap().collect_blocking(|_, _, _| {}).unwrap();
    assert_eq!(fresh.cached_tokens, 0);
    assert!(m2.cached_tokens >= m1.prompt_tokens, "turn 2 reused {} tokens", m2.cached_tokens);
    assert_eq!(m2.cached_tokens + m2.prompt_tokens, fresh.prompt_tokens);
    assert!(m2.prompt_tokens < fresh.prompt_tokens / 2, "turn 2 decoded {} of {}", m2.prompt_tokens, fresh.prompt_tokens);
}

#[test]
fn gemma_without_a_template_answers_through_the_gemma_format() {
    let _heavy = crate::heavy();
    // This GGUF carries no chat template; ChatML would make Gemma ramble.
    let llm = LocalLlm::load(&test_model(GEMMA3), &test_config()).unwrap();
    assert_eq!(llm.info().chat_template, "gemma");
    assert_eq!(llm.info().architecture, "gemma3");
    let mut request = ChatRequest::new(conversation("What is two plus two?"));
    request.max_tokens = Some(24);
    let (text, m) = llm.chat(request).unwrap().collect_blocking(|_, _, _| {}).unwrap();
    assert!(!text.trim().is_empty());
    assert!(!text.contains("<end_of_turn>") && !text.contains("<start_of_turn>"), "{text:?}");
    assert!(m.gen_tokens > 0);
}

#[test]
fn prompt_longer_than_context_is_a_clear_error() {
    let _heavy = crate::heavy();
    let config = LlmConfig { n_ctx: 128, ..test_config() };
    let llm = LocalLlm::load(&test_model(SMOLLM2), &config).unwrap();
    let long = "please remember this sentence. ".repeat(100);
    let err = llm.chat(ChatRequest::new(conversation(&long))).unwrap().collect_blocking(|_, _, _| {}).unwrap_err();
    assert!(matches!(err, LlmError::PromptTooLong { n_ctx: 128, .. }), "{err}");
    assert!(err.to_string().contains("llm.n_ctx"));
    // Still usable afterwards.
    let mut ok = ChatRequest::new(conversation("Hi"));
    ok.max_tokens = Some(4);
    assert!(llm.chat(ok).unwrap().collect_blocking(|_, _, _| {}).is_ok());
}

fn load_path(path: std::path::PathBuf) -> LlmError {
    let model = ResolvedModel { id: None, name: "bad".into(), path };
    match LocalLlm::load(&model, &test_config()) {
        Ok(_) => panic!("loading a bad model succeeded"),
        Err(e) => e,
    }
}

#[test]
fn bad_model_files_are_clear_errors() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.gguf");
    let err = load_path(missing.clone());
    assert!(matches!(err, LlmError::MissingModel { .. }), "{err}");
    assert!(err.to_string().contains("missing.gguf"));

    let not_gguf = dir.path().join("notes.gguf");
    std::fs::write(&not_gguf, "this is a text file, not a model\n").unwrap();
    let err = load_path(not_gguf);
    assert!(err.to_string().contains("not a GGUF"), "{err}");

    let real = std::fs::read(test_model(SMOLLM2).path).unwrap();
    for cut in [real.len() / 100, real.len() / 2, real.len() - 1] {
        let truncated = dir.path().join(format!("truncated-{cut}.gguf"));
        std::fs::write(&truncated, &real[..cut]).unwrap();
        let err = load_path(truncated);
        assert!(err.to_string().contains("truncated"), "cut at {cut}: {err}");
        assert!(err.to_string().contains(&format!("truncated-{cut}.gguf")), "{err}");
    }
}

#[test]
fn settings_llama_cpp_would_panic_on_are_refused_at_load() {
    // A config built in code skips the file's validation; the load checks it again, so
    // llama-cpp-2 never sees an n_batch that does not fit its i32 (it panicked here before).
    for (config, field) in [
        (LlmConfig { n_batch: u32::MAX, n_ubatch: 512, ..test_config() }, "llm.n_batch"),
        (LlmConfig { n_ctx: u32::MAX, ..test_config() }, "llm.n_ctx"),
        (LlmConfig { top_k: u32::MAX, ..test_config() }, "llm.top_k"),
        (LlmConfig { threads: 100_000, ..test_config() }, "llm.threads"),
    ] {
        let err = LocalLlm::load(&test_model(SMOLLM2), &config).err().expect("refused");
        assert!(matches!(err, LlmError::Setting(_)), "{err:?}");
        assert!(err.to_string().contains(field), "{err}");
    }
}
