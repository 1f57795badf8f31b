//! Speech out, speech in: the test voices speak fixed sentences and Whisper writes them back.
//! The word error rate bounds come from issue 3 (Piper ≤ 15%, espeak-ng ≤ 25%, over all ten
//! sentences). Real engines throughout: Piper on ONNX Runtime, espeak-ng, the Whisper worker.

use std::time::Duration;

use voxdeck_core::config::{SttConfig, TtsConfig, TtsEngine};
use voxdeck_core::models::Catalog;
use voxdeck_core::stt::{self, Stt, SttOptions, wer};
use voxdeck_core::tts::{self, SpeechSynthesizer};

use crate::common::{TINY_EN, models_dir, need_test_set};

const SENTENCES: [&str; 10] = [
    "Please set a timer for ten minutes.",
    "What is the weather like in Paris tomorrow?",
    "Turn off the lights in the kitchen.",
    "Remind me to call my mother this evening.",
    "How long does it take to boil an egg?",
    "Play some quiet music while I read.",
    "The train to London leaves at nine.",
    "Add milk and bread to my shopping list.",
    "Who wrote the book about the old man and the sea?",
    "Good night, and thank you for your help.",
];

fn stt() -> Stt {
    let model = stt::resolve_model(&Catalog::builtin(), TINY_EN, &models_dir()).unwrap_or_else(|e| need_test_set(e));
    let worker = stt::find_worker(None)
        .unwrap_or_else(|e| panic!("{e}\nbuild it first: `cargo build --release --workspace --bins`"));
    let config = SttConfig { threads: 1, ..SttConfig::default() };
    Stt::start(SttOptions {
        worker,
        model: model.path,
        model_name: model.name,
        decode: stt::decode_options(&config),
        energy_gate_dbfs: config.energy_gate_dbfs,
        timeout: Duration::from_secs(300),
        adapt_threads: false,
    })
    .unwrap()
}

/// Speaks every sentence with `voice`, transcribes it, and returns the corpus word error rate.
fn round_trip(voice: &dyn SpeechSynthesizer, stt: &mut Stt) -> f64 {
    let mut reference = String::new();
    let mut hypothesis = String::new();
    for sentence in SENTENCES {
        let audio = voice.synthesize(sentence).unwrap();
        assert!(audio.duration_s() > 0.5, "{sentence:?} gave {:.2} s of audio", audio.duration_s());
        let transcript = stt.transcribe_buffer(&audio).unwrap();
        eprintln!("{sentence:?} -> {:?}", transcript.text);
        reference.push_str(sentence);
        reference.push(' ');
        hypothesis.push_str(&transcript.text);
        hypothesis.push(' ');
    }
    wer::word_error_rate(&reference, &hypothesis)
}

#[test]
fn piper_and_espeak_are_understood_by_whisper() {
    let _heavy = crate::heavy();
    let catalog = Catalog::builtin();
    let models_dir = models_dir();
    let mut stt = stt();

    let piper_config = TtsConfig {
        engine: TtsEngine::Piper,
        noise_scale: Some(0.0),
        noise_w: Some(0.0),
        threads: 1,
        ..TtsConfig::default()
    };
    let piper = tts::open_with(&piper_config, &catalog, &models_dir).unwrap();
    let piper_wer = round_trip(piper.as_ref(), &mut stt);

    let espeak_config = TtsConfig { engine: TtsEngine::Espeak, ..TtsConfig::default() };
    let espeak = tts::open_with(&espeak_config, &catalog, &models_dir).unwrap();
    let espeak_wer = round_trip(espeak.as_ref(), &mut stt);

    eprintln!("WER: piper {:.1}%, espeak-ng {:.1}%", piper_wer * 100.0, espeak_wer * 100.0);
    assert!(piper_wer <= 0.15, "Piper round trip WER {:.1}%", piper_wer * 100.0);
    assert!(espeak_wer <= 0.25, "espeak-ng round trip WER {:.1}%", espeak_wer * 100.0);
}
