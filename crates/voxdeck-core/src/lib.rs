//! voxdeck's engine. Everything the CLI, the desktop app and the HTTP server share lives here:
//! configuration, the model catalog, local LLM inference, speech in and out, the voice loop
//! (`pipeline`), its history and the turn records they share (`turn_record`), system metrics and
//! the model benchmark.

pub mod atomic_file;
pub mod audio;
pub mod bounds;
pub mod bench;
pub mod chart_style;
mod child_wait;
pub mod config;
pub mod control;
pub mod errors;
pub mod eval;
pub mod gguf;
pub mod history;
pub mod llm;
pub mod logging;
pub mod loopback;
pub mod memory_fit;
pub mod models;
pub mod number_words;
pub mod paths;
pub mod pipeline;
pub mod router;
pub mod shortcut;
pub mod stt;
pub mod sysmon;
pub mod sync;
pub mod tools;
pub mod tts;
pub mod turn_record;
pub mod voice_latency;

pub use config::Config;
