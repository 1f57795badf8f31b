//! The WAV file answers are written to, checked before any model loads: a file that is also a
//! question would be overwritten by the first answer (the next turn then hears it), and a file
//! that cannot be written would lose every answer after minutes of loading.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::AudioError;

/// Checks that `output` is none of `inputs` (the same file, through links or another name) and
/// that it can be created or opened for writing. The check leaves no file behind: one it had
/// to create is removed again, and an existing one is opened without truncating it.
pub fn check_output_file(output: &Path, inputs: &[PathBuf]) -> Result<(), AudioError> {
    // An output that does not exist yet cannot be an (existing) input; is_same_file fails then.
    if let Some(input) = inputs.iter().find(|input| same_file::is_same_file(input, output).unwrap_or(false)) {
        return Err(AudioError::OutputIsInput {
            output: output.to_owned(),
            input: input.clone(),
        });
    }
    let existed = output.symlink_metadata().is_ok();
    match OpenOptions::new().write(true).create(true).truncate(false).open(output) {
        Ok(_) => {
            if !existed && let Err(e) = std::fs::remove_file(output) {
                tracing::debug!("removing the probe {}: {e}", output.display());
            }
            Ok(())
        }
        Err(e) => Err(AudioError::Write {
            path: output.to_owned(),
            message: why_not_writable(output, &e),
        }),
    }
}

/// The reason in words: a missing directory is named, other errors are the system's.
fn why_not_writable(output: &Path, e: &std::io::Error) -> String {
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty());
    match parent {
        Some(dir) if e.kind() == ErrorKind::NotFound && !dir.is_dir() => {
            format!("the directory {} does not exist", dir.display())
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path) {
        std::fs::write(path, b"RIFF question").expect("writes");
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_through_links() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let q = dir.path().join("q.wav");
        let other = dir.path().join("other.wav");
        write(&q);
        write(&other);
        let link = dir.path().join("link.wav");
        std::os::unix::fs::symlink(&q, &link).expect("a symlink");
        let hard = dir.path().join("hard.wav");
        std::fs::hard_link(&q, &hard).expect("a hard link");
        let dotted = dir.path().join(".").join("q.wav");
        let inputs = [other.clone(), q.clone()];
        for output in [&q, &link, &hard, &dotted] {
            let err = check_output_file(output, &inputs).expect_err("refused");
            assert!(matches!(&err, AudioError::OutputIsInput { input, .. } if *input == q), "{err:?}");
            let text = err.to_string();
            assert!(text.contains(&output.display().to_string()) && text.contains("overwrite"), "{text}");
        }
        assert_eq!(std::fs::read(&q).expect("reads"), b"RIFF question", "the question is untouched");
        // A link given as the input, the file itself as the output: the same.
        assert!(check_output_file(&q, std::slice::from_ref(&link)).is_err());
    }

    #[test]
    fn a_new_or_other_output_is_accepted_and_left_as_it_was() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let q = dir.path().join("q.wav");
        write(&q);
        let new = dir.path().join("answers.wav");
        check_output_file(&new, std::slice::from_ref(&q)).expect("a new file is fine");
        assert!(!new.exists(), "the probe leaves no file");
        let old = dir.path().join("old.wav");
        std::fs::write(&old, b"earlier answers").expect("writes");
        check_output_file(&old, std::slice::from_ref(&q)).expect("an existing file is fine");
        assert_eq!(std::fs::read(&old).expect("reads"), b"earlier answers", "not truncated by the check");
        check_output_file(Path::new("/dev/null"), std::slice::from_ref(&q)).expect("a device is fine");
    }

    #[test]
    fn an_output_that_cannot_be_written_names_the_path() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let missing = dir.path().join("no/such/dir/a.wav");
        let err = check_output_file(&missing, &[]).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains(&missing.display().to_string()), "{text}");
        assert!(text.contains("the directory") && text.contains("does not exist"), "{text}");
        let err = check_output_file(dir.path(), &[]).expect_err("a directory is refused");
        assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");
    }
}
