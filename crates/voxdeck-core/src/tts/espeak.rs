//! espeak-ng's own synthesis, into memory: the fallback voice when no Piper voice is installed.
//!
//! Text is split into sentences ([`super::sentences`]) and each is synthesised by espeak-ng in
//! synchronous mode, its samples collected by the synthesis callback; a short pause ends each
//! sentence. The rate is espeak-ng's default 175 words per minute times `tts.rate` (espeak-ng
//! accepts 80 to 450).

use super::{Engine, SpeechSynthesizer, TtsError, espeak_ng, lead_in, sentences};
use crate::audio::AudioBuffer;

/// espeak-ng's normal speed, words per minute.
pub const NORMAL_WPM: f32 = 175.0;

/// espeak-ng with one voice and rate.
#[derive(Debug, Clone)]
pub struct EspeakSynthesizer {
    voice: String,
    name: String,
    words_per_minute: u32,
    sample_rate: u32,
    /// Trim each sentence's leading silence ([`lead_in`]).
    trim: bool,
}

impl EspeakSynthesizer {
    /// espeak-ng speaking with `voice` (e.g. "en-us") at `rate` times its normal speed. Fails
    /// when espeak-ng cannot start or has no such voice.
    pub fn new(voice: &str, rate: f32) -> Result<EspeakSynthesizer, TtsError> {
        let mut espeak = espeak_ng::lock()?;
        espeak.set_voice(voice)?;
        let rate = if rate.is_finite() && rate > 0.0 { rate } else { 1.0 };
        Ok(EspeakSynthesizer {
            voice: voice.to_owned(),
            name: format!("espeak-ng {} {voice}", espeak.version()),
            words_per_minute: (NORMAL_WPM * rate).round().clamp(80.0, 450.0) as u32,
            sample_rate: espeak.sample_rate(),
            trim: true,
        })
    }

    /// Whether each sentence's leading silence is trimmed to a few ms (`tts.trim_leading_silence`,
    /// on unless turned off here).
    pub fn trim_leading_silence(mut self, trim: bool) -> EspeakSynthesizer {
        self.trim = trim;
        self
    }

    /// The espeak-ng voice, e.g. "en-us".
    pub fn voice(&self) -> &str {
        &self.voice
    }

    pub fn words_per_minute(&self) -> u32 {
        self.words_per_minute
    }
}

impl SpeechSynthesizer for EspeakSynthesizer {
    fn engine(&self) -> Engine {
        Engine::Espeak
    }

    fn voice_name(&self) -> &str {
        &self.name
    }

    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn synthesize_sentences(
        &self,
        text: &str,
        on_sentence: &mut dyn FnMut(AudioBuffer) -> bool,
    ) -> Result<usize, TtsError> {
        let mut delivered = 0;
        for sentence in sentences::split_sentences(text) {
            let samples = {
                // Voice and rate are espeak-ng globals another user may have changed: set both.
                let mut espeak = espeak_ng::lock()?;
                espeak.set_voice(&self.voice)?;
                espeak.synthesize(sentence, self.words_per_minute)?
            };
            if samples.is_empty() {
                continue;
            }
            delivered += 1;
            let mut samples: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
            if self.trim {
                lead_in::trim_leading_silence(&mut samples, self.sample_rate);
            }
            if !on_sentence(AudioBuffer::mono(samples, self.sample_rate)) {
                break;
            }
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_maps_to_words_per_minute() {
        assert_eq!(EspeakSynthesizer::new("en-us", 1.0).unwrap().words_per_minute(), 175);
        assert_eq!(EspeakSynthesizer::new("en-us", 2.0).unwrap().words_per_minute(), 350);
        assert_eq!(EspeakSynthesizer::new("en-us", 0.25).unwrap().words_per_minute(), 80);
    }

    #[test]
    fn speaks_into_memory() {
        let synth = EspeakSynthesizer::new("en-us", 1.0).unwrap();
        let audio = synth.synthesize("Hello there.").unwrap();
        assert_eq!((audio.sample_rate, audio.channels), (22050, 1));
        let d = audio.duration_s();
        assert!((0.4..3.0).contains(&d), "{d} s");
        assert!(audio.samples.iter().any(|s| s.abs() > 0.05));
        assert!(synth.synthesize("").unwrap().samples.is_empty());
    }

    #[test]
    fn a_faster_rate_is_shorter() {
        let text = "This sentence is spoken at two different speeds.";
        let normal = EspeakSynthesizer::new("en-us", 1.0).unwrap().synthesize(text).unwrap();
        let fast = EspeakSynthesizer::new("en-us", 2.0).unwrap().synthesize(text).unwrap();
        assert!(
            fast.duration_s() < 0.75 * normal.duration_s(),
            "{} vs {}",
            fast.duration_s(),
            normal.duration_s()
        );
    }
}
