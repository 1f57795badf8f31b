//! Replacing a user's file atomically without breaking their symbolic links: the new content
//! goes to a temporary file beside the link's target, which is then renamed onto the target, so
//! a reader sees the old file or the new one, never half of one, and the link stays a link.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// More links than this in a row is a loop, as the kernel's own limit (ELOOP) says.
const MAX_LINKS: usize = 40;

/// Where writing to `path` really lands: `path` with every symbolic link it names followed, also
/// to a target that does not exist yet (a dangling link to a file still to be created).
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                // A relative target is relative to the link's directory; `join` keeps an absolute one.
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links in a row from {} (a loop?)",
        path.display()
    )))
}

/// Replaces the file `path` leads to with `contents`, creating it (and its directory) when
/// missing, keeping an existing file's permissions. Returns the file written, the link's target
/// when `path` is a symbolic link.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    write_atomically(path, contents, None)
}

/// [`replace`] for a secret: the file is mode 0600 (readable only by its owner) from its first
/// byte to its last, whatever mode an earlier file had.
pub fn replace_private(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    write_atomically(path, contents, Some(0o600))
}

fn write_atomically(path: &Path, contents: &[u8], mode: Option<u32>) -> io::Result<PathBuf> {
    let target = resolve_links(path)?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // tempfile creates the file 0600, so a private file is never readable by others.
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(&dir)?;
    match mode {
        #[cfg(unix)]
        Some(mode) => {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        Some(_) => {}
        None => match std::fs::metadata(&target) {
            Ok(meta) => tmp.as_file().set_permissions(meta.permissions())?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        },
    }
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_stays_a_link_and_its_target_gets_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("c.toml"), "old").unwrap();
        // A relative link, through a second link.
        std::os::unix::fs::symlink("real/c.toml", dir.path().join("one")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("one"), dir.path().join("two")).unwrap();
        let written = replace(&dir.path().join("two"), b"new").unwrap();
        assert_eq!(written, dir.path().join("real/c.toml"));
        assert!(std::fs::symlink_metadata(dir.path().join("two")).unwrap().file_type().is_symlink());
        assert!(std::fs::symlink_metadata(dir.path().join("one")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(real.join("c.toml")).unwrap(), "new");
        // No temporary file is left beside the target.
        assert_eq!(std::fs::read_dir(&real).unwrap().count(), 1);
    }

    #[test]
    fn permissions_are_kept_and_a_dangling_link_creates_its_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&file, b"new").unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);

        std::os::unix::fs::symlink("sub/later.toml", dir.path().join("link")).unwrap();
        replace(&dir.path().join("link"), b"x").unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/later.toml")).unwrap(), "x");
        assert!(std::fs::symlink_metadata(dir.path().join("link")).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_link_loop_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("b", dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let err = replace(&dir.path().join("a"), b"x").unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }
}
