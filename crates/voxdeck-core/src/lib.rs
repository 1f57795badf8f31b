//! voxdeck's engine. Everything the CLI, the desktop app and the HTTP server share lives here:
//! configuration, the model catalog, local LLM inference and the model benchmark.

pub mod audio;
pub mod bench;
pub mod budget;
pub mod config;
pub mod gguf;
pub mod llm;
pub mod memory;
pub mod models;
pub mod paths;
pub mod stt;
pub mod tts;

pub use config::Config;
