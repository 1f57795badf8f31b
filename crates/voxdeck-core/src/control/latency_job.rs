//! The Bench tab's latency benchmark: `voxdeck bench latency` on a background thread (its own
//! copy of the configured engines, beside whatever the panel has loaded), with progress per
//! turn as `latency_bench` events, cancel between turns, and the result as the table and the
//! dark chart. The model benchmark's job ([`super::bench_job`]) keeps its own slot: both may
//! not be wanted at once on a small machine, but neither blocks the other.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::bench_job::BenchJobError;
use super::protocol::{LatencyStatus, PanelEvent};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::bench::latency::runner::{self, LatencyOptions, LatencyProgress};
use crate::bench::latency::{LatencyError, LatencyReport, QuestionSet, SetFilter, chart, report};
use crate::chart_style::Theme;
use crate::config::Mode;
use crate::llm::CancelToken;
use crate::sync::lock;

/// What the job thread and the tab share: the status (set and published under one lock, so
/// front ends see them in order) and the running run's cancel switch.
#[derive(Default)]
struct State {
    status: Mutex<Option<LatencyStatus>>,
    cancel: Mutex<Option<CancelToken>>,
}

impl State {
    fn publish(&self, publisher: &Publisher, status: LatencyStatus) {
        let mut current = lock(&self.status);
        *current = Some(status.clone());
        publisher.panel(PanelEvent::LatencyBench { status });
    }
}

pub(super) struct LatencyJob {
    state: Arc<State>,
    config: SharedConfig,
    publisher: Publisher,
}

impl LatencyJob {
    pub(super) fn new(config: SharedConfig, publisher: Publisher) -> LatencyJob {
        LatencyJob { state: Arc::default(), config, publisher }
    }

    pub(super) fn status(&self) -> LatencyStatus {
        lock(&self.state.status).clone().unwrap_or(LatencyStatus::Idle)
    }

    /// Starts a run on the embedded set (the first `limit` questions, one voice if given),
    /// in local mode, unless one is running.
    pub(super) fn start(&self, limit: Option<u32>, voice: Option<String>) -> Result<(), BenchJobError> {
        let mut config = self.config.get();
        config.router.mode = Mode::Local;
        let mut set = QuestionSet::embedded()?;
        set.filter(&SetFilter { limit: limit.map(|n| n as usize), voices: voice.into_iter().collect() })?;
        let cancel = CancelToken::new();
        {
            let mut running = lock(&self.state.cancel);
            if running.is_some() {
                return Err(BenchJobError::AlreadyRunning);
            }
            *running = Some(cancel.clone());
        }
        let starting = LatencyProgress { done: 0, total: 0, step: "starting".into(), elapsed_s: 0.0 };
        self.state.publish(&self.publisher, running(&starting, false));
        let (state, publisher) = (self.state.clone(), self.publisher.clone());
        let spawned = std::thread::Builder::new().name("voxdeck-latency".into()).spawn(move || {
            let started = Instant::now();
            let result = runner::run(&config, &set, &LatencyOptions::default(), &cancel, &mut |p| {
                state.publish(&publisher, running(p, cancel.is_cancelled()));
            });
            let status = match result {
                Ok(report) => finished(&report),
                Err(LatencyError::Cancelled) => LatencyStatus::Cancelled { elapsed_s: started.elapsed().as_secs_f64() },
                Err(e) => LatencyStatus::Failed { message: e.to_string() },
            };
            let mut slot = lock(&state.cancel);
            slot.take();
            state.publish(&publisher, status);
            drop(slot);
        });
        if let Err(e) = spawned {
            lock(&self.state.cancel).take();
            self.state.publish(&self.publisher, LatencyStatus::Failed { message: e.to_string() });
            return Err(BenchJobError::Thread(e));
        }
        Ok(())
    }

    /// Stops the running run after the turn in flight; "cancelling" now, `cancelled` once
    /// stopped. Nothing running: nothing to do.
    pub(super) fn cancel(&self) {
        let Some(cancel) = lock(&self.state.cancel).clone() else { return };
        cancel.cancel();
        let mut status = lock(&self.state.status);
        if let Some(LatencyStatus::Running { cancelling, .. }) = status.as_mut() {
            *cancelling = true;
            let status = status.clone().unwrap_or(LatencyStatus::Idle);
            self.publisher.panel(PanelEvent::LatencyBench { status });
        }
    }
}

fn running(p: &LatencyProgress, cancelling: bool) -> LatencyStatus {
    LatencyStatus::Running {
        step: p.step.clone(),
        done: p.done,
        total: p.total,
        fraction: p.fraction(),
        elapsed_s: p.elapsed_s,
        cancelling,
    }
}

/// The result as the tab shows it: the table, the chart on the panel's dark page, and the
/// Markdown and JSON for whoever wants the whole.
fn finished(r: &LatencyReport) -> LatencyStatus {
    let chart_svg = match chart::svg(r, &Theme::DARK) {
        Ok(svg) => svg,
        Err(e) => return LatencyStatus::Failed { message: e.to_string() },
    };
    match serde_json::to_string_pretty(r) {
        Ok(json) => {
            LatencyStatus::Done { table: report::LatencyTable::of(r), chart_svg, markdown: report::markdown(r), json }
        }
        Err(e) => LatencyStatus::Failed { message: e.to_string() },
    }
}
