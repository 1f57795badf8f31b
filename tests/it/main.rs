//! The end-to-end tests, in one binary (a module per command or front end); the helpers they
//! share are the `voxdeck_e2e` library (`support.rs`).
//!
//! The tests of every file share this process and run in parallel. Those that run models take
//! [`heavy`]; those that time things or start a server with deadlines and a browser take
//! [`exclusive`], so that no heavy test runs beside them, as when each file was a binary of its
//! own and the binaries ran one after another. Cheap tests take neither.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

mod cli_ask;
mod cli_bench;
mod cli_bench_latency;
mod cli_bounds;
mod cli_errors;
mod cli_eval_tools;
mod cli_speech;
mod cli_talk;
mod cli_tools;
mod cloud_fallback;
mod cloud_harness;
mod serve_cloud_key;
mod ui_first_run;
mod ui_cloud;
mod ui_charts;
mod ui_bench;
mod ui_bench_latency;
mod ui_serve;
mod ui_talk;
mod ui_settings;
mod ui_tauri;
mod ui_tools;

static HEAVY: RwLock<()> = RwLock::new(());

/// For a test that runs a model (in `voxdeck` or the loopback server): it may run beside other
/// heavy tests (one engine thread each), never beside an [`exclusive`] one.
fn heavy() -> RwLockReadGuard<'static, ()> {
    HEAVY.read().unwrap_or_else(PoisonError::into_inner)
}

/// For a test that measures or has deadlines a busy machine would miss: no other heavy test runs
/// meanwhile.
fn exclusive() -> RwLockWriteGuard<'static, ()> {
    HEAVY.write().unwrap_or_else(PoisonError::into_inner)
}
