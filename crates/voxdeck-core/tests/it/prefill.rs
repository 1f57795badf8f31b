//! Prefill jobs on the real local model (SmolLM2): the warm system prompt is exactly the prefix
//! a first question reuses, a draft's prefill leaves only the changed tail to decode, and a
//! prefill never holds up an answer.

use crate::common::{GEMMA3, SMOLLM2, conversation, test_config, test_model};
use voxdeck_core::llm::{AnswerMetrics, ChatEngine, ChatMessage, ChatRequest, LocalLlm};

/// The system prompt of [`conversation`], up to where the question goes (an empty question).
fn warm() -> Vec<ChatMessage> {
    conversation("")
}

fn ask(llm: &LocalLlm, messages: Vec<ChatMessage>) -> (String, AnswerMetrics) {
    let mut request = ChatRequest::new(messages);
    request.max_tokens = Some(8);
    llm.chat(request).unwrap().collect_blocking(|_, _, _| {}).unwrap()
}

#[test]
fn the_warm_prompt_is_exactly_the_prefix_a_first_question_reuses() {
    let _heavy = crate::heavy();
    let question = conversation("What is the capital of France?");
    let cold = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let (_, fresh) = ask(&cold, question.clone());
    assert_eq!(fresh.cached_tokens, 0);
    drop(cold);

    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let warmed = llm.warm_prompt(warm(), None).unwrap().wait().unwrap();
    assert!(warmed.completed, "{warmed:?}");
    assert!(warmed.cached_tokens > 10 && warmed.decoded_tokens == warmed.cached_tokens, "{warmed:?}");
    let (_, first) = ask(&llm, question.clone());
    assert_eq!(first.cached_tokens, warmed.cached_tokens, "every warm token is reused, and no more");
    assert_eq!(first.cached_tokens + first.prompt_tokens, fresh.prompt_tokens);
    // A new conversation keeps it too: its first turn shares the system prompt.
    let (_, other) = ask(&llm, conversation("Name a colour."));
    assert_eq!(other.cached_tokens, warmed.cached_tokens);

    // After a reset the warm prompt is prefilled again (before any job queued after it).
    llm.reset().unwrap();
    let again = llm.warm_prompt(warm(), None).unwrap().wait().unwrap();
    assert_eq!((again.cached_tokens, again.decoded_tokens), (warmed.cached_tokens, 0), "{again:?}");
}

#[test]
fn the_warm_prompt_matches_gemma_whose_template_folds_the_system_prompt_into_the_question() {
    let _heavy = crate::heavy();
    let llm = LocalLlm::load(&test_model(GEMMA3), &test_config()).unwrap();
    let warmed = llm.warm_prompt(warm(), None).unwrap().wait().unwrap();
    let (_, first) = ask(&llm, conversation("What is two plus two?"));
    assert!(warmed.cached_tokens > 10, "{warmed:?}");
    assert_eq!(first.cached_tokens, warmed.cached_tokens);
}

#[test]
fn a_prefilled_draft_leaves_only_the_changed_tail_to_decode() {
    let _heavy = crate::heavy();
    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let final_question = conversation("What is the capital of France?");

    // The same cache state each time: the warm prompt alone.
    let from_warm = |draft: Option<&str>| {
        llm.reset().unwrap();
        llm.warm_prompt(warm(), None).unwrap().wait().unwrap();
        if let Some(draft) = draft {
            let stats = llm.prefill(conversation(draft), None).unwrap().wait().unwrap();
            assert!(stats.completed && stats.decoded_tokens > 0, "{stats:?}");
        }
        ask(&llm, final_question.clone()).1
    };
    let without = from_warm(None);
    let partial = from_warm(Some("What is the capital of"));
    let whole = from_warm(Some("What is the capital of France?"));
    eprintln!(
        "prompt tokens decoded after release: {} without a draft, {} after a partial one, {} after the whole question",
        without.prompt_tokens, partial.prompt_tokens, whole.prompt_tokens
    );
    assert!(partial.prompt_tokens < without.prompt_tokens, "{partial:?} vs {without:?}");
    assert_eq!(whole.prompt_tokens, 1, "only the last token is decoded again, for fresh logits");
    for m in [&partial, &whole] {
        assert_eq!(m.cached_tokens + m.prompt_tokens, without.cached_tokens + without.prompt_tokens);
    }
}

#[test]
fn an_answer_or_a_newer_prefill_stops_a_prefill() {
    let _heavy = crate::heavy();
    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    // About 700 tokens: seconds of prompt processing on one thread.
    let long = || conversation(&"the quick brown fox jumps over the lazy dog ".repeat(70));

    let running = llm.prefill(long(), None).unwrap();
    let (text, m) = ask(&llm, conversation("Say hello."));
    assert!(!text.trim().is_empty());
    let stats = running.wait().unwrap();
    assert!(!stats.completed, "the answer waited for the prefill: {stats:?}");
    assert!(stats.decoded_tokens < 100, "{stats:?}");
    assert!(m.prompt_tokens > 0);

    let superseded = llm.prefill(long(), None).unwrap();
    let newer = llm.prefill(conversation("Name a colour."), None).unwrap();
    assert!(!superseded.wait().unwrap().completed);
    assert!(newer.wait().unwrap().completed);
}
