//! Bad input: each a clear error naming the file or field, a non-zero exit, never a panic.

use voxdeck_e2e::{Run, assert_refused_in_words, run, voxdeck, write_config, write_wav_16bit};

fn assert_clean_failure(r: &Run, needles: &[&str]) {
    assert_refused_in_words(r, 1, needles);
}

#[test]
fn missing_model_file() {
    let home = tempfile::tempdir().unwrap();
    let r = run(voxdeck(home.path()).args(["ask", "--model", "/nonexistent/model.gguf", "hi"]));
    assert_clean_failure(&r, &["/nonexistent/model.gguf", "does not exist"]);
}

#[test]
fn file_that_is_not_gguf() {
    let home = tempfile::tempdir().unwrap();
    let bogus = home.path().join("weights.gguf");
    std::fs::write(&bogus, "<!DOCTYPE html><html>rate limited</html>").unwrap();
    let r = run(voxdeck(home.path()).args(["ask", "--model"]).arg(&bogus).arg("hi"));
    assert_clean_failure(&r, &["weights.gguf", "not a GGUF"]);
}

#[test]
fn a_model_setting_naming_another_file_is_refused_without_quoting_it() {
    let home = tempfile::tempdir().unwrap();
    let passwd = home.path().join("passwd");
    std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n").unwrap();
    let shown = passwd.display().to_string();
    write_config(home.path(), &format!("[llm]\nmodel = {shown:?}\n"));
    let q = home.path().join("q.wav");
    std::fs::write(&q, "any file: the model is refused first").unwrap();
    for args in [vec!["ask", "hi"], vec!["talk", "-o", "/dev/null", "-i", q.to_str().unwrap()]] {
        let r = run(voxdeck(home.path()).args(&args));
        assert_clean_failure(&r, &[&format!("{shown} is not a GGUF model file")]);
        let added = r.stderr.replace(&shown, "");
        for quoted in ["root", "bin/bash", "daemon"] {
            assert!(!added.contains(quoted), "{quoted:?} quoted from the file: {r}");
        }
    }
}

#[test]
fn truncated_gguf() {
    let home = tempfile::tempdir().unwrap();
    let models = voxdeck_models_dir();
    let real = std::fs::read(models.join("SmolLM2-135M-Instruct.Q4_1.gguf")).expect("test set installed");
    let cut = home.path().join("half.gguf");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    let r = run(voxdeck(home.path()).args(["bench", "--runs", "1", "--model"]).arg(&cut));
    assert_clean_failure(&r, &["half.gguf", "truncated"]);
}

#[test]
fn unknown_catalog_id_and_nothing_installed() {
    let home = tempfile::tempdir().unwrap();
    let r = run(voxdeck(home.path()).args(["ask", "--model", "llama-9000", "hi"]));
    assert_clean_failure(&r, &["llama-9000", "voxdeck models list"]);

    let empty = tempfile::tempdir().unwrap();
    let r = run(voxdeck(home.path()).env("VOXDECK_MODELS", empty.path()).args(["bench"]));
    assert_clean_failure(&r, &["no LLM is installed", "voxdeck models fetch --test-set"]);
}

#[test]
fn config_with_unknown_key_or_wrong_type() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("voxdeck.toml");

    std::fs::write(&config, "[llm]\nn_ctx = 2048\nflash_atn = \"on\"\n").unwrap();
    let r = run(voxdeck(home.path()).arg("--config").arg(&config).args(["ask", "hi"]));
    assert_clean_failure(&r, &["voxdeck.toml", "line 3", "flash_atn"]);

    std::fs::write(&config, "[bench]\nruns = \"three\"\n").unwrap();
    let r = run(voxdeck(home.path()).env("VOXDECK_CONFIG", &config).args(["bench"]));
    assert_clean_failure(&r, &["voxdeck.toml", "line 2", "invalid type"]);

    let r = run(voxdeck(home.path()).args(["--config", "/no/such/config.toml", "ask", "hi"]));
    assert_clean_failure(&r, &["/no/such/config.toml"]);
}

#[test]
fn prompt_longer_than_the_context() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("small.toml");
    std::fs::write(&config, "[llm]\nn_ctx = 128\n").unwrap();
    let long = "tell me about this sentence again. ".repeat(60);
    let r = run(voxdeck(home.path())
        .arg("--config")
        .arg(&config)
        .args(["ask", "--model", "smollm2-135m-instruct-q4_1", &long]));
    assert_clean_failure(&r, &["context holds 128", "llm.n_ctx"]);
}

#[test]
fn corrupt_whisper_model_is_refused_before_loading() {
    // The file: tiny.en with int32 1000000 written at offset 20 (n_audio_layer). It made
    // whisper.cpp reserve 12.9 GB for 23 s, then abort.
    let home = tempfile::tempdir().unwrap();
    let mut model = std::fs::read(voxdeck_models_dir().join("ggml-tiny.en.bin")).expect("test set installed");
    model[20..24].copy_from_slice(&1_000_000i32.to_le_bytes());
    let bad = home.path().join("ggml-damaged.bin");
    std::fs::write(&bad, &model).unwrap();
    let wav = home.path().join("silence.wav");
    write_wav_16bit(&wav, 16_000, &[0; 16_000]);

    let started = std::time::Instant::now();
    let r = run(voxdeck(home.path()).args(["transcribe", "--model"]).arg(&bad).arg(&wav));
    let took = started.elapsed();
    assert_clean_failure(&r, &["ggml-damaged.bin", "its n_audio_layer is 1000000 (1 to 1024"]);
    assert!(!r.stderr.contains("SIGABRT") && !r.stderr.contains("crashed"), "{r}");
    assert!(took.as_secs_f64() < 5.0, "took {took:?}");
}

#[test]
fn wav_sample_rates_outside_4_to_768_khz_are_refused_by_transcribe() {
    let _heavy = crate::heavy();
    let home = tempfile::tempdir().unwrap();
    // The file: 8192 samples at 1 Hz (16 KB); transcribe held 1 GB for over 10 minutes.
    for (rate, name) in [(1u32, "one-hz.wav"), (i32::MAX as u32, "two-ghz.wav")] {
        let wav = home.path().join(name);
        write_wav_16bit(&wav, rate, &[4096; 8192]);
        let started = std::time::Instant::now();
        let r = run(voxdeck(home.path()).args(["transcribe", "--model", "whisper-tiny.en"]).arg(&wav));
        let took = started.elapsed();
        let said = format!("sample rate {rate} Hz is outside the 4000 to 768000 Hz voxdeck accepts");
        assert_clean_failure(&r, &[name, &said, "resample it first"]);
        assert!(took.as_secs_f64() < 20.0, "{name} took {took:?}");
    }
}

/// Where the test set is, as `voxdeck` finds it.
pub(crate) fn voxdeck_models_dir() -> std::path::PathBuf {
    std::env::var_os("VOXDECK_MODELS")
        .map(Into::into)
        .unwrap_or_else(|| {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".local/share"));
            data.join("voxdeck/models")
        })
}
