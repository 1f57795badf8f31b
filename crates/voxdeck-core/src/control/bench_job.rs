//! The bench tab: `voxdeck bench` on a background thread, with progress as events, the
//! seed-style table and charts as the result, and exports to Markdown, JSON and PNG.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use super::controller::Inner;
use super::protocol::{BenchStatus, ExportFormat, PanelEvent, Reply};
use crate::bench::{BenchReport, charts, report, runner};
use crate::models::Catalog;
use crate::sync::lock;

#[derive(Default)]
pub(super) struct BenchJob {
    status: Mutex<Option<BenchStatus>>,
    report: Mutex<Option<Arc<BenchReport>>>,
}

impl BenchJob {
    pub(super) fn status(&self) -> BenchStatus {
        lock(&self.status).clone().unwrap_or(BenchStatus::Idle)
    }

    /// Starts a benchmark of every installed LLM, unless one is running.
    pub(super) fn start(&self, weak: Weak<Inner>, runs: Option<u32>) -> Result<(), String> {
        let inner = weak.upgrade().ok_or("the engine is shutting down")?;
        let mut config = inner.config();
        if let Some(runs) = runs {
            if runs == 0 {
                return Err("runs must be at least 1".into());
            }
            config.bench.runs = runs;
        }
        let models = Catalog::builtin()
            .resolve_installed_llms(&config.models_dir())
            .map_err(|e| format!("{e} (or download one in Settings)"))?;
        {
            let mut status = lock(&self.status);
            if matches!(*status, Some(BenchStatus::Running { .. })) {
                return Err("a benchmark is already running".into());
            }
            *status = Some(BenchStatus::Running { done: 0, total: 1, model: String::new(), step: "starting".into() });
        }
        std::thread::Builder::new()
            .name("voxdeck-bench".into())
            .spawn(move || {
                let publish = |status: BenchStatus| {
                    if let Some(inner) = weak.upgrade() {
                        *lock(&inner.bench.status) = Some(status.clone());
                        inner.publish(PanelEvent::Bench { status });
                    }
                };
                let result = runner::run(&models, &config, &mut |p| {
                    publish(BenchStatus::Running { done: p.done, total: p.total, model: p.model, step: p.step });
                });
                let status = match result.map_err(|e| e.to_string()).and_then(|r| finished(&r).map(|s| (r, s))) {
                    Ok((report, status)) => {
                        if let Some(inner) = weak.upgrade() {
                            *lock(&inner.bench.report) = Some(Arc::new(report));
                        }
                        status
                    }
                    Err(message) => BenchStatus::Failed { message },
                };
                publish(status);
            })
            .map_err(|e| format!("cannot start the benchmark thread: {e}"))?;
        Ok(())
    }

    /// Writes the last result's files under `data_dir/bench/` and returns the one asked for.
    pub(super) fn export(&self, format: ExportFormat, data_dir: &std::path::Path) -> Result<Reply, String> {
        let report = lock(&self.report).clone().ok_or("no benchmark has finished yet: run one first")?;
        let stamp = report_stamp();
        let dir = data_dir.join("bench").join(stamp);
        runner::write_outputs(&report, &dir).map_err(|e| e.to_string())?;
        let (file, mime, binary) = match format {
            ExportFormat::Markdown => ("report.md", "text/markdown", false),
            ExportFormat::Json => ("bench.json", "application/json", false),
            ExportFormat::PngTokS => ("tok_s.png", "image/png", true),
            ExportFormat::PngResponseTime => ("response_time.png", "image/png", true),
        };
        let path: PathBuf = dir.join(file);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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

fn report_stamp() -> String {
    let ms = crate::pipeline::timeline::unix_ms_now();
    format!("{ms}")
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
