//! Text to speech: Piper voices on ONNX Runtime, espeak-ng as the fallback.
//!
//! Both engines sit behind [`SpeechSynthesizer`]: mono f32 audio at the engine's rate, a whole
//! text at once ([`SpeechSynthesizer::synthesize`]) or one sentence at a time as each is ready
//! ([`SpeechSynthesizer::synthesize_sentences`]), for streaming into the speaker. [`open`] picks
//! the engine from `[tts]` and the installed models:
//!
//! - **Piper** ([`piper`]): a voice (`.onnx` + `.onnx.json`, from the catalog or a path) run on
//!   ONNX Runtime, loaded at run time from `tts.onnxruntime`, `ORT_DYLIB_PATH` or the test set's
//!   copy in the models directory; phonemes from libespeak-ng ([`phonemize`]).
//! - **espeak-ng** ([`espeak`]): espeak-ng's own formant synthesis, always available; robotic but
//!   intelligible. `engine = "auto"` falls back to it, with a warning saying why, when no Piper
//!   voice is installed or ONNX Runtime cannot be found or loaded.
//!
//! Text with nothing to say (empty, spaces, punctuation only) is not an error: it gives no
//! sentences and an empty buffer.

pub mod espeak;
mod espeak_ng;
pub mod lead_in;
mod library_file;
mod list_marker;
pub mod markup;
pub mod phonemize;
pub mod piper;
pub mod sentences;

use std::path::{Path, PathBuf};

use crate::audio::AudioBuffer;
use crate::config::{Config, TtsConfig, TtsEngine};
use crate::models::{Catalog, CatalogError, ModelKind};

pub use espeak::EspeakSynthesizer;
pub use markup::{MarkdownStripper, strip_markdown};
pub use piper::{PiperSynthesizer, VoiceConfig};
pub use sentences::{SentenceSplitter, split_sentences};

/// Errors choosing, loading or running a speech engine.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error(
        "unsupported voice `{voice}`: not a Piper voice id from the catalog (`voxdeck models list` shows them) \
         nor a path to a Piper .onnx voice file (espeak-ng voices such as en-gb go in `tts.espeak_voice`)"
    )]
    UnsupportedVoice { voice: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(
        "no Piper voice is installed in {}; run `voxdeck models fetch --test-set` for the test voice, \
         or `voxdeck models fetch piper-en_us-lessac-medium`", .dir.display()
    )]
    NoVoiceInstalled { dir: PathBuf },
    #[error("voice file {} does not exist", .path.display())]
    VoiceFileMissing { path: PathBuf },
    #[error("voice config {}: {message}", .path.display())]
    VoiceConfig { path: PathBuf, message: String },
    #[error("cannot load the voice model {}: {detail}", .path.display())]
    VoiceModel { path: PathBuf, detail: String },
    #[error("ONNX Runtime (libonnxruntime.so), which Piper voices run on, was not found: {detail}. {install}")]
    OnnxRuntimeMissing { detail: String, install: String },
    #[error("cannot load ONNX Runtime from {}: {detail}", .path.display())]
    OnnxRuntimeLoad { path: PathBuf, detail: String },
    #[error("Piper inference failed: {detail}")]
    Inference { detail: String },
    #[error("espeak-ng has no voice `{voice}`; `espeak-ng --voices` lists them")]
    EspeakVoice { voice: String },
    #[error("{message}")]
    Espeak { message: String },
}

impl TtsError {
    /// Errors that mean "Piper is not available here" rather than "something is wrong":
    /// `engine = "auto"` falls back to espeak-ng on these.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            TtsError::NoVoiceInstalled { .. } | TtsError::OnnxRuntimeMissing { .. } | TtsError::OnnxRuntimeLoad { .. }
        )
    }
}

/// The engine behind a [`SpeechSynthesizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Piper,
    Espeak,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Piper => "piper",
            Engine::Espeak => "espeak-ng",
        })
    }
}

/// A text-to-speech engine with its voice loaded. Calls may come from any thread; each engine
/// serialises its own work.
pub trait SpeechSynthesizer: Send + Sync {
    fn engine(&self) -> Engine;

    /// The voice, for reports: "Piper voice en_US joe (medium)", "espeak-ng en-us".
    fn voice_name(&self) -> &str;

    /// The rate of the audio this engine produces (22050 Hz for medium Piper voices and espeak-ng).
    fn sample_rate(&self) -> u32;

    /// Speaks `text` one sentence at a time: each sentence's audio (mono, [`Self::sample_rate`])
    /// goes to `on_sentence` as soon as it is synthesised; returning `false` stops early (the
    /// user interrupted). Returns how many sentences were delivered. Text with nothing to say
    /// delivers none.
    fn synthesize_sentences(
        &self,
        text: &str,
        on_sentence: &mut dyn FnMut(AudioBuffer) -> bool,
    ) -> Result<usize, TtsError>;

    /// Speaks the whole `text` into one buffer (the sentences back to back). Empty when there is
    /// nothing to say.
    fn synthesize(&self, text: &str) -> Result<AudioBuffer, TtsError> {
        let mut samples = Vec::new();
        self.synthesize_sentences(text, &mut |sentence| {
            samples.extend_from_slice(&sentence.samples);
            true
        })?;
        Ok(AudioBuffer {
            samples,
            sample_rate: self.sample_rate(),
            channels: 1,
        })
    }
}

/// Opens the engine `[tts]` asks for, with the builtin catalog and the configured models directory.
pub fn open(config: &Config) -> Result<Box<dyn SpeechSynthesizer>, TtsError> {
    open_with(&config.tts, &Catalog::builtin(), &config.models_dir())
}

/// Opens the engine `tts` asks for:
///
/// - `engine = "espeak"`: espeak-ng with `tts.espeak_voice`.
/// - `engine = "piper"`: the Piper voice `tts.voice` (empty: the first installed, catalog
///   order); anything missing is an error.
/// - `engine = "auto"`: as `piper`, but when no voice is installed or ONNX Runtime is missing
///   or fails to load, espeak-ng with a warning saying why. A voice that is named but wrong
///   (unknown id, missing file, broken config or model) is still an error.
pub fn open_with(
    tts: &TtsConfig,
    catalog: &Catalog,
    models_dir: &Path,
) -> Result<Box<dyn SpeechSynthesizer>, TtsError> {
    match tts.engine {
        TtsEngine::Espeak => Ok(Box::new(espeak(tts)?)),
        TtsEngine::Piper => Ok(Box::new(open_piper(tts, catalog, models_dir)?)),
        TtsEngine::Auto => match open_piper(tts, catalog, models_dir) {
            Ok(piper) => Ok(Box::new(piper)),
            Err(e) if e.is_unavailable() => {
                tracing::warn!("{e}; speaking with espeak-ng ({}) instead", tts.espeak_voice);
                Ok(Box::new(espeak(tts)?))
            }
            Err(e) => Err(e),
        },
    }
}

/// espeak-ng as `[tts]` sets it up.
fn espeak(tts: &TtsConfig) -> Result<EspeakSynthesizer, TtsError> {
    Ok(EspeakSynthesizer::new(&tts.espeak_voice, tts.rate)?.trim_leading_silence(tts.trim_leading_silence))
}

/// Loads the Piper voice `tts.voice` on the ONNX Runtime [`find_onnxruntime`] finds.
pub fn open_piper(tts: &TtsConfig, catalog: &Catalog, models_dir: &Path) -> Result<PiperSynthesizer, TtsError> {
    let voice = resolve_voice(&tts.voice, catalog, models_dir)?;
    let onnxruntime = find_onnxruntime(tts, catalog, models_dir)?;
    PiperSynthesizer::load(&voice, tts, &onnxruntime)
}

/// A Piper voice's two files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceFiles {
    /// Catalog id, when the voice came from the catalog.
    pub id: Option<String>,
    /// Name for reports.
    pub name: String,
    /// The model, `<voice>.onnx`.
    pub onnx: PathBuf,
    /// Its config, `<voice>.onnx.json`.
    pub config: PathBuf,
}

impl VoiceFiles {
    /// A voice given by the path of its `.onnx` file (or of its `.onnx.json`); the config is the
    /// model's path with `.json` appended, as Piper names them.
    pub fn from_path(path: &Path) -> VoiceFiles {
        let onnx = match path.to_str().and_then(|p| p.strip_suffix(".json")) {
            Some(stripped) if stripped.ends_with(".onnx") => PathBuf::from(stripped),
            _ => path.to_owned(),
        };
        let mut config = onnx.clone().into_os_string();
        config.push(".json");
        let name = onnx
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".onnx").to_owned())
            .unwrap_or_else(|| onnx.display().to_string());
        VoiceFiles {
            id: None,
            name: format!("Piper voice {name}"),
            onnx,
            config: PathBuf::from(config),
        }
    }
}

/// Resolves a voice spec: a catalog id (of an installed `tts` entry), a path to a `.onnx` file,
/// or empty for the first installed voice in catalog order.
pub fn resolve_voice(spec: &str, catalog: &Catalog, models_dir: &Path) -> Result<VoiceFiles, TtsError> {
    let from_entry = |entry: &crate::models::CatalogEntry| {
        let onnx = entry.main_path(models_dir);
        let config = entry
            .files
            .iter()
            .map(|f| models_dir.join(&f.name))
            .find(|p| p.to_string_lossy().ends_with(".onnx.json"))
            .unwrap_or_else(|| VoiceFiles::from_path(&onnx).config);
        VoiceFiles {
            id: Some(entry.id.clone()),
            name: entry.name.clone(),
            onnx,
            config,
        }
    };
    let spec = spec.trim();
    if spec.is_empty() {
        return catalog
            .entries
            .iter()
            .find(|e| e.kind == ModelKind::Tts && e.is_installed(models_dir))
            .map(from_entry)
            .ok_or_else(|| TtsError::NoVoiceInstalled {
                dir: models_dir.to_owned(),
            });
    }
    if let Some(entry) = catalog.installed_by_id(spec, ModelKind::Tts, models_dir)? {
        return Ok(from_entry(entry));
    }
    let looks_like_path =
        spec.contains(std::path::MAIN_SEPARATOR) || spec.ends_with(".onnx") || spec.ends_with(".onnx.json");
    if !looks_like_path {
        return Err(TtsError::UnsupportedVoice { voice: spec.to_owned() });
    }
    let files = VoiceFiles::from_path(Path::new(spec));
    if !files.onnx.is_file() {
        return Err(TtsError::VoiceFileMissing { path: files.onnx });
    }
    Ok(files)
}

/// Where ONNX Runtime's shared library is: `tts.onnxruntime`, else `ORT_DYLIB_PATH`, else the
/// catalog's runtime entry installed in `models_dir` (the test set's copy from PyPI). A path
/// that is named but missing is an error (not a fall-through), so a typo is not hidden.
pub fn find_onnxruntime(tts: &TtsConfig, catalog: &Catalog, models_dir: &Path) -> Result<PathBuf, TtsError> {
    let runtimes: Vec<_> = catalog
        .entries
        .iter()
        .filter(|e| e.kind == ModelKind::Runtime && e.files[0].name.contains("onnxruntime"))
        .collect();
    let install = match runtimes.first() {
        Some(entry) => format!(
            "Install it with `voxdeck models fetch {id}` (or `voxdeck models fetch --test-set`): it comes from PyPI's \
             onnxruntime wheel (`pip download --no-deps --only-binary=:all: {spec}`, member {member}); or point \
             `tts.onnxruntime` or ORT_DYLIB_PATH at a libonnxruntime.so 1.31 or newer",
            id = entry.id,
            spec = entry.files[0].pypi.first().map_or("onnxruntime", String::as_str),
            member = entry.files[0]
                .parts
                .first()
                .map_or("onnxruntime/capi/libonnxruntime.so.*", String::as_str),
        ),
        None => "Install it from PyPI's onnxruntime wheel (`pip download --no-deps --only-binary=:all: onnxruntime`, \
                 member onnxruntime/capi/libonnxruntime.so.*) and point `tts.onnxruntime` or ORT_DYLIB_PATH at it"
            .to_owned(),
    };
    let missing = |detail: String| TtsError::OnnxRuntimeMissing {
        detail,
        install: install.clone(),
    };
    if !tts.onnxruntime.is_empty() {
        let path = PathBuf::from(&tts.onnxruntime);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(missing(format!(
                "tts.onnxruntime is {}, which does not exist",
                path.display()
            )))
        };
    }
    if let Some(env) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(env);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(missing(format!(
                "ORT_DYLIB_PATH is {}, which does not exist",
                path.display()
            )))
        };
    }
    runtimes
        .iter()
        .find(|e| e.is_installed(models_dir))
        .map(|e| e.main_path(models_dir))
        .ok_or_else(|| {
            missing(format!(
                "tts.onnxruntime and ORT_DYLIB_PATH are not set and the models directory {} does not have it",
                models_dir.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_paths_pair_model_and_config() {
        let v = VoiceFiles::from_path(Path::new("/v/en_US-joe-medium.onnx"));
        assert_eq!(v.onnx, Path::new("/v/en_US-joe-medium.onnx"));
        assert_eq!(v.config, Path::new("/v/en_US-joe-medium.onnx.json"));
        assert_eq!(v.name, "Piper voice en_US-joe-medium");
        let v = VoiceFiles::from_path(Path::new("/v/en_US-joe-medium.onnx.json"));
        assert_eq!(v.onnx, Path::new("/v/en_US-joe-medium.onnx"));
    }

    #[test]
    fn voice_resolution_errors() {
        let catalog = Catalog::builtin();
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_voice("no-such-voice", &catalog, dir.path()).unwrap_err();
        assert!(matches!(err, TtsError::UnsupportedVoice { .. }), "{err}");
        assert!(err.to_string().contains("no-such-voice"), "{err}");
        let err = resolve_voice("piper-en_us-joe-medium", &catalog, dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("voxdeck models fetch piper-en_us-joe-medium"),
            "{err}"
        );
        let err = resolve_voice("smollm2-135m-instruct-q4_1", &catalog, dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a tts model"), "{err}");
        let err = resolve_voice("", &catalog, dir.path()).unwrap_err();
        assert!(
            matches!(err, TtsError::NoVoiceInstalled { .. }) && err.is_unavailable(),
            "{err}"
        );
        let missing = dir.path().join("gone.onnx");
        let err = resolve_voice(missing.to_str().unwrap(), &catalog, dir.path()).unwrap_err();
        assert!(matches!(err, TtsError::VoiceFileMissing { .. }), "{err}");
        assert!(err.to_string().contains("gone.onnx"), "{err}");
    }

    #[test]
    fn a_named_missing_onnxruntime_says_how_to_install_it() {
        let catalog = Catalog::builtin();
        let dir = tempfile::tempdir().unwrap();
        let tts = TtsConfig {
            onnxruntime: dir.path().join("libonnxruntime.so").display().to_string(),
            ..TtsConfig::default()
        };
        let err = find_onnxruntime(&tts, &catalog, dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(err.is_unavailable(), "{msg}");
        assert!(msg.contains("libonnxruntime.so"), "{msg}");
        assert!(msg.contains("pip download"), "{msg}");
        assert!(msg.contains("voxdeck models fetch"), "{msg}");
    }
}
