//! One turn's timeline on one monotonic clock, copied into the [`TurnRecord`] a finished turn
//! leaves (the record itself lives in [`crate::turn_record`]).
//!
//! Every stage marks the moment it reached a milestone with [`Timeline::mark`]; the record
//! reports each milestone in milliseconds relative to the push-to-talk release, the moment the
//! user starts waiting (so `press_ms` is negative and everything after release is positive).

use std::time::Instant;

pub use crate::turn_record::{Outcome, TurnRecord, unix_ms_now};

/// The milestones of a turn, in the order they normally happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    Press,
    Release,
    TranscriptReady,
    FirstToken,
    FirstSentence,
    FirstAudioOut,
    /// The first answer sample above -40 dBFS left the output (the user hears it).
    FirstAudible,
    LastToken,
    LastAudioOut,
    /// The next press cut this turn short (barge-in).
    Interrupted,
    /// Playback was silenced and generation cancelled after the barge-in press.
    Silenced,
    /// The first tool call's result is ready.
    ToolDone,
}

const MARKS: usize = 12;

impl Mark {
    fn index(self) -> usize {
        self as usize
    }
}

/// When each milestone of one turn happened. The first mark of a kind wins.
#[derive(Debug, Clone)]
pub struct Timeline {
    at: [Option<Instant>; MARKS],
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline { at: [None; MARKS] }
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Records `mark` now, unless it was recorded already.
    pub fn mark(&mut self, mark: Mark) {
        self.mark_at(mark, Instant::now());
    }

    /// Records `mark` at `at`, unless it was recorded already.
    pub fn mark_at(&mut self, mark: Mark, at: Instant) {
        let slot = &mut self.at[mark.index()];
        if slot.is_none() {
            *slot = Some(at);
        }
    }

    pub fn get(&self, mark: Mark) -> Option<Instant> {
        self.at[mark.index()]
    }

    /// Milliseconds from release to `mark` (negative before release); `None` if either is missing.
    pub fn ms_from_release(&self, mark: Mark) -> Option<f64> {
        let release = self.get(Mark::Release)?;
        let at = self.get(mark)?;
        Some(signed_ms(release, at))
    }

    /// Milliseconds from `from` to `to`; `None` if either is missing.
    pub fn span_ms(&self, from: Mark, to: Mark) -> Option<f64> {
        Some(signed_ms(self.get(from)?, self.get(to)?))
    }
}

/// `to - from` in milliseconds, negative when `to` is earlier.
pub fn signed_ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1000.0
    } else {
        -((from - to).as_secs_f64() * 1000.0)
    }
}

impl TurnRecord {
    /// Copies the timeline's milestones into the record (kept here, beside [`Timeline`], so
    /// [`crate::turn_record`] stays a leaf).
    pub fn fill_times(&mut self, t: &Timeline) {
        self.press_ms = t.ms_from_release(Mark::Press);
        self.release_ms = t.ms_from_release(Mark::Release);
        self.transcript_ms = t.ms_from_release(Mark::TranscriptReady);
        self.first_token_ms = t.ms_from_release(Mark::FirstToken);
        self.first_sentence_ms = t.ms_from_release(Mark::FirstSentence);
        self.first_audio_ms = t.ms_from_release(Mark::FirstAudioOut);
        self.first_audible_ms = t.ms_from_release(Mark::FirstAudible);
        self.last_token_ms = t.ms_from_release(Mark::LastToken);
        self.last_audio_ms = t.ms_from_release(Mark::LastAudioOut);
        self.interrupted_ms = t.ms_from_release(Mark::Interrupted);
        self.silenced_ms = t.ms_from_release(Mark::Silenced);
        self.tool_ms = t.ms_from_release(Mark::ToolDone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_relative_to_release_and_first_mark_wins() {
        let base = Instant::now();
        let mut t = Timeline::new();
        t.mark_at(Mark::Press, base);
        t.mark_at(Mark::Release, base + Duration::from_millis(1500));
        t.mark_at(Mark::FirstToken, base + Duration::from_millis(1800));
        t.mark_at(Mark::FirstToken, base + Duration::from_millis(9000));
        assert_eq!(t.ms_from_release(Mark::Press).map(f64::round), Some(-1500.0));
        assert_eq!(t.ms_from_release(Mark::FirstToken).map(f64::round), Some(300.0));
        assert_eq!(t.ms_from_release(Mark::LastAudioOut), None);

        let mut r = TurnRecord::new("c", 1);
        r.fill_times(&t);
        assert_eq!(r.release_ms, Some(0.0));
        assert_eq!(r.first_token_ms.map(f64::round), Some(300.0));
        let json = serde_json::to_value(&r).expect("serialises");
        for key in [
            "transcript", "answer", "engine", "route_reason", "fallback", "transcript_ms", "first_token_ms",
            "first_sentence_ms", "first_audio_ms", "last_token_ms", "last_audio_ms", "gen_tok_s",
        ] {
            assert!(json.get(key).is_some(), "missing key {key}");
        }
        let back: TurnRecord = serde_json::from_value(json).expect("round trips");
        assert_eq!(back, r);
    }
}
