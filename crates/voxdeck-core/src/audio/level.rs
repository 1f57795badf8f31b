//! Signal levels in dBFS.
//!
//! Levels are `20 * log10(x)` of the RMS or the peak absolute sample, with full scale = 1.0, so a
//! full-scale square wave is 0 dBFS RMS and a full-scale sine -3.01 dBFS RMS (0 dBFS peak).
//! Silence and empty input never give `-inf` or NaN: every level is floored at [`DBFS_FLOOR`]
//! (-120 dBFS, below the noise of any 24-bit converter), which keeps meters and JSON finite.

/// The lowest level reported, for silence or an empty slice.
pub const DBFS_FLOOR: f32 = -120.0;

/// An input level: RMS and peak over one chunk, in dBFS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

impl Level {
    /// The level of a slice of samples.
    pub fn of(samples: &[f32]) -> Level {
        Level {
            rms_dbfs: rms_dbfs(samples),
            peak_dbfs: peak_dbfs(samples),
        }
    }

    /// The level of silence: both at [`DBFS_FLOOR`].
    pub const SILENCE: Level = Level {
        rms_dbfs: DBFS_FLOOR,
        peak_dbfs: DBFS_FLOOR,
    };
}

/// RMS level in dBFS, at least [`DBFS_FLOOR`]. NaN samples are ignored.
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    let (sum, n) = samples
        .iter()
        .filter(|s| !s.is_nan())
        .fold((0.0f64, 0usize), |(sum, n), &s| {
            (sum + f64::from(s) * f64::from(s), n + 1)
        });
    if n == 0 {
        return DBFS_FLOOR;
    }
    to_dbfs((sum / n as f64).sqrt())
}

/// Peak level (largest absolute sample) in dBFS, at least [`DBFS_FLOOR`]. NaN samples are
/// ignored.
pub fn peak_dbfs(samples: &[f32]) -> f32 {
    let peak = samples
        .iter()
        .filter(|s| !s.is_nan())
        .fold(0.0f32, |m, s| m.max(s.abs()));
    to_dbfs(f64::from(peak))
}

/// `20 * log10(amplitude)`, floored at [`DBFS_FLOOR`] (also for 0, negative or NaN input).
pub fn to_dbfs(amplitude: f64) -> f32 {
    if amplitude.is_nan() || amplitude <= 0.0 {
        return DBFS_FLOOR;
    }
    ((20.0 * amplitude.log10()) as f32).max(DBFS_FLOOR)
}

/// The level a sample must exceed to count as heard: -40 dBFS. The one rule for "the first
/// audible sample" (the `first_audible_ms` milestone, and Piper's leading-silence trim): quieter
/// than this is the noise floor of speech synthesis and inaudible over a room.
pub const AUDIBLE_DBFS: f32 = -40.0;

/// [`AUDIBLE_DBFS`] as an amplitude (full scale 1.0), so the scan needs no logarithm per sample.
const AUDIBLE_AMPLITUDE: f32 = 0.01;

/// Index of the first sample louder than [`AUDIBLE_DBFS`] (absolute value), `None` when the slice
/// is silent. Interleaved input gives a sample index: divide by the channel count for the frame.
pub fn first_audible(samples: &[f32]) -> Option<usize> {
    samples.iter().position(|s| s.abs() > AUDIBLE_AMPLITUDE)
}

/// Amplitude of the `freq_hz` component of `samples` at `rate` (a single-bin DFT): how loud one
/// tone is, for checking what a device or resampler did to a test signal.
pub fn tone_amplitude(samples: &[f32], freq_hz: f32, rate: u32) -> f32 {
    if samples.is_empty() || rate == 0 {
        return 0.0;
    }
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (i, &s) in samples.iter().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * f64::from(freq_hz) * i as f64 / f64::from(rate);
        re += f64::from(s) * phase.cos();
        im += f64::from(s) * phase.sin();
    }
    (2.0 * (re * re + im * im).sqrt() / samples.len() as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_and_half() {
        let square: Vec<f32> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert!(rms_dbfs(&square).abs() < 1e-4);
        assert!(peak_dbfs(&square).abs() < 1e-4);
        let half: Vec<f32> = square.iter().map(|s| s * 0.5).collect();
        assert!((rms_dbfs(&half) + 6.0206).abs() < 1e-3);
        let sine: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.1).sin()).collect();
        assert!((rms_dbfs(&sine) + 3.0103).abs() < 0.01, "{}", rms_dbfs(&sine));
    }

    #[test]
    fn silence_and_empty_are_floored_not_infinite() {
        assert_eq!(rms_dbfs(&[]), DBFS_FLOOR);
        assert_eq!(peak_dbfs(&[]), DBFS_FLOOR);
        assert_eq!(rms_dbfs(&[0.0; 512]), DBFS_FLOOR);
        assert_eq!(peak_dbfs(&[0.0; 512]), DBFS_FLOOR);
        assert_eq!(rms_dbfs(&[1e-9; 4]), DBFS_FLOOR);
        assert_eq!(Level::of(&[]), Level::SILENCE);
        assert_eq!(rms_dbfs(&[f32::NAN, 1.0]), 0.0);
        assert_eq!(to_dbfs(f64::NAN), DBFS_FLOOR);
    }

    #[test]
    fn first_audible_is_the_first_sample_above_minus_40_dbfs() {
        assert!((to_dbfs(f64::from(AUDIBLE_AMPLITUDE)) - AUDIBLE_DBFS).abs() < 1e-4);
        assert_eq!(first_audible(&[]), None);
        assert_eq!(first_audible(&[0.0, 0.009, -0.01, 0.0]), None);
        assert_eq!(first_audible(&[0.0, 0.005, -0.02, 0.5]), Some(2));
        assert_eq!(first_audible(&[f32::NAN, 0.3]), Some(1));
    }
}
