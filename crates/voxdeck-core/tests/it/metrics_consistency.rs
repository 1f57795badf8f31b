//! Per-answer metrics agree with the token timestamps. Alone among the heavy tests
//! ([`crate::exclusive`]), so that no other model competes for the cores while it measures.

use crate::common::{SMOLLM2, conversation, test_config, test_model};
use voxdeck_core::llm::{ChatEngine, ChatRequest, FinishReason, LocalLlm};

#[test]
fn response_time_matches_ttft_plus_generation_rate() {
    let _exclusive = crate::exclusive();
    let llm = LocalLlm::load(&test_model(SMOLLM2), &test_config()).unwrap();
    let mut request = ChatRequest::new(conversation("Describe a sunny day."));
    request.max_tokens = Some(60);
    request.ignore_eos = true;
    let mut times = Vec::new();
    let (_, m) = llm
        .chat(request)
        .unwrap()
        .collect_blocking(|_, _, elapsed| times.push(elapsed.as_secs_f64()))
        .unwrap();
    assert_eq!(m.gen_tokens, 60);
    assert_eq!(m.finish, FinishReason::Length);
    assert_eq!(times.len(), 60);
    for n in [30usize, 50] {
        let measured = times[n - 1];
        let predicted = m.ttft_ms / 1000.0 + (n as f64 - 1.0) / m.gen_tok_s;
        let error = (measured - predicted).abs() / measured;
        assert!(error < 0.2, "N={n}: measured {measured:.3}s, predicted {predicted:.3}s");
    }
    assert!((times[0] * 1000.0 - m.ttft_ms).abs() < 1.0);
}

