//! The spoken question set: `bench/questions/` at the repository root (questions.txt, voiced by
//! generate.sh into piper/ and espeak/ WAVs and manifest.toml).
//!
//! The set is embedded in voxdeck-core (`embedded.rs`, about 4 MB of 16 kHz mono WAV) rather
//! than looked up beside the binary: an installed `voxdeck` (or the desktop app) then runs the
//! benchmark with no repository and no TTS around, always on the same audio, so results from
//! different machines compare. `--questions DIR` takes another set with the same manifest.
//! Embedded files are unpacked to a temporary folder for the run, since the WAV source reads
//! files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LatencyError;

/// Whether a question stands alone or is a turn of the set's conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// Asked in a conversation of its own.
    Single,
    /// A turn of the conversation, in order, each referring back to the earlier ones.
    Conv,
}

/// One spoken question: one voice's recording of one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub kind: QuestionKind,
    /// What was said: the reference for the transcript's word error rate.
    pub text: String,
    /// "piper" or "espeak".
    pub voice: String,
    /// The WAV, relative to the set's folder.
    pub file: String,
    pub duration_s: f64,
}

#[derive(Deserialize)]
struct Manifest {
    question: Vec<Question>,
}

/// Which questions of the set to run.
#[derive(Debug, Clone, Default)]
pub struct SetFilter {
    /// At most this many single questions and conversation turns (the first ones).
    pub limit: Option<usize>,
    /// Only these voices (empty: all).
    pub voices: Vec<String>,
}

/// A loaded set: its questions and the folder their files are in.
pub struct QuestionSet {
    /// "embedded" or the folder it was read from, for the report.
    pub origin: String,
    dir: PathBuf,
    pub questions: Vec<Question>,
    /// The unpacked embedded set, removed when the set is dropped.
    _unpacked: Option<tempfile::TempDir>,
}

impl QuestionSet {
    /// The set built into voxdeck, unpacked to a temporary folder.
    pub fn embedded() -> Result<QuestionSet, LatencyError> {
        let tmp = tempfile::Builder::new()
            .prefix("voxdeck-questions-")
            .tempdir()
            .map_err(|source| LatencyError::Io { path: std::env::temp_dir(), source })?;
        for (name, bytes) in super::embedded::FILES {
            let path = tmp.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|source| LatencyError::Io { path: parent.to_owned(), source })?;
            }
            std::fs::write(&path, bytes).map_err(|source| LatencyError::Io { path: path.clone(), source })?;
        }
        let mut set = QuestionSet::from_dir(tmp.path())?;
        set.origin = "embedded".into();
        set._unpacked = Some(tmp);
        Ok(set)
    }

    /// A set in `dir`: its manifest.toml and the files it names.
    pub fn from_dir(dir: &Path) -> Result<QuestionSet, LatencyError> {
        let path = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| LatencyError::Io { path: path.clone(), source })?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| LatencyError::Manifest { path: path.clone(), message: e.to_string() })?;
        let set = QuestionSet {
            origin: dir.display().to_string(),
            dir: dir.to_owned(),
            questions: manifest.question,
            _unpacked: None,
        };
        if let Some(q) = set.questions.iter().find(|q| !set.path(q).is_file()) {
            return Err(LatencyError::Manifest { path, message: format!("{}: no file {}", q.id, q.file) });
        }
        if set.questions.is_empty() {
            return Err(LatencyError::Manifest { path, message: "no questions".into() });
        }
        Ok(set)
    }

    /// Keeps what `filter` asks for; an empty result is an error in words.
    pub fn filter(&mut self, filter: &SetFilter) -> Result<(), LatencyError> {
        if !filter.voices.is_empty() {
            let known = self.voices();
            if let Some(v) = filter.voices.iter().find(|v| !known.contains(v)) {
                return Err(LatencyError::Filter(format!("no voice {v:?} in the set (it has {})", known.join(", "))));
            }
            self.questions.retain(|q| filter.voices.contains(&q.voice));
        }
        if let Some(limit) = filter.limit {
            for kind in [QuestionKind::Single, QuestionKind::Conv] {
                let mut ids: Vec<String> = Vec::new();
                for q in self.questions.iter().filter(|q| q.kind == kind) {
                    if !ids.contains(&q.id) {
                        ids.push(q.id.clone());
                    }
                }
                ids.truncate(limit);
                self.questions.retain(|q| q.kind != kind || ids.contains(&q.id));
            }
        }
        if self.questions.is_empty() {
            return Err(LatencyError::Filter("no question left to ask".into()));
        }
        Ok(())
    }

    /// The question's WAV file.
    pub fn path(&self, q: &Question) -> PathBuf {
        self.dir.join(&q.file)
    }

    /// The voices, in the set's order.
    pub fn voices(&self) -> Vec<String> {
        let mut voices: Vec<String> = Vec::new();
        for q in &self.questions {
            if !voices.contains(&q.voice) {
                voices.push(q.voice.clone());
            }
        }
        voices
    }

    /// The questions of one kind (and voice, when given), in order.
    pub fn of(&self, kind: QuestionKind, voice: Option<&str>) -> Vec<&Question> {
        self.questions.iter().filter(|q| q.kind == kind && voice.is_none_or(|v| q.voice == v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_set_is_complete_and_in_range() {
        let set = QuestionSet::embedded().unwrap();
        assert_eq!(set.voices(), ["piper", "espeak"]);
        for voice in ["piper", "espeak"] {
            assert!(set.of(QuestionKind::Single, Some(voice)).len() >= 20);
            let conv = set.of(QuestionKind::Conv, Some(voice));
            assert!((4..=6).contains(&conv.len()), "{conv:?}");
        }
        for q in &set.questions {
            assert!((0.9..=6.5).contains(&q.duration_s), "{q:?}");
            let bytes = std::fs::metadata(set.path(q)).unwrap().len();
            // 16 kHz mono 16-bit: 32000 bytes a second after the 44-byte header.
            assert!(((bytes - 44) as f64 / 32000.0 - q.duration_s).abs() < 0.01, "{q:?}");
        }
    }

    #[test]
    fn the_filter_limits_each_kind_and_names_unknown_voices() {
        let mut set = QuestionSet::embedded().unwrap();
        set.filter(&SetFilter { limit: Some(2), voices: vec!["espeak".into()] }).unwrap();
        let ids: Vec<&str> = set.questions.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["q01", "q02", "c1", "c2"]);
        let mut set = QuestionSet::embedded().unwrap();
        let e = set.filter(&SetFilter { limit: None, voices: vec!["robot".into()] }).unwrap_err();
        assert!(e.to_string().contains("no voice \"robot\""), "{e}");
    }
}
