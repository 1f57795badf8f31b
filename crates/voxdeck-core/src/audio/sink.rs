//! Audio sinks: where synthesized speech goes, a speaker ([`super::Player`]) or a WAV file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hound::{SampleFormat, WavSpec, WavWriter};

use super::level::first_audible;
use super::resample::to_mono;
use super::wav::f32_to_i16;
use super::{AudioBuffer, AudioError};
use crate::sync::lock;

/// When a written buffer's first audible sample (above
/// [`super::level::AUDIBLE_DBFS`]) reaches the listener. A file knows at once (the write time
/// plus the buffer's leading silence); a speaker learns it later, on its output callback, which
/// sets it without blocking (a `OnceLock` only it writes). A buffer dropped by
/// [`AudioSink::stop`] before it was heard never sets it, so a barge-in leaves no stale time: each
/// write has its own handle and the turn that wrote it keeps it. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Heard(Option<Arc<OnceLock<Instant>>>);

impl Heard {
    /// A buffer with nothing audible in it: it will never be heard.
    pub fn never() -> Heard {
        Heard(None)
    }

    /// Heard at `at` (already known).
    pub fn at(at: Instant) -> Heard {
        let slot = OnceLock::new();
        let _ = slot.set(at);
        Heard(Some(Arc::new(slot)))
    }

    /// Not heard yet; [`Heard::set`] tells when.
    pub fn pending() -> Heard {
        Heard(Some(Arc::new(OnceLock::new())))
    }

    /// Records the moment it was heard; the first call wins. Never blocks when one thread sets.
    pub fn set(&self, at: Instant) {
        if let Some(slot) = &self.0 {
            let _ = slot.set(at);
        }
    }

    /// When it was heard, if it has been.
    pub fn get(&self) -> Option<Instant> {
        self.0.as_ref().and_then(|s| s.get().copied())
    }

    /// Whether the buffer has anything audible (so it is, or may yet be, heard).
    pub fn audible(&self) -> bool {
        self.0.is_some()
    }
}

/// Something that takes audio in order: a speaker queue, a WAV file. Shared between the thread
/// that produces speech and the one that interrupts it, hence `&self` and `Sync`.
pub trait AudioSink: Send + Sync {
    /// Queues (or writes) a buffer after the ones before it. Returns when its first audible
    /// sample is (or will be) heard.
    fn write(&self, buf: AudioBuffer) -> Result<Heard, AudioError>;
    /// Drops whatever is queued and not yet heard (barge-in). Later writes play normally.
    fn stop(&self);
    /// Blocks until everything written has been played (or is safely in the file).
    fn finish(&self) -> Result<(), AudioError>;
    /// Whether queued audio is still playing.
    fn is_playing(&self) -> bool;
    /// Seconds of written audio not yet heard (queued or in the device's block). A file hears
    /// everything at once: 0. Barge-in uses it to know how much of an answer was spoken.
    fn pending_s(&self) -> f64 {
        0.0
    }
}

/// Writes everything it is given to one 16-bit PCM WAV file. The file's rate and channel count
/// are the first buffer's (or set with [`WavSink::with_format`]); later buffers in another format
/// are converted (downmixed and resampled). The header is kept valid after each
/// [`AudioSink::finish`] and on drop.
pub struct WavSink {
    path: PathBuf,
    format: Option<(u32, u16)>,
    writer: Mutex<Option<WavWriter<BufWriter<File>>>>,
}

impl WavSink {
    /// A sink that creates `path` on the first write.
    pub fn create(path: &Path) -> WavSink {
        WavSink {
            path: path.to_owned(),
            format: None,
            writer: Mutex::new(None),
        }
    }

    /// Fixes the file's rate and channel count instead of taking the first buffer's.
    pub fn with_format(mut self, sample_rate: u32, channels: u16) -> WavSink {
        self.format = Some((sample_rate, channels));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finalizes the file now (also done on drop).
    pub fn close(&self) -> Result<(), AudioError> {
        let mut guard = lock(&self.writer);
        if let Some(w) = guard.take() {
            w.finalize().map_err(|e| self.write_err(e))?;
        }
        Ok(())
    }

    fn write_err(&self, e: hound::Error) -> AudioError {
        AudioError::Write {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }
}

impl AudioSink for WavSink {
    /// Heard at the write time plus the buffer's leading silence: a file plays from where it
    /// was written, so its listener hears the first audible sample that much later.
    fn write(&self, buf: AudioBuffer) -> Result<Heard, AudioError> {
        buf.validate()?;
        let lead_s = first_audible(&buf.samples).map(|i| (i / usize::from(buf.channels)) as f64 / f64::from(buf.sample_rate));
        let mut guard = lock(&self.writer);
        if guard.is_none() {
            let (sample_rate, channels) = self.format.unwrap_or((buf.sample_rate, buf.channels));
            let spec = WavSpec {
                channels,
                sample_rate,
                bits_per_sample: 16,
                sample_format: SampleFormat::Int,
            };
            *guard = Some(WavWriter::create(&self.path, spec).map_err(|e| self.write_err(e))?);
        }
        let Some(writer) = guard.as_mut() else {
            return Err(AudioError::Write {
                path: self.path.clone(),
                message: "the file is not open".into(),
            });
        };
        let spec = writer.spec();
        let converted;
        let samples: &[f32] = if buf.sample_rate == spec.sample_rate && buf.channels == spec.channels {
            &buf.samples
        } else {
            let mono = to_mono(&buf, spec.sample_rate)?;
            converted = if spec.channels == 1 {
                mono
            } else {
                mono.iter()
                    .flat_map(|&s| std::iter::repeat_n(s, usize::from(spec.channels)))
                    .collect()
            };
            &converted
        };
        for &s in samples {
            writer.write_sample(f32_to_i16(s)).map_err(|e| self.write_err(e))?;
        }
        Ok(lead_s.map_or_else(Heard::never, |s| Heard::at(Instant::now() + Duration::from_secs_f64(s))))
    }

    /// Nothing to take back from a file: what was written stays.
    fn stop(&self) {}

    fn finish(&self) -> Result<(), AudioError> {
        let mut guard = lock(&self.writer);
        if let Some(w) = guard.as_mut() {
            w.flush().map_err(|e| self.write_err(e))?;
        }
        Ok(())
    }

    fn is_playing(&self) -> bool {
        false
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::read_wav;

    #[test]
    fn writes_buffers_in_order_converting_later_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let sink = WavSink::create(&path);
        sink.write(AudioBuffer::mono(vec![0.25; 1600], 16_000)).unwrap();
        sink.finish().unwrap();
        // Readable (valid header) before close.
        assert_eq!(read_wav(&path).unwrap().samples.len(), 1600);
        // Stereo 32 kHz: downmixed and resampled to the file's 16 kHz mono.
        sink.write(AudioBuffer {
            samples: vec![0.5; 6400],
            sample_rate: 32_000,
            channels: 2,
        })
        .unwrap();
        sink.stop();
        assert!(!sink.is_playing());
        drop(sink);
        let back = read_wav(&path).unwrap();
        assert_eq!((back.sample_rate, back.channels), (16_000, 1));
        assert_eq!(back.samples.len(), 3200);
        assert!((back.samples[100] - 0.25).abs() < 1e-3);
        assert!((back.samples[2400] - 0.5).abs() < 1e-2);
    }

    #[test]
    fn a_file_hears_the_first_audible_sample_after_its_leading_silence() {
        let dir = tempfile::tempdir().unwrap();
        let sink = WavSink::create(&dir.path().join("h.wav"));
        // 100 ms below -40 dBFS (a hiss at -46 dBFS), then speech.
        let mut samples = vec![0.005f32; 1600];
        samples.extend(vec![0.3f32; 800]);
        let before = Instant::now();
        let heard = sink.write(AudioBuffer::mono(samples, 16_000)).unwrap();
        let after = Instant::now();
        let at = heard.get().expect("a file knows at once");
        assert!(at >= before + Duration::from_millis(100) && at <= after + Duration::from_millis(100), "{:?}", at - before);
        // Stereo 8 kHz: 0.1 s of silence is 800 frames, 1600 samples.
        let mut samples = vec![0.0f32; 1600];
        samples.extend(vec![0.3f32; 100]);
        let t0 = Instant::now();
        let heard = sink.write(AudioBuffer { samples, sample_rate: 8_000, channels: 2 }).unwrap();
        let lead = heard.get().unwrap() - t0;
        assert!(lead >= Duration::from_millis(100) && lead < Duration::from_millis(200), "{lead:?}");
        // Nothing audible: never heard.
        let heard = sink.write(AudioBuffer::mono(vec![0.001; 800], 16_000)).unwrap();
        assert!(!heard.audible() && heard.get().is_none());
    }

    #[test]
    fn bad_buffer_and_bad_path_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let sink = WavSink::create(&dir.path().join("a.wav")).with_format(22_050, 1);
        assert!(sink.write(AudioBuffer::mono(vec![0.0], 0)).is_err());
        let sink = WavSink::create(&dir.path().join("missing/dir/b.wav"));
        let err = sink.write(AudioBuffer::mono(vec![0.0], 16_000)).unwrap_err();
        assert!(err.to_string().contains("b.wav"), "{err}");
    }
}
