//! Memory estimates against the real test-set models (`voxdeck models fetch --test-set` into
//! `VOXDECK_MODELS`): what llama.cpp itself reports when it loads them, what `ModelInfo` says,
//! and how the process RSS moves. The loads run alone among the heavy tests
//! ([`crate::exclusive`]), so the RSS readings and the captured llama.cpp log lines belong to
//! one model.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use voxdeck_core::config::{MemoryConfig, TtsConfig, TtsEngine};
use voxdeck_core::gguf::{self, GgufValue};
use voxdeck_core::llm::LocalLlm;
use voxdeck_core::memory_fit::{self, Budget, LLM_OVERHEAD_BYTES, LLM_OVERHEAD_PER_TOKEN, MemoryFitError};
use voxdeck_core::sysmon::memory::process_rss_bytes;
use voxdeck_core::models::{Catalog, ResolvedModel};
use voxdeck_core::tts::{self, SpeechSynthesizer};

use crate::common::{GEMMA3, JOE, SMOLLM2, TINY_EN, models_dir, need_test_set, test_config, test_model};

const MIB: f64 = 1024.0 * 1024.0;

// ------------------------------------------------------------ llama.cpp's own figures, captured

/// Every log message, from llama.cpp (routed to `tracing` by the engine) and everything else,
/// while [`capture_logs`]' guard lives.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The subscriber is the whole binary's: outside a capture it keeps nothing, so the other
/// tests' messages do not pile up in [`LOG`].
static CAPTURING: AtomicBool = AtomicBool::new(false);

struct Capture;

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_owned();
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if !CAPTURING.load(Ordering::SeqCst) {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        LOG.lock().unwrap_or_else(|e| e.into_inner()).push(message.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Starts a fresh capture, which ends when the returned guard is dropped.
fn capture_logs() -> Capturing {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture).expect("no other subscriber in this test binary");
    });
    LOG.lock().unwrap_or_else(|e| e.into_inner()).clear();
    CAPTURING.store(true, Ordering::SeqCst);
    Capturing
}

struct Capturing;

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURING.store(false, Ordering::SeqCst);
    }
}

/// The sum of the MiB figures on llama.cpp's lines containing `what` ("compute buffer size").
fn reported_mib(what: &str) -> f64 {
    LOG.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|line| line.contains(what))
        .filter_map(|line| {
            let (_, after) = line.split_once('=')?;
            after.trim().strip_suffix("MiB")?.trim().parse::<f64>().ok()
        })
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

// -------------------------------------------------------------------------------------- LLMs

/// Loads `id`, compares the estimate with `ModelInfo` and llama.cpp's log, and prints the
/// calibration figures (`--nocapture`).
fn estimate_matches_llama_cpp(id: &str) {
    let model = test_model(id);
    let config = test_config();
    let need = memory_fit::estimate_llm(&model.path, &config).unwrap();

    let _guard = crate::exclusive();
    let capture = capture_logs();
    let rss_before = rss();
    let llm = LocalLlm::load(&model, &config).unwrap();
    let rss_loaded = rss();
    llm.bench_prompt(512).unwrap();
    let rss_used = rss();
    let info = llm.info().clone();
    drop(llm);
    drop(capture);

    let weights = reported_mib("model buffer size"); // CPU_Mapped (+ CPU_REPACK)
    let kv = reported_mib("KV buffer size");
    let compute = reported_mib("compute buffer size");
    let output = reported_mib("output buffer size");
    let reported_total = weights + kv + compute + output;
    let overhead = overhead(&model);
    let estimated_buffers = mib(need.total() - overhead);
    let estimated_compute = mib(need.compute - overhead);
    println!(
        "{}: estimate weights {:.2} + KV {:.2} + compute {:.2} = {:.2} MiB | llama.cpp weights {weights:.2} + KV \
         {kv:.2} + compute {compute:.2} + output {output:.2} = {reported_total:.2} MiB (buffers estimated \
         {estimated_buffers:.2}) | ModelInfo weights {:.2} KV {:.2} | RSS +{:.1} MiB loaded, +{:.1} MiB after a \
         512-token prompt",
        model.name,
        mib(need.weights),
        mib(need.kv_cache),
        mib(need.compute),
        mib(need.total()),
        mib(info.weights_bytes),
        mib(info.kv_cache_bytes),
        mib(rss_loaded.saturating_sub(rss_before)),
        mib(rss_used.saturating_sub(rss_before)),
    );

    let weights_error = need.weights.abs_diff(info.weights_bytes) as f64 / info.weights_bytes as f64;
    assert!(
        weights_error < 0.01,
        "weights {} vs ModelInfo {}",
        need.weights,
        info.weights_bytes
    );
    assert_eq!(
        need.kv_cache, info.kv_cache_bytes,
        "KV cache vs ModelInfo at n_ctx {}",
        config.n_ctx
    );
    assert_eq!(need.n_ctx, config.n_ctx);

    assert!(
        compute > 0.0 && kv > 0.0,
        "llama.cpp's buffer sizes were not captured from its log"
    );
    assert!(
        (mib(need.kv_cache) - kv).abs() < 0.01,
        "KV cache {:.2} vs llama.cpp {kv:.2} MiB",
        mib(need.kv_cache)
    );
    let compute_error = (estimated_compute - compute - output).abs() / (compute + output);
    assert!(
        compute_error < 0.02,
        "compute {estimated_compute:.2} MiB vs llama.cpp's {compute:.2} + output {output:.2} MiB"
    );
    // Within 3 %: compute within ~1 %, plus the CPU's repacked weights, which are not estimated.
    let total_error = (estimated_buffers - reported_total).abs() / reported_total;
    assert!(
        total_error < 0.03,
        "estimated {estimated_buffers:.2} MiB vs llama.cpp's {reported_total:.2} MiB"
    );
    // The estimate is an upper bound on what the process really takes; and the RSS read is
    // real: the prompt read every weight, so they are all resident.
    assert!(
        rss_used.saturating_sub(rss_before) < need.total(),
        "RSS grew past the estimate"
    );
    assert!(
        rss_used >= need.weights,
        "RSS {rss_used} after a prompt is less than the {} bytes of weights it read",
        need.weights
    );
}

/// This process's resident memory; the tests' bounds need it read, not defaulted.
fn rss() -> u64 {
    process_rss_bytes().expect("this process's RSS (/proc/self/status VmRSS)")
}

/// The part of the estimate llama.cpp does not log as a buffer (see `LLM_OVERHEAD_BYTES`).
fn overhead(model: &ResolvedModel) -> u64 {
    let info = gguf::inspect(&model.path).unwrap();
    let n_vocab = match info.metadata.get("tokenizer.ggml.tokens") {
        Some(GgufValue::Array { len }) => *len,
        _ => panic!("{}: no vocabulary", model.path.display()),
    };
    LLM_OVERHEAD_BYTES + n_vocab * LLM_OVERHEAD_PER_TOKEN
}

#[test]
fn smollm2_estimate_matches_llama_cpp() {
    estimate_matches_llama_cpp(SMOLLM2);
}

#[test]
fn gemma3_estimate_matches_llama_cpp() {
    estimate_matches_llama_cpp(GEMMA3);
}

#[test]
fn a_tiny_limit_refuses_with_the_numbers() {
    let model = test_model(SMOLLM2);
    let need = memory_fit::estimate_llm(&model.path, &test_config()).unwrap();
    let mut budget = Budget::system(&MemoryConfig {
        check: true,
        headroom_mb: 16,
        limit_mb: 64,
    });
    budget.reserve("Whisper tiny.en", 20 << 20);
    let err = memory_fit::check(&model.name, &need, &budget).unwrap_err();
    assert!(matches!(err, MemoryFitError::WontFit(_)), "{err}");
    let message = err.to_string();
    for expected in [
        model.name.as_str(),
        "n_ctx 1024",
        "64 MiB available - 16 MiB headroom - 20 MiB held by Whisper tiny.en",
        "lower llm.n_ctx",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }

    // And the same model fits this machine with the default budget.
    let roomy = Budget::system(&MemoryConfig::default());
    memory_fit::check(&model.name, &need, &roomy).unwrap();
}

// ------------------------------------------------------------------------- Whisper and Piper

#[test]
fn whisper_estimate_is_plausible() {
    let path = voxdeck_core::stt::resolve_model(&Catalog::builtin(), TINY_EN, &models_dir())
        .unwrap_or_else(|e| need_test_set(e))
        .path;
    let file_size = std::fs::metadata(&path).unwrap().len();
    let need = memory_fit::estimate_whisper(&path).unwrap();
    println!(
        "Whisper tiny.en: weights {:.1} + KV {:.1} + compute {:.1} = {:.1} MiB",
        mib(need.weights),
        mib(need.kv_cache),
        mib(need.compute),
        mib(need.total())
    );
    assert_eq!(need.weights, file_size);
    // The worker measured 217 MiB RSS after its first transcription; the estimate bounds it.
    assert!(need.total() > 217 << 20 && need.total() < 2 * file_size + (200 << 20));
}

#[test]
fn piper_estimate_is_plausible_and_bounds_the_rss() {
    let voice = tts::resolve_voice(JOE, &Catalog::builtin(), &models_dir()).unwrap_or_else(|e| need_test_set(e));
    let need = memory_fit::estimate_piper(&voice.onnx).unwrap();
    let file_size = std::fs::metadata(&voice.onnx).unwrap().len();
    assert_eq!(need.weights, file_size);
    assert!(need.total() > file_size);

    let _guard = crate::exclusive();
    let config = TtsConfig {
        voice: JOE.to_owned(),
        engine: TtsEngine::Piper,
        threads: 1,
        ..TtsConfig::default()
    };
    let rss_before = rss();
    let piper = tts::open_piper(&config, &Catalog::builtin(), &models_dir()).unwrap_or_else(|e| need_test_set(e));
    let rss_loaded = rss();
    piper
        .synthesize("Set a timer for ten minutes. Then remind me to call my mother about the weekend, please.")
        .unwrap();
    let rss_used = rss();
    println!(
        "Piper joe: estimate weights {:.1} + compute {:.1} = {:.1} MiB | RSS +{:.1} MiB loaded, +{:.1} MiB after \
         two sentences",
        mib(need.weights),
        mib(need.compute),
        mib(need.total()),
        mib(rss_loaded.saturating_sub(rss_before)),
        mib(rss_used.saturating_sub(rss_before)),
    );
    assert!(
        rss_used.saturating_sub(rss_before) < need.total(),
        "RSS grew past the estimate"
    );
    // ONNX Runtime holds the voice's weights in memory.
    assert!(rss_loaded >= file_size, "RSS {rss_loaded} with the voice loaded is less than its {file_size} bytes");
}

// ------------------------------------------------------------------------------ bad files

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

fn assert_names(err: &MemoryFitError, path: &Path) {
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

#[test]
fn missing_files_are_named() {
    let path = Path::new("/nonexistent/voxdeck/model.gguf");
    for err in [
        memory_fit::estimate_llm(path, &test_config()).unwrap_err(),
        memory_fit::estimate_whisper(path).unwrap_err(),
        memory_fit::estimate_piper(path).unwrap_err(),
    ] {
        assert!(matches!(err, MemoryFitError::Missing { .. }), "{err}");
        assert_names(&err, path);
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}

#[test]
fn foreign_and_corrupt_files_are_clear_errors() {
    // A whole model is read into memory: not beside a test that reads the RSS.
    let _heavy = crate::heavy();
    let html = write_temp(b"<html><body>404 Not Found</body></html>");
    let path = html.path();
    let llm = memory_fit::estimate_llm(path, &test_config()).unwrap_err();
    assert!(llm.to_string().contains("not a GGUF model file"), "{llm}");
    let whisper = memory_fit::estimate_whisper(path).unwrap_err();
    assert!(matches!(whisper, MemoryFitError::WrongFormat { .. }), "{whisper}");
    assert!(whisper.to_string().contains("ggml magic"), "{whisper}");
    let piper = memory_fit::estimate_piper(path).unwrap_err();
    assert!(matches!(piper, MemoryFitError::WrongFormat { .. }), "{piper}");
    for err in [&llm, &whisper, &piper] {
        assert_names(err, path);
    }

    // A real model cut short.
    let real = std::fs::read(test_model(SMOLLM2).path).unwrap();
    let cut = write_temp(&real[..1 << 20]);
    let err = memory_fit::estimate_llm(cut.path(), &test_config()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_names(&err, cut.path());

    // A ggml header with a negative dimension.
    let mut header = b"lmgg".to_vec();
    for v in [51864i32, 1500, -384, 6, 4, 448, 384, 6, 4, 80, 1] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    let bad = write_temp(&header);
    let err = memory_fit::estimate_whisper(bad.path()).unwrap_err();
    assert!(matches!(err, MemoryFitError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("n_audio_state is -384"), "{err}");
}
