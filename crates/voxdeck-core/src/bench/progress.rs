//! Where a benchmark is and how long it has left.
//!
//! Each model goes through the same phases (load, warm-up, then each run); [`Estimate`] times
//! the phases as they end and predicts the rest from them: a model's next runs from its own
//! runs, another model's phases from those timed so far scaled by file size (a model twice as
//! large loads and generates about half as fast). Until every kind of phase still to
//! come has been timed once, there is no estimate: the tab says "estimating…".

/// One step of one model's measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Loading the model (llama.cpp cannot be interrupted here).
    Load,
    /// One prompt and a short answer, untimed, so the runs start warm.
    WarmUp,
    /// Measured run `run` (1-based) of `runs`.
    Run { run: u32, runs: u32 },
}

impl Phase {
    fn kind(self) -> usize {
        match self {
            Phase::Load => 0,
            Phase::WarmUp => 1,
            Phase::Run { .. } => 2,
        }
    }

    /// Position among one model's phases, from 0.
    fn index(self) -> u32 {
        match self {
            Phase::Load => 0,
            Phase::WarmUp => 1,
            Phase::Run { run, .. } => 1 + run,
        }
    }
}

/// Where the benchmark is, for a progress bar and a line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchProgress {
    pub model: String,
    /// The model's place in the queue, from 0, of `models`.
    pub model_index: u32,
    pub models: u32,
    pub phase: Phase,
    /// Tokens generated so far in this phase's answer, of how many; `None` before the answer
    /// starts (loading, processing the prompt).
    pub tokens: Option<(u32, u32)>,
    /// Seconds since this phase started.
    pub phase_s: f64,
    /// Seconds since the benchmark started.
    pub elapsed_s: f64,
    /// Share of the whole benchmark done, 0 to 1.
    pub fraction: f64,
    /// Seconds left by the phases timed so far; `None` while estimating.
    pub eta_s: Option<f64>,
}

impl BenchProgress {
    /// "loading (12 s)", "warming up: 8 of 16 tokens", "run 2 of 3: 23 of 50 tokens".
    pub fn step(&self) -> String {
        let name = match self.phase {
            Phase::Load => "loading".to_owned(),
            Phase::WarmUp => "warming up".to_owned(),
            Phase::Run { run, runs } => format!("run {run} of {runs}"),
        };
        match self.tokens {
            Some((done, of)) => format!("{name}: {done} of {of} tokens"),
            // A blocking step still shows that time passes.
            None if self.phase_s >= 1.0 => format!("{name} ({:.0} s)", self.phase_s),
            None => name,
        }
    }
}

/// Times the phases as they end and predicts the ones to come.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// Each model's file size, bytes, in the order measured.
    sizes: Vec<u64>,
    runs: u32,
    /// Per phase kind: seconds and bytes (model size) of the phases timed so far, and how many.
    timed: [(f64, f64, u32); 3],
    /// Per model and phase kind: its own seconds and count, which predict its next runs better
    /// than other models scaled by size.
    own: Vec<[(f64, u32); 3]>,
}

impl Estimate {
    pub fn new(sizes: Vec<u64>, runs: u32) -> Estimate {
        let own = vec![[(0.0, 0); 3]; sizes.len()];
        Estimate { sizes, runs: runs.max(1), timed: [(0.0, 0.0, 0); 3], own }
    }

    fn phases_per_model(&self) -> u32 {
        self.runs + 2
    }

    /// A phase of model `model` took `seconds`.
    pub fn record(&mut self, model: usize, phase: Phase, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        let t = &mut self.timed[phase.kind()];
        t.0 += seconds;
        t.1 += self.sizes.get(model).copied().unwrap_or(0) as f64;
        t.2 += 1;
        if let Some(own) = self.own.get_mut(model) {
            own[phase.kind()].0 += seconds;
            own[phase.kind()].1 += 1;
        }
    }

    /// Expected seconds for a phase of this kind on model `model`, once one has been timed.
    fn expected(&self, model: usize, kind: usize) -> Option<f64> {
        if let Some(&(secs, count)) = self.own.get(model).map(|own| &own[kind])
            && count > 0
        {
            return Some(secs / f64::from(count));
        }
        let (secs, bytes, count) = self.timed[kind];
        if count == 0 {
            return None;
        }
        let size = self.sizes.get(model).copied().unwrap_or(0) as f64;
        // Scaled by size where sizes are known; the plain average otherwise.
        Some(if bytes > 0.0 && size > 0.0 { secs / bytes * size } else { secs / f64::from(count) })
    }

    /// Seconds left: the rest of the current phase and every phase after it. The current phase's
    /// rest comes from its own token rate when it has one, else from its expected length.
    pub fn remaining(&self, model: usize, phase: Phase, phase_s: f64, tokens: Option<(u32, u32)>) -> Option<f64> {
        let current = match tokens {
            Some((done, of)) if done > 0 && of > 0 && phase_s > 0.0 => {
                phase_s * f64::from(of.saturating_sub(done)) / f64::from(done)
            }
            _ => (self.expected(model, phase.kind())? - phase_s).max(0.0),
        };
        let mut left = current;
        for m in model..self.sizes.len() {
            let first = if m == model { phase.index() + 1 } else { 0 };
            for index in first..self.phases_per_model() {
                let kind = match index {
                    0 => 0,
                    1 => 1,
                    _ => 2,
                };
                left += self.expected(m, kind)?;
            }
        }
        Some(left)
    }

    /// Share of the benchmark done, 0 to 1: whole phases, plus the current one's token share.
    pub fn fraction(&self, model: usize, phase: Phase, tokens: Option<(u32, u32)>) -> f64 {
        let total = (self.sizes.len().max(1) as u32 * self.phases_per_model()) as f64;
        let within = match tokens {
            Some((done, of)) if of > 0 => f64::from(done.min(of)) / f64::from(of),
            _ => 0.0,
        };
        let done = model as f64 * f64::from(self.phases_per_model()) + f64::from(phase.index()) + within;
        (done / total).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN1: Phase = Phase::Run { run: 1, runs: 2 };
    const RUN2: Phase = Phase::Run { run: 2, runs: 2 };

    #[test]
    fn no_estimate_until_every_kind_to_come_was_timed() {
        let mut e = Estimate::new(vec![100, 300], 2);
        assert_eq!(e.remaining(0, Phase::Load, 0.5, None), None);
        e.record(0, Phase::Load, 2.0);
        assert_eq!(e.remaining(0, Phase::WarmUp, 0.0, None), None, "warm-up and runs never timed");
        e.record(0, Phase::WarmUp, 1.0);
        assert_eq!(e.remaining(0, RUN1, 0.0, None), None, "runs never timed");
        e.record(0, RUN1, 4.0);
        // Model 0: run 2 (4 s). Model 1 (three times the size): load 6, warm-up 3, two runs 12 each.
        let left = e.remaining(0, RUN2, 0.0, None).unwrap();
        assert!((left - (4.0 + 6.0 + 3.0 + 24.0)).abs() < 1e-9, "{left}");
        // Halfway through run 2 by its own token rate: 2 s of it left.
        let left = e.remaining(0, RUN2, 2.0, Some((25, 50))).unwrap();
        assert!((left - (2.0 + 33.0)).abs() < 1e-9, "{left}");
    }

    #[test]
    fn a_models_own_runs_predict_its_next_ones() {
        let mut e = Estimate::new(vec![100, 300], 3);
        e.record(0, Phase::Load, 1.0);
        e.record(0, Phase::WarmUp, 1.0);
        e.record(0, Phase::Run { run: 1, runs: 3 }, 2.0);
        e.record(1, Phase::Load, 3.0);
        e.record(1, Phase::WarmUp, 3.0);
        // Model 1's runs are scaled from model 0's (2 s per 100 bytes) until it has one of its own.
        let before = e.remaining(1, Phase::Run { run: 1, runs: 3 }, 0.0, None).unwrap();
        assert!((before - 18.0).abs() < 1e-9, "{before}");
        e.record(1, Phase::Run { run: 1, runs: 3 }, 4.0);
        let after = e.remaining(1, Phase::Run { run: 2, runs: 3 }, 0.0, None).unwrap();
        assert!((after - 8.0).abs() < 1e-9, "its own 4 s per run: {after}");
    }

    #[test]
    fn a_token_rate_gives_an_estimate_for_the_current_phase_alone() {
        let e = Estimate::new(vec![100], 1);
        // The last phase of the last model needs nothing timed before it.
        let last = Phase::Run { run: 1, runs: 1 };
        assert_eq!(e.remaining(0, last, 1.0, Some((10, 40))), Some(3.0));
        assert_eq!(e.remaining(0, last, 1.0, Some((0, 40))), None, "no token yet");
    }

    #[test]
    fn an_overrun_phase_has_nothing_left_not_a_negative_time() {
        let mut e = Estimate::new(vec![0, 0], 1);
        e.record(0, Phase::Load, 2.0);
        e.record(0, Phase::WarmUp, 1.0);
        e.record(0, Phase::Run { run: 1, runs: 1 }, 3.0);
        // Unknown sizes: plain averages. Model 1's load has run 5 s, 2 expected: 0 + 1 + 3 left.
        assert_eq!(e.remaining(1, Phase::Load, 5.0, None), Some(4.0));
        e.record(0, Phase::Load, f64::NAN);
        assert_eq!(e.remaining(1, Phase::Load, 5.0, None), Some(4.0), "a broken timing is ignored");
    }

    #[test]
    fn fraction_counts_phases_and_tokens() {
        let e = Estimate::new(vec![1, 1], 2);
        assert_eq!(e.fraction(0, Phase::Load, None), 0.0);
        assert_eq!(e.fraction(0, RUN1, Some((5, 10))), 2.5 / 8.0);
        assert_eq!(e.fraction(1, Phase::Load, None), 0.5);
        assert_eq!(e.fraction(1, RUN2, Some((10, 10))), 1.0);
    }

    #[test]
    fn step_words() {
        let mut p = BenchProgress {
            model: "m".into(),
            model_index: 0,
            models: 1,
            phase: Phase::Load,
            tokens: None,
            phase_s: 0.2,
            elapsed_s: 0.2,
            fraction: 0.0,
            eta_s: None,
        };
        assert_eq!(p.step(), "loading");
        p.phase_s = 12.4;
        assert_eq!(p.step(), "loading (12 s)");
        p.phase = Phase::Run { run: 2, runs: 3 };
        p.tokens = Some((23, 50));
        assert_eq!(p.step(), "run 2 of 3: 23 of 50 tokens");
    }
}
