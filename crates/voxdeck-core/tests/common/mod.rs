//! Shared by the integration tests of both binaries (`it` and `alsa`): the test-set models,
//! installed by `.ci/run` (or `voxdeck models fetch --test-set`) into `VOXDECK_MODELS`.

use std::path::{Path, PathBuf};

use voxdeck_core::config::LlmConfig;
use voxdeck_core::llm::ChatMessage;
use voxdeck_core::models::{Catalog, ResolvedModel};

pub const SMOLLM2: &str = "smollm2-135m-instruct-q4_1";
pub const GEMMA3: &str = "gemma-3-270m-q4_k_m";
pub const TINY_EN: &str = "whisper-tiny.en";
pub const JOE: &str = "piper-en_us-joe-medium";

/// Where the test set is installed.
pub fn models_dir() -> PathBuf {
    voxdeck_core::paths::models_dir(None)
}

/// Fails the test when a test-set model is missing, saying how to install it.
pub fn need_test_set(e: impl std::fmt::Display) -> ! {
    panic!(
        "{e}\nThe integration tests need the test set: `voxdeck models fetch --test-set` (VOXDECK_MODELS={})",
        models_dir().display()
    )
}

/// Resolves a test-set model, failing with instructions when it is not installed.
pub fn test_model(id: &str) -> ResolvedModel {
    Catalog::builtin().resolve_llm(id, &models_dir()).unwrap_or_else(|e| need_test_set(e))
}

/// Small context and greedy decoding, so answers are deterministic and tests are quick. One
/// thread each: the heavy tests run in parallel, and oversubscribed ggml threads that
/// spin-wait for each other slow everything down by an order of magnitude.
pub fn test_config() -> LlmConfig {
    LlmConfig {
        n_ctx: 1024,
        temperature: 0.0,
        threads: 1,
        ..LlmConfig::default()
    }
}

/// A one-question conversation with a short system prompt.
pub fn conversation(question: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful assistant. Answer briefly."),
        ChatMessage::user(question),
    ]
}

/// A whole voice loop on the test set: SmolLM2, Whisper tiny.en, the Piper test voice; one
/// thread each, greedy, deterministic voice, no history file, no metrics sampling.
pub fn voice_config() -> voxdeck_core::Config {
    let mut c = voxdeck_core::Config {
        llm: LlmConfig {
            model: SMOLLM2.into(),
            max_tokens: 60,
            ..test_config()
        },
        ..Default::default()
    };
    c.stt.model = TINY_EN.into();
    c.stt.threads = 1;
    c.tts.threads = 1;
    c.tts.noise_scale = Some(0.0);
    c.tts.noise_w = Some(0.0);
    c.pipeline.history = false;
    c.metrics.hz = 2.0;
    c
}

/// Speaks `text` with the test voice into a WAV file in `dir`.
pub fn spoken_question(dir: &Path, name: &str, text: &str) -> PathBuf {
    let config = voice_config();
    let voice = voxdeck_core::tts::open(&config).expect("the Piper test voice loads");
    let audio = voice.synthesize(text).expect("Piper speaks");
    let path = dir.join(name);
    voxdeck_core::audio::wav::write_wav(&path, &audio).expect("writes the question");
    path
}
