//! Tool calls from the local model on the test set (SmolLM2 135M, Gemma 3 270M): written under
//! the grammar, every call is valid and names an offered tool, however small the model; a plain
//! question still streams text; a tool's result fed back gets a text answer; and what the tool
//! section and the grammar cost.

use std::time::Instant;

use crate::common::{GEMMA3, SMOLLM2, conversation, test_config, test_model};
use voxdeck_core::llm::{AnswerMetrics, ChatEngine, ChatMessage, ChatRequest, FinishReason, LlmEvent, LocalLlm};
use voxdeck_core::tools::call_format::CallStyle;
use voxdeck_core::tools::spec::validate;
use voxdeck_core::tools::{ToolCall, ToolName, ToolOffer};

/// Spoken-style requests, most for a tool, a few for none.
const REQUESTS: [&str; 15] = [
    "Set a timer for ten minutes.",
    "Wake me up at 7:30.",
    "Start a tea timer for three minutes.",
    "What timers are running?",
    "Cancel the pasta timer.",
    "Remember that my sister's birthday is on May 3rd.",
    "What do you know about my sister?",
    "Forget what I told you about the car.",
    "Forget everything you know about me.",
    "What time is it?",
    "What's the date today?",
    "How fast are you running?",
    "How much memory are you using?",
    "Think harder about the next questions.",
    "Tell me a joke about cats.",
];

/// What one answer gave.
struct Outcome {
    calls: Vec<ToolCall>,
    text: String,
    streamed: String,
    tokens: u32,
    metrics: AnswerMetrics,
}

fn run(llm: &LocalLlm, request: ChatRequest) -> Outcome {
    let mut stream = llm.chat(request).unwrap();
    let (mut calls, mut streamed, mut tokens) = (Vec::new(), String::new(), 0);
    loop {
        match stream.next_blocking().expect("the stream ended without Done") {
            LlmEvent::Token { text, .. } => {
                assert!(calls.is_empty(), "a token after the call: {text:?}");
                streamed.push_str(&text);
                tokens += 1;
            }
            LlmEvent::ToolCall(call) => calls.push(call),
            LlmEvent::Done { text, metrics } => return Outcome { calls, text, streamed, tokens, metrics },
            LlmEvent::Error(e) => panic!("{e}"),
        }
    }
}

fn ask(llm: &LocalLlm, question: &str, tools: Option<ToolOffer>) -> Outcome {
    let mut request = ChatRequest::new(conversation(question));
    request.max_tokens = Some(40);
    request.tools = tools;
    run(llm, request)
}

fn forced(tools: &[ToolName]) -> Option<ToolOffer> {
    Some(ToolOffer { tools: tools.to_vec(), require_call: true })
}

/// Asserts that `outcome` is exactly one valid call to one of `offered`, and nothing else.
fn assert_one_valid_call(model: &str, question: &str, outcome: &Outcome, offered: &[ToolName]) -> ToolCall {
    assert_eq!(outcome.calls.len(), 1, "{model}, {question:?}: one call, got {:?} / {:?}", outcome.calls, outcome.text);
    let call = outcome.calls[0].clone();
    assert_eq!((outcome.text.as_str(), outcome.tokens), ("", 0), "{model}: a call streams no text");
    assert_eq!(outcome.metrics.finish, FinishReason::Stop);
    assert!(call.id.starts_with("local-"), "{call:?}");
    if let Err(refusal) = validate(&call.name, &call.arguments, offered) {
        panic!("{model}, {question:?}: {call:?} is refused: {refusal}");
    }
    call
}

#[test]
fn forced_calls_are_always_valid_and_name_an_offered_tool() {
    let _heavy = crate::heavy();
    for model in [SMOLLM2, GEMMA3] {
        let llm = LocalLlm::load(&test_model(model), &test_config()).unwrap();
        assert_eq!(llm.info().call_style, CallStyle::Generic, "{model}");
        let mut tools_named = std::collections::BTreeSet::new();
        for question in REQUESTS {
            let outcome = ask(&llm, question, forced(&ToolName::ALL));
            let call = assert_one_valid_call(model, question, &outcome, &ToolName::ALL);
            eprintln!(
                "{model}: {question:?} -> {} {} ({} tokens)",
                call.name, call.arguments, outcome.metrics.gen_tokens
            );
            tools_named.insert(call.name);
        }
        eprintln!("{model}: {} different tools named", tools_named.len());
    }
}

#[test]
fn a_subset_offer_is_all_a_call_can_name() {
    let _heavy = crate::heavy();
    for model in [SMOLLM2, GEMMA3] {
        let llm = LocalLlm::load(&test_model(model), &test_config()).unwrap();
        for question in ["Set a timer for ten minutes.", "Remember that I park on level 3.", "What time is it?"] {
            let outcome = ask(&llm, question, forced(&[ToolName::GetTime]));
            let call = assert_one_valid_call(model, question, &outcome, &[ToolName::GetTime]);
            assert_eq!(call.name, "get_time");
        }
        let two = [ToolName::Remember, ToolName::SetMode];
        let outcome = ask(&llm, "Set a timer for ten minutes.", forced(&two));
        let call = assert_one_valid_call(model, "timer, remember or mode", &outcome, &two);
        assert!(["remember", "set_mode"].contains(&call.name.as_str()), "{call:?}");
    }
}

#[test]
fn a_plain_question_with_tools_offered_streams_its_answer() {
    let _heavy = crate::heavy();
    for model in [SMOLLM2, GEMMA3] {
        let llm = LocalLlm::load(&test_model(model), &test_config()).unwrap();
        let offer = Some(ToolOffer::all());
        let outcome = ask(&llm, "What is the capital of France?", offer);
        match outcome.calls.first() {
            // Allowed, but then valid like every call.
            Some(call) => {
                eprintln!("{model} called {call:?} for the capital of France");
                assert_one_valid_call(model, "capital", &outcome, &ToolName::ALL);
            }
            None => {
                assert!(outcome.tokens > 0 && !outcome.text.trim().is_empty(), "{model}: {:?}", outcome.text);
                assert_eq!(outcome.streamed, outcome.text, "{model}: the stream adds up to the text");
                eprintln!("{model}: {:?}", outcome.text);
            }
        }
    }
}

#[test]
fn a_tool_result_fed_back_gets_a_text_answer() {
    let _heavy = crate::heavy();
    for model in [SMOLLM2, GEMMA3] {
        let llm = LocalLlm::load(&test_model(model), &test_config()).unwrap();
        let offered = [ToolName::GetTime, ToolName::SetTimer];
        let question = "What time is it?";
        let first = ask(&llm, question, forced(&offered));
        let call = assert_one_valid_call(model, question, &first, &offered);

        let mut messages = conversation(question);
        messages.push(ChatMessage::tool_calls(vec![call.clone()]));
        messages.push(ChatMessage::tool_result(call.id.clone(), "It is 14:05."));
        let mut request = ChatRequest::new(messages);
        request.max_tokens = Some(30);
        // The same offer: the system prompt, hence the cache, stays the same.
        request.tools = Some(ToolOffer { tools: offered.to_vec(), require_call: false });
        let answer = run(&llm, request);
        assert!(answer.calls.is_empty(), "{model}: the answer to a result is text, got {:?}", answer.calls);
        assert!(!answer.text.trim().is_empty(), "{model}: empty answer");
        assert!(!answer.text.trim_start().starts_with('{'), "{model}: a call written as text: {:?}", answer.text);
        // The prompt was still in the cache; the call's tokens too, as generated, which a
        // re-tokenised call reuses as far as the two tokenisations agree.
        let asked = first.metrics.cached_tokens + first.metrics.prompt_tokens;
        assert!(answer.metrics.cached_tokens >= asked, "{model}: {} cached of {asked}", answer.metrics.cached_tokens);
        eprintln!(
            "{model}: {call:?} -> {:?} (cached: the prompt's {asked} tokens and {} of the call's {})",
            answer.text,
            answer.metrics.cached_tokens - asked,
            first.metrics.gen_tokens
        );
    }
}

/// The figures for the note: tokens the tool section adds, first-turn prefill with and
/// without it, and the time a call takes under the grammar. One thread, as every test here. A
/// measurement, not a test: run it on a quiet machine with `cargo test --release -p
/// voxdeck-core --test it -- --ignored what_tools_cost --nocapture`.
#[test]
#[ignore = "a measurement for a quiet machine, not a check"]
fn what_tools_cost() {
    let _exclusive = crate::exclusive();
    for model in [SMOLLM2, GEMMA3] {
        let llm = LocalLlm::load(&test_model(model), &test_config()).unwrap();
        let first_turn = |tools: Option<ToolOffer>| {
            let mut best: Option<AnswerMetrics> = None;
            for _ in 0..3 {
                llm.reset().unwrap();
                let mut request = ChatRequest::new(conversation("What time is it?"));
                request.max_tokens = Some(1);
                request.tools = tools.clone().map(|t| ToolOffer { require_call: false, ..t });
                let m = run(&llm, request).metrics;
                if best.as_ref().is_none_or(|b| m.prompt_ms < b.prompt_ms) {
                    best = Some(m);
                }
            }
            best.unwrap()
        };
        let plain = first_turn(None);
        let all = first_turn(Some(ToolOffer::all()));
        let one = first_turn(Some(ToolOffer { tools: vec![ToolName::GetTime], require_call: false }));
        eprintln!(
            "{model}: first-turn prompt {} tokens {:.1} ms; with all 10 tools {} tokens (+{}) {:.1} ms; with get_time \
             only {} tokens (+{}) {:.1} ms",
            plain.prompt_tokens,
            plain.prompt_ms,
            all.prompt_tokens,
            all.prompt_tokens - plain.prompt_tokens,
            all.prompt_ms,
            one.prompt_tokens,
            one.prompt_tokens - plain.prompt_tokens,
            one.prompt_ms
        );
        assert!(all.prompt_tokens > one.prompt_tokens && one.prompt_tokens > plain.prompt_tokens);

        let (mut ms, mut tokens, mut calls) = (0.0, 0u32, 0u32);
        for question in &REQUESTS[..10] {
            let started = Instant::now();
            let outcome = ask(&llm, question, forced(&ToolName::ALL));
            let wall = started.elapsed().as_secs_f64() * 1000.0;
            assert_one_valid_call(model, question, &outcome, &ToolName::ALL);
            // The prompt is cached but for the question: the rest of the time is the call's.
            let m = &outcome.metrics;
            let call_ms = m.total_ms - m.prompt_ms;
            ms += call_ms;
            tokens += m.gen_tokens;
            calls += 1;
            eprintln!("{model}: {question:?}: {} call tokens in {call_ms:.1} ms ({wall:.1} ms in all)", m.gen_tokens);
        }
        let text = ask(&llm, "Tell me about cats.", None).metrics;
        eprintln!(
            "{model}: a call under the grammar: {:.1} ms on average, {:.2} ms per token ({:.1} tokens per call); \
             plain text: {:.2} ms per token",
            ms / f64::from(calls),
            ms / f64::from(tokens),
            f64::from(tokens) / f64::from(calls),
            (text.total_ms - text.prompt_ms) / f64::from(text.gen_tokens.max(1))
        );
    }
}

#[test]
fn the_warm_prompt_with_tools_is_the_prefix_an_answer_with_tools_reuses() {
    let _heavy = crate::heavy();
    for model in [SMOLLM2, GEMMA3] {
        let llm = LocalLlm::load(&test_model(model), &test_config()).unwrap();
        let offer = ToolOffer::all();
        let warmed = llm.warm_prompt(conversation(""), Some(offer.clone())).unwrap().wait().unwrap();
        assert!(warmed.completed && warmed.cached_tokens > 300, "{model}: {warmed:?}");
        let outcome = ask(&llm, "What is the capital of France?", Some(offer));
        assert_eq!(outcome.metrics.cached_tokens, warmed.cached_tokens, "{model}: the tool section stayed cached");
        // A draft prefilled with the offer leaves only the question's changed tail.
        llm.reset().unwrap();
        let draft =
            llm.prefill(conversation("What is the capital of"), Some(ToolOffer::all())).unwrap().wait().unwrap();
        let outcome = ask(&llm, "What is the capital of Spain?", Some(ToolOffer::all()));
        assert!(outcome.metrics.cached_tokens + 8 >= draft.cached_tokens, "{model}: {draft:?} {:?}", outcome.metrics);
    }
}
