//! The bench tab: `voxdeck bench` on a background thread, with progress per model and phase
//! (and the time left) as events, cancel, the result as table rows and charts, and exports to
//! Markdown, JSON and PNG.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::info;

use super::job_slot::{JobSlot, JobSlotError, JobStatus};
use super::protocol::{BenchStatus, ExportFormat, PanelEvent, Reply};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::bench::runner::BenchError;
use crate::bounds::{self, OutOfRange};
use crate::bench::progress::BenchProgress;
use crate::bench::table::BenchTable;
use crate::bench::{BenchReport, charts, report, runner};
use crate::models::{Catalog, CatalogError};
use crate::sync::lock;

/// A benchmark that could not start, or a result that could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum BenchJobError {
    #[error(transparent)]
    Runs(#[from] OutOfRange),
    #[error("{0} (or download one in Settings)")]
    NoModels(#[source] CatalogError),
    #[error(transparent)]
    Start(#[from] JobSlotError),
    #[error("no benchmark has finished yet: run one first")]
    NoResult,
    #[error(transparent)]
    Export(#[from] BenchError),
    #[error("cannot read {}: {source}", path.display())]
    ReadExport { path: PathBuf, source: std::io::Error },
    /// The latency benchmark's question set could not be read or filtered.
    #[error(transparent)]
    Latency(#[from] crate::bench::latency::LatencyError),
}

impl JobStatus for BenchStatus {
    fn idle() -> Self {
        BenchStatus::Idle
    }

    fn failed(message: String) -> Self {
        BenchStatus::Failed { message }
    }

    fn event(self) -> PanelEvent {
        PanelEvent::Bench { status: self }
    }

    fn set_cancelling(&mut self) -> bool {
        match self {
            BenchStatus::Running { cancelling, .. } => {
                *cancelling = true;
                true
            }
            _ => false,
        }
    }
}

pub(super) struct BenchJob {
    slot: Arc<JobSlot<BenchStatus>>,
    /// The last finished result, for exports.
    report: Arc<Mutex<Option<Arc<BenchReport>>>>,
    config: SharedConfig,
    /// Exports go to `data_dir/bench/`.
    data_dir: PathBuf,
}

impl BenchJob {
    pub(super) fn new(config: SharedConfig, publisher: Publisher, data_dir: PathBuf) -> BenchJob {
        BenchJob { slot: JobSlot::new(publisher), report: Arc::default(), config, data_dir }
    }

    pub(super) fn status(&self) -> BenchStatus {
        self.slot.status()
    }

    /// Starts a benchmark of every installed LLM, unless one is running. It loads its own copy
    /// of each model, one at a time, beside whatever the panel has loaded.
    pub(super) fn start(&self, runs: Option<u32>) -> Result<(), BenchJobError> {
        let mut config = self.config.get();
        if let Some(runs) = runs {
            config.bench.runs = bounds::BENCH_RUNS.check(runs)?;
        }
        let models = Catalog::builtin()
            .resolve_installed_llms(&config.models_dir())
            .map_err(BenchJobError::NoModels)?;
        let starting = BenchStatus::Running {
            model: models.first().map(|m| m.name.clone()).unwrap_or_default(),
            model_index: 0,
            models: models.len() as u32,
            step: "starting".into(),
            fraction: 0.0,
            eta_s: None,
            elapsed_s: 0.0,
            cancelling: false,
        };
        let kept = self.report.clone();
        let started = self.slot.spawn("voxdeck-bench", starting, move |cancel, publish| {
            let started = Instant::now();
            let result = runner::run(&models, &config, cancel, &mut |p| {
                publish(running(&p, cancel.is_cancelled()));
            });
            match result {
                Ok(report) => match finished(&report) {
                    Ok(status) => {
                        *lock(&kept) = Some(Arc::new(report));
                        status
                    }
                    Err(message) => BenchStatus::Failed { message },
                },
                Err(BenchError::Cancelled) => {
                    info!("benchmark cancelled");
                    BenchStatus::Cancelled { elapsed_s: started.elapsed().as_secs_f64() }
                }
                Err(e) => BenchStatus::Failed { message: e.to_string() },
            }
        });
        Ok(started?)
    }

    /// Asks the running benchmark to stop at its next safe point; the front ends see
    /// "cancelling" now and `cancelled` once it has stopped. Nothing running: nothing to do.
    pub(super) fn cancel(&self) {
        self.slot.cancel();
    }

    /// Writes the last result's files under `data_dir/bench/` and returns the one asked for.
    pub(super) fn export(&self, format: ExportFormat) -> Result<Reply, BenchJobError> {
        let report = lock(&self.report).clone().ok_or(BenchJobError::NoResult)?;
        let dir = export_dir(&self.data_dir);
        runner::write_outputs(&report, &dir)?;
        let (file, mime, binary) = match format {
            ExportFormat::Markdown => ("report.md", "text/markdown", false),
            ExportFormat::Json => ("bench.json", "application/json", false),
            ExportFormat::PngTokS => ("tok_s.png", "image/png", true),
            ExportFormat::PngResponseTime => ("response_time.png", "image/png", true),
        };
        let path: PathBuf = dir.join(file);
        let bytes = std::fs::read(&path).map_err(|source| BenchJobError::ReadExport { path: path.clone(), source })?;
        let content = if binary { base64(&bytes) } else { String::from_utf8_lossy(&bytes).into_owned() };
        Ok(Reply::Exported {
            path: path.display().to_string(),
            file_name: file.to_owned(),
            mime: mime.to_owned(),
            content,
            base64: binary,
        })
    }
}

/// A progress report as the tab shows it.
fn running(p: &BenchProgress, cancelling: bool) -> BenchStatus {
    BenchStatus::Running {
        model: p.model.clone(),
        model_index: p.model_index,
        models: p.models,
        step: p.step(),
        fraction: p.fraction,
        eta_s: p.eta_s,
        elapsed_s: p.elapsed_s,
        cancelling,
    }
}

/// The result as the tab shows it.
fn finished(report: &BenchReport) -> Result<BenchStatus, String> {
    Ok(BenchStatus::Done {
        table: BenchTable::of(report),
        markdown: report::markdown(report),
        // Shown on the panel's dark page; the PNG exports stay light.
        tok_s_svg: charts::tok_s_svg(report, &crate::chart_style::Theme::DARK).map_err(|e| e.to_string())?,
        response_time_svg: charts::response_time_svg(report, &crate::chart_style::Theme::DARK)
            .map_err(|e| e.to_string())?,
        json: serde_json::to_string_pretty(report).map_err(|e| e.to_string())?,
    })
}

/// A new folder per export, named by the time.
fn export_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("bench").join(crate::turn_record::unix_ms_now().to_string())
}

/// Standard base64 with padding (PNG exports travel as text over JSON; the UI reads them
/// with `atob`).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
    }
}
