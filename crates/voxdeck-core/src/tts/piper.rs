//! Piper voices (VITS, exported to ONNX) on ONNX Runtime.
//!
//! A voice is `<name>.onnx` plus `<name>.onnx.json` (sample rate, the espeak-ng voice for
//! phonemes, default inference scales, `phoneme_id_map`). Synthesis, per sentence:
//! text → IPA phonemes with libespeak-ng ([`super::phonemize`]) → ids laid out as
//! `^ _ (phoneme _)* $` → the model (inputs `input` [1, n] i64, `input_lengths` [1] i64,
//! `scales` [noise_scale, length_scale, noise_w] f32, `sid` [1] i64 for multi-speaker voices)
//! → f32 audio, peak-normalised per sentence as Piper does.
//!
//! ONNX Runtime is loaded at run time (the `ort` crate's `load-dynamic`) from an absolute path
//! once per process; the first library loaded stays for the life of the process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use super::{Engine, SpeechSynthesizer, TtsError, VoiceFiles, lead_in, library_file, phonemize};
use crate::audio::AudioBuffer;
use crate::config::TtsConfig;

/// What voxdeck needs from a voice's `.onnx.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceConfig {
    pub sample_rate: u32,
    /// The espeak-ng voice that phonemizes for this voice, e.g. "en-us".
    pub espeak_voice: String,
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
    pub num_speakers: u32,
    /// Phoneme (one char) → ids. Multi-character keys (vowel clusters) are not used.
    pub phoneme_id_map: HashMap<char, Vec<i64>>,
    pub bos: Vec<i64>,
    pub pad: Vec<i64>,
    pub eos: Vec<i64>,
}

#[derive(Deserialize)]
struct RawConfig {
    audio: Option<RawAudio>,
    espeak: Option<RawEspeak>,
    #[serde(default)]
    inference: RawInference,
    phoneme_type: Option<String>,
    phoneme_id_map: Option<HashMap<String, Vec<i64>>>,
    num_symbols: Option<u32>,
    num_speakers: Option<u32>,
}

#[derive(Deserialize)]
struct RawAudio {
    sample_rate: Option<u32>,
}

#[derive(Deserialize)]
struct RawEspeak {
    voice: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawInference {
    noise_scale: Option<f32>,
    length_scale: Option<f32>,
    noise_w: Option<f32>,
}

impl VoiceConfig {
    /// Reads a voice's `.onnx.json`.
    pub fn load(path: &Path) -> Result<VoiceConfig, TtsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TtsError::VoiceConfig {
                    path: path.to_owned(),
                    message: "does not exist (a Piper voice is a .onnx file with its .onnx.json beside it)".into(),
                });
            }
            Err(e) => {
                return Err(TtsError::VoiceConfig {
                    path: path.to_owned(),
                    message: format!("cannot read it: {e}"),
                });
            }
        };
        VoiceConfig::parse(&text, path)
    }

    /// Parses and checks a voice config; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<VoiceConfig, TtsError> {
        let bad = |message: String| TtsError::VoiceConfig {
            path: path.to_owned(),
            message,
        };
        let missing = |field: &str| bad(format!("missing `{field}`; is this a Piper voice config?"));
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| bad(format!("not valid voice JSON: {e}")))?;
        let sample_rate = raw
            .audio
            .and_then(|a| a.sample_rate)
            .ok_or_else(|| missing("audio.sample_rate"))?;
        if !(4000..=192_000).contains(&sample_rate) {
            return Err(bad(format!("audio.sample_rate {sample_rate} is not a plausible rate")));
        }
        let espeak_voice = raw
            .espeak
            .and_then(|e| e.voice)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing("espeak.voice"))?;
        if let Some(kind) = raw.phoneme_type.as_deref().filter(|k| *k != "espeak") {
            return Err(bad(format!(
                "phoneme_type `{kind}` is not supported; voxdeck phonemizes with espeak-ng only"
            )));
        }
        let raw_map = raw.phoneme_id_map.ok_or_else(|| missing("phoneme_id_map"))?;
        let mut phoneme_id_map = HashMap::with_capacity(raw_map.len());
        for (phoneme, ids) in raw_map {
            if ids.is_empty() {
                return Err(bad(format!("phoneme_id_map: `{phoneme}` maps to no ids")));
            }
            if let Some(&id) = ids
                .iter()
                .find(|&&id| id < 0 || raw.num_symbols.is_some_and(|n| id >= i64::from(n)))
            {
                return Err(bad(format!(
                    "phoneme_id_map: `{phoneme}` maps to id {id}, outside the model's symbols"
                )));
            }
            let mut chars = phoneme.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                phoneme_id_map.insert(c, ids);
            }
        }
        let special = |c: char, what: &str| {
            phoneme_id_map
                .get(&c)
                .cloned()
                .ok_or_else(|| bad(format!("phoneme_id_map has no `{c}` ({what})")))
        };
        let bos = special('^', "start of sentence")?;
        let pad = special('_', "padding")?;
        let eos = special('$', "end of sentence")?;
        let scale = |value: Option<f32>, default: f32, name: &str| match value {
            None => Ok(default),
            Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
            Some(v) => Err(bad(format!("inference.{name} is {v}, must be >= 0"))),
        };
        let length_scale = scale(raw.inference.length_scale, 1.0, "length_scale")?;
        if length_scale == 0.0 {
            return Err(bad("inference.length_scale must be > 0".into()));
        }
        Ok(VoiceConfig {
            sample_rate,
            espeak_voice,
            noise_scale: scale(raw.inference.noise_scale, 0.667, "noise_scale")?,
            length_scale,
            noise_w: scale(raw.inference.noise_w, 0.8, "noise_w")?,
            num_speakers: raw.num_speakers.unwrap_or(1).max(1),
            phoneme_id_map,
            bos,
            pad,
            eos,
        })
    }

    /// One sentence's phonemes as model input: `^ _ (phoneme _)* $`. Phonemes the voice does
    /// not know are skipped (and returned), as Piper does.
    pub fn phoneme_ids(&self, phonemes: &[char]) -> (Vec<i64>, Vec<char>) {
        let mut ids = Vec::with_capacity(2 * phonemes.len() + 3);
        let mut unknown = Vec::new();
        ids.extend_from_slice(&self.bos);
        ids.extend_from_slice(&self.pad);
        for p in phonemes {
            match self.phoneme_id_map.get(p) {
                Some(p_ids) => {
                    ids.extend_from_slice(p_ids);
                    ids.extend_from_slice(&self.pad);
                }
                None => unknown.push(*p),
            }
        }
        ids.extend_from_slice(&self.eos);
        (ids, unknown)
    }
}

/// The process's ONNX Runtime: the library can be loaded once, and `ort` allows one environment.
static ORT: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

/// Loads ONNX Runtime from `library` (once per process) and returns its environment.
fn ort_environment(library: &Path) -> Result<ort::environment::Environment, TtsError> {
    // `ort` resolves relative paths against the executable's directory; voxdeck means the
    // working directory, as everywhere else.
    let absolute = std::path::absolute(library).unwrap_or_else(|_| library.to_owned());
    let load_err = |detail: String| TtsError::OnnxRuntimeLoad {
        path: absolute.clone(),
        detail,
    };
    // A truncated or foreign library would crash the process inside the loader (SIGBUS); one
    // named while another is loaded is checked too, so the broken file is reported either way.
    library_file::check(&absolute).map_err(|e| load_err(e.to_string()))?;
    let mut slot = ORT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((loaded, env)) = slot.as_ref() {
        if *loaded != absolute {
            tracing::warn!(
                "ONNX Runtime is already loaded from {}; {} is not loaded (one per process)",
                loaded.display(),
                library.display()
            );
        }
        return Ok(env.clone());
    }
    let env = ort::init_from(&absolute)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("voxdeck")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    tracing::debug!("ONNX Runtime loaded from {}", absolute.display());
    *slot = Some((absolute, env.clone()));
    Ok(env)
}

/// A Piper voice, loaded and ready.
pub struct PiperSynthesizer {
    name: String,
    onnx: PathBuf,
    config: VoiceConfig,
    /// `Session::run` needs `&mut`: one inference at a time per voice.
    session: Mutex<Session>,
    /// The model takes a speaker id (multi-speaker voices); speaker 0 is used.
    speaker_input: bool,
    /// noise_scale, length_scale, noise_w.
    scales: [f32; 3],
    /// Trim each sentence's leading silence ([`lead_in`], `tts.trim_leading_silence`).
    trim: bool,
}

impl std::fmt::Debug for PiperSynthesizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperSynthesizer")
            .field("name", &self.name)
            .field("onnx", &self.onnx)
            .field("scales", &self.scales)
            .finish_non_exhaustive()
    }
}

impl PiperSynthesizer {
    /// Loads `voice` on the ONNX Runtime at `onnxruntime`, with `[tts]`'s rate, noise scales
    /// (absent: the voice's own), threads and session settings. ONNX Runtime already applies all
    /// graph optimizations by default and runs Piper's single-stream graph sequentially (no
    /// inter-op threads), so spinning and subnormals are the settings left to choose.
    pub fn load(voice: &VoiceFiles, tts: &TtsConfig, onnxruntime: &Path) -> Result<PiperSynthesizer, TtsError> {
        if !voice.onnx.is_file() {
            return Err(TtsError::VoiceFileMissing {
                path: voice.onnx.clone(),
            });
        }
        let config = VoiceConfig::load(&voice.config)?;
        if !onnxruntime.is_file() {
            return Err(TtsError::OnnxRuntimeMissing {
                detail: format!("{} does not exist", onnxruntime.display()),
                install: "Install it with `voxdeck models fetch --test-set`, or point `tts.onnxruntime` or \
                          ORT_DYLIB_PATH at a libonnxruntime.so 1.31 or newer"
                    .into(),
            });
        }
        let env = ort_environment(onnxruntime)?;
        let model_err = |detail: String| TtsError::VoiceModel {
            path: voice.onnx.clone(),
            detail,
        };
        let mut builder = Session::builder(&env).map_err(|e| model_err(e.to_string()))?;
        if tts.threads > 0 {
            builder = builder
                .with_intra_threads(tts.threads as usize)
                .map_err(|e| model_err(e.to_string()))?;
        }
        builder = builder.with_intra_op_spinning(tts.spin_threads).map_err(|e| model_err(e.to_string()))?;
        if tts.denormal_as_zero {
            builder = builder.with_flush_to_zero().map_err(|e| model_err(e.to_string()))?;
        }
        let session = builder
            .commit_from_file(&voice.onnx)
            .map_err(|e| model_err(e.to_string()))?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if !["input", "input_lengths", "scales"].iter().all(|n| inputs.contains(n)) {
            return Err(model_err(format!(
                "not a Piper voice: its inputs are {inputs:?}, expected input, input_lengths, scales"
            )));
        }
        let speaker_input = inputs.contains(&"sid");
        let rate = if tts.rate.is_finite() && tts.rate > 0.0 {
            tts.rate
        } else {
            1.0
        };
        let scales = [
            tts.noise_scale.unwrap_or(config.noise_scale),
            config.length_scale / rate,
            tts.noise_w.unwrap_or(config.noise_w),
        ];
        Ok(PiperSynthesizer {
            name: voice.name.clone(),
            onnx: voice.onnx.clone(),
            config,
            session: Mutex::new(session),
            speaker_input,
            scales,
            trim: tts.trim_leading_silence,
        })
    }

    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// The model file.
    pub fn model_path(&self) -> &Path {
        &self.onnx
    }

    /// noise_scale, length_scale (the voice's, divided by the rate) and noise_w in use.
    pub fn scales(&self) -> [f32; 3] {
        self.scales
    }

    /// The model input for each sentence of `text` (empty when there is nothing to say).
    pub fn phoneme_ids(&self, text: &str) -> Result<Vec<Vec<i64>>, TtsError> {
        let sentences = phonemize::phonemize(text, &self.config.espeak_voice)?;
        Ok(sentences
            .iter()
            .map(|phonemes| {
                let (ids, unknown) = self.config.phoneme_ids(phonemes);
                if !unknown.is_empty() {
                    tracing::warn!("{}: phonemes not in the voice, skipped: {unknown:?}", self.name);
                }
                ids
            })
            .collect())
    }

    /// Runs the model on one sentence's ids; raw f32 audio at the voice's rate.
    pub fn infer(&self, ids: &[i64]) -> Result<Vec<f32>, TtsError> {
        let err = |e: ort::Error| TtsError::Inference { detail: e.to_string() };
        let n = ids.len();
        let input = Tensor::from_array(([1usize, n], ids.to_vec())).map_err(err)?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(err)?;
        let scales = Tensor::from_array(([3usize], self.scales.to_vec())).map_err(err)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = if self.speaker_input {
            let sid = Tensor::from_array(([1usize], vec![0i64])).map_err(err)?;
            session.run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales, "sid" => sid])
        } else {
            session.run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales])
        }
        .map_err(err)?;
        let (_, audio) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        Ok(audio.to_vec())
    }
}

/// Scales a sentence to full range (peak 1.0), as Piper does, and clips.
fn normalize(audio: &mut [f32]) {
    let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak < 1e-8 {
        audio.iter_mut().for_each(|s| *s = 0.0);
        return;
    }
    for s in audio.iter_mut() {
        *s = (*s / peak).clamp(-1.0, 1.0);
    }
}

impl SpeechSynthesizer for PiperSynthesizer {
    fn engine(&self) -> Engine {
        Engine::Piper
    }

    fn voice_name(&self) -> &str {
        &self.name
    }

    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    fn synthesize_sentences(
        &self,
        text: &str,
        on_sentence: &mut dyn FnMut(AudioBuffer) -> bool,
    ) -> Result<usize, TtsError> {
        let sentences = self.phoneme_ids(text)?;
        let mut delivered = 0;
        for ids in sentences {
            let mut samples = self.infer(&ids)?;
            normalize(&mut samples);
            if self.trim {
                lead_in::trim_leading_silence(&mut samples, self.config.sample_rate);
            }
            delivered += 1;
            if !on_sentence(AudioBuffer::mono(samples, self.config.sample_rate)) {
                break;
            }
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "audio": {"sample_rate": 22050},
        "espeak": {"voice": "en-us"},
        "inference": {"noise_scale": 0.5, "length_scale": 1.1, "noise_w": 0.7},
        "num_symbols": 10, "num_speakers": 1,
        "phoneme_id_map": {"_": [0], "^": [1], "$": [2], " ": [3], "a": [4], "b": [5, 6], "aɪ": [7]}
    }"#;

    fn parse(text: &str) -> Result<VoiceConfig, TtsError> {
        VoiceConfig::parse(text, Path::new("v.onnx.json"))
    }

    #[test]
    fn config_parses_and_lays_out_ids() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!((c.sample_rate, c.espeak_voice.as_str()), (22050, "en-us"));
        assert_eq!((c.noise_scale, c.length_scale, c.noise_w), (0.5, 1.1, 0.7));
        let (ids, unknown) = c.phoneme_ids(&['a', ' ', 'b', 'z']);
        assert_eq!(ids, [1, 0, 4, 0, 3, 0, 5, 6, 0, 2]);
        assert_eq!(unknown, ['z']);
        assert_eq!(c.phoneme_ids(&[]).0, [1, 0, 2]);
    }

    #[test]
    fn config_defaults_inference() {
        let c = parse(r#"{"audio": {"sample_rate": 16000}, "espeak": {"voice": "de"}, "phoneme_id_map": {"_": [0], "^": [1], "$": [2]}}"#).unwrap();
        assert_eq!(
            (c.noise_scale, c.length_scale, c.noise_w, c.num_speakers),
            (0.667, 1.0, 0.8, 1)
        );
    }

    #[test]
    fn config_errors_name_the_field() {
        let cases = [
            (
                r#"{"espeak": {"voice": "en-us"}, "phoneme_id_map": {}}"#,
                "audio.sample_rate",
            ),
            (
                r#"{"audio": {"sample_rate": 22050}, "phoneme_id_map": {}}"#,
                "espeak.voice",
            ),
            (
                r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}}"#,
                "phoneme_id_map",
            ),
            (
                r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}, "phoneme_id_map": {"_": [0], "$": [2]}}"#,
                "`^`",
            ),
            (
                r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}, "phoneme_type": "pinyin", "phoneme_id_map": {}}"#,
                "pinyin",
            ),
            (
                r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}, "num_symbols": 2, "phoneme_id_map": {"_": [0], "^": [1], "$": [2]}}"#,
                "id 2",
            ),
            ("{not json", "not valid voice JSON"),
        ];
        for (text, needle) in cases {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.contains(needle), "{needle}: {msg}");
            assert!(msg.contains("v.onnx.json"), "{msg}");
        }
    }

    #[test]
    fn normalize_peaks_at_one() {
        let mut a = [0.1, -0.5, 0.25];
        normalize(&mut a);
        assert_eq!(a, [0.2, -1.0, 0.5]);
        let mut silent = [0.0, 1e-9];
        normalize(&mut silent);
        assert_eq!(silent, [0.0, 0.0]);
    }
}
