//! The control panel's engine side: one API that the desktop app, `voxdeck serve` and tests
//! drive alike. A front end sends [`Command`]s, gets [`Reply`]s and follows one stream of
//! [`Outgoing`] messages (engine events, live charts, load/bench/download progress). State lives
//! here; front ends only render.
//!
//! - `controller`: the [`Controller`]: wires the components below together once and
//!   dispatches commands to them;
//! - `publisher`: the one outgoing stream, and the handle every component publishes with;
//! - `shared_config`: the configuration the components share;
//! - `engine_slot`: loading, running and unloading the voice loop; `forwarder`: its events on
//!   their way to front ends;
//! - `chart_data` / `chart_feed` / `chart_draw`: the live charts' data, its feed and ticker,
//!   and their plotters drawing;
//! - `mode_toggle` (with `cloud_status`), `settings`, `bench_job`, `latency_job`, `downloads`:
//!   one tab or toggle each; `job_slot`: one background job of a kind at a time, with its
//!   status and cancel (the two benchmarks); `model_swap`: switching the loaded models without
//!   leaving none;
//! - `starter_set` (which set suits this machine) and `starter_job` (its download, then the
//!   load): the first run;
//! - `tool_panel`: the timers, facts and confirmations of the session's toolbox, for the timers
//!   widget and the Memory tab.
//!
//! Each component owns its state and is handed, when built, the handles it uses; none reaches
//! back into the controller.

mod bench_job;
pub mod chart_data;
pub mod chart_draw;
pub mod chart_feed;
mod cloud_status;
mod config_edit;
mod controller;
mod downloads;
mod engine_slot;
mod job_slot;
mod latency_job;
mod forwarder;
mod mode_toggle;
mod model_swap;
pub mod protocol;
mod publisher;
pub mod settings;
mod shared_config;
mod starter_job;
pub mod starter_set;
mod tool_panel;

pub use bench_job::BenchJobError;
pub use cloud_status::CloudKeyError;
pub use controller::{ControlError, Controller, ControllerOptions};
pub use downloads::DownloadError;
pub use engine_slot::EngineError;
pub use model_swap::SwitchError;
pub use settings::SettingsError;
pub use starter_job::StarterError;
pub use tool_panel::ToolPanelError;
pub use protocol::*;
