//! Tool calls through the cloud engine, against a real OpenAI-compatible server on loopback
//! (llama-cpp-python serving SmolLM2), and the answerer's rounds and fallback around them with
//! the real local model.
//!
//! llama-cpp-python 0.3.36 streams tool calls when `tool_choice` names the tool: the call is
//! generated under a grammar made from the tool's JSON schema, so even the 135M model makes a
//! valid one (a named tool is what [`ToolOffer`] `require_call` with one tool sends). Its
//! fragments repeat the id and the whole name in each delta, unlike OpenAI's. With
//! `tool_choice: "auto"` and the model's own template it ignores the tools and answers in words.
//!
//! Needs `VOXDECK_LLAMA_SERVER_PYTHON` (`export VOXDECK_LLAMA_SERVER_PYTHON=$(bash
//! .ci/llama-server.sh)`) and the test set.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{SMOLLM2, test_config, test_model};
use voxdeck_core::config::{Mode, RouterConfig, VoiceThresholds};
use voxdeck_core::llm::{
    AnswerStream, ChatEngine, ChatMessage, ChatRequest, CloudLlm, CloudSettings, LlmError, LlmEvent, LocalLlm, Role,
};
use voxdeck_core::router::answerer::{Answer, AnswerEvent, Answerer, NamedEngine, ToolRunner};
use voxdeck_core::router::{Router, Target};
use voxdeck_core::tools::{ToolCall, ToolName, ToolOffer, ToolResult, spec};
use voxdeck_e2e::fault_proxy::{Fault, FaultProxy};
use voxdeck_e2e::openai_server::{LlamaServer, test_model_path};

const RESULT: &str = "The local time is 10:42.";

/// Runs nothing: records each call, answers with a fixed time, and does `then` (kill the
/// cloud) after the first.
#[derive(Default)]
struct Recorder {
    runs: Mutex<Vec<(ToolCall, Target)>>,
    then: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl ToolRunner for Recorder {
    fn run(&self, call: &ToolCall, engine: Target) -> ToolResult {
        self.runs.lock().unwrap().push((call.clone(), engine));
        if let Some(then) = self.then.lock().unwrap().take() {
            then();
        }
        ToolResult { ok: true, content: RESULT.into(), spoken: "It's 10:42.".into() }
    }
}

/// Keeps every request an engine is sent.
struct Capturing {
    inner: Arc<dyn ChatEngine>,
    requests: Arc<Mutex<Vec<ChatRequest>>>,
}

impl ChatEngine for Capturing {
    fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
        self.requests.lock().unwrap().push(request.clone());
        self.inner.chat(request)
    }
}

fn cloud_settings(base_url: &str, model: &str) -> CloudSettings {
    CloudSettings {
        base_url: base_url.to_owned(),
        model: model.to_owned(),
        api_key: None,
        key_withheld: None,
        connect_timeout: Duration::from_secs(5),
        // A cold server on a busy 2-core machine can take seconds over its first prompt.
        first_token_timeout: Duration::from_secs(60),
        stall_timeout: Duration::from_secs(30),
        max_tokens: 40,
        temperature: 0.0,
    }
}

/// "What time is it?" with `get_time` offered and a call required.
fn time_question() -> ChatRequest {
    let mut request = ChatRequest::new(vec![
        ChatMessage::system("You are a voice assistant. Use the tools to answer."),
        ChatMessage::user("What time is it?"),
    ]);
    request.max_tokens = Some(40);
    request.temperature = Some(0.0);
    request.tools = Some(ToolOffer { tools: vec![ToolName::GetTime], require_call: true });
    request
}

struct Rig {
    answerer: Answerer,
    local_requests: Arc<Mutex<Vec<ChatRequest>>>,
    cloud_requests: Arc<Mutex<Vec<ChatRequest>>>,
}

/// Cloud mode: the cloud at `base_url`, the real SmolLM2 locally; both capture their requests.
fn rig(base_url: &str, model: &str) -> Rig {
    let mut config = test_config();
    config.max_tokens = 40;
    let local = LocalLlm::load(&test_model(SMOLLM2), &config).expect("SmolLM2 loads");
    let cloud = CloudLlm::new(cloud_settings(base_url, model)).expect("cloud engine");
    let local_requests = Arc::new(Mutex::new(Vec::new()));
    let cloud_requests = Arc::new(Mutex::new(Vec::new()));
    let local = Capturing { inner: Arc::new(local), requests: local_requests.clone() };
    let cloud = Capturing { inner: Arc::new(cloud), requests: cloud_requests.clone() };
    let answerer = Answerer::new(
        NamedEngine { engine: Arc::new(local), model: "smollm2".into() },
        Ok(NamedEngine { engine: Arc::new(cloud), model: model.into() }),
        Router::new(RouterConfig::default(), VoiceThresholds::default()),
        Mode::Cloud,
    );
    Rig { answerer, local_requests, cloud_requests }
}

/// What the answerer reported on the way.
#[derive(Default)]
struct Seen {
    calls: Vec<(Target, ToolCall, ToolResult)>,
    fallbacks: Vec<String>,
    words: String,
}

fn ask(rig: &Rig, runner: &Recorder) -> (Answer, Seen) {
    let mut seen = Seen::default();
    let answer = rig.answerer.answer(time_question(), "What time is it?", Some(runner), &mut |event| match event {
        AnswerEvent::ToolCall { engine, call, result, .. } => seen.calls.push((engine, call.clone(), result.clone())),
        AnswerEvent::Fallback { reason, .. } => seen.fallbacks.push(reason.to_owned()),
        AnswerEvent::Token { text, .. } => seen.words.push_str(text),
        _ => {}
    });
    (answer, seen)
}

#[test]
fn the_real_server_streams_a_call_that_runs_and_is_then_answered_in_words() {
    let _heavy = crate::heavy();
    let server = LlamaServer::start(&test_model_path());

    // The engine alone: one whole, valid call, then Done with no words.
    let cloud = CloudLlm::new(cloud_settings(&server.base_url(), server.model_alias())).unwrap();
    let mut stream = cloud.chat(time_question()).unwrap();
    let mut calls = Vec::new();
    let done = loop {
        match stream.next_blocking().expect("the stream ends with Done") {
            LlmEvent::ToolCall(call) => calls.push(call),
            LlmEvent::Done { text, metrics } => break (text, metrics),
            LlmEvent::Token { text, .. } => panic!("words before the call: {text:?}"),
            LlmEvent::Error(e) => panic!("{e}\n{}", server.log_tail(30)),
        }
    };
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].name, "get_time");
    assert!(!calls[0].id.is_empty());
    let valid = spec::validate(&calls[0].name, &calls[0].arguments, &[ToolName::GetTime])
        .unwrap_or_else(|r| panic!("{r}: {:?}", calls[0].arguments));
    assert!(["time", "date"].contains(&valid.text("what")), "{valid:?}");
    assert_eq!(done.0, "");
    assert!(done.1.gen_tokens > 1 && done.1.ttft_ms > 0.0, "{:?}", done.1);

    // The answerer: the call runs once, its result goes back, the cloud answers in words.
    let rig = rig(&server.base_url(), server.model_alias());
    let runner = Recorder::default();
    let (answer, seen) = ask(&rig, &runner);
    assert_eq!((answer.engine, answer.fallback.as_deref()), (Target::Cloud, None), "{answer:?}");
    assert!(answer.error.is_none(), "{answer:?}");
    assert!(!answer.text.trim().is_empty() && answer.text == seen.words, "{answer:?}");
    let runs = runner.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].0.name.as_str(), runs[0].1), ("get_time", Target::Cloud));
    assert_eq!(seen.calls.len(), 1);
    assert!(seen.calls[0].2.ok);
    assert_eq!(answer.tool_calls.len(), 1);
    assert_eq!(answer.tool_calls[0].call, runs[0].0);

    let requests = rig.cloud_requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "a call, then the answer");
    let second = &requests[1];
    let n = second.messages.len();
    assert_eq!(second.messages[n - 2].tool_calls, [runs[0].0.clone()]);
    assert_eq!(second.messages[n - 1].role, Role::Tool);
    assert_eq!(second.messages[n - 1].tool_call_id.as_deref(), Some(runs[0].0.id.as_str()));
    assert_eq!(second.messages[n - 1].content, RESULT);
    assert!(rig.local_requests.lock().unwrap().is_empty(), "the local model was not asked");
    eprintln!("cloud tool call {:?} -> answer {:?}", runs[0].0.arguments, answer.text);
}

#[test]
fn the_cloud_dying_inside_a_call_hands_the_original_question_to_the_local_model() {
    let _heavy = crate::heavy();
    let server = LlamaServer::start(&test_model_path());
    // The role chunk is ~300 bytes, each call fragment ~550 (id and name repeated): 1200
    // bytes end inside the arguments, which take a dozen fragments.
    let proxy = FaultProxy::start(server.addr(), Fault::ResetAfter { bytes_of_body: 1200 });
    let rig = rig(&proxy.base_url(), server.model_alias());
    let runner = Recorder::default();
    let (answer, seen) = ask(&rig, &runner);

    assert_eq!(seen.fallbacks.len(), 1, "{answer:?}");
    let fallback = answer.fallback.as_deref().unwrap_or_default();
    assert!(fallback.contains("stream broken after 0 tokens"), "{answer:?}");
    assert_eq!((answer.engine, answer.model.as_str()), (Target::Local, "smollm2"));
    assert!(!seen.calls.iter().any(|(engine, ..)| *engine == Target::Cloud), "no half call ran: {:?}", seen.calls);
    assert!(!runner.runs.lock().unwrap().iter().any(|(_, engine)| *engine == Target::Cloud));
    // The local model got the original request, tools offered.
    let local = rig.local_requests.lock().unwrap().clone();
    assert_eq!(local.first(), Some(&time_question()), "{local:?}");
    assert!(!answer.text.trim().is_empty() || !answer.tool_calls.is_empty(), "the local model answered: {answer:?}");
}

#[test]
fn the_cloud_dying_after_its_tool_ran_lets_the_local_model_continue_without_running_it_again() {
    let _heavy = crate::heavy();
    let server = Arc::new(Mutex::new(LlamaServer::start(&test_model_path())));
    let (url, alias) = {
        let s = server.lock().unwrap();
        (s.base_url(), s.model_alias().to_owned())
    };
    let rig = rig(&url, &alias);
    let runner = Recorder::default();
    let dying = server.clone();
    *runner.then.lock().unwrap() = Some(Box::new(move || dying.lock().unwrap().kill()));
    let (answer, seen) = ask(&rig, &runner);

    let runs = runner.runs.lock().unwrap().clone();
    let cloud_call = &runs[0].0;
    assert_eq!(runs[0].1, Target::Cloud);
    assert_eq!(runs.iter().filter(|(c, _)| c.id == cloud_call.id).count(), 1, "the cloud's call ran once: {runs:?}");
    assert_eq!(seen.calls[0].0, Target::Cloud);
    assert_eq!(seen.fallbacks.len(), 1, "{answer:?}");
    // Refused, or a pooled connection found dead: either way before any token.
    let fallback = answer.fallback.as_deref().unwrap_or_default();
    assert!(fallback.contains("connect failed") || fallback.contains("after 0 tokens"), "{answer:?}");
    assert_eq!(answer.engine, Target::Local);
    assert_eq!(answer.tool_calls[0].call, *cloud_call);
    assert_eq!(answer.tool_calls[0].engine, Target::Cloud);
    assert!(answer.error.is_none() && !answer.text.trim().is_empty(), "the local model answered: {answer:?}");
    // It was given the conversation with the cloud's call and its result.
    let local = rig.local_requests.lock().unwrap().clone();
    let first = &local[0];
    assert!(first.messages.iter().any(|m| m.tool_calls == [cloud_call.clone()]), "{first:?}");
    assert!(first.messages.iter().any(|m| m.role == Role::Tool && m.content == RESULT), "{first:?}");
    eprintln!("after the cloud died, the local model said {:?}", answer.text);
}
