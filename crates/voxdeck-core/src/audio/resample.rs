//! Downmixing and band-limited resampling.
//!
//! [`StreamResampler`] wraps rubato for one channel fed in pieces of any size: it keeps its own
//! input queue, removes the resampler's delay from the front, and [`StreamResampler::flush`]
//! pushes the tail out so that the output is exactly `round(input_len * to / from)` samples,
//! aligned with the input. It uses rubato's FFT resampler (exact for rational ratios, a long
//! windowed-sinc anti-aliasing filter, fast), or its sinc resampler when the reduced ratio
//! would need an unreasonably large FFT (unusual rates such as 44 101 Hz).

use rubato::{
    FftFixedIn, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
    calculate_cutoff,
};

use super::{AudioBuffer, AudioError};

/// Input frames per resampler call (rounded up to the ratio's period for the FFT resampler).
/// Also the FFT filter's length in input samples, so it sets the anti-aliasing quality.
const CHUNK_FRAMES: usize = 1024;
/// Above this many input frames per FFT period, use the sinc resampler instead.
const MAX_FFT_PERIOD: usize = 16_384;
/// Mono frames fed to the resampler per step in [`to_mono`], bounding its extra memory.
const TO_MONO_BLOCK: usize = 16_384;

/// Downmixes to mono (the mean of the channels) and resamples to `target_rate`.
///
/// Mono at the target rate is returned as is. The work is done in blocks, so the extra memory
/// is a few small buffers beyond the output, whatever the input's length.
pub fn to_mono(buf: &AudioBuffer, target_rate: u32) -> Result<Vec<f32>, AudioError> {
    buf.validate()?;
    if target_rate == 0 {
        return Err(AudioError::InvalidBuffer("target sample rate is 0".into()));
    }
    let channels = usize::from(buf.channels);
    if buf.sample_rate == target_rate {
        if channels == 1 {
            return Ok(buf.samples.clone());
        }
        let mut out = Vec::with_capacity(buf.frames());
        downmix_into(&buf.samples, buf.channels, &mut out);
        return Ok(out);
    }
    let mut resampler = StreamResampler::new(buf.sample_rate, target_rate)?;
    let expected = resampler.expected_len(buf.frames() as u64) as usize;
    let mut out = Vec::with_capacity(expected);
    let mut mono = Vec::with_capacity(TO_MONO_BLOCK);
    for block in buf.samples.chunks(TO_MONO_BLOCK * channels) {
        mono.clear();
        downmix_into(block, buf.channels, &mut mono);
        resampler.process(&mono, &mut out)?;
    }
    resampler.flush(&mut out)?;
    Ok(out)
}

/// The mean of the channels of interleaved samples.
pub fn downmix(samples: &[f32], channels: u16) -> Vec<f32> {
    let mut out = Vec::with_capacity(samples.len() / usize::from(channels.max(1)));
    downmix_into(samples, channels, &mut out);
    out
}

/// Appends the mono downmix of `samples` (interleaved, `channels` per frame) to `out`. A
/// trailing partial frame is ignored.
pub fn downmix_into(samples: &[f32], channels: u16, out: &mut Vec<f32>) {
    match channels {
        0 => {}
        1 => out.extend_from_slice(samples),
        2 => out.extend(samples.chunks_exact(2).map(|f| (f[0] + f[1]) * 0.5)),
        n => {
            let scale = 1.0 / f32::from(n);
            out.extend(
                samples
                    .chunks_exact(usize::from(n))
                    .map(|f| f.iter().sum::<f32>() * scale),
            );
        }
    }
}

enum Engine {
    Fft(Box<FftFixedIn<f32>>),
    Sinc(Box<SincFixedIn<f32>>),
}

/// Calls the same method on whichever resampler is in use (rubato's trait is not object-safe).
macro_rules! with_engine {
    ($engine:expr, $r:ident => $body:expr) => {
        match $engine {
            Engine::Fft($r) => $body,
            Engine::Sinc($r) => $body,
        }
    };
}

/// A one-channel resampler fed in pieces of any size. See the module docs.
pub struct StreamResampler {
    from: u32,
    to: u32,
    engine: Engine,
    /// Input not yet given to the engine (less than one engine chunk after each call).
    pending: Vec<f32>,
    /// Engine output buffer, reused.
    scratch: Vec<f32>,
    /// Output frames still to drop from the front (the engine's delay).
    skip: usize,
    /// The engine's delay in output frames.
    delay: usize,
    /// Zeros fed before the input (to align the sinc resampler's delay on a whole frame).
    pad: usize,
    /// Input frames received.
    frames_in: u64,
    /// Output frames emitted.
    frames_out: u64,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<StreamResampler, AudioError> {
        let err = |message: String| AudioError::Resample { from, to, message };
        // Outside these rates the FFT sizes, and the output per input sample, grow without bound.
        if let Some(why) = super::unsupported_rate(from).or_else(|| super::unsupported_rate(to)) {
            return Err(err(why));
        }
        let gcd = gcd(from, to);
        let period_in = (from / gcd) as usize;
        let engine = if period_in <= MAX_FFT_PERIOD {
            // An even number of periods: then both FFT sizes are even, the filter's centre falls
            // on a sample, and rubato's reported delay (half the output FFT) is exact. With an odd
            // size the output would lead the input by half an input sample.
            let periods = CHUNK_FRAMES.div_ceil(period_in).next_multiple_of(2);
            let chunk = periods * period_in;
            (
                Engine::Fft(Box::new(
                    FftFixedIn::new(from as usize, to as usize, chunk, 1, 1).map_err(|e| err(e.to_string()))?,
                )),
                None,
            )
        } else {
            let params = || {
                let sinc_len = 256;
                let window = WindowFunction::BlackmanHarris2;
                SincInterpolationParameters {
                    sinc_len,
                    f_cutoff: calculate_cutoff(sinc_len, window),
                    oversampling_factor: 256,
                    interpolation: SincInterpolationType::Cubic,
                    window,
                }
            };
            let ratio = f64::from(to) / f64::from(from);
            let make = || SincFixedIn::new(ratio, 1.0, params(), CHUNK_FRAMES, 1).map_err(|e| err(e.to_string()));
            // rubato's reported delay for this resampler is not where its output lines up with
            // the input (measured: the impulse response peaks about half a frame *before* the
            // reported delay's zero); measure it, and lead the input with the number of zeros
            // that puts the delay closest to a whole output frame.
            let d0 = measure_delay(make()?, ratio).map_err(|e| err(e.to_string()))?;
            let (pad, delay) = (0..256usize)
                .map(|p| (p, d0 + p as f64 * ratio))
                .filter(|&(_, d)| d >= 0.0)
                .min_by(|a, b| (a.1 - a.1.round()).abs().total_cmp(&(b.1 - b.1.round()).abs()))
                .ok_or_else(|| err("cannot align the sinc resampler".into()))?;
            (Engine::Sinc(Box::new(make()?)), Some((pad, delay.round() as usize)))
        };
        let (engine, sinc_alignment) = engine;
        let (pad, skip) = sinc_alignment.unwrap_or_else(|| (0, with_engine!(&engine, r => r.output_delay())));
        let scratch = vec![0.0; with_engine!(&engine, r => r.output_frames_max())];
        let chunk = with_engine!(&engine, r => r.input_frames_max());
        let mut pending = Vec::with_capacity(chunk.max(pad));
        pending.resize(pad, 0.0);
        tracing::debug!(from, to, delay = skip, pad, chunk, "resampler created");
        Ok(StreamResampler {
            from,
            to,
            engine,
            pending,
            scratch,
            skip,
            delay: skip,
            pad,
            frames_in: 0,
            frames_out: 0,
        })
    }

    pub fn input_rate(&self) -> u32 {
        self.from
    }

    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Output length for `frames_in` input frames: `round(frames_in * to / from)`.
    pub fn expected_len(&self, frames_in: u64) -> u64 {
        let (from, to) = (u128::from(self.from), u128::from(self.to));
        ((u128::from(frames_in) * to * 2 + from) / (from * 2)) as u64
    }

    /// Feeds `input` and appends whatever output is ready to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.frames_in += input.len() as u64;
        let mut input = input;
        loop {
            let need = with_engine!(&self.engine, r => r.input_frames_next());
            if self.pending.is_empty() && input.len() >= need {
                // Whole chunks straight from the caller's slice.
                let (chunk, rest) = input.split_at(need);
                self.run_chunk(Some(chunk), out)?;
                input = rest;
                continue;
            }
            let take = (need - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < need {
                break;
            }
            let pending = std::mem::take(&mut self.pending);
            let result = self.run_chunk(Some(&pending), out);
            self.pending = pending;
            self.pending.clear();
            result?;
        }
        Ok(())
    }

    /// Pushes out the tail: afterwards exactly [`StreamResampler::expected_len`] frames have
    /// been emitted in all. The resampler can be reused afterwards as if new.
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let target = self.expected_len(self.frames_in);
        // Each zero-padded chunk yields output; a few are enough to cover the delay.
        let mut guard = 0;
        while self.frames_out < target {
            let need = with_engine!(&self.engine, r => r.input_frames_next());
            let mut padded = std::mem::take(&mut self.pending);
            padded.resize(need, 0.0);
            let result = self.run_chunk(Some(&padded), out);
            padded.clear();
            self.pending = padded;
            result?;
            if self.frames_out > target {
                let excess = (self.frames_out - target) as usize;
                out.truncate(out.len() - excess);
                self.frames_out = target;
            }
            guard += 1;
            if guard > 64 {
                return Err(AudioError::Resample {
                    from: self.from,
                    to: self.to,
                    message: "resampler did not drain".into(),
                });
            }
        }
        self.reset();
        Ok(())
    }

    /// Drops all state, as if new.
    pub fn reset(&mut self) {
        with_engine!(&mut self.engine, r => r.reset());
        self.skip = self.delay;
        self.pending.clear();
        self.pending.resize(self.pad, 0.0);
        self.frames_in = 0;
        self.frames_out = 0;
    }

    fn run_chunk(&mut self, chunk: Option<&[f32]>, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let (from, to) = (self.from, self.to);
        let needed = with_engine!(&self.engine, r => r.output_frames_max());
        if self.scratch.len() < needed {
            self.scratch.resize(needed, 0.0);
        }
        let input = [chunk.unwrap_or(&[])];
        let scratch = &mut self.scratch;
        let (_, produced) =
            with_engine!(&mut self.engine, r => r.process_into_buffer(&input, &mut [&mut scratch[..]], None)).map_err(
                |e| AudioError::Resample {
                    from,
                    to,
                    message: e.to_string(),
                },
            )?;
        let produced = &self.scratch[..produced];
        let drop = self.skip.min(produced.len());
        self.skip -= drop;
        out.extend_from_slice(&produced[drop..]);
        self.frames_out += (produced.len() - drop) as u64;
        Ok(())
    }
}

/// The delay of a sinc resampler in output frames (fractional, possibly negative): where the
/// peak of its impulse response falls, interpolated between frames, relative to where the input
/// impulse is.
fn measure_delay(mut r: SincFixedIn<f32>, ratio: f64) -> Result<f64, rubato::ResampleError> {
    const AT: usize = 64;
    let mut input = vec![0.0f32; r.input_frames_next()];
    input[AT] = 1.0;
    let mut out = vec![0.0f32; r.output_frames_max()];
    let mut response = Vec::new();
    let want = (AT as f64 * ratio) as usize + r.output_delay() * 2 + 16;
    while response.len() < want {
        let (_, n) = r.process_into_buffer(&[&input[..]], &mut [&mut out[..]], None)?;
        response.extend_from_slice(&out[..n]);
        input.fill(0.0);
    }
    let peak = response
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0);
    // Refine between frames with a parabola through the peak and its neighbours.
    let frac = match (
        peak.checked_sub(1).and_then(|i| response.get(i)),
        response.get(peak + 1),
    ) {
        (Some(&a), Some(&c)) => {
            let b = response[peak];
            let denom = a - 2.0 * b + c;
            if denom.abs() > f32::EPSILON {
                0.5 * (a - c) / denom
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    Ok(peak as f64 + f64::from(frac) - AT as f64 * ratio)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::level::tone_amplitude;
    use std::f32::consts::PI;

    fn sine(freq: f32, rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| amp * (2.0 * PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    fn stereo(mono: &[f32]) -> Vec<f32> {
        mono.iter().flat_map(|&s| [s, s]).collect()
    }


    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    fn zero_crossings(x: &[f32]) -> usize {
        x.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count()
    }

    #[test]
    fn sine_44k1_stereo_to_16k_mono_keeps_frequency_amplitude_length() {
        let mono = sine(1000.0, 44_100, 2.0, 0.5);
        let buf = AudioBuffer {
            samples: stereo(&mono),
            sample_rate: 44_100,
            channels: 2,
        };
        let out = to_mono(&buf, 16_000).unwrap();
        assert_eq!(out.len(), 32_000);
        // Skip the edges (filter ramp) for the measurements.
        let mid = &out[1000..31_000];
        let zc = zero_crossings(mid) as f32 / (mid.len() as f32 / 16_000.0);
        assert!((zc / 2.0 - 1000.0).abs() < 5.0, "frequency {}", zc / 2.0);
        let amp = tone_amplitude(mid, 1000.0, 16_000);
        assert!((amp - 0.5).abs() < 0.01, "amplitude {amp}");
        assert!((rms(mid) - 0.5 / 2f32.sqrt()).abs() < 0.01);
        // Aligned with the input: the delay is removed, so sample k is the input at k/16000 s.
        let expect = sine(1000.0, 16_000, 2.0, 0.5);
        let err = out[1000..31_000]
            .iter()
            .zip(&expect[1000..31_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.002, "alignment error {err}");
    }

    #[test]
    fn output_is_time_aligned_with_the_input_for_common_rates() {
        for rate in [8_000u32, 11_025, 22_050, 32_000, 44_100, 48_000, 96_000, 44_101] {
            let buf = AudioBuffer::mono(sine(1000.0, rate, 1.0, 0.5), rate);
            let out = to_mono(&buf, 16_000).unwrap();
            let expect = sine(1000.0, 16_000, 1.0, 0.5);
            let err = out[800..15_200]
                .iter()
                .zip(&expect[800..15_200])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            // An odd rate goes through the sinc resampler, aligned to about a tenth of a sample.
            let limit = if rate == 44_101 { 0.03 } else { 0.005 };
            assert!(err < limit, "{rate} Hz: alignment error {err}");
        }
    }

    #[test]
    fn tone_above_new_nyquist_is_removed_not_aliased() {
        // 12 kHz would alias to 4 kHz at 16 kHz if decimated.
        let buf = AudioBuffer::mono(sine(12_000.0, 44_100, 1.0, 0.5), 44_100);
        let out = to_mono(&buf, 16_000).unwrap();
        assert_eq!(out.len(), 16_000);
        let mid = &out[500..15_500];
        let alias = tone_amplitude(mid, 4000.0, 16_000);
        let r = rms(mid);
        assert!(alias < 0.5 * 1e-3, "4 kHz alias amplitude {alias} (input 0.5)");
        assert!(r < 0.5 * 1e-3, "residual rms {r}");
    }

    #[test]
    fn lengths_for_common_rates() {
        for (rate, ch) in [
            (8_000, 1),
            (11_025, 1),
            (22_050, 2),
            (44_100, 2),
            (48_000, 1),
            (96_000, 6),
            (44_101, 1),
        ] {
            for frames in [1usize, 7, 1000, 44_100, 100_003] {
                let buf = AudioBuffer {
                    samples: vec![0.1; frames * ch],
                    sample_rate: rate,
                    channels: ch as u16,
                };
                let out = to_mono(&buf, 16_000).unwrap();
                let expect = (frames as f64 * 16_000.0 / f64::from(rate)).round() as usize;
                assert_eq!(out.len(), expect, "{rate} Hz x{ch}, {frames} frames");
            }
        }
    }

    #[test]
    fn upsampling_and_odd_rate_keep_the_tone() {
        for rate in [8_000u32, 44_101] {
            let buf = AudioBuffer::mono(sine(440.0, rate, 1.0, 0.3), rate);
            let out = to_mono(&buf, 16_000).unwrap();
            let amp = tone_amplitude(&out[800..15_200], 440.0, 16_000);
            assert!((amp - 0.3).abs() < 0.01, "{rate}: amplitude {amp}");
        }
    }

    #[test]
    fn identity_and_downmix_only() {
        let buf = AudioBuffer::mono(vec![0.1, 0.2, 0.3], 16_000);
        assert_eq!(to_mono(&buf, 16_000).unwrap(), buf.samples);
        let st = AudioBuffer {
            samples: vec![0.2, 0.4, -1.0, 1.0],
            sample_rate: 16_000,
            channels: 2,
        };
        assert_eq!(to_mono(&st, 16_000).unwrap(), vec![0.3, 0.0]);
        assert_eq!(downmix(&[0.3, 0.6, 0.9, 0.0, 0.0, 0.0], 3), vec![0.6, 0.0]);
    }

    #[test]
    fn invalid_input_is_an_error() {
        let bad = AudioBuffer {
            samples: vec![0.0; 3],
            sample_rate: 44_100,
            channels: 2,
        };
        assert!(matches!(to_mono(&bad, 16_000), Err(AudioError::InvalidBuffer(_))));
        let zero = AudioBuffer::mono(vec![0.0; 3], 0);
        assert!(to_mono(&zero, 16_000).is_err());
        assert!(to_mono(&AudioBuffer::mono(vec![0.0], 8000), 0).is_err());
        assert!(StreamResampler::new(0, 16_000).is_err());
    }

    #[test]
    fn streaming_in_odd_pieces_matches_one_shot() {
        let x = sine(700.0, 48_000, 1.3, 0.4);
        let one = to_mono(&AudioBuffer::mono(x.clone(), 48_000), 16_000).unwrap();
        let mut r = StreamResampler::new(48_000, 16_000).unwrap();
        let mut out = Vec::new();
        let mut i = 0;
        let mut step = 1;
        while i < x.len() {
            let end = (i + step).min(x.len());
            r.process(&x[i..end], &mut out).unwrap();
            i = end;
            step = step * 3 % 2000 + 1;
        }
        r.flush(&mut out).unwrap();
        assert_eq!(out.len(), one.len());
        let diff = out.iter().zip(&one).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff < 1e-5, "{diff}");
        // Reusable after flush.
        let mut again = Vec::new();
        r.process(&x, &mut again).unwrap();
        r.flush(&mut again).unwrap();
        assert_eq!(again.len(), one.len());
    }
}
