//! Model downloads started from the settings tab, one thread each, with progress as events.

use std::path::{Path, PathBuf};

use super::protocol::{DownloadStatus, PanelEvent};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::models::download::{DownloadOptions, DownloadProgress, Downloader, Phase};
use crate::models::{Catalog, CatalogEntry, CatalogError, CatalogFile, install_catalog_file};

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
            let files: Vec<(&CatalogEntry, &CatalogFile)> = entry.files.iter().map(|f| (&entry, f)).collect();
            let result = install_files(&files, &models_dir, &mut |_, phase, done, _| publish(status(phase, done, None)));
            let result = result.map_err(|e| format!("{} (file {}): {}", entry.id, e.file, e.error));
            match &result {
                Ok(()) => publish(status("done", total, None)),
                Err(e) => publish(status("failed", 0, Some(e.clone()))),
            }
            on_end(result);
        })
        .map_err(DownloadError::Thread)?;
    Ok(())
}

/// A file that could not be installed: its model's name, the file and why.
#[derive(Debug)]
pub(super) struct FileFailed {
    pub model: String,
    pub file: String,
    pub error: String,
}

/// Installs `files` one after another (already installed ones are skipped by the installers),
/// calling `progress(model name, phase, done, total)` once per percent of their total bytes;
/// `phase` is "downloading" or "verifying".
pub(super) fn install_files(
    files: &[(&CatalogEntry, &CatalogFile)],
    models_dir: &Path,
    progress: &mut dyn FnMut(&str, &str, u64, u64),
) -> Result<(), FileFailed> {
    let total: u64 = files.iter().map(|(_, f)| f.size).sum();
    let failed = |entry: &CatalogEntry, file: &CatalogFile, error: String| FileFailed {
        model: entry.name.clone(),
        file: file.name.clone(),
        error,
    };
    let downloader = match (files.first(), Downloader::new(DownloadOptions::default())) {
        (_, Ok(d)) => d,
        (Some((entry, file)), Err(e)) => return Err(failed(entry, file, e.to_string())),
        (None, Err(_)) => return Ok(()),
    };
    let mut before = 0u64;
    let mut last_percent = u64::MAX;
    let mut high_water = 0u64;
    for (entry, file) in files {
        high_water = high_water.max(before);
        progress(&entry.name, "downloading", high_water, total);
        let mut on_progress = |p: DownloadProgress| {
            let phase = match p.phase {
                Phase::Verifying | Phase::Resuming => "verifying",
                Phase::Fetching | Phase::Extracting | Phase::Downloading => "downloading",
            };
            // Installers report a second pass (verifying, converting) from 0 again: the bar
            // holds still then rather than going back.
            let done = (before + p.done.min(file.size)).max(high_water);
            high_water = done;
            // One event per percent keeps the stream light for multi-GB files.
            let percent = done * 100 / total.max(1);
            if percent != last_percent {
                last_percent = percent;
                progress(&entry.name, phase, done, total);
            }
        };
        install_catalog_file(&downloader, file, models_dir, &mut on_progress)
            .map_err(|e| failed(entry, file, e.to_string()))?;
        before += file.size;
    }
    Ok(())
}
