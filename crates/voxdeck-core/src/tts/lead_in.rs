//! The silence a voice puts before its first sound, trimmed to a few milliseconds: Piper's
//! VITS voices start a sentence with 30-50 ms below -40 dBFS and espeak-ng with 12-50 ms, time
//! the listener waits for nothing. "Audible" is [`crate::audio::level::first_audible`], the same
//! rule as the `first_audible_ms` milestone.

use crate::audio::level::first_audible;

/// Silence kept before the first audible sample: the lead-in of a soft onset (a breath, the
/// closure of a "p") stays.
pub const KEEP_S: f64 = 0.010;

/// The kept silence fades in over this long, so the cut never starts on a non-zero sample (a
/// click).
pub const FADE_S: f64 = 0.003;

/// Drops all but [`KEEP_S`] of the silence before the first audible sample of `samples` (mono
/// at `rate`) and fades in what is kept. Silent audio is left as it is (a pause is a pause).
pub fn trim_leading_silence(samples: &mut Vec<f32>, rate: u32) {
    let Some(first) = first_audible(samples) else { return };
    let keep = (KEEP_S * f64::from(rate)).round() as usize;
    let cut = first.saturating_sub(keep);
    if cut > 0 {
        samples.drain(..cut);
    }
    let fade = ((FADE_S * f64::from(rate)).round() as usize).min(first - cut);
    for (i, s) in samples.iter_mut().take(fade).enumerate() {
        *s *= i as f32 / fade as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ten_ms_before_the_first_sound_faded_in() {
        // 50 ms of hiss at -46 dBFS, then a tone at 22.05 kHz.
        let rate = 22_050;
        let mut samples = vec![0.005f32; 1_102];
        samples.extend((0..2_205).map(|i| 0.5 * (i as f32 * 0.1).sin() + 0.2));
        let sound = samples[1_102..].to_vec();
        trim_leading_silence(&mut samples, rate);
        assert_eq!(first_audible(&samples), Some(221), "10 ms at 22.05 kHz");
        assert_eq!(&samples[221..], &sound[..]);
        assert_eq!(samples[0], 0.0, "starts from zero");
        assert!(samples[30] < samples[60] && samples[66] == 0.005, "faded in over 3 ms");
    }

    #[test]
    fn short_lead_silent_and_empty_audio_are_kept() {
        let mut samples = vec![0.0, 0.0, 0.5, 0.5];
        trim_leading_silence(&mut samples, 22_050);
        assert_eq!(samples, [0.0, 0.0, 0.5, 0.5]);
        let mut silent = vec![0.001f32; 500];
        trim_leading_silence(&mut silent, 22_050);
        assert_eq!(silent.len(), 500);
        let mut empty: Vec<f32> = Vec::new();
        trim_leading_silence(&mut empty, 22_050);
        assert!(empty.is_empty());
    }
}
