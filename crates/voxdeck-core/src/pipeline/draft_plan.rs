//! When to transcribe while the button is held (`pipeline.incremental_stt`): at each pause
//! after speech (160 ms under the energy gate), or after each second of new audio with speech
//! in it, and only while no pass is running, so passes never queue up.
//!
//! Drafting is bounded: it stops once the utterance is longer than [`DRAFT_MAX_SAMPLES`] (a
//! pass over more would make a final pass that needs to follow it wait too long), and a source
//! that delivers faster than real time (a file read at once) gets no drafts at all: nobody is
//! speaking, and the whole utterance is there before a draft could be of use.
//!
//! The Whisper worker serves one request at a time, so the utterance waits for a pass that is
//! running at release. [`DraftState`] keeps that wait short: one pass at a time, and none while
//! the machine is too busy for passes to keep up with speech.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audio::rms_dbfs;
use crate::stt::SAMPLE_RATE;
use crate::stt::gate::FRAME;

/// A pause: this many quiet 20 ms frames after speech (160 ms). Short, because a pass takes
/// about 300 ms here and people let go of the button 150-500 ms after their last word: a pass
/// that starts at the pause is then done, or nearly, when they do.
const PAUSE_FRAMES: u32 = 8;
/// Speech: at least this many active frames since the last pass (100 ms, as the energy gate).
const MIN_SPEECH_FRAMES: u32 = 5;
/// Without a pause, a pass after this much new audio (1 s).
const EVERY_SAMPLES: usize = SAMPLE_RATE as usize;
/// No drafts over utterances longer than this (15 s).
pub const DRAFT_MAX_SAMPLES: usize = 15 * SAMPLE_RATE as usize;
/// Audio ahead of the wall clock by more than this is not being spoken now.
const LIVE_SLACK_S: f64 = 0.5;
/// A pass slower than this share of its audio falls behind speech. Audio shorter than
/// [`SLOW_FLOOR_S`] counts as that long: with `stt.fit_audio_ctx` Whisper encodes at least 10 s
/// whatever is sent, so a short draft costs about what the final pass would.
const SLOW_SHARE: f64 = 0.5;
const SLOW_FLOOR_S: f64 = 2.0;

/// What capture and speech to text share about passes made while the button is held.
#[derive(Debug, Default)]
pub(crate) struct DraftState {
    /// A pass was asked for and has not finished (or been dropped).
    busy: AtomicBool,
    /// The last pass (made while held or at release) was slow: the machine is too busy to
    /// draft. The next pass that keeps up clears it.
    slow: AtomicBool,
}

impl DraftState {
    /// Whether a pass may be asked for now.
    pub fn ready(&self) -> bool {
        !self.busy.load(Ordering::Acquire) && !self.slow.load(Ordering::Acquire)
    }

    /// A pass was asked for.
    pub fn begin(&self) {
        self.busy.store(true, Ordering::Release);
    }

    /// The pass asked for finished, or was dropped.
    pub fn end(&self) {
        self.busy.store(false, Ordering::Release);
    }

    /// A pass over `samples` samples took `took`.
    pub fn measured(&self, samples: usize, took: Duration) {
        let audio_s = (samples as f64 / f64::from(SAMPLE_RATE)).max(SLOW_FLOOR_S);
        let slow = took.as_secs_f64() > SLOW_SHARE * audio_s;
        if slow != self.slow.swap(slow, Ordering::AcqRel) {
            let ms = took.as_secs_f64() * 1000.0;
            let now = if slow { "off: passes are slower than speech" } else { "on again" };
            tracing::info!(ms, audio_s, "transcribing while the button is held: {now}");
        }
    }
}

/// Watches an utterance grow and says when a draft pass is due.
#[derive(Debug)]
pub(crate) struct DraftPlanner {
    threshold_dbfs: f32,
    started: Instant,
    /// Samples measured so far (whole frames).
    measured: usize,
    /// Active frames since the last pass was asked for.
    speech_frames: u32,
    /// Quiet frames in a row at the end of what was measured.
    quiet_frames: u32,
    /// The utterance's length when the last pass was asked for.
    last_pass: usize,
}

impl DraftPlanner {
    /// A planner for an utterance that started at `started`; frames at or above
    /// `threshold_dbfs` (the energy gate's) count as speech.
    pub fn new(threshold_dbfs: f32, started: Instant) -> DraftPlanner {
        DraftPlanner { threshold_dbfs, started, measured: 0, speech_frames: 0, quiet_frames: 0, last_pass: 0 }
    }

    /// Whether to transcribe `samples` (the utterance so far) now; `idle`: no pass is running.
    /// Called after each chunk of audio; when it says yes, the pass is taken as asked for.
    pub fn due(&mut self, samples: &[f32], now: Instant, idle: bool) -> bool {
        while self.measured + FRAME <= samples.len() {
            let frame = &samples[self.measured..self.measured + FRAME];
            if rms_dbfs(frame) >= self.threshold_dbfs {
                self.speech_frames += 1;
                self.quiet_frames = 0;
            } else {
                self.quiet_frames += 1;
            }
            self.measured += FRAME;
        }
        if !idle || samples.len() > DRAFT_MAX_SAMPLES || self.speech_frames < MIN_SPEECH_FRAMES {
            return false;
        }
        let audio_s = samples.len() as f64 / f64::from(SAMPLE_RATE);
        if audio_s > now.saturating_duration_since(self.started).as_secs_f64() + LIVE_SLACK_S {
            return false;
        }
        let paused = self.quiet_frames >= PAUSE_FRAMES;
        let grown = samples.len() - self.last_pass >= EVERY_SAMPLES;
        if !(paused || grown) {
            return false;
        }
        self.speech_frames = 0;
        self.last_pass = samples.len();
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect()
    }

    /// Feeds `audio` in 32 ms chunks as a microphone would (the clock keeps pace), with a pass
    /// taking no time; returns the lengths at which passes were asked for.
    fn passes(audio: &[f32], idle: impl Fn(usize) -> bool) -> Vec<usize> {
        let start = Instant::now();
        let mut planner = DraftPlanner::new(-50.0, start);
        let mut asked = Vec::new();
        for end in (512..=audio.len()).step_by(512) {
            let now = start + Duration::from_secs_f64(end as f64 / f64::from(SAMPLE_RATE));
            if planner.due(&audio[..end], now, idle(end)) {
                asked.push(end);
            }
        }
        asked
    }

    #[test]
    fn a_pause_after_speech_asks_for_one_pass() {
        // 0.6 s of speech, then 1 s of silence: one pass, about 160 ms into the silence.
        let mut audio = tone(9_600);
        audio.extend(vec![0.0; 16_000]);
        let asked = passes(&audio, |_| true);
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!((9_600 + 2_560..9_600 + 2_560 + 1_024).contains(&asked[0]), "{asked:?}");
    }

    #[test]
    fn speech_without_pauses_asks_every_second_and_silence_never() {
        let asked = passes(&tone(16_000 * 3 + 100), |_| true);
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert!(asked[0] >= 16_000 && asked[1] - asked[0] >= 16_000, "{asked:?}");
        assert!(passes(&vec![0.0; 48_000], |_| true).is_empty());
    }

    #[test]
    fn a_busy_worker_defers_the_pass_and_long_holds_stop_drafting() {
        let mut audio = tone(9_600);
        audio.extend(vec![0.0; 16_000]);
        // Busy until 1.5 s: the pause's pass comes once it is idle, covering the whole pause.
        let asked = passes(&audio, |end| end >= 24_000);
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0] >= 24_000);
        // A 40 s hold of continuous speech: passes stop at 15 s.
        let asked = passes(&tone(16_000 * 40), |_| true);
        assert!(asked.iter().all(|&n| n <= DRAFT_MAX_SAMPLES), "{asked:?}");
        assert!((10..=15).contains(&asked.len()), "{asked:?}");
    }

    #[test]
    fn a_slow_pass_stops_drafting_until_one_keeps_up() {
        let state = DraftState::default();
        assert!(state.ready());
        state.begin();
        assert!(!state.ready());
        state.end();
        state.measured(16_000, Duration::from_millis(1_200));
        assert!(!state.ready(), "1.2 s for 1 s of audio");
        state.measured(64_000, Duration::from_millis(1_900));
        assert!(state.ready(), "1.9 s for 4 s of audio");
        state.measured(96_000, Duration::from_millis(3_100));
        assert!(!state.ready(), "3.1 s for 6 s of audio");
        state.measured(1_600, Duration::from_millis(900));
        assert!(state.ready(), "short audio counts as 2 s");
    }

    #[test]
    fn audio_faster_than_real_time_gets_no_drafts() {
        let mut audio = tone(12_800);
        audio.extend(vec![0.0; 16_000]);
        let start = Instant::now();
        let mut planner = DraftPlanner::new(-50.0, start);
        let asked = (512..=audio.len()).step_by(512).filter(|&end| planner.due(&audio[..end], start, true)).count();
        assert_eq!(asked, 0);
    }
}
