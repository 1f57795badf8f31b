//! Model downloads started from the settings tab, one thread each, with progress as events.

use std::path::PathBuf;

use super::protocol::{DownloadStatus, PanelEvent};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::models::download::{DownloadOptions, DownloadProgress, Downloader, Phase};
use crate::models::{Catalog, CatalogEntry, CatalogError, install_catalog_file};

/// A download that could not start (once started, failures arrive as progress events).
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(transparent)]
    UnknownModel(#[from] CatalogError),
    #[error("cannot start the download thread: {0}")]
    Thread(std::io::Error),
}

/// Called once a download has ended: `Err` holds the failure in words.
pub(super) type OnEnd = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Starts downloads into the configured models directory.
#[derive(Clone)]
pub(super) struct Downloads {
    config: SharedConfig,
    publisher: Publisher,
}

impl Downloads {
    pub(super) fn new(config: SharedConfig, publisher: Publisher) -> Downloads {
        Downloads { config, publisher }
    }

    /// Starts fetching catalog model `id` (every file of it). Errors at once if `id` is unknown.
    pub(super) fn start(&self, id: &str) -> Result<(), DownloadError> {
        self.start_then(id, Box::new(|_| {}))
    }

    /// [`Downloads::start`], then `on_end` with the outcome (after its last event).
    pub(super) fn start_then(&self, id: &str, on_end: OnEnd) -> Result<(), DownloadError> {
        let models_dir = self.config.get().models_dir();
        let entry = Catalog::builtin().get(id)?.clone();
        spawn(entry, models_dir, self.publisher.clone(), on_end)
    }
}

/// Fetches every file of `entry` on its own thread, with progress as events.
fn spawn(entry: CatalogEntry, models_dir: PathBuf, publisher: Publisher, on_end: OnEnd) -> Result<(), DownloadError> {
    let total: u64 = entry.total_size();
    std::thread::Builder::new()
        .name("voxdeck-download".into())
        .spawn(move || {
            let publish = |status: DownloadStatus| publisher.panel(PanelEvent::Download { status });
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
            match &result {
                Ok(()) => publish(status("done", total, None)),
                Err(e) => publish(status("failed", 0, Some(e.clone()))),
            }
            on_end(result);
        })
        .map_err(DownloadError::Thread)?;
    Ok(())
}
