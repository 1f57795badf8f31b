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

#[test]
fn killing_transcribe_mid_decode_leaves_no_whisper_worker() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    // Ten minutes of loud noise: every 30 s window passes the energy gate and goes to Whisper.
    let wav = home.path().join("noise.wav");
    let mut x = 0x9e37_79b9_u32;
    let samples: Vec<i16> = (0..16_000 * 600)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 16) as i16 / 3
        })
        .collect();
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    let data = (samples.len() * 2) as u32;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 1 | 1 << 16, 16_000, 32_000, 2 | 16 << 16] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data.to_le_bytes());
    samples.iter().for_each(|s| bytes.extend_from_slice(&s.to_le_bytes()));
    std::fs::write(&wav, bytes).unwrap();

    let mut transcribe = voxdeck(home.path())
        .args(["transcribe", "--model", "whisper-tiny.en", "--threads", "1"])
        .arg(&wav)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let worker = (0..400)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            children(transcribe.id()).into_iter().next()
        })
        .expect("transcribe started its Whisper worker");
    // Let it load the model and get into a window, then kill the engine outright.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(running(worker), "the worker is still transcribing");
    transcribe.kill().unwrap();
    transcribe.wait().unwrap();
    let killed = std::time::Instant::now();
    while running(worker) && killed.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if running(worker) {
        let _ = std::process::Command::new("kill").args(["-9", &worker.to_string()]).status();
        panic!("the Whisper worker {worker} still ran 10 s after `voxdeck transcribe` was killed");
    }
    assert!(killed.elapsed() < std::time::Duration::from_secs(2), "{:?}", killed.elapsed());
}

/// The child processes of `pid` (Linux).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().to_owned()))
        .is_some_and(|state| !state.starts_with(['Z', 'X']))
}
