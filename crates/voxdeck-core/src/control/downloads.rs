//! Model downloads started from the settings tab, one thread each, with progress as events.

use std::sync::Weak;

use super::controller::Inner;
use super::protocol::{DownloadStatus, PanelEvent};
use crate::models::download::{DownloadOptions, DownloadProgress, Downloader, Phase};
use crate::models::{Catalog, install_catalog_file};

/// Starts fetching catalog model `id` (every file of it). Errors at once if `id` is unknown.
pub(super) fn start(weak: Weak<Inner>, id: String) -> Result<(), String> {
    let inner = weak.upgrade().ok_or("the engine is shutting down")?;
    let models_dir = inner.config().models_dir();
    let entry = Catalog::builtin().get(&id).map_err(|e| e.to_string())?.clone();
    drop(inner);
    let publish = move |status: DownloadStatus| {
        if let Some(inner) = weak.upgrade() {
            inner.publish(PanelEvent::Download { status });
        }
    };
    let total: u64 = entry.total_size();
    std::thread::Builder::new()
        .name("voxdeck-download".into())
        .spawn(move || {
            let status = |phase: &str, done: u64, error: Option<String>| DownloadStatus {
                id: entry.id.clone(),
                phase: phase.to_owned(),
                done_bytes: done,
                total_bytes: total,
                error,
            };
            let result = (|| -> Result<(), String> {
                let downloader = Downloader::new(DownloadOptions::default()).map_err(|e| e.to_string())?;
                let mut before = 0u64;
                for file in &entry.files {
                    let mut last_percent = u64::MAX;
                    let mut on_progress = |p: DownloadProgress| {
                        let phase = match p.phase {
                            Phase::Verifying | Phase::Resuming => "verifying",
                            Phase::Fetching | Phase::Extracting | Phase::Downloading => "downloading",
                        };
                        let done = before + p.done.min(file.size);
                        // One event per percent keeps the stream light for multi-GB files.
                        let percent = done * 100 / total.max(1);
                        if percent != last_percent {
                            last_percent = percent;
                            publish(status(phase, done, None));
                        }
                    };
                    install_catalog_file(&downloader, file, &models_dir, &mut on_progress)
                        .map_err(|e| format!("{} (file {}): {e}", entry.id, file.name))?;
                    before += file.size;
                }
                Ok(())
            })();
            match result {
                Ok(()) => publish(status("done", total, None)),
                Err(e) => publish(status("failed", 0, Some(e))),
            }
        })
        .map_err(|e| format!("cannot start the download thread: {e}"))?;
    Ok(())
}
