//! Audio in and out: WAV files, resampling, levels, microphone capture, speaker playback.
//!
//! - [`wav`]: read any WAV into an [`AudioBuffer`] (or stream it), write 16-bit PCM WAVs.
//! - [`resample`]: downmix and band-limited resampling (rubato), whole buffers or streaming.
//! - [`level`]: RMS and peak in dBFS.
//! - [`source`]: the [`AudioSource`] trait (16 kHz mono chunks and level updates over a
//!   channel) with [`WavSource`] and [`WavPlaylist`]; [`capture`] has the microphone source
//!   [`MicSource`] (cpal). [`open_input`] and [`open_output`] pick push-to-talk's source and
//!   sink from the configuration and the files a front end was given.
//! - [`sink`]: the [`AudioSink`] trait with [`WavSink`]; [`playback`] has the speaker
//!   [`Player`] (rodio); [`output_file`] checks a WAV file given for the answers.
//! - [`devices`]: input and output devices (names, default, supported configurations).

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod capture;
pub mod devices;
pub mod level;
pub mod output_file;
pub mod playback;
pub mod resample;
pub mod sink;
pub mod source;
pub mod wav;

pub use capture::{MicSource, OpenedStream};
pub use devices::{ConfigRange, DeviceInfo, DeviceKind, StreamFormat, find_device, list_devices};
pub use level::{DBFS_FLOOR, Level, peak_dbfs, rms_dbfs};
pub use output_file::check_output_file;
pub use playback::Player;
pub use resample::{StreamResampler, downmix, to_mono};
pub use sink::{AudioSink, Heard, WavSink};
pub use source::{AudioSource, CHUNK_SAMPLES, EndReason, SourceEvent, WavPlaylist, WavSource, collect};
pub use wav::{WavStream, read_wav, read_wav_mono, write_wav};

/// Push-to-talk's source: the WAV files given, one per press in turn (each file is the whole
/// utterance), else the configured microphone (opened at each press). Every utterance, from a
/// file or the microphone, stops at `audio.max_utterance_s`: this is the one place that rule is
/// applied to files.
pub fn open_input(files: &[PathBuf], config: &crate::config::AudioConfig) -> Box<dyn AudioSource> {
    open_input_paced(files, config, false)
}

/// [`open_input`], with the files fed at real time when `realtime` is set: as a microphone
/// would deliver them, so work done while the button is held (capture, drafts) takes as long
/// as it would live, and each file's end is its release (`press_ms` is about minus its length).
pub fn open_input_paced(files: &[PathBuf], config: &crate::config::AudioConfig, realtime: bool) -> Box<dyn AudioSource> {
    if files.is_empty() {
        return Box::new(MicSource::from_config(config));
    }
    let sources =
        files.iter().map(|path| WavSource::new(path).max_seconds(config.max_utterance_s).realtime(realtime));
    Box::new(WavPlaylist::new(sources.collect()))
}

/// Where answers are spoken: a WAV file when one is given, else the configured speaker
/// (opened now, so a machine without one says so before any model loads). The file is
/// checked now too: it may not be one of the `inputs` and must be writable
/// ([`check_output_file`]).
pub fn open_output(
    file: Option<&Path>,
    inputs: &[PathBuf],
    config: &crate::config::AudioConfig,
) -> Result<Arc<dyn AudioSink>, AudioError> {
    Ok(match file {
        Some(path) => {
            check_output_file(path, inputs)?;
            Arc::new(WavSink::create(path))
        }
        None => Arc::new(Player::from_config(config)?),
    })
}

/// The rate every [`AudioSource`] delivers and Whisper expects.
pub const CAPTURE_RATE: u32 = 16_000;

/// The sample rates audio is read and resampled at. Below 4 kHz there is no intelligible speech,
/// and resampling 1 Hz to 16 kHz makes each input sample 16000 (a 16 KB file became 2.3 hours
/// of audio and a 1 GB resampler); 768 kHz is the highest rate audio interfaces offer.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 4_000..=768_000;

/// Why `rate` is not one of [`SAMPLE_RATES`], in words; `None` when it is.
pub fn unsupported_rate(rate: u32) -> Option<String> {
    (!SAMPLE_RATES.contains(&rate)).then(|| {
        format!(
            "sample rate {rate} Hz is outside the {} to {} Hz voxdeck accepts",
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end()
        )
    })
}

/// Interleaved f32 samples in [-1, 1] at a sample rate, with a channel count.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl AudioBuffer {
    /// A mono buffer.
    pub fn mono(samples: Vec<f32>, sample_rate: u32) -> AudioBuffer {
        AudioBuffer {
            samples,
            sample_rate,
            channels: 1,
        }
    }

    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate == 0 || self.channels == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / (f64::from(self.sample_rate) * f64::from(self.channels))
    }

    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        if self.channels == 0 {
            return 0;
        }
        self.samples.len() / usize::from(self.channels)
    }

    /// Checks the buffer is usable: a non-zero rate and channel count, and whole frames.
    pub fn validate(&self) -> Result<(), AudioError> {
        if self.sample_rate == 0 {
            return Err(AudioError::InvalidBuffer("sample rate is 0".into()));
        }
        if self.channels == 0 {
            return Err(AudioError::InvalidBuffer("channel count is 0".into()));
        }
        if !self.samples.len().is_multiple_of(usize::from(self.channels)) {
            return Err(AudioError::InvalidBuffer(format!(
                "{} samples is not a whole number of {}-channel frames",
                self.samples.len(),
                self.channels
            )));
        }
        Ok(())
    }
}

/// Everything that can go wrong in audio I/O. File errors name the file; device errors name the
/// device and, where it helps, the devices that do exist.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error(
        "{} is the same file as the input {}: the first answer would overwrite the question; write the answers to another file",
        output.display(),
        input.display()
    )]
    OutputIsInput { output: PathBuf, input: PathBuf },
    #[error("{} is not a WAV file ({reason})", path.display())]
    NotWav { path: PathBuf, reason: String },
    #[error("{} is an empty WAV file (no samples)", path.display())]
    EmptyWav { path: PathBuf },
    #[error("{}: unsupported WAV format: {reason}", path.display())]
    UnsupportedWav { path: PathBuf, reason: String },
    #[error("invalid audio buffer: {0}")]
    InvalidBuffer(String),
    #[error("resampling from {from} Hz to {to} Hz failed: {message}")]
    Resample { from: u32, to: u32, message: String },
    #[error("no {kind} device named {name:?}; available: {}", list_or_none(available))]
    NoSuchDevice {
        kind: DeviceKind,
        name: String,
        available: Vec<String>,
    },
    #[error("no default {kind} device (is a sound card or sound server available?)")]
    NoDefaultDevice { kind: DeviceKind },
    #[error("audio backend: {0}")]
    Backend(String),
    #[error("{kind} device {device:?}: {message}")]
    Device {
        kind: DeviceKind,
        device: String,
        message: String,
    },
    #[error("audio source already started")]
    AlreadyStarted,
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
    }
}
