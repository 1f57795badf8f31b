//! Work done while the button is held, on the real voice loop (SmolLM2, Whisper tiny.en,
//! Piper), with espeak-ng questions paced like a microphone: the warm system prompt on the
//! first turn, a pass made during a pause that becomes the transcript, its draft prefilled into
//! the local model, and a barge-in while a pass runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::voice_config;
use voxdeck_core::Config;
use voxdeck_core::audio::sink::WavSink;
use voxdeck_core::audio::source::WavSource;
use voxdeck_core::config::Mode;
use voxdeck_core::pipeline::{
    Event, Outcome, Session, SessionOptions, SessionParts, TurnRecord, TurnState, load_engines,
};

const TURN: Duration = Duration::from_secs(300);

/// `text` spoken by espeak-ng, followed by `pause_s` seconds of silence (sox).
fn espeak_question(dir: &Path, name: &str, text: &str, pause_s: f64) -> PathBuf {
    let raw = dir.join(format!("raw-{name}"));
    let out = dir.join(name);
    let spoke = Command::new("espeak-ng").arg("-w").arg(&raw).arg(text).status().expect("espeak-ng runs");
    assert!(spoke.success(), "espeak-ng failed");
    let padded = Command::new("sox").arg(&raw).arg(&out).args(["pad", "0", &pause_s.to_string()]).status();
    assert!(padded.expect("sox runs").success(), "sox failed");
    out
}

/// The test voice loop, answering locally.
fn config() -> Config {
    let mut config = voice_config();
    config.router.mode = Mode::Local;
    config.llm.max_tokens = 16;
    config
}

/// A session on freshly loaded engines (so the LLM's cache holds the warm prompt at most).
fn start(config: &Config, source: WavSource, dir: &Path) -> Session {
    let engines = load_engines(config, &mut |_| {}).unwrap();
    Session::start(
        SessionParts {
            answerer: engines.answerer,
            stt: engines.stt,
            tts: engines.tts,
            source: Box::new(source),
            sink: Arc::new(WavSink::create(&dir.join("answers.wav"))),
            history: None,
            tools: None,
        },
        SessionOptions::from_config(config),
    )
    .unwrap()
}

/// One turn: press, the source ends by itself (the end of the file is the release).
fn turn(session: &Session) -> TurnRecord {
    let mut events = session.subscribe();
    let turn = session.press().unwrap();
    let record = Session::wait_for_turn(&mut events, turn, TURN).expect("the turn ends");
    assert_eq!(record.outcome, Outcome::Answered, "{record:?}");
    record
}

#[test]
fn the_first_turn_after_load_reuses_the_warm_system_prompt() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let q = espeak_question(dir.path(), "q.wav", "What is the capital of France?", 0.0);
    let mut cached = Vec::new();
    for warm in [true, false] {
        let mut config = config();
        config.llm.warm_prompt = warm;
        let session = start(&config, WavSource::new(&q), dir.path());
        let record = turn(&session);
        cached.push(record.cached_tokens.expect("the local model answered"));
    }
    assert!(cached[0] > 0, "warm: {} tokens reused", cached[0]);
    assert_eq!(cached[1], 0, "cold: nothing cached");
}

#[test]
fn a_pause_is_transcribed_while_held_and_its_draft_prefilled() {
    // Alone: passes slower than speech (other tests' models competing for the cores) would
    // rightly turn drafting off.
    let _exclusive = crate::exclusive();
    let dir = tempfile::tempdir().unwrap();
    // The pause before the release leaves time for a pass (and a prefill) on a busy machine.
    let q = espeak_question(dir.path(), "q.wav", "What is the capital of France?", 1.5);
    let mut config = config();
    config.pipeline.draft_prefill = false;
    let session = start(&config, WavSource::new(&q).realtime(true), dir.path());
    let held = turn(&session);
    assert!(held.stt_reused && held.stt_passes >= 1, "{held:?}");
    assert_eq!(held.stt_ms, Some(0.0), "nothing transcribed after the release");
    // The same audio delivered at once: no pass while held, one at release, the same words.
    session.set_source(Box::new(WavSource::new(&q)));
    let released = turn(&session);
    assert!(!released.stt_reused && released.stt_passes == 0, "{released:?}");
    assert_eq!(held.transcript, released.transcript);
    drop(session);

    // Fresh engines again (the same cache state: the warm prompt), with the draft prefilled.
    config.pipeline.draft_prefill = true;
    let session = start(&config, WavSource::new(&q).realtime(true), dir.path());
    let prefilled = turn(&session);
    assert!(prefilled.stt_reused, "{prefilled:?}");
    assert_eq!(prefilled.transcript, held.transcript);
    let (with, without) = (prefilled.prompt_tokens.unwrap(), held.prompt_tokens.unwrap());
    eprintln!("prompt tokens decoded after release: {without} without the draft's prefill, {with} with it");
    assert!(with < without, "{with} prompt tokens with the draft prefilled, {without} without");
    assert_eq!(prefilled.cached_tokens.unwrap() + with, held.cached_tokens.unwrap() + without);
}

#[test]
fn a_press_while_a_pass_runs_ends_the_turn_and_the_next_is_answered() {
    let _heavy = crate::heavy();
    let dir = tempfile::tempdir().unwrap();
    let long = espeak_question(
        dir.path(),
        "long.wav",
        "Tell me about the history of the Roman empire and all of its emperors",
        0.0,
    );
    let short = espeak_question(dir.path(), "short.wav", "What is the capital of France?", 0.0);
    let session = start(&config(), WavSource::new(&long).realtime(true), dir.path());
    let mut events = session.subscribe();
    let first = session.press().unwrap();
    // A pass over the first second is asked for at about 1 s; release while it runs.
    std::thread::sleep(Duration::from_millis(1150));
    session.release();
    let deadline = Instant::now() + TURN;
    loop {
        assert!(Instant::now() < deadline, "never transcribing");
        match events.try_recv() {
            Ok(Event::State { turn, state: TurnState::Transcribing }) if turn == first => break,
            Ok(Event::TurnComplete { record }) => panic!("ended before the barge-in: {record:?}"),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    session.set_source(Box::new(WavSource::new(&short)));
    let second = session.press().unwrap();
    assert_eq!(second, first + 1);

    let cut = Session::wait_for_turn(&mut events, first, TURN).expect("the first turn is reported");
    assert_eq!(cut.outcome, Outcome::Interrupted, "{cut:?}");
    let silenced = cut.silenced_ms.unwrap() - cut.interrupted_ms.unwrap();
    assert!(silenced < 100.0, "stop took {silenced} ms");
    assert!(cut.stt_passes <= 1, "{cut:?}");
    let next = Session::wait_for_turn(&mut events, second, TURN).expect("the next turn ends");
    assert_eq!(next.outcome, Outcome::Answered, "{next:?}");
    assert!(next.transcript.to_lowercase().contains("capital"), "{next:?}");
}
