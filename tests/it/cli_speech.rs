//! `voxdeck say` and `voxdeck transcribe`: the round trip a user would try first.

use voxdeck_e2e::{run, voxdeck, write_config};

#[test]
fn say_then_transcribe_prints_the_sentence_back() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    // The same speech every run (Piper without its random noise). With the noise, "Please set
    // a timer" came back as "Police at a timer" now and then; without it, every time, so the
    // sentence is the README's round trip.
    write_config(home.path(), "[tts]\nnoise_scale = 0.0\nnoise_w = 0.0\n");
    let wav = home.path().join("a.wav");
    let r = run(voxdeck(home.path())
        .args(["say", "Set a timer for ten minutes.", "--threads", "1", "-o"])
        .arg(&wav));
    assert!(r.status.success(), "{r}");
    assert!(r.stderr.contains("piper"), "the test voice is installed, so Piper speaks: {r}");
    assert!(std::fs::metadata(&wav).unwrap().len() > 20_000, "{r}");

    let r = run(voxdeck(home.path()).args(["transcribe", "--threads", "1"]).arg(&wav));
    assert!(r.status.success(), "{r}");
    let heard = r.stdout.to_lowercase();
    for word in ["set", "timer", "minutes"] {
        assert!(heard.contains(word), "{word:?} missing from {:?}", r.stdout);
    }

    let r = run(voxdeck(home.path()).args(["transcribe", "--json", "--threads", "1"]).arg(&wav));
    assert!(r.status.success(), "{r}");
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{r}"));
    assert!(v["text"].as_str().unwrap().to_lowercase().contains("timer"), "{r}");
    let segments = v["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    assert!(segments[0]["end_s"].as_f64().unwrap() > segments[0]["start_s"].as_f64().unwrap());
    for key in ["total_ms", "encode_ms", "decode_ms", "ipc_ms"] {
        assert!(v["timings"][key].as_f64().is_some(), "timings.{key} missing: {r}");
    }
}

#[test]
fn espeak_fallback_speaks_too() {
    let home = tempfile::tempdir().unwrap();
    let wav = home.path().join("e.wav");
    let r = run(voxdeck(home.path()).args(["say", "Good morning.", "--engine", "espeak", "-o"]).arg(&wav));
    assert!(r.status.success(), "{r}");
    assert!(std::fs::metadata(&wav).unwrap().len() > 10_000, "{r}");
}

#[test]
fn say_auto_falls_back_to_espeak_when_onnxruntime_is_truncated() {
    let home = tempfile::tempdir().unwrap();
    // The test set's library, as `say` finds it, cut after 100 000 bytes.
    let whole = std::fs::read_dir(crate::cli_errors::voxdeck_models_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so")))
        .expect("the test set's ONNX Runtime (voxdeck models fetch --test-set)");
    let cut = home.path().join("t.so");
    std::fs::write(&cut, &std::fs::read(&whole).unwrap()[..100_000]).unwrap();
    let wav = home.path().join("x.wav");
    let r = run(voxdeck(home.path())
        .env("ORT_DYLIB_PATH", &cut)
        .args(["say", "--engine", "auto", "Hello.", "-o"])
        .arg(&wav));
    assert!(r.status.success(), "{r}");
    assert!(
        r.stderr.contains(&format!("cannot load ONNX Runtime from {}: it is cut short", cut.display()))
            && r.stderr.contains("speaking with espeak-ng"),
        "{r}"
    );
    assert!(std::fs::metadata(&wav).unwrap().len() > 10_000, "{r}");
}

#[test]
fn speech_commands_reject_bad_input_clearly() {
    let home = tempfile::tempdir().unwrap();
    let not_wav = home.path().join("notes.wav");
    std::fs::write(&not_wav, "just text").unwrap();
    let r = run(voxdeck(home.path()).arg("transcribe").arg(&not_wav));
    assert!(!r.status.success() && !r.stderr.contains("panicked"), "{r}");
    assert!(r.stderr.contains("notes.wav") && r.stderr.contains("not a WAV"), "{r}");

    let r = run(voxdeck(home.path()).args(["say", "hello", "--voice", "no-such-voice", "-o", "/dev/null"]));
    assert!(!r.status.success() && !r.stderr.contains("panicked"), "{r}");
    assert!(r.stderr.contains("no-such-voice"), "{r}");
}
