//! voxdeck-core's integration tests, in one binary: llama.cpp is linked once rather than once
//! per file. Only the ALSA tests have a binary of their own (`tests/alsa/`), because they set
//! `ALSA_CONFIG_PATH` for the whole process.
//!
//! The tests of every file share this process and run in parallel. Those that load a model take
//! [`heavy`]; those that measure take [`exclusive`], so that no heavy test runs beside them, as
//! when each file was a binary of its own and the binaries ran one after another. Cheap tests
//! take neither.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[path = "../common/mod.rs"]
mod common;

mod audio;
mod bench_job;
mod control;
mod control_first_run;
mod incremental_stt;
mod local_llm;
mod memory_fit;
mod metrics_consistency;
mod prefill;
mod speech_roundtrip;
mod stt;
mod stt_link;
mod toolbox;
mod tts;
mod voice_loop;

static HEAVY: RwLock<()> = RwLock::new(());

/// For a test that loads a model or holds one in memory: it may run beside other heavy tests
/// (one engine thread each), never beside an [`exclusive`] one.
fn heavy() -> RwLockReadGuard<'static, ()> {
    HEAVY.read().unwrap_or_else(PoisonError::into_inner)
}

/// For a test that times something, reads the process RSS or llama.cpp's log, or has tight
/// deadlines: no other heavy test runs meanwhile.
fn exclusive() -> RwLockWriteGuard<'static, ()> {
    HEAVY.write().unwrap_or_else(PoisonError::into_inner)
}
