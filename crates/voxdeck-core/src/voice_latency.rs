//! Voice latency: how a response time feels in conversation, by the configured thresholds.

use serde::{Deserialize, Serialize};

pub use crate::config::VoiceThresholds;

/// How a response time feels, by the seed's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Under `natural_s`.
    Natural,
    /// Under `acceptable_s`.
    Acceptable,
    /// Between `acceptable_s` and `unusable_s`.
    Slow,
    /// Over `unusable_s`.
    Unusable,
}

impl Verdict {
    pub fn of(seconds: f64, t: &VoiceThresholds) -> Verdict {
        if seconds < t.natural_s {
            Verdict::Natural
        } else if seconds < t.acceptable_s {
            Verdict::Acceptable
        } else if seconds <= t.unusable_s {
            Verdict::Slow
        } else {
            Verdict::Unusable
        }
    }

    /// Fit for real-time voice: natural or acceptable.
    pub fn voice_ready(self) -> bool {
        matches!(self, Verdict::Natural | Verdict::Acceptable)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Natural => "natural",
            Verdict::Acceptable => "acceptable",
            Verdict::Slow => "slow",
            Verdict::Unusable => "unusable",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_table_verdicts() {
        let t = VoiceThresholds::default();
        // The seed's table: Llama 1.1 / 1.8 / 3.7 s, Qwen 3.1 / 5.2 / 10.3 s.
        assert_eq!(Verdict::of(1.1, &t), Verdict::Natural);
        assert_eq!(Verdict::of(1.8, &t), Verdict::Natural);
        assert_eq!(Verdict::of(2.5, &t), Verdict::Acceptable);
        assert_eq!(Verdict::of(3.1, &t), Verdict::Slow);
        assert_eq!(Verdict::of(3.7, &t), Verdict::Slow);
        assert_eq!(Verdict::of(5.2, &t), Verdict::Unusable);
        assert_eq!(Verdict::of(2.0, &t), Verdict::Acceptable, "thresholds are strict upper bounds");
    }
}
