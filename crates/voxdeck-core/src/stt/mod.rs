//! Speech to text: Whisper in its own worker process (`voxdeck-stt`), supervised.
//!
//! whisper.cpp and llama.cpp each link their own, incompatible ggml, so Whisper never runs in
//! the engine's process: [`Stt`] spawns the worker binary, loads the model once, keeps it warm,
//! restarts it when it dies and stops it when it hangs (see [`worker`]). Audio travels as raw
//! 16 kHz mono f32 over a pipe and comes back as JSON (the `voxdeck_stt` protocol).
//!
//! Long input is cut into windows of at most 30 s at quiet points ([`gate::plan_windows`]), and
//! files are streamed (decoded, downmixed and resampled chunk by chunk), so memory stays bounded
//! whatever the length. Windows whose level never rises above the energy gate are not sent:
//! silence gives an empty transcript without asking Whisper, and Whisper's own no-speech
//! probability drops what the gate lets through.

pub mod gate;
pub mod wer;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
pub use voxdeck_stt::{DecodeOptions, ErrorKind, ModelInfo, PROTOCOL_VERSION, ProtocolError, SAMPLE_RATE, WorkerInfo};

use crate::audio::{AudioBuffer, AudioError, StreamResampler, WavStream, resample::downmix_into, to_mono};
use crate::config::{Config, SttConfig};
use crate::models::{Catalog, CatalogError, ModelKind, ResolvedModel};
use crate::sysmon::family;
use crate::sysmon::load_watch::LoadWatch;
pub use gate::EnergyGate;
pub use worker::{StartTimings, WhisperWorker, WindowResult, WorkerOptions, find_worker};

/// Longest window sent to the worker: Whisper's 30 s.
pub const WINDOW_SAMPLES: usize = 30 * SAMPLE_RATE as usize;
/// Audio kept before the first active frame of a window (300 ms).
const LEAD_IN_SAMPLES: usize = SAMPLE_RATE as usize * 3 / 10;
/// Cuts between windows are searched for in the last this-many samples of a window (10 s).
pub const CUT_SEARCH_SAMPLES: usize = 10 * SAMPLE_RATE as usize;

/// Errors of speech to text. Each names what failed and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
pub enum SttError {
    #[error(
        "no Whisper model is installed in {}; run `voxdeck models fetch --test-set` (Whisper tiny.en) \
         or `voxdeck models fetch whisper-base.en`",
        .dir.display()
    )]
    NoModelInstalled { dir: PathBuf },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("Whisper model {} does not exist", .path.display())]
    ModelMissing { path: PathBuf },
    #[error("Whisper model {} is corrupt or not a whisper.cpp model: {detail}", .path.display())]
    ModelCorrupt { path: PathBuf, detail: String },
    #[error(
        "the Whisper worker `voxdeck-stt` was not found; looked for {}. It is built with \
         `cargo build --release --workspace --bins` and installed next to `voxdeck`; or set `stt.worker` \
         in the config",
        list_paths(.looked)
    )]
    WorkerMissing { looked: Vec<PathBuf> },
    #[error("cannot start the Whisper worker {}: {source}", .path.display())]
    WorkerSpawn { path: PathBuf, source: std::io::Error },
    #[error(
        "the Whisper worker died during {during} ({status}); the next request starts a new one. \
         Its last output: {stderr}"
    )]
    WorkerDied {
        during: &'static str,
        status: String,
        stderr: String,
    },
    #[error(
        "the Whisper worker did not answer {during} within {secs:.0} s and was stopped; the next request \
         starts a new one (raise `stt.timeout_s` on a slow machine)"
    )]
    WorkerTimeout { during: &'static str, secs: f64 },
    #[error(
        "the Whisper worker {} speaks protocol version {found} but this voxdeck speaks {expected}; \
         rebuild both from the same source",
        .path.display()
    )]
    WorkerVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("the Whisper worker reported: {kind}: {message}")]
    Worker { kind: ErrorKind, message: String },
    #[error(transparent)]
    Protocol(ProtocolError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("{} holds no audio", .path.display())]
    EmptyAudio { path: PathBuf },
    #[error("bad audio: {0}")]
    BadAudio(String),
}

fn list_paths(paths: &[PathBuf]) -> String {
    const SHOWN: usize = 6;
    if paths.is_empty() {
        return "(nowhere: no executable directory and no PATH)".to_owned();
    }
    let mut shown: Vec<String> = paths.iter().take(SHOWN).map(|p| p.display().to_string()).collect();
    if paths.len() > SHOWN {
        shown.push(format!("and {} more PATH entries", paths.len() - SHOWN));
    }
    shown.join(", ")
}

/// One stretch of recognised speech; times in seconds from the start of the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// Whisper's probability that the window holding this segment has no speech.
    pub no_speech_prob: f32,
}

/// Where the time went, in milliseconds (seconds where named `_s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Seconds of audio transcribed.
    pub audio_s: f64,
    /// Wall time of the whole call (reading and resampling a file included).
    pub total_ms: f64,
    /// Worker spawn + model load paid during this call (a restart); 0 when the worker was warm.
    pub load_ms: f64,
    /// The worker's log-mel, encoder and decoder time, summed over windows.
    pub mel_ms: f64,
    pub encode_ms: f64,
    pub decode_ms: f64,
    /// The worker's processing time, summed over windows.
    pub worker_ms: f64,
    /// Engine-measured round trips minus the worker's time: framing, pipes, JSON.
    pub ipc_ms: f64,
    /// Windows sent to the worker, and windows the energy gate kept back as silence.
    pub windows: u32,
    pub skipped_windows: u32,
    /// Compute threads Whisper was asked to use (fewer than configured when other work held
    /// cores).
    pub threads: u32,
    /// `total_ms / 1000 / audio_s`: below 1 is faster than real time.
    pub rtf: f64,
}

/// A transcription.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Transcript {
    /// The segments' text joined with spaces; empty for silence and noise.
    pub text: String,
    pub segments: Vec<Segment>,
    pub timings: Timings,
}

/// Everything needed to start speech to text.
#[derive(Debug, Clone, PartialEq)]
pub struct SttOptions {
    /// The worker binary ([`find_worker`]).
    pub worker: PathBuf,
    /// The ggml model file.
    pub model: PathBuf,
    /// A name for reports (the catalog name, or the file stem).
    pub model_name: String,
    pub decode: DecodeOptions,
    /// Energy gate threshold in dBFS ([`EnergyGate`]).
    pub energy_gate_dbfs: f32,
    /// Longest wait for the model load and for each 30 s window.
    pub timeout: Duration,
    /// Ask for only the cores other work leaves free, up to `decode.threads` (`stt.threads`
    /// = 0, automatic); false = always `decode.threads`.
    pub adapt_threads: bool,
}

impl SttOptions {
    /// Options from the `[stt]` config: the model resolved in the catalog (or as a path) and
    /// the worker found next to this executable or on PATH.
    pub fn from_config(config: &Config) -> Result<SttOptions, SttError> {
        let stt = &config.stt;
        let models_dir = config.models_dir();
        let model = resolve_model(&Catalog::builtin(), &stt.model, &models_dir)?;
        let worker = find_worker(stt.worker.as_deref())?;
        Ok(SttOptions {
            worker,
            model: model.path,
            model_name: model.name,
            decode: decode_options(stt),
            energy_gate_dbfs: stt.energy_gate_dbfs,
            timeout: Duration::from_secs_f64(stt.timeout_s),
            adapt_threads: stt.threads == 0,
        })
    }
}

/// The worker's decoding options for an `[stt]` section.
pub fn decode_options(stt: &SttConfig) -> DecodeOptions {
    DecodeOptions {
        threads: if stt.threads == 0 {
            default_threads()
        } else {
            stt.threads
        },
        language: stt.language.clone(),
        beam_size: stt.beam_size,
        initial_prompt: stt.initial_prompt.clone(),
        no_speech_threshold: stt.no_speech_threshold,
        fit_audio_ctx: stt.fit_audio_ctx,
        gpu: stt.gpu,
        ..DecodeOptions::default()
    }
}

/// One per core, at most 4 (Whisper's encoder stops scaling there on small models).
fn default_threads() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4) as u32)
}

/// Resolves `spec` to a Whisper model: "" = the first installed STT model in catalog order
/// (production first), a catalog id (which must be an installed STT model), or a path to a
/// ggml file.
pub fn resolve_model(catalog: &Catalog, spec: &str, models_dir: &Path) -> Result<ResolvedModel, SttError> {
    if spec.is_empty() {
        let entry = catalog
            .entries
            .iter()
            .find(|e| e.kind == ModelKind::Stt && e.is_installed(models_dir))
            .ok_or_else(|| SttError::NoModelInstalled {
                dir: models_dir.to_owned(),
            })?;
        return Ok(ResolvedModel {
            id: Some(entry.id.clone()),
            name: entry.name.clone(),
            path: entry.main_path(models_dir),
        });
    }
    if let Some(entry) = catalog.installed_by_id(spec, ModelKind::Stt, models_dir)? {
        return Ok(ResolvedModel::from_entry(entry, models_dir));
    }
    let looks_like_path = spec.contains(std::path::MAIN_SEPARATOR) || spec.ends_with(".bin");
    if !looks_like_path {
        return Err(CatalogError::UnknownId { id: spec.to_owned() }.into());
    }
    let path = PathBuf::from(spec);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.to_owned());
    Ok(ResolvedModel { id: None, name, path })
}

/// Checks the model file before the worker is spawned: that it exists and that its header,
/// mel filters and vocabulary are sound ([`voxdeck_stt::ggml`], the check the memory estimate
/// and the worker make too), so a damaged file is refused in words before whisper.cpp sizes
/// its buffers from it.
pub fn check_model_file(path: &Path) -> Result<(), SttError> {
    match voxdeck_stt::ggml::read_header(path) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Err(SttError::ModelMissing { path: path.to_owned() }),
        Err(e) => Err(SttError::ModelCorrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Speech to text with a warm Whisper worker.
#[derive(Debug)]
pub struct Stt {
    worker: WhisperWorker,
    gate: EnergyGate,
    model_name: String,
    /// Other processes' CPU use, when threads adapt to it.
    load: Option<LoadWatch>,
}

impl Stt {
    /// Starts speech to text as `config` says (model, worker, options).
    pub fn from_config(config: &Config) -> Result<Stt, SttError> {
        Stt::start(SttOptions::from_config(config)?)
    }

    /// Checks the model file, spawns the worker and loads the model.
    pub fn start(options: SttOptions) -> Result<Stt, SttError> {
        check_model_file(&options.model)?;
        if !options.worker.is_file() {
            return Err(SttError::WorkerMissing {
                looked: vec![options.worker],
            });
        }
        let worker = WhisperWorker::start(WorkerOptions {
            exe: options.worker,
            model: options.model,
            decode: options.decode,
            timeout: options.timeout,
        })?;
        let load = if options.adapt_threads && worker.options().decode.threads > 1 {
            // voxdeck's own work is not load: its stages take turns (the answer follows the
            // transcript), and the last turn's speech must not cost the next one its threads.
            let watch = LoadWatch::spawn(|| family::members().into_iter().map(|m| m.pid).collect());
            watch.map_err(|e| tracing::warn!("Whisper's threads will not follow the load: {e}")).ok()
        } else {
            None
        };
        Ok(Stt {
            worker,
            gate: EnergyGate::new(options.energy_gate_dbfs),
            model_name: options.model_name,
            load,
        })
    }

    /// The model's display name.
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// What the worker reported about the model when it loaded it.
    pub fn model(&self) -> Option<&ModelInfo> {
        self.worker.model()
    }

    /// The supervised worker (pid, restarts, start timings, ping).
    pub fn worker(&mut self) -> &mut WhisperWorker {
        &mut self.worker
    }

    pub fn gate(&self) -> EnergyGate {
        self.gate
    }

    /// Transcribes 16 kHz mono samples in [-1, 1], in windows of at most 30 s.
    pub fn transcribe(&mut self, samples: &[f32]) -> Result<Transcript, SttError> {
        let started = Instant::now();
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(SttError::BadAudio(format!("sample {i} is not a finite number")));
        }
        let mut acc = Accumulator::default();
        acc.timings.threads = self.plan_threads();
        for range in gate::plan_windows(samples, WINDOW_SAMPLES, CUT_SEARCH_SAMPLES) {
            self.run_window(&samples[range.clone()], range.start as u64, &mut acc)?;
        }
        Ok(acc.finish(samples.len() as u64, started))
    }

    /// Transcribes audio at any rate and channel count (downmixed and resampled to 16 kHz).
    pub fn transcribe_buffer(&mut self, buffer: &AudioBuffer) -> Result<Transcript, SttError> {
        let started = Instant::now();
        let mono = to_mono(buffer, SAMPLE_RATE)?;
        let mut transcript = self.transcribe(&mono)?;
        transcript.timings.total_ms = ms(started.elapsed());
        transcript.timings.rtf = rtf(transcript.timings.total_ms, transcript.timings.audio_s);
        Ok(transcript)
    }

    /// Transcribes a WAV file (4 to 768 kHz, any channels, integer or float samples). The file is
    /// streamed: decoded, downmixed and resampled to 16 kHz chunk by chunk and sent a window at
    /// a time, so memory stays around one window whatever the file's length.
    pub fn transcribe_file(&mut self, path: &Path) -> Result<Transcript, SttError> {
        let started = Instant::now();
        let mut stream = WavStream::open(path)?;
        let (rate, channels) = (stream.sample_rate(), stream.channels());
        let mut resampler = if rate == SAMPLE_RATE {
            None
        } else {
            Some(StreamResampler::new(rate, SAMPLE_RATE)?)
        };
        let chunk_frames = 8192;
        let mut pending: Vec<f32> = Vec::with_capacity(WINDOW_SAMPLES + chunk_frames * 4);
        let mut mono = Vec::with_capacity(chunk_frames);
        let mut offset = 0u64; // absolute index of pending[0], in 16 kHz samples
        let mut acc = Accumulator::default();
        acc.timings.threads = self.plan_threads();
        loop {
            let chunk = stream.next_chunk(chunk_frames)?;
            let at_end = chunk.is_none();
            let checked = pending.len();
            match (chunk, resampler.as_mut()) {
                (Some(chunk), Some(r)) => {
                    mono.clear();
                    downmix_into(&chunk, channels, &mut mono);
                    r.process(&mono, &mut pending)?;
                }
                (Some(chunk), None) => downmix_into(&chunk, channels, &mut pending),
                (None, Some(r)) => r.flush(&mut pending)?,
                (None, None) => {}
            }
            if let Some(i) = pending[checked..].iter().position(|s| !s.is_finite()) {
                return Err(SttError::BadAudio(format!(
                    "{}: sample {} (at 16 kHz) is not a finite number",
                    path.display(),
                    offset + (checked + i) as u64
                )));
            }
            // Send every full window; keep the rest until more audio (or the end) arrives.
            while pending.len() > WINDOW_SAMPLES || (at_end && !pending.is_empty()) {
                let cut = gate::plan_windows(&pending, WINDOW_SAMPLES, CUT_SEARCH_SAMPLES)[0].end;
                self.run_window(&pending[..cut], offset, &mut acc)?;
                pending.drain(..cut);
                offset += cut as u64;
            }
            if at_end {
                break;
            }
        }
        if offset == 0 {
            return Err(SttError::EmptyAudio { path: path.to_owned() });
        }
        Ok(acc.finish(offset, started))
    }

    /// Asks the worker for the threads the machine can give now: ggml's threads wait for each
    /// other after every operation, so one that shares a core with other work stalls them all
    /// ([`LoadWatch`]).
    /// Returns the threads asked for.
    fn plan_threads(&mut self) -> u32 {
        let max = self.worker.options().decode.threads;
        let Some(load) = &self.load else { return max };
        let threads = load.threads(max);
        tracing::debug!(threads, max, busy = ?load.busy_cores(), "Whisper threads");
        self.worker.set_request_threads(threads);
        threads
    }

    /// Gates one window, and transcribes it if it may hold speech.
    fn run_window(&mut self, window: &[f32], offset: u64, acc: &mut Accumulator) -> Result<(), SttError> {
        if window.is_empty() {
            return Ok(());
        }
        if !self.gate.is_open(window) {
            acc.timings.skipped_windows += 1;
            return Ok(());
        }
        // Whisper dates speech after a long silence from the window's start; send the window
        // from just before the speech, so segment times are right.
        let skip = self.gate.leading_silence(window, LEAD_IN_SAMPLES);
        let result = self.worker.transcribe_window(&window[skip..])?;
        acc.add(&result, (offset + skip as u64) as f64 / f64::from(SAMPLE_RATE));
        Ok(())
    }
}

#[derive(Default)]
struct Accumulator {
    texts: Vec<String>,
    segments: Vec<Segment>,
    timings: Timings,
}

impl Accumulator {
    fn add(&mut self, result: &WindowResult, offset_s: f64) {
        let r = &result.response;
        if !r.text.trim().is_empty() {
            self.texts.push(r.text.trim().to_owned());
        }
        self.segments.extend(r.segments.iter().map(|s| Segment {
            start_s: offset_s + s.start_s,
            end_s: offset_s + s.end_s,
            text: s.text.trim().to_owned(),
            no_speech_prob: s.no_speech_prob,
        }));
        let t = &mut self.timings;
        t.load_ms += result.start_ms;
        t.mel_ms += r.timings.mel_ms;
        t.encode_ms += r.timings.encode_ms;
        t.decode_ms += r.timings.decode_ms;
        t.worker_ms += r.timings.total_ms;
        t.ipc_ms += result.ipc_ms();
        t.windows += 1;
    }

    fn finish(mut self, samples: u64, started: Instant) -> Transcript {
        self.timings.audio_s = samples as f64 / f64::from(SAMPLE_RATE);
        self.timings.total_ms = ms(started.elapsed());
        self.timings.rtf = rtf(self.timings.total_ms, self.timings.audio_s);
        Transcript {
            text: self.texts.join(" "),
            segments: self.segments,
            timings: self.timings,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rtf(total_ms: f64, audio_s: f64) -> f64 {
    if audio_s > 0.0 {
        total_ms / 1000.0 / audio_s
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_empty_spec_without_models_says_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_model(&Catalog::builtin(), "", dir.path()).unwrap_err();
        assert!(matches!(err, SttError::NoModelInstalled { .. }), "{err}");
        assert!(err.to_string().contains("voxdeck models fetch --test-set"), "{err}");
    }

    #[test]
    fn resolve_rejects_llms_and_unknown_ids_and_accepts_paths() {
        let catalog = Catalog::builtin();
        let dir = tempfile::tempdir().unwrap();
        let llm = &catalog.entries.iter().find(|e| e.kind == ModelKind::Llm).unwrap().id;
        let err = resolve_model(&catalog, llm, dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a stt model"), "{err}");
        assert!(matches!(
            resolve_model(&catalog, "no-such-model", dir.path()),
            Err(SttError::Catalog(CatalogError::UnknownId { .. }))
        ));
        assert!(matches!(
            resolve_model(&catalog, "whisper-base.en", dir.path()),
            Err(SttError::Catalog(CatalogError::NotInstalled { .. }))
        ));
        let path = dir.path().join("ggml-x.bin");
        let resolved = resolve_model(&catalog, path.to_str().unwrap(), dir.path()).unwrap();
        assert_eq!((resolved.name.as_str(), resolved.path), ("ggml-x", path));
    }

    #[test]
    fn model_file_checks_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.bin");
        let err = check_model_file(&missing).unwrap_err();
        assert!(matches!(err, SttError::ModelMissing { .. }));
        assert!(err.to_string().contains("missing.bin"), "{err}");
        let gguf = dir.path().join("model.gguf");
        std::fs::write(&gguf, b"GGUF\x03\x00\x00\x00").unwrap();
        let err = check_model_file(&gguf).unwrap_err();
        assert!(matches!(err, SttError::ModelCorrupt { .. }));
        assert!(err.to_string().contains("model.gguf"), "{err}");
        let short = dir.path().join("short.bin");
        std::fs::write(&short, b"lm").unwrap();
        assert!(check_model_file(&short).unwrap_err().to_string().contains("only 2 bytes"));
        // The magic alone is no longer enough: the header must be whole.
        let magic_only = dir.path().join("magic.bin");
        std::fs::write(&magic_only, b"lmgg....").unwrap();
        let err = check_model_file(&magic_only).unwrap_err().to_string();
        assert!(err.contains("magic.bin") && err.contains("truncated"), "{err}");
        let directory = check_model_file(dir.path()).unwrap_err().to_string();
        assert!(directory.contains("not a file"), "{directory}");
    }

    #[test]
    fn missing_worker_lists_where_it_looked() {
        let err = find_worker(Some(Path::new("/nonexistent/voxdeck-stt"))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/voxdeck-stt"), "{msg}");
        assert!(msg.contains("cargo build --release --workspace --bins"), "{msg}");
    }

    #[test]
    fn decode_options_follow_the_config() {
        let mut c = SttConfig {
            threads: 3,
            beam_size: 5,
            initial_prompt: "Voxdeck".into(),
            ..SttConfig::default()
        };
        let o = decode_options(&c);
        assert_eq!(
            (o.threads, o.beam_size, o.initial_prompt.as_str(), o.language.as_str()),
            (3, 5, "Voxdeck", "en")
        );
        assert!(!o.flash_attn);
        c.threads = 0;
        assert!(decode_options(&c).threads >= 1);
    }
}
