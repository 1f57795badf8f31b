//! Barge-in on the real playback path: the answer plays through cpal/ALSA into a FIFO read at
//! real time (see `alsa_env`), and a press while it speaks must silence the device within
//! 100 ms, cancel the rest of the answer, and keep in history only what was heard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alsa_env::{BYTES_PER_S, OUT_RATE, PacedReader, setup};
use crate::common::{spoken_question, voice_config};
use voxdeck_core::audio::wav::write_wav;
use voxdeck_core::audio::{AudioBuffer, Player};
use voxdeck_core::audio::source::WavSource;
use voxdeck_core::pipeline::{Event, Outcome, Session, SessionIo, SessionOptions, TurnState, assemble};

const TURN: Duration = Duration::from_secs(300);

#[test]
fn a_press_while_speaking_silences_the_speaker_within_100_ms() {
    let (_guard, dir) = setup();
    let tmp = tempfile::tempdir().unwrap();
    let q = spoken_question(tmp.path(), "q.wav", "Tell me a long story about a brave dragon.");
    let mut config = voice_config();
    config.llm.max_tokens = 200;
    let reader = PacedReader::spawn_tight(&dir.join("out.fifo"), BYTES_PER_S);
    let io = SessionIo {
        source: Box::new(WavSource::new(&q)),
        sink: Arc::new(Player::open(None).unwrap()),
        history: None,
    };
    let session = assemble(&config, SessionOptions::from_config(&config), io, &mut |_| {}).unwrap().session;

    let mut events = session.subscribe();
    let turn = session.press().unwrap();
    let deadline = Instant::now() + TURN;
    loop {
        assert!(Instant::now() < deadline, "the answer never started speaking");
        match events.try_recv() {
            Ok(Event::State { state: TurnState::Speaking, .. }) => break,
            Ok(Event::TurnComplete { record }) => panic!("the turn ended before speaking: {record:?}"),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    // Let it speak for a while, then barge in. The next utterance is silence, so nothing that
    // reaches the speaker after the press can belong to the next turn's answer.
    let silence = tmp.path().join("silence.wav");
    write_wav(&silence, &AudioBuffer::mono(vec![0.0; 16_000], 16_000)).unwrap();
    session.set_source(Box::new(WavSource::new(&silence)));
    std::thread::sleep(Duration::from_millis(1200));
    let at_press = reader.len();
    let pressed = Instant::now();
    let next = session.press().unwrap();
    let press_ms = pressed.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(next, turn + 1);

    let record = Session::wait_for_turn(&mut events, turn, TURN).expect("the interrupted turn is reported");
    assert_eq!(record.outcome, Outcome::Interrupted, "{record:?}");
    assert!(record.interrupted);
    let silenced = record.silenced_ms.unwrap() - record.interrupted_ms.unwrap();
    eprintln!("press() returned in {press_ms:.1} ms; playback stopped and generation cancelled {silenced:.1} ms after the press");
    assert!(silenced < 100.0, "stop took {silenced} ms");
    // The interrupted turn was heard (it spoke for 1.2 s), after it was handed to the speaker
    // and before the press.
    let (audio, audible) = (record.first_audio_ms.unwrap(), record.first_audible_ms.expect("heard"));
    assert!(audible >= audio && audible <= record.interrupted_ms.unwrap(), "{record:?}");

    // What reached the device after the press: at most its buffer and the FIFO's.
    std::thread::sleep(Duration::from_millis(800));
    let out = reader.samples();
    let last_loud = out.iter().rposition(|s| s.abs() > 0.02).unwrap_or(0);
    let after_press_ms = (last_loud.saturating_sub(at_press)) as f64 * 1000.0 / f64::from(OUT_RATE);
    eprintln!("audio after the press: {after_press_ms:.1} ms");
    assert!(after_press_ms < 100.0, "the speaker went on for {after_press_ms:.0} ms after the press");

    // The answer kept is what was heard: about 1.2 s of speech, a strict prefix of the answer.
    assert!(!record.answer.is_empty(), "{record:?}");
    let heard: Vec<&str> = record.answer.trim_end_matches('…').split_whitespace().collect();
    let generated: Vec<&str> = record.generated.split_whitespace().collect();
    assert!(heard.len() < generated.len() || record.generated.is_empty(), "{record:?}");
    assert!(heard.len() <= 8, "1.2 s of speech is a few words, not {}: {:?}", heard.len(), record.answer);

    // The new turn heard only silence.
    let record = Session::wait_for_turn(&mut events, next, TURN).expect("the next turn ends");
    assert_eq!(record.outcome, Outcome::NoSpeech, "{record:?}");
    assert_eq!(record.first_audible_ms, None, "nothing stale from the interrupted turn");
    drop(session);
    drop(reader);
}
