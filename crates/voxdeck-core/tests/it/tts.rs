//! Text to speech on the real test voice (Piper en_US joe, medium) and the real ONNX Runtime
//! from the test set (`voxdeck models fetch --test-set` into `VOXDECK_MODELS`), and espeak-ng.
//! Audio is compared with the noise scales at 0, where Piper is deterministic. No test asserts
//! on time.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use voxdeck_core::audio::AudioBuffer;
use voxdeck_core::config::{TtsConfig, TtsEngine};
use voxdeck_core::models::Catalog;
use voxdeck_core::tts::{self, Engine, PiperSynthesizer, SpeechSynthesizer, TtsError};

use crate::common::{JOE, models_dir, need_test_set};

/// Piper with the test voice, deterministic, one thread (tests run in parallel).
fn piper_config() -> TtsConfig {
    TtsConfig {
        voice: JOE.to_owned(),
        engine: TtsEngine::Piper,
        noise_scale: Some(0.0),
        noise_w: Some(0.0),
        threads: 1,
        ..TtsConfig::default()
    }
}

fn open(tts: &TtsConfig) -> Result<Box<dyn SpeechSynthesizer>, TtsError> {
    tts::open_with(tts, &Catalog::builtin(), &models_dir())
}

fn open_piper(tts: &TtsConfig) -> PiperSynthesizer {
    tts::open_piper(tts, &Catalog::builtin(), &models_dir()).unwrap_or_else(|e| need_test_set(e))
}

/// The test voice, loaded once for the tests that share it.
fn piper() -> &'static PiperSynthesizer {
    static PIPER: OnceLock<PiperSynthesizer> = OnceLock::new();
    PIPER.get_or_init(|| open_piper(&piper_config()))
}

fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64).sqrt()
}

/// Speech, not silence or a click: loud enough overall, and with quiet gaps and loud stretches
/// (speech has pauses; constant noise or a tone has none).
fn assert_speech(audio: &AudioBuffer, what: &str) {
    assert_eq!(audio.channels, 1, "{what}");
    assert!(!audio.samples.is_empty(), "{what}: no audio");
    assert!(
        audio.samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0),
        "{what}: samples out of range"
    );
    let level = rms(&audio.samples);
    assert!(level > 0.02, "{what}: RMS {level:.4} is too quiet for speech");
    let window = (audio.sample_rate / 50) as usize; // 20 ms
    let levels: Vec<f64> = audio.samples.chunks(window).map(rms).collect();
    let loud = levels.iter().filter(|&&l| l > 0.5 * level).count();
    let quiet = levels.iter().filter(|&&l| l < 0.1 * level).count();
    assert!(
        loud * 5 > levels.len(),
        "{what}: too few loud windows ({loud}/{})",
        levels.len()
    );
    assert!(quiet > 0, "{what}: no pauses at all");
}

#[test]
fn piper_speaks_a_sentence() {
    let _heavy = crate::heavy();
    let piper = piper();
    assert_eq!(piper.engine(), Engine::Piper);
    assert_eq!(piper.sample_rate(), 22050);
    // The rate the voice's own config file states, read here, not through the synthesizer.
    let voice = tts::resolve_voice(JOE, &Catalog::builtin(), &models_dir()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&voice.config).unwrap()).unwrap();
    let stated = json["audio"]["sample_rate"].as_u64();
    assert_eq!(Some(u64::from(piper.sample_rate())), stated, "{}", voice.config.display());
    let audio = piper
        .synthesize("The quick brown fox jumps over the lazy dog near the river.")
        .unwrap();
    assert_eq!(audio.sample_rate, 22050);
    assert_speech(&audio, "piper");
    // Twelve words at a natural pace: between about 2 and 8 words per second.
    let d = audio.duration_s();
    assert!((1.5..6.0).contains(&d), "12 words in {d:.2} s");
}

#[test]
fn piper_is_deterministic_with_noise_off() {
    let _heavy = crate::heavy();
    let text = "Determinism matters when tests compare audio.";
    let a = piper().synthesize(text).unwrap();
    let b = piper().synthesize(text).unwrap();
    assert!(!a.samples.is_empty());
    assert!(a.samples == b.samples, "two runs differ");
    // The same with two inference threads (a separately loaded voice).
    let two = open_piper(&TtsConfig {
        threads: 2,
        ..piper_config()
    });
    let c = two.synthesize(text).unwrap();
    assert!(a.samples == c.samples, "1 and 2 threads differ");
}

/// Milliseconds before the first sample above -40 dBFS.
fn lead_ms(audio: &AudioBuffer) -> f64 {
    let first = voxdeck_core::audio::level::first_audible(&audio.samples).expect("audible");
    first as f64 * 1000.0 / f64::from(audio.sample_rate)
}

/// Each sentence starts speaking within 10 ms: the voice's own lead-in silence is cut (faded
/// in), and what follows is the same audio (the same length for espeak-ng).
#[test]
fn leading_silence_is_trimmed_to_10_ms() {
    let _heavy = crate::heavy();
    let untrimmed_piper = open_piper(&TtsConfig { trim_leading_silence: false, ..piper_config() });
    let espeak = |trim| open(&TtsConfig { engine: TtsEngine::Espeak, trim_leading_silence: trim, ..TtsConfig::default() }).unwrap();
    let (espeak_on, espeak_off) = (espeak(true), espeak(false));
    for text in ["Paris is the capital of France.", "The capital of France is Paris, a city of two million people.", "Hello there."] {
        for (engine, on, off) in [("piper", piper() as &dyn SpeechSynthesizer, &untrimmed_piper as &dyn SpeechSynthesizer), ("espeak", &*espeak_on, &*espeak_off)] {
            let (a, b) = (on.synthesize(text).unwrap(), off.synthesize(text).unwrap());
            let (lead_on, lead_off) = (lead_ms(&a), lead_ms(&b));
            eprintln!("{engine} {text:?}: leading silence {lead_off:.1} ms, trimmed {lead_on:.1} ms");
            assert!((lead_on - 10.0).abs() < 0.1 || lead_on <= lead_off, "{engine}: {lead_on} ms");
            // From the first sound on, the same audio.
            let audible = |x: &AudioBuffer| voxdeck_core::audio::level::first_audible(&x.samples).unwrap();
            let (sa, sb) = (&a.samples[audible(&a)..], &b.samples[audible(&b)..]);
            let n = sa.len().min(sb.len());
            let same = sa[..n].iter().zip(&sb[..n]).filter(|(x, y)| (*x - *y).abs() < 1e-4).count();
            // Piper with its noise off is deterministic; espeak-ng differs a little run to run.
            if engine == "piper" {
                assert!(same * 100 >= n * 99, "{engine}: the speech itself changed ({same} of {n} samples equal)");
            }
            assert!(sa.len().abs_diff(sb.len()) < 2_205, "{engine}: {} vs {} samples", sa.len(), sb.len());
        }
    }
}

#[test]
fn piper_streams_one_buffer_per_sentence() {
    let _heavy = crate::heavy();
    let text = "The sun is up. Birds sing in the trees! Is it warm today?";
    let mut buffers = Vec::new();
    let n = piper()
        .synthesize_sentences(text, &mut |b| {
            buffers.push(b);
            true
        })
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(buffers.len(), 3);
    for (i, b) in buffers.iter().enumerate() {
        assert_eq!(b.sample_rate, 22050);
        assert_speech(b, &format!("sentence {i}"));
    }
    // The whole-text call is the sentences back to back.
    let whole = piper().synthesize(text).unwrap();
    let joined: Vec<f32> = buffers.iter().flat_map(|b| b.samples.iter().copied()).collect();
    assert!(whole.samples == joined, "synthesize differs from the sentences joined");
    // Returning false stops after that sentence.
    let mut count = 0;
    let n = piper()
        .synthesize_sentences(text, &mut |_| {
            count += 1;
            false
        })
        .unwrap();
    assert_eq!((n, count), (1, 1));
}

#[test]
fn piper_phoneme_ids_follow_the_voice_layout() {
    let _heavy = crate::heavy();
    let piper = piper();
    let ids = piper.phoneme_ids("Hello, world. How are you?").unwrap();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let c = piper.config();
    for sentence in &ids {
        assert_eq!(sentence[..2], [c.bos[0], c.pad[0]]);
        assert_eq!(*sentence.last().unwrap(), c.eos[0]);
        // `^ _ (phoneme _)* $`: every other id from the second is padding.
        assert!(
            sentence[1..sentence.len() - 1]
                .iter()
                .step_by(2)
                .all(|&id| id == c.pad[0]),
            "{sentence:?}"
        );
    }
    // The clause punctuation is in the ids: `,` then a space inside the first sentence, `.` at
    // its end, `?` at the end of the second.
    let id = |c: char| piper.config().phoneme_id_map[&c][0];
    let first = &ids[0];
    assert!(first.windows(3).any(|w| w == [id(','), c.pad[0], id(' ')]), "{first:?}");
    assert_eq!(first[first.len() - 3], id('.'));
    assert_eq!(ids[1][ids[1].len() - 3], id('?'));
}

#[test]
fn piper_rate_changes_the_pace() {
    let _heavy = crate::heavy();
    let text = "This sentence is spoken at two different speeds.";
    let normal = piper().synthesize(text).unwrap();
    let fast = open_piper(&TtsConfig {
        rate: 2.0,
        ..piper_config()
    });
    assert_eq!(fast.scales()[1], piper().config().length_scale / 2.0);
    let quick = fast.synthesize(text).unwrap();
    let ratio = quick.duration_s() / normal.duration_s();
    assert!(
        (0.35..0.7).contains(&ratio),
        "twice the rate gave {ratio:.2} of the duration"
    );
}

#[test]
fn nothing_to_say_is_no_audio_and_no_error() {
    let _heavy = crate::heavy();
    let espeak = open(&TtsConfig {
        engine: TtsEngine::Espeak,
        ..TtsConfig::default()
    })
    .unwrap();
    let engines: [&dyn SpeechSynthesizer; 2] = [piper(), espeak.as_ref()];
    for synth in engines {
        for text in ["", "   ", "...", "?!"] {
            let audio = synth.synthesize(text).unwrap();
            assert!(audio.samples.is_empty(), "{}: {text:?} gave audio", synth.engine());
            assert_eq!(audio.sample_rate, synth.sample_rate());
            let n = synth
                .synthesize_sentences(text, &mut |_| panic!("no sentence expected"))
                .unwrap();
            assert_eq!(n, 0);
        }
    }
}

#[test]
fn espeak_speaks_without_a_voice_installed() {
    let empty = tempfile::tempdir().unwrap();
    let tts = TtsConfig::default(); // engine auto, voice "" (best installed)
    let synth = tts::open_with(&tts, &Catalog::builtin(), empty.path()).unwrap();
    assert_eq!(synth.engine(), Engine::Espeak);
    assert!(synth.voice_name().contains("en-us"), "{}", synth.voice_name());
    let audio = synth
        .synthesize("The quick brown fox jumps over the lazy dog.")
        .unwrap();
    assert_eq!(audio.sample_rate, synth.sample_rate());
    assert_speech(&audio, "espeak-ng");
    let d = audio.duration_s();
    assert!((1.0..8.0).contains(&d), "{d:.2} s");
    let mut n = 0;
    synth
        .synthesize_sentences("One sentence here. And another one!", &mut |b| {
            assert_speech(&b, "espeak-ng sentence");
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, 2);
    // With engine = "piper" the same situation is an error that says what to install.
    let err = tts::open_with(
        &TtsConfig {
            engine: TtsEngine::Piper,
            ..tts
        },
        &Catalog::builtin(),
        empty.path(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, TtsError::NoVoiceInstalled { .. }), "{err}");
    assert!(err.to_string().contains("voxdeck models fetch"), "{err}");
}

#[test]
fn auto_falls_back_to_espeak_without_onnxruntime() {
    let tts = TtsConfig {
        engine: TtsEngine::Auto,
        onnxruntime: "/nonexistent/libonnxruntime.so".to_owned(),
        ..piper_config()
    };
    let synth = open(&tts).unwrap();
    assert_eq!(synth.engine(), Engine::Espeak);
}

/// A copy of the test set's ONNX Runtime cut after 100 000 bytes, as an interrupted copy
/// leaves it: loading it used to kill the process with SIGBUS.
fn truncated_onnxruntime(dir: &Path) -> PathBuf {
    let whole = tts::find_onnxruntime(&TtsConfig::default(), &Catalog::builtin(), &models_dir())
        .unwrap_or_else(|e| need_test_set(e));
    let bytes = std::fs::read(&whole).unwrap();
    assert!(bytes.len() > 1_000_000, "{} is the whole library", whole.display());
    let cut = dir.join("libonnxruntime.so.cut");
    std::fs::write(&cut, &bytes[..100_000]).unwrap();
    cut
}

#[test]
fn a_truncated_onnxruntime_falls_back_in_auto_and_is_an_error_in_words_for_piper() {
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated_onnxruntime(dir.path());
    let tts = TtsConfig {
        engine: TtsEngine::Auto,
        onnxruntime: cut.display().to_string(),
        ..piper_config()
    };
    assert_eq!(open(&tts).unwrap().engine(), Engine::Espeak);

    let tts = TtsConfig { engine: TtsEngine::Piper, ..tts };
    let err = open(&tts).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, TtsError::OnnxRuntimeLoad { .. }), "{msg}");
    let expected = format!(
        "cannot load ONNX Runtime from {}: it is cut short: the file has 100000 bytes but its ELF headers describe",
        cut.display()
    );
    assert!(msg.starts_with(&expected), "{msg}");
}

#[test]
fn missing_onnxruntime_says_how_to_install_it() {
    let tts = TtsConfig {
        onnxruntime: "/nonexistent/libonnxruntime.so".to_owned(),
        ..piper_config()
    };
    let err = open(&tts).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, TtsError::OnnxRuntimeMissing { .. }), "{msg}");
    assert!(msg.contains("/nonexistent/libonnxruntime.so"), "{msg}");
    assert!(
        msg.contains("pip download --no-deps --only-binary=:all: onnxruntime=="),
        "{msg}"
    );
    assert!(msg.contains("voxdeck models fetch onnxruntime-"), "{msg}");
}

/// A directory with the test voice's model linked in and a config written by the test.
fn voice_dir(config: Option<&str>, model: Option<&[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("test-voice.onnx");
    match model {
        Some(bytes) => std::fs::write(&onnx, bytes).unwrap(),
        None => {
            let real = piper().model_path().to_owned();
            std::os::unix::fs::symlink(real, &onnx).unwrap();
        }
    }
    if let Some(config) = config {
        std::fs::write(dir.path().join("test-voice.onnx.json"), config).unwrap();
    }
    (dir, onnx)
}

fn open_voice_path(onnx: &Path) -> Result<Box<dyn SpeechSynthesizer>, TtsError> {
    open(&TtsConfig {
        voice: onnx.display().to_string(),
        ..piper_config()
    })
}

fn real_config_json() -> String {
    let path = models_dir().join("en_US-joe-medium.onnx.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_voice_by_path_works() {
    let _heavy = crate::heavy();
    let (_dir, onnx) = voice_dir(Some(&real_config_json()), None);
    let synth = open_voice_path(&onnx).unwrap();
    assert_eq!(synth.voice_name(), "Piper voice test-voice");
    assert_speech(
        &synth.synthesize("A voice loaded from a path.").unwrap(),
        "voice by path",
    );
}

#[test]
fn bad_voices_are_clear_errors() {
    let _heavy = crate::heavy();
    // Missing voice file.
    let err = open_voice_path(Path::new("/nonexistent/voices/missing.onnx"))
        .err()
        .unwrap();
    assert!(matches!(err, TtsError::VoiceFileMissing { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/voices/missing.onnx"), "{err}");

    // Unsupported voice id: an error even with engine = "auto" (no silent fallback).
    for engine in [TtsEngine::Auto, TtsEngine::Piper] {
        let err = open(&TtsConfig {
            voice: "klingon-warrior-high".to_owned(),
            engine,
            ..piper_config()
        })
        .err()
        .unwrap();
        assert!(matches!(err, TtsError::UnsupportedVoice { .. }), "{err}");
        assert!(
            err.to_string().contains("unsupported voice `klingon-warrior-high`"),
            "{err}"
        );
    }

    // A catalog id that is not a voice.
    let err = open(&TtsConfig {
        voice: "smollm2-135m-instruct-q4_1".to_owned(),
        ..piper_config()
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("not a tts model"), "{err}");

    // The model without its config.
    let (_dir, onnx) = voice_dir(None, None);
    let err = open_voice_path(&onnx).err().unwrap();
    assert!(matches!(err, TtsError::VoiceConfig { .. }), "{err}");
    assert!(err.to_string().contains("test-voice.onnx.json"), "{err}");

    // A config missing fields names the field.
    let mut json: serde_json::Value = serde_json::from_str(&real_config_json()).unwrap();
    json.as_object_mut().unwrap().remove("phoneme_id_map");
    let (_dir, onnx) = voice_dir(Some(&json.to_string()), None);
    let err = open_voice_path(&onnx).err().unwrap();
    assert!(matches!(err, TtsError::VoiceConfig { .. }), "{err}");
    assert!(err.to_string().contains("phoneme_id_map"), "{err}");
    let mut json: serde_json::Value = serde_json::from_str(&real_config_json()).unwrap();
    json["audio"].as_object_mut().unwrap().remove("sample_rate");
    let (_dir, onnx) = voice_dir(Some(&json.to_string()), None);
    let err = open_voice_path(&onnx).err().unwrap();
    assert!(err.to_string().contains("audio.sample_rate"), "{err}");

    // A corrupt model: a truncated copy, and garbage.
    let real = std::fs::read(piper().model_path()).unwrap();
    for (what, bytes) in [
        ("truncated", &real[..real.len() / 3]),
        ("garbage", &b"not an onnx model at all"[..]),
    ] {
        let (_dir, onnx) = voice_dir(Some(&real_config_json()), Some(bytes));
        let err = open_voice_path(&onnx).err().unwrap();
        assert!(matches!(err, TtsError::VoiceModel { .. }), "{what}: {err}");
        assert!(err.to_string().contains("cannot load the voice model"), "{what}: {err}");
        assert!(err.to_string().contains("test-voice.onnx"), "{what}: {err}");
    }
}

#[test]
fn unknown_espeak_voice_is_a_clear_error() {
    let err = open(&TtsConfig {
        engine: TtsEngine::Espeak,
        espeak_voice: "xx-nowhere".to_owned(),
        ..TtsConfig::default()
    })
    .err()
    .unwrap();
    assert!(matches!(err, TtsError::EspeakVoice { .. }), "{err}");
    assert!(err.to_string().contains("xx-nowhere"), "{err}");
}

/// Piper's synthesis time on a short clause with each ONNX Runtime session setting, a few
/// repeats each, interleaved (in a rotating order) so load on the machine hits them alike. Run
/// by hand:
/// `cargo test --release -p voxdeck-core --test it piper_session_tuning -- --ignored --nocapture`.
#[test]
#[ignore]
fn piper_session_tuning() {
    let voice = tts::resolve_voice(JOE, &Catalog::builtin(), &models_dir()).unwrap();
    let ort = tts::find_onnxruntime(&piper_config(), &Catalog::builtin(), &models_dir()).unwrap();
    let text = "The capital of France is Paris,";
    let mut variants = Vec::new();
    for threads in [1, 2] {
        for (spin_threads, denormal_as_zero) in [(true, false), (false, false), (false, true), (true, true)] {
            let tts = TtsConfig { threads, spin_threads, denormal_as_zero, ..piper_config() };
            let piper = PiperSynthesizer::load(&voice, &tts, &ort).unwrap();
            piper.synthesize(text).unwrap(); // warm up
            variants.push((format!("threads {threads}, spin_threads {spin_threads}, denormal_as_zero {denormal_as_zero}"), piper, Vec::new()));
        }
    }
    let n = variants.len();
    for round in 0..8 {
        // Each round starts with another variant: none is always first after a pause.
        for i in 0..n {
            let (_, piper, times) = &mut variants[(i + round) % n];
            let t = std::time::Instant::now();
            piper.synthesize(text).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let base = {
        let mut t = variants[0].2.clone();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    };
    for (name, _, times) in &mut variants {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        eprintln!("{name}: median {median:.1} ms, min {:.1} ms ({:.2}x the first)", times[0], median / base);
    }
}
