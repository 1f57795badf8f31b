//! The control panel's engine side: one API that the desktop app, `voxdeck serve` and tests
//! drive alike. A front end sends [`Command`]s, gets [`Reply`]s and follows one stream of
//! [`Outgoing`] messages (engine events, live charts, load/bench/download progress). State lives
//! here; front ends only render.
//!
//! - `controller`: the [`Controller`] and its commands;
//! - `engine_slot`: loading, running and unloading the voice loop;
//! - `chart_feed` / `chart_draw`: the live charts' data and their plotters drawing;
//! - `cloud_status`, `settings`, `bench_job`, `downloads`: one tab or toggle each.

mod bench_job;
pub mod chart_draw;
pub mod chart_feed;
mod cloud_status;
mod controller;
mod downloads;
mod engine_slot;
pub mod protocol;
pub mod settings;

pub use controller::{ControlError, Controller, ControllerOptions};
pub use protocol::*;
