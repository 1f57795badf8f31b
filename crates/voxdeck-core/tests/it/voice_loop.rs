//! The voice loop on real engines (SmolLM2, Whisper tiny.en, Piper): the events a front end
//! sees, the history a conversation leaves, and an empty utterance that never reaches the LLM.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::common::{spoken_question, voice_config};
use voxdeck_core::audio::sink::WavSink;
use voxdeck_core::audio::source::WavSource;
use voxdeck_core::config::Mode;
use voxdeck_core::history::History;
use voxdeck_core::router::Router;
use voxdeck_core::router::answerer::{Answerer, NamedEngine};
use voxdeck_core::llm::{AnswerStream, ChatEngine, ChatRequest, LlmError, Role};
use voxdeck_core::pipeline::{
    DIDNT_CATCH, Event, Outcome, Session, SessionOptions, SessionParts, TurnState, load_engines,
};

const TURN: Duration = Duration::from_secs(300);

/// Counts the requests that reach the real engine, and keeps the last one.
struct Counting {
    inner: Arc<dyn ChatEngine>,
    calls: Arc<AtomicU32>,
    last: Arc<std::sync::Mutex<Option<ChatRequest>>>,
}

impl ChatEngine for Counting {
    fn chat(&self, request: ChatRequest) -> Result<AnswerStream, LlmError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some(request.clone());
        self.inner.chat(request)
    }
}

/// The session's answerer with the real local model behind a counter; local mode.
fn counting(
    config: &voxdeck_core::Config,
    local: Arc<voxdeck_core::llm::LocalLlm>,
    calls: Arc<AtomicU32>,
    last: Arc<std::sync::Mutex<Option<ChatRequest>>>,
) -> Arc<Answerer> {
    let engine = NamedEngine { engine: Arc::new(Counting { inner: local, calls, last }), model: "SmolLM2 (counted)".into() };
    let router = Router::new(config.router.clone(), config.voice);
    Arc::new(Answerer::new(engine, Err("not configured".into()), router, Mode::Local))
}

#[test]
fn a_conversation_streams_events_and_keeps_its_history() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let q1 = spoken_question(dir.path(), "q1.wav", "What is the capital of France?");
    let q2 = spoken_question(dir.path(), "q2.wav", "How many people live there?");
    let mut config = voice_config();
    // The fastest sampling allowed: every turn (transcription, an answer, speech) spans samples.
    config.metrics.hz = 20.0;
    let engines = load_engines(&config, &mut |_| {}).unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let last = Arc::new(std::sync::Mutex::new(None));
    let answerer = counting(&config, engines.local.clone(), calls.clone(), last.clone());
    let history_path = dir.path().join("history.sqlite3");
    let session = Session::start(
        SessionParts {
            answerer,
            stt: engines.stt,
            tts: engines.tts,
            source: Box::new(WavSource::new(&q1)),
            sink: Arc::new(WavSink::create(&dir.path().join("a.wav"))),
            history: Some(History::open(&history_path).unwrap()),
            tools: None,
        },
        SessionOptions::from_config(&config),
    )
    .unwrap();

    let mut events = session.subscribe();
    let turn = session.press().unwrap();
    let mut seen = Vec::new();
    let mut states = Vec::new();
    let mut answer_text = String::new();
    let mut system_samples = 0;
    let deadline = std::time::Instant::now() + TURN;
    let record = loop {
        assert!(std::time::Instant::now() < deadline, "turn 1 timed out; events: {seen:?}");
        let event = match events.try_recv() {
            Ok(e) => e,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        match &event {
            Event::State { state, .. } => states.push(*state),
            Event::AnswerDelta { text, .. } => answer_text.push_str(text),
            Event::System { snapshot } => {
                system_samples += 1;
                assert!(snapshot.process_rss_bytes.unwrap_or(0) > 0);
            }
            _ => {}
        }
        let kind = serde_json::to_value(&event).unwrap()["type"].as_str().unwrap().to_owned();
        if seen.last() != Some(&kind) {
            seen.push(kind);
        }
        if let Event::TurnComplete { record } = event {
            break *record;
        }
    };
    assert_eq!(record.turn, turn);
    assert_eq!(record.outcome, Outcome::Answered, "{record:?}");
    assert_eq!(
        states,
        [TurnState::Listening, TurnState::Transcribing, TurnState::Thinking, TurnState::Speaking, TurnState::Idle]
    );
    let pos = |k: &str| seen.iter().position(|s| s == k).unwrap_or_else(|| panic!("no {k} event in {seen:?}"));
    assert!(pos("transcript") < pos("answer_delta") && pos("answer_delta") < pos("turn_complete"), "{seen:?}");
    assert!(pos("spoken") < pos("turn_complete"));
    assert_eq!(answer_text, record.generated, "the streamed deltas add up to the answer");
    assert!(system_samples >= 1, "no system metrics on the stream during the turn: {record:?}");

    // Turn 2 sees turn 1 as context, and reuses its cached prompt.
    session.set_source(Box::new(WavSource::new(&q2)));
    let mut events = session.subscribe();
    let turn2 = session.press().unwrap();
    let record2 = Session::wait_for_turn(&mut events, turn2, TURN).expect("turn 2 ends");
    assert_eq!(record2.outcome, Outcome::Answered, "{record2:?}");
    let request = last.lock().unwrap().clone().unwrap();
    let roles: Vec<Role> = request.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User, Role::Assistant, Role::User]);
    assert_eq!(request.messages[2].content, record.answer);
    assert!(record2.cached_tokens.unwrap() > 0, "the system prompt and turn 1 stay in the KV cache");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    drop(session);

    // Both turns are in history, in order, as they were reported.
    let history = History::open(&history_path).unwrap();
    let saved = history.recent(&record.conversation, 10).unwrap();
    assert_eq!(saved, vec![record, record2]);
}

#[test]
fn release_right_after_press_is_didnt_catch_that_without_an_llm_call() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let q = spoken_question(dir.path(), "q.wav", "What is the capital of France?");
    let config = voice_config();
    let engines = load_engines(&config, &mut |_| {}).unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let answerer = counting(&config, engines.local.clone(), calls.clone(), Arc::new(std::sync::Mutex::new(None)));
    let session = Session::start(
        SessionParts {
            answerer,
            stt: engines.stt,
            tts: engines.tts,
            // Real time, like a microphone: releasing at once captures (almost) nothing.
            source: Box::new(WavSource::new(&q).realtime(true)),
            sink: Arc::new(WavSink::create(&dir.path().join("a.wav"))),
            history: None,
            tools: None,
        },
        SessionOptions::from_config(&config),
    )
    .unwrap();
    let mut events = session.subscribe();
    let turn = session.press().unwrap();
    session.release();
    let mut notice = None;
    let deadline = std::time::Instant::now() + TURN;
    let record = loop {
        assert!(std::time::Instant::now() < deadline);
        match events.try_recv() {
            Ok(Event::Notice { message, .. }) => notice = Some(message),
            Ok(Event::TurnComplete { record }) if record.turn == turn => break *record,
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    assert_eq!(record.outcome, Outcome::NoSpeech, "{record:?}");
    assert_eq!(notice.as_deref(), Some(DIDNT_CATCH));
    assert!(record.engine.is_none() && record.first_token_ms.is_none());
    assert!(record.utterance_s < 0.25, "{} s captured", record.utterance_s);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the LLM was not asked");

    // The session goes on: the next press is a normal turn.
    let mut events = session.subscribe();
    let turn = session.press().unwrap();
    std::thread::sleep(Duration::from_millis(2500)); // the question is about 2 s long
    session.release();
    let record = Session::wait_for_turn(&mut events, turn, TURN).unwrap();
    assert_eq!(record.outcome, Outcome::Answered, "{record:?}");
    assert!(record.transcript.to_lowercase().contains("capital"), "{record:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
