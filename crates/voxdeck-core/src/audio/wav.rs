//! WAV files: read any PCM or float WAV, write 16-bit PCM.
//!
//! Reading accepts integer samples of 8, 16, 24 and 32 bits (and other widths hound knows) and
//! 32-bit float, any channel count and any rate in [`super::SAMPLE_RATES`] (the one place every
//! file read by voxdeck is checked); samples come back as f32 in [-1, 1]. A file
//! cut short (a recording that was interrupted) keeps the whole frames that were read, with a
//! warning; anything else wrong is an error that names the file.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader, WavSpec};

use super::resample::{StreamResampler, downmix_into};
use super::{AudioBuffer, AudioError};

/// Frames read per chunk when streaming.
const STREAM_CHUNK_FRAMES: usize = 8192;

/// Reads a whole WAV file into interleaved f32 samples at the file's rate and channel count.
pub fn read_wav(path: &Path) -> Result<AudioBuffer, AudioError> {
    let mut stream = WavStream::open(path)?;
    let mut samples = Vec::with_capacity(stream.samples_hint());
    while let Some(chunk) = stream.next_chunk(STREAM_CHUNK_FRAMES)? {
        samples.extend_from_slice(&chunk);
    }
    if samples.is_empty() {
        return Err(AudioError::EmptyWav { path: path.to_owned() });
    }
    Ok(AudioBuffer {
        samples,
        sample_rate: stream.sample_rate(),
        channels: stream.channels(),
    })
}

/// Reads a WAV file as mono at `target_rate`, streaming: the file is downmixed and resampled
/// chunk by chunk, so memory is the output plus a few small buffers (a 10-minute 44.1 kHz
/// stereo file never exists as one f32 buffer).
pub fn read_wav_mono(path: &Path, target_rate: u32) -> Result<Vec<f32>, AudioError> {
    let mut stream = WavStream::open(path)?;
    let rate = stream.sample_rate();
    let channels = stream.channels();
    let frames_hint = stream.samples_hint() / usize::from(channels);
    let expected = (frames_hint as f64 * f64::from(target_rate) / f64::from(rate)).ceil() as usize;
    let mut out = Vec::with_capacity(expected + 16);
    let mut mono = Vec::with_capacity(STREAM_CHUNK_FRAMES);
    let mut resampler = if rate == target_rate {
        None
    } else {
        Some(StreamResampler::new(rate, target_rate)?)
    };
    let mut any = false;
    while let Some(chunk) = stream.next_chunk(STREAM_CHUNK_FRAMES)? {
        any = true;
        mono.clear();
        downmix_into(&chunk, channels, &mut mono);
        match resampler.as_mut() {
            Some(r) => r.process(&mono, &mut out)?,
            None => out.extend_from_slice(&mono),
        }
    }
    if !any {
        return Err(AudioError::EmptyWav { path: path.to_owned() });
    }
    if let Some(r) = resampler.as_mut() {
        r.flush(&mut out)?;
    }
    Ok(out)
}

/// Writes a buffer as a 16-bit PCM WAV at its rate and channel count; samples outside [-1, 1]
/// are clamped.
pub fn write_wav(path: &Path, buf: &AudioBuffer) -> Result<(), AudioError> {
    buf.validate()?;
    let write_err = |e: hound::Error| AudioError::Write {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let spec = WavSpec {
        channels: buf.channels,
        sample_rate: buf.sample_rate,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(write_err)?;
    {
        let mut w16 = writer.get_i16_writer(buf.samples.len() as u32);
        for &s in &buf.samples {
            w16.write_sample(f32_to_i16(s));
        }
        w16.flush().map_err(write_err)?;
    }
    writer.finalize().map_err(write_err)
}

/// f32 in [-1, 1] to i16, clamped and rounded (NaN becomes 0).
pub fn f32_to_i16(s: f32) -> i16 {
    if s.is_nan() {
        return 0;
    }
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// An open WAV file read in chunks of interleaved f32 frames.
pub struct WavStream {
    path: PathBuf,
    reader: WavReader<BufReader<File>>,
    spec: WavSpec,
    /// Samples left to read according to the header.
    remaining: usize,
    /// Set once the file ended early or the header's count was reached.
    done: bool,
    /// The file's size in bytes.
    file_len: u64,
}

impl WavStream {
    /// Opens a WAV file and checks its format; the samples are read by [`WavStream::next_chunk`].
    pub fn open(path: &Path) -> Result<WavStream, AudioError> {
        // Open the file ourselves first, so a missing or unreadable file is a plain I/O error.
        let file = File::open(path).map_err(|source| AudioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let reader = WavReader::new(BufReader::new(file)).map_err(|e| wav_error(path, e))?;
        let spec = reader.spec();
        if spec.channels == 0 {
            return Err(AudioError::UnsupportedWav {
                path: path.to_owned(),
                reason: "zero channels".into(),
            });
        }
        if let Some(why) = super::unsupported_rate(spec.sample_rate) {
            return Err(AudioError::UnsupportedWav {
                path: path.to_owned(),
                reason: format!("{why} (resample it first, e.g. `sox IN.wav -r 16000 OUT.wav`)"),
            });
        }
        match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Float, 32) | (SampleFormat::Int, 1..=32) => {}
            (format, bits) => {
                return Err(AudioError::UnsupportedWav {
                    path: path.to_owned(),
                    reason: format!("{bits}-bit {format:?} samples"),
                });
            }
        }
        let remaining = reader.len() as usize;
        if remaining == 0 {
            return Err(AudioError::EmptyWav { path: path.to_owned() });
        }
        tracing::debug!(
            path = %path.display(),
            rate = spec.sample_rate,
            channels = spec.channels,
            bits = spec.bits_per_sample,
            format = ?spec.sample_format,
            samples = remaining,
            "opened WAV"
        );
        Ok(WavStream {
            path: path.to_owned(),
            reader,
            spec,
            remaining,
            done: false,
            file_len,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.spec.sample_rate
    }

    pub fn channels(&self) -> u16 {
        self.spec.channels
    }

    /// The header's sample count (all channels).
    pub fn total_samples(&self) -> usize {
        self.reader.len() as usize
    }

    /// A safe capacity for the samples: the header's count, but no more than the file can hold
    /// (a streamed WAV's header may claim 4 G samples).
    pub fn samples_hint(&self) -> usize {
        let bytes = u64::from(self.spec.bits_per_sample.div_ceil(8).max(1));
        self.total_samples().min((self.file_len / bytes) as usize)
    }

    /// The header's frame count.
    pub fn total_frames(&self) -> usize {
        self.total_samples() / usize::from(self.spec.channels)
    }

    /// The header's duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.total_frames() as f64 / f64::from(self.spec.sample_rate)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next up to `max_frames` frames, interleaved; `None` at the end. A file cut short ends
    /// at its last whole frame.
    pub fn next_chunk(&mut self, max_frames: usize) -> Result<Option<Vec<f32>>, AudioError> {
        if self.done || self.remaining == 0 {
            return Ok(None);
        }
        let channels = usize::from(self.spec.channels);
        let want = max_frames.max(1).saturating_mul(channels).min(self.remaining);
        // Reserve no more than the file can hold: the header's counts may be lies.
        let mut out = Vec::with_capacity(want.min(self.samples_hint()));
        let result = match self.spec.sample_format {
            SampleFormat::Float => read_into(self.reader.samples::<f32>().take(want), &mut out, |s| s),
            SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (self.spec.bits_per_sample - 1)) as f64;
                read_into(self.reader.samples::<i32>().take(want), &mut out, |s: i32| {
                    (f64::from(s) * scale) as f32
                })
            }
        };
        self.remaining -= out.len();
        if let Err(e) = result {
            match e {
                hound::Error::IoError(ref io) if is_short_read(io) => {
                    tracing::warn!(path = %self.path.display(), "WAV file is shorter than its header says; using the samples present");
                    self.done = true;
                    out.truncate(out.len() / channels * channels);
                }
                other => return Err(wav_error(&self.path, other)),
            }
        }
        if out.is_empty() {
            self.done = true;
            return Ok(None);
        }
        Ok(Some(out))
    }
}

fn read_into<S, I: Iterator<Item = hound::Result<S>>>(
    iter: I,
    out: &mut Vec<f32>,
    convert: impl Fn(S) -> f32,
) -> hound::Result<()> {
    for s in iter {
        out.push(convert(s?));
    }
    Ok(())
}

/// The file ended early: std's `UnexpectedEof`, or hound's own "Failed to read enough bytes."
fn is_short_read(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("read enough bytes")
}

fn wav_error(path: &Path, e: hound::Error) -> AudioError {
    let path = path.to_owned();
    match e {
        hound::Error::IoError(source) if is_short_read(&source) => AudioError::NotWav {
            path,
            reason: "file too short for a WAV header".into(),
        },
        hound::Error::IoError(source) => AudioError::Read { path, source },
        hound::Error::FormatError(reason) => AudioError::NotWav {
            path,
            reason: reason.to_owned(),
        },
        hound::Error::Unsupported => AudioError::UnsupportedWav {
            path,
            reason: "a sample encoding hound cannot read (only integer PCM and 32-bit float are supported)".into(),
        },
        other => AudioError::UnsupportedWav {
            path,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_raw(path: &Path, spec: WavSpec, samples: &[i32]) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_every_int_width_scaled_to_unit_range() {
        let dir = tempfile::tempdir().unwrap();
        for bits in [8u16, 16, 24, 32] {
            let path = dir.path().join(format!("i{bits}.wav"));
            let max = ((1i64 << (bits - 1)) - 1) as i32;
            let min = (-(1i64 << (bits - 1))) as i32;
            let spec = WavSpec {
                channels: 2,
                sample_rate: 22_050,
                bits_per_sample: bits,
                sample_format: SampleFormat::Int,
            };
            write_raw(&path, spec, &[0, max, min, max / 2]);
            let buf = read_wav(&path).unwrap();
            assert_eq!(
                (buf.sample_rate, buf.channels, buf.samples.len()),
                (22_050, 2, 4),
                "{bits}-bit"
            );
            assert_eq!(buf.samples[0], 0.0);
            assert!(
                (buf.samples[1] - 1.0).abs() < 0.01,
                "{bits}-bit max -> {}",
                buf.samples[1]
            );
            assert_eq!(buf.samples[2], -1.0, "{bits}-bit min");
            assert!(
                (buf.samples[3] - 0.5).abs() < 0.01,
                "{bits}-bit half -> {}",
                buf.samples[3]
            );
        }
    }

    #[test]
    fn reads_float_and_multichannel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f32.wav");
        let spec = WavSpec {
            channels: 6,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        let samples: Vec<f32> = (0..60).map(|i| i as f32 / 100.0 - 0.3).collect();
        for &s in &samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let buf = read_wav(&path).unwrap();
        assert_eq!((buf.sample_rate, buf.channels), (48_000, 6));
        assert_eq!(buf.samples, samples);
        assert_eq!(buf.frames(), 10);
    }

    #[test]
    fn write_then_read_round_trips_and_clamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rt.wav");
        let buf = AudioBuffer::mono(vec![0.0, 0.5, -0.5, 1.5, -2.0, f32::NAN], 16_000);
        write_wav(&path, &buf).unwrap();
        let spec = WavReader::open(&path).unwrap().spec();
        assert_eq!((spec.bits_per_sample, spec.sample_format), (16, SampleFormat::Int));
        let back = read_wav(&path).unwrap();
        let expect = [0.0, 0.5, -0.5, 1.0, -1.0, 0.0];
        for (a, b) in back.samples.iter().zip(expect) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.wav");
        let err = read_wav(&missing).unwrap_err();
        assert!(matches!(err, AudioError::Read { .. }), "{err}");
        assert!(err.to_string().contains("missing.wav"), "{err}");

        let text = dir.path().join("notes.wav");
        std::fs::write(&text, "this is not audio, just some text that is long enough").unwrap();
        let err = read_wav(&text).unwrap_err();
        assert!(matches!(err, AudioError::NotWav { .. }), "{err}");
        assert!(
            err.to_string().contains("notes.wav") && err.to_string().contains("not a WAV"),
            "{err}"
        );

        let tiny = dir.path().join("tiny.wav");
        std::fs::write(&tiny, b"RIF").unwrap();
        let err = read_wav(&tiny).unwrap_err();
        assert!(matches!(err, AudioError::NotWav { .. }), "{err}");

        let empty = dir.path().join("empty.wav");
        write_raw(
            &empty,
            WavSpec {
                channels: 1,
                sample_rate: 16_000,
                bits_per_sample: 16,
                sample_format: SampleFormat::Int,
            },
            &[],
        );
        let err = read_wav(&empty).unwrap_err();
        assert!(matches!(err, AudioError::EmptyWav { .. }), "{err}");
        assert!(
            err.to_string().contains("empty.wav") && err.to_string().contains("empty"),
            "{err}"
        );
        assert!(matches!(
            read_wav_mono(&empty, 16_000),
            Err(AudioError::EmptyWav { .. })
        ));

        let invalid = AudioBuffer {
            samples: vec![0.0; 3],
            sample_rate: 16_000,
            channels: 2,
        };
        assert!(matches!(
            write_wav(&dir.path().join("x.wav"), &invalid),
            Err(AudioError::InvalidBuffer(_))
        ));
        let err = write_wav(
            &dir.path().join("no/such/dir/x.wav"),
            &AudioBuffer::mono(vec![0.0], 16_000),
        )
        .unwrap_err();
        assert!(err.to_string().contains("x.wav"), "{err}");
    }

    /// A 16-bit mono WAV written byte by byte, so the header can state any rate.
    fn raw_wav(path: &Path, rate: u32, samples: &[i16]) {
        let data = (samples.len() * 2) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes()); // PCM
        b.extend_from_slice(&1u16.to_le_bytes()); // mono
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&rate.wrapping_mul(2).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data.to_le_bytes());
        for s in samples {
            b.extend_from_slice(&s.to_le_bytes());
        }
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn rates_outside_4_to_768_khz_are_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        // The file: 8192 samples at 1 Hz (16 KB) was 2.3 hours of audio at 16 kHz.
        let one_hz = dir.path().join("one-hz.wav");
        raw_wav(&one_hz, 1, &[4096; 8192]);
        let started = std::time::Instant::now();
        for err in [
            read_wav_mono(&one_hz, 16_000).unwrap_err(),
            read_wav(&one_hz).unwrap_err(),
            WavStream::open(&one_hz).err().unwrap(),
        ] {
            assert!(matches!(err, AudioError::UnsupportedWav { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: unsupported WAV format: sample rate 1 Hz is outside the 4000 to 768000 Hz voxdeck \
                     accepts (resample it first, e.g. `sox IN.wav -r 16000 OUT.wav`)",
                    one_hz.display()
                )
            );
        }
        assert!(started.elapsed().as_secs_f64() < 1.0, "{:?}", started.elapsed());
        // (Above 2^31 Hz a 16-bit file's byte rate overflows, and hound refuses it first.)
        for rate in [0, 3_999, 768_001, i32::MAX as u32] {
            let path = dir.path().join(format!("r{rate}.wav"));
            raw_wav(&path, rate, &[0; 64]);
            let err = read_wav_mono(&path, 16_000).unwrap_err().to_string();
            assert!(err.contains(&format!("sample rate {rate} Hz is outside")), "{err}");
        }
        // The edges are read, and resampled to the right length.
        for (rate, frames) in [(4_000u32, 4_000usize), (384_000, 38_400), (768_000, 76_800)] {
            let path = dir.path().join(format!("ok{rate}.wav"));
            raw_wav(&path, rate, &vec![1000; frames]);
            let out = read_wav_mono(&path, 16_000).unwrap();
            let expect = frames as u64 * 16_000 / u64::from(rate);
            assert_eq!(out.len() as u64, expect, "{rate} Hz");
        }
    }

    #[test]
    fn a_header_claiming_more_than_the_file_holds_reserves_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("liar.wav");
        raw_wav(&path, 16_000, &[100; 10]);
        // The data chunk claims 4 GB; the file holds 20 bytes of it.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40..44].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
        let mut stream = WavStream::open(&path).unwrap();
        let chunk = stream.next_chunk(usize::MAX).unwrap().unwrap();
        assert_eq!(chunk.len(), 10);
        assert!(chunk.capacity() < 1 << 20, "reserved {} samples", chunk.capacity());
    }

    #[test]
    fn truncated_file_keeps_whole_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        let spec = WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        write_raw(&path, spec, &(0..200).collect::<Vec<_>>());
        let bytes = std::fs::read(&path).unwrap();
        // Cut off the last 3 bytes: one and a half samples.
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let buf = read_wav(&path).unwrap();
        assert_eq!(buf.samples.len(), 198);
    }

    #[test]
    fn streaming_mono_read_matches_whole_buffer_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.wav");
        let rate = 44_100;
        let n = rate as usize * 2;
        let mut samples = Vec::with_capacity(n * 2);
        for i in 0..n {
            let v = 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin();
            samples.push(v);
            samples.push(v);
        }
        let buf = AudioBuffer {
            samples,
            sample_rate: rate,
            channels: 2,
        };
        write_wav(&path, &buf).unwrap();
        let streamed = read_wav_mono(&path, 16_000).unwrap();
        let whole = super::super::to_mono(&read_wav(&path).unwrap(), 16_000).unwrap();
        assert_eq!(streamed.len(), whole.len());
        let max_diff = streamed
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "{max_diff}");
    }
}
