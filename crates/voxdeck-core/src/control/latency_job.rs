//! The Bench tab's latency benchmark: `voxdeck bench latency` on a background thread (its own
//! copy of the configured engines, beside whatever the panel has loaded), with progress per
//! turn as `latency_bench` events, cancel between turns, and the result as the table and the
//! dark chart. It has its own [`JobSlot`], apart from the model benchmark's
//! ([`super::bench_job`]): both may not be wanted at once on a small machine, but neither
//! blocks the other.

use std::sync::Arc;
use std::time::Instant;

use super::bench_job::BenchJobError;
use super::job_slot::{JobSlot, JobStatus};
use super::protocol::{LatencyStatus, PanelEvent};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::bench::latency::runner::{self, LatencyOptions, LatencyProgress};
use crate::bench::latency::{LatencyError, LatencyReport, QuestionSet, SetFilter, chart, report};
use crate::chart_style::Theme;
use crate::config::Mode;

impl JobStatus for LatencyStatus {
    fn idle() -> Self {
        LatencyStatus::Idle
    }

    fn failed(message: String) -> Self {
        LatencyStatus::Failed { message }
    }

    fn event(self) -> PanelEvent {
        PanelEvent::LatencyBench { status: self }
    }

    fn set_cancelling(&mut self) -> bool {
        match self {
            LatencyStatus::Running { cancelling, .. } => {
                *cancelling = true;
                true
            }
            _ => false,
        }
    }
}

pub(super) struct LatencyJob {
    slot: Arc<JobSlot<LatencyStatus>>,
    config: SharedConfig,
}

impl LatencyJob {
    pub(super) fn new(config: SharedConfig, publisher: Publisher) -> LatencyJob {
        LatencyJob { slot: JobSlot::new(publisher), config }
    }

    pub(super) fn status(&self) -> LatencyStatus {
        self.slot.status()
    }

    /// Starts a run on the embedded set (the first `limit` questions, one voice if given),
    /// in local mode, unless one is running.
    pub(super) fn start(&self, limit: Option<u32>, voice: Option<String>) -> Result<(), BenchJobError> {
        let mut config = self.config.get();
        config.router.mode = Mode::Local;
        let mut set = QuestionSet::embedded()?;
        set.filter(&SetFilter { limit: limit.map(|n| n as usize), voices: voice.into_iter().collect() })?;
        let starting = LatencyProgress { done: 0, total: 0, step: "starting".into(), elapsed_s: 0.0 };
        let started = self.slot.spawn("voxdeck-latency", running(&starting, false), move |cancel, publish| {
            let started = Instant::now();
            let result = runner::run(&config, &set, &LatencyOptions::default(), cancel, &mut |p| {
                publish(running(p, cancel.is_cancelled()));
            });
            match result {
                Ok(report) => finished(&report),
                Err(LatencyError::Cancelled) => LatencyStatus::Cancelled { elapsed_s: started.elapsed().as_secs_f64() },
                Err(e) => LatencyStatus::Failed { message: e.to_string() },
            }
        });
        Ok(started?)
    }

    /// Stops the running run after the turn in flight; "cancelling" now, `cancelled` once
    /// stopped. Nothing running: nothing to do.
    pub(super) fn cancel(&self) {
        self.slot.cancel();
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
