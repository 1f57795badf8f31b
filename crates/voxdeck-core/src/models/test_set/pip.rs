//! Step 1: the wheels, from `pip download` or the wheel cache.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{TestSetError, WHEEL_CACHE_DIR, last_lines};
use crate::models::download::io_err;

/// How to reach pip and where to keep wheels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipOptions {
    /// The Python interpreter (`VOXDECK_PYTHON`, default `python3`).
    pub python: OsString,
    /// Where wheels are downloaded and reused from.
    pub cache_dir: PathBuf,
}

impl PipOptions {
    /// `python3` (or `VOXDECK_PYTHON`) with the cache in `<models_dir>/.wheels`.
    pub fn for_models_dir(models_dir: &Path) -> PipOptions {
        PipOptions {
            python: std::env::var_os("VOXDECK_PYTHON")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "python3".into()),
            cache_dir: models_dir.join(WHEEL_CACHE_DIR),
        }
    }
}

/// Makes sure a wheel for each requirement `specs` is in `pip.cache_dir`, running `pip download`
/// for those that are not; returns the wheels in the order of `specs`. With `arch` (a native
/// library's file), only wheels built for that machine (`x86_64`, `aarch64`) count, and pip is
/// asked for them by platform tag: an aarch64 voxdeck run under emulation may use an x86-64
/// Python.
pub fn fetch_wheels(specs: &[String], pip: &PipOptions, arch: Option<&str>) -> Result<Vec<PathBuf>, TestSetError> {
    fs::create_dir_all(&pip.cache_dir).map_err(io_err("cannot create wheel cache", &pip.cache_dir))?;
    specs.iter().map(|spec| fetch_wheel(spec, pip, arch)).collect()
}

/// pip's `--platform` values for `arch`: every manylinux glibc level from 2.17 (manylinux2014)
/// to 2.35 (Ubuntu 22.04, JetPack 6), since pip does not widen one given tag to older ones.
fn platform_args(arch: &str) -> Vec<String> {
    (17..=35).flat_map(|minor| ["--platform".to_owned(), format!("manylinux_2_{minor}_{arch}")]).collect()
}

fn fetch_wheel(spec: &str, pip: &PipOptions, arch: Option<&str>) -> Result<PathBuf, TestSetError> {
    if let Some(wheel) = find_cached_wheel(&pip.cache_dir, spec, arch)? {
        tracing::debug!("reusing {}", wheel.display());
        return Ok(wheel);
    }
    let python = pip.python.to_string_lossy().into_owned();
    tracing::info!("{python} -m pip download {spec}");
    let output = Command::new(&pip.python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
        ])
        .arg("--only-binary=:all:")
        .args(arch.map(platform_args).unwrap_or_default())
        .arg("-d")
        .arg(&pip.cache_dir)
        .arg(spec)
        .output()
        .map_err(|e| TestSetError::PipMissing {
            python: python.clone(),
            detail: if e.kind() == io::ErrorKind::NotFound {
                format!("`{python}` was not found")
            } else {
                format!("cannot run `{python}`: {e}")
            },
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = last_lines(&stderr, 4);
        if stderr.contains("No module named pip") {
            return Err(TestSetError::PipMissing { python, detail });
        }
        if stderr.contains("No matching distribution found") || stderr.contains("Could not find a version") {
            return Err(TestSetError::PackageNotFound {
                spec: spec.to_owned(),
                detail,
            });
        }
        return Err(TestSetError::PipFailed {
            spec: spec.to_owned(),
            status: output.status.to_string(),
            detail,
        });
    }
    find_cached_wheel(&pip.cache_dir, spec, arch)?.ok_or_else(|| TestSetError::WheelNotFound {
        spec: spec.to_owned(),
        dir: pip.cache_dir.clone(),
    })
}

/// The wheel in `dir` that satisfies `spec` (`name==version`, or a bare `name`: then the last
/// matching wheel in name order), and with `arch`, whose platform tag is for that machine.
/// Names compare as PEP 503 normalises them.
pub fn find_cached_wheel(dir: &Path, spec: &str, arch: Option<&str>) -> Result<Option<PathBuf>, TestSetError> {
    let (name, version) = parse_spec(spec);
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot list", dir)(e).into()),
    };
    let mut matches: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|path| {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                return false;
            };
            let Some(stem) = file_name.strip_suffix(".whl") else {
                return false;
            };
            let mut fields = stem.split('-');
            let (Some(wheel_name), Some(wheel_version)) = (fields.next(), fields.next()) else {
                return false;
            };
            let platform = stem.rsplit('-').next().unwrap_or_default();
            normalize_name(wheel_name) == name
                && version.as_deref().is_none_or(|v| v == wheel_version)
                && arch.is_none_or(|arch| platform.split('.').any(|tag| tag.ends_with(&format!("_{arch}"))))
        })
        .collect();
    matches.sort();
    Ok(matches.pop())
}

/// `("normalised_name", Some("version"))` for `name==version`; other specifiers match any version.
fn parse_spec(spec: &str) -> (String, Option<String>) {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = normalize_name(&spec[..end]);
    let version = spec[end..]
        .trim()
        .strip_prefix("==")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty() && !v.contains(['*', ',', ';']));
    (name, version)
}

/// PEP 503 normalisation, with `_` as the separator as in wheel file names.
fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !out.is_empty() {
                out.push('_');
            }
            separator = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
