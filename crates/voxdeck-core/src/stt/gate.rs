//! The energy gate and the long-input windowing, both on 16 kHz mono samples.
//!
//! Whisper always encodes a full 30 s window, and on silence it is prone to invent a sentence;
//! a window whose loudest stretch stays under the gate is not sent at all. Long input is cut
//! into windows of at most 30 s at the quietest point of each window's last third, so words are
//! rarely split and the worker never holds more than one window.

use std::ops::Range;

use voxdeck_stt::SAMPLE_RATE;

use crate::audio::rms_dbfs;

/// Frame length for energy measurements: 20 ms.
pub const FRAME: usize = SAMPLE_RATE as usize / 50;

/// Decides whether a stretch of audio is loud enough to be worth transcribing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyGate {
    /// A 20 ms frame is active when its RMS level is at or above this (dBFS).
    pub threshold_dbfs: f32,
    /// Active frames needed before the audio counts as possible speech (100 ms by default).
    pub min_active_frames: usize,
}

impl EnergyGate {
    pub fn new(threshold_dbfs: f32) -> EnergyGate {
        EnergyGate {
            threshold_dbfs,
            min_active_frames: 5,
        }
    }

    /// Whether `samples` hold enough active frames (or, if shorter than that, any).
    pub fn is_open(&self, samples: &[f32]) -> bool {
        let needed = self.min_active_frames.max(1).min(samples.len().div_ceil(FRAME));
        if needed == 0 {
            return false;
        }
        samples
            .chunks(FRAME)
            .filter(|frame| rms_dbfs(frame) >= self.threshold_dbfs)
            .take(needed)
            .count()
            >= needed
    }
}

impl EnergyGate {
    /// Where the audio starts to be active: the first active 20 ms frame, less `margin`
    /// samples (0 if the audio is active from the start or never).
    pub fn leading_silence(&self, samples: &[f32], margin: usize) -> usize {
        samples
            .chunks(FRAME)
            .position(|frame| rms_dbfs(frame) >= self.threshold_dbfs)
            .map_or(0, |i| (i * FRAME).saturating_sub(margin))
    }
}

/// Splits `samples` into consecutive windows of at most `max` samples. Each cut falls in the
/// last `search` samples of its window, in the middle of the longest run of quiet 20 ms frames
/// there (quiet: within 6 dB of the quietest frame), so a cut lands in a pause rather than in a
/// short gap between two words; the latest run wins a tie.
pub fn plan_windows(samples: &[f32], max: usize, search: usize) -> Vec<Range<usize>> {
    let len = samples.len();
    let max = max.max(FRAME * 2);
    let search = search.clamp(FRAME, max / 2);
    let mut windows = Vec::with_capacity(len / max + 1);
    let mut start = 0;
    while len - start > max {
        let cut = quietest_cut(samples, start + max - search, start + max);
        windows.push(start..cut);
        start = cut;
    }
    if start < len || windows.is_empty() {
        windows.push(start..len);
    }
    windows
}

/// The cut point in `lo..hi` (see [`plan_windows`]); always in `lo + 1..=hi`.
fn quietest_cut(samples: &[f32], lo: usize, hi: usize) -> usize {
    let levels: Vec<f32> = (lo..hi)
        .step_by(FRAME)
        .filter(|&f| f + FRAME <= hi)
        .map(|f| rms_dbfs(&samples[f..f + FRAME]))
        .collect();
    let Some(min) = levels.iter().copied().reduce(f32::min) else {
        return hi;
    };
    let quiet = min + 6.0;
    let (mut best_start, mut best_len) = (0, 0);
    let mut run_start = 0;
    for (i, &level) in levels.iter().enumerate() {
        if level > quiet {
            run_start = i + 1;
            continue;
        }
        let run_len = i + 1 - run_start;
        if run_len >= best_len {
            (best_start, best_len) = (run_start, run_len);
        }
    }
    // Middle of the run, in samples: frames best_start .. best_start + best_len.
    let mid = lo + (best_start * FRAME) + (best_len * FRAME) / 2;
    mid.clamp(lo + 1, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (i as f32 * 0.05).sin()).collect()
    }

    #[test]
    fn gate_needs_several_loud_frames() {
        let gate = EnergyGate::new(-50.0);
        assert!(!gate.is_open(&[0.0; 16_000]));
        assert!(!gate.is_open(&tone(16_000, 0.001))); // about -63 dBFS
        assert!(gate.is_open(&tone(16_000, 0.1)));
        // One loud click (one frame) in a second of silence stays closed...
        let mut click = vec![0.0f32; 16_000];
        click[8_000..8_000 + FRAME].copy_from_slice(&tone(FRAME, 0.5));
        assert!(!gate.is_open(&click));
        // ...but a short clip that is loud throughout opens it.
        assert!(gate.is_open(&tone(FRAME * 2, 0.5)));
        assert!(!gate.is_open(&[]));
    }

    #[test]
    fn leading_silence_is_measured_with_a_margin() {
        let gate = EnergyGate::new(-50.0);
        let mut samples = vec![0.0f32; 16_000];
        samples.extend(tone(16_000, 0.3));
        assert_eq!(gate.leading_silence(&samples, 4_800), 16_000 - 4_800);
        assert_eq!(gate.leading_silence(&samples[15_000..], 4_800), 0);
        assert_eq!(gate.leading_silence(&[0.0; 1000], 0), 0);
    }

    #[test]
    fn windows_cover_everything_in_order() {
        let samples = tone(1_000_003, 0.3);
        let windows = plan_windows(&samples, 480_000, 160_000);
        assert_eq!(windows.first().unwrap().start, 0);
        assert_eq!(windows.last().unwrap().end, samples.len());
        for pair in windows.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for w in &windows {
            assert!(w.len() <= 480_000 && !w.is_empty(), "{w:?}");
        }
        assert_eq!(plan_windows(&samples[..1000], 480_000, 160_000), vec![0..1000]);
        assert_eq!(plan_windows(&[], 480_000, 160_000), vec![0..0]);
    }

    #[test]
    fn cuts_prefer_a_long_pause_to_a_short_gap() {
        // Silence until 27 s, then "speech" with 40 ms gaps of digital silence between "words":
        // the cut goes in the middle of the long silence, not in a gap between words.
        let mut samples = vec![0.0f32; 27 * 16_000];
        for _ in 0..40 {
            samples.extend(tone(4_000, 0.3));
            samples.extend(vec![0.0; 640]);
        }
        let windows = plan_windows(&samples, 480_000, 160_000);
        let cut = windows[0].end;
        assert!((320_000..432_000).contains(&cut), "cut at {cut}");
        assert!(
            (cut as i64 - 376_000).abs() < 2 * FRAME as i64,
            "middle of the pause: {cut}"
        );
    }

    #[test]
    fn cuts_fall_in_the_quietest_gap() {
        // 40 s of tone with a 200 ms pause at 25 s: the first window ends inside the pause.
        let mut samples = tone(640_000, 0.3);
        for s in &mut samples[400_000..403_200] {
            *s = 0.0;
        }
        let windows = plan_windows(&samples, 480_000, 160_000);
        assert_eq!(windows.len(), 2);
        let cut = windows[0].end;
        assert!((400_000..403_200).contains(&cut), "cut at {cut}");
    }
}
