//! Checks that a shared library file is whole and built for this machine before it is loaded:
//! the dynamic loader maps a truncated library and the process dies of SIGBUS (exit 135, no
//! message) on the first page past its end, long before any error could be reported.
//!
//! The check reads the ELF64 header and program headers: the magic, class, byte order and
//! machine, then that the file is as long as the section headers and every loadable segment
//! say it is. On systems that do not load ELF libraries it accepts every file.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Why a library file cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LibraryFileError {
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    #[error("it is not a shared library (no ELF header)")]
    NotElf,
    #[error("it is not a 64-bit little-endian ELF library, as this machine needs")]
    WrongClass,
    #[error("it is built for another machine (ELF machine {found}, this machine is {expected})")]
    WrongMachine { found: u16, expected: u16 },
    #[error(
        "it is cut short: the file has {size} bytes but its ELF headers describe {needed} \
         (a truncated copy or an interrupted download?)"
    )]
    Truncated { size: u64, needed: u64 },
}

/// ELF's `e_machine` for this build's architecture; `None` where the check does not apply.
const MACHINE: Option<u16> = if cfg!(not(all(
    target_os = "linux",
    target_endian = "little",
    target_pointer_width = "64"
))) {
    None
} else if cfg!(target_arch = "x86_64") {
    Some(62)
} else if cfg!(target_arch = "aarch64") {
    Some(183)
} else {
    None
};

const ELF64_HEADER: usize = 64;
const PROGRAM_HEADER: usize = 56;
const PT_LOAD: u32 = 1;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// Checks the library at `path` (see the module's doc).
pub fn check(path: &Path) -> Result<(), LibraryFileError> {
    let Some(expected) = MACHINE else { return Ok(()) };
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut header = [0u8; ELF64_HEADER];
    file.read_exact(&mut header).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => LibraryFileError::NotElf,
        _ => e.into(),
    })?;
    if header[..4] != *b"\x7fELF" {
        return Err(LibraryFileError::NotElf);
    }
    // EI_CLASS 2: 64-bit; EI_DATA 1: little-endian.
    if header[4] != 2 || header[5] != 1 {
        return Err(LibraryFileError::WrongClass);
    }
    let found = u16_at(&header, 18);
    if found != expected {
        return Err(LibraryFileError::WrongMachine { found, expected });
    }
    let ph_off = u64_at(&header, 32);
    let sh_off = u64_at(&header, 40);
    let ph_size = u64::from(u16_at(&header, 54));
    let ph_count = u64::from(u16_at(&header, 56));
    let sh_size = u64::from(u16_at(&header, 58));
    let sh_count = u64::from(u16_at(&header, 60));
    let end = |offset: u64, len: u64| offset.saturating_add(len);
    let mut needed = end(sh_off, sh_count.saturating_mul(sh_size)).max(end(ph_off, ph_count.saturating_mul(ph_size)));
    if ph_size != PROGRAM_HEADER as u64 {
        return Err(LibraryFileError::NotElf);
    }
    if needed <= size {
        let mut table = vec![0u8; (ph_count * ph_size) as usize];
        file.seek(SeekFrom::Start(ph_off))?;
        file.read_exact(&mut table)?;
        for ph in table.chunks_exact(PROGRAM_HEADER) {
            if u32_at(ph, 0) == PT_LOAD {
                needed = needed.max(end(u64_at(ph, 8), u64_at(ph, 32)));
            }
        }
    }
    if needed > size {
        return Err(LibraryFileError::Truncated { size, needed });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary: a whole ELF file for this machine.
    fn whole() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    fn check_bytes(bytes: &[u8]) -> Result<(), LibraryFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.so");
        std::fs::write(&path, bytes).unwrap();
        check(&path)
    }

    #[test]
    fn whole_files_pass_and_cut_or_foreign_ones_are_named() {
        let bytes = whole();
        check_bytes(&bytes).unwrap();
        let err = check_bytes(&bytes[..100_000]).unwrap_err();
        assert!(matches!(err, LibraryFileError::Truncated { size: 100_000, .. }), "{err}");
        assert!(err.to_string().starts_with("it is cut short: the file has 100000 bytes"), "{err}");
        // Only the last byte missing: the last segment or the section headers are cut.
        assert!(matches!(check_bytes(&bytes[..bytes.len() - 1]), Err(LibraryFileError::Truncated { .. })));
        assert!(matches!(check_bytes(b"#!/bin/sh\n"), Err(LibraryFileError::NotElf)));
        assert!(matches!(check_bytes(&bytes[..10]), Err(LibraryFileError::NotElf)));
        let mut foreign = bytes.clone();
        foreign[18] ^= 0x40;
        assert!(matches!(check_bytes(&foreign), Err(LibraryFileError::WrongMachine { .. })));
        let mut bits32 = bytes;
        bits32[4] = 1;
        assert!(matches!(check_bytes(&bits32), Err(LibraryFileError::WrongClass)));
    }
}
