//! The bench tab: `voxdeck bench` on a background thread, with progress as events, the
//! seed-style table and charts as the result, and exports to Markdown, JSON and PNG.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::protocol::{BenchStatus, ExportFormat, PanelEvent, Reply};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::bench::runner::BenchError;
use crate::bounds::{self, OutOfRange};
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
    #[error("a benchmark is already running")]
    AlreadyRunning,
    #[error("cannot start the benchmark thread: {0}")]
    Thread(std::io::Error),
    #[error("no benchmark has finished yet: run one first")]
    NoResult,
    #[error(transparent)]
    Export(#[from] BenchError),
    #[error("cannot read {}: {source}", path.display())]
    ReadExport { path: PathBuf, source: std::io::Error },
}

/// What the bench thread and the tab share.
#[derive(Default)]
struct BenchState {
    status: Mutex<Option<BenchStatus>>,
    report: Mutex<Option<Arc<BenchReport>>>,
}

pub(super) struct BenchJob {
    state: Arc<BenchState>,
    config: SharedConfig,
    publisher: Publisher,
    /// Exports go to `data_dir/bench/`.
    data_dir: PathBuf,
}

impl BenchJob {
    pub(super) fn new(config: SharedConfig, publisher: Publisher, data_dir: PathBuf) -> BenchJob {
        BenchJob { state: Arc::default(), config, publisher, data_dir }
    }

    pub(super) fn status(&self) -> BenchStatus {
        lock(&self.state.status).clone().unwrap_or(BenchStatus::Idle)
    }

    /// Starts a benchmark of every installed LLM, unless one is running.
    pub(super) fn start(&self, runs: Option<u32>) -> Result<(), BenchJobError> {
        let mut config = self.config.get();
        if let Some(runs) = runs {
            config.bench.runs = bounds::BENCH_RUNS.check(runs)?;
        }
        let models = Catalog::builtin()
            .resolve_installed_llms(&config.models_dir())
            .map_err(BenchJobError::NoModels)?;
        {
            let mut status = lock(&self.state.status);
            if matches!(*status, Some(BenchStatus::Running { .. })) {
                return Err(BenchJobError::AlreadyRunning);
            }
            *status = Some(BenchStatus::Running { done: 0, total: 1, model: String::new(), step: "starting".into() });
        }
        let (state, publisher) = (self.state.clone(), self.publisher.clone());
        std::thread::Builder::new()
            .name("voxdeck-bench".into())
            .spawn(move || {
                let publish = |status: BenchStatus| {
                    *lock(&state.status) = Some(status.clone());
                    publisher.panel(PanelEvent::Bench { status });
                };
                let result = runner::run(&models, &config, &mut |p| {
                    publish(BenchStatus::Running { done: p.done, total: p.total, model: p.model, step: p.step });
                });
                let status = match result.map_err(|e| e.to_string()).and_then(|r| finished(&r).map(|s| (r, s))) {
                    Ok((report, status)) => {
                        *lock(&state.report) = Some(Arc::new(report));
                        status
                    }
                    Err(message) => BenchStatus::Failed { message },
                };
                publish(status);
            })
            .map_err(BenchJobError::Thread)?;
        Ok(())
    }

    /// Writes the last result's files under `data_dir/bench/` and returns the one asked for.
    pub(super) fn export(&self, format: ExportFormat) -> Result<Reply, BenchJobError> {
        let report = lock(&self.state.report).clone().ok_or(BenchJobError::NoResult)?;
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

/// The result as the tab shows it.
fn finished(report: &BenchReport) -> Result<BenchStatus, String> {
    Ok(BenchStatus::Done {
        markdown: report::markdown(report),
        tok_s_svg: charts::tok_s_svg(report).map_err(|e| e.to_string())?,
        response_time_svg: charts::response_time_svg(report).map_err(|e| e.to_string())?,
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
