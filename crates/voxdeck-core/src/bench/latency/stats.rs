//! Percentiles of a milestone over turns: n, min, p50, p90, max.

use serde::{Deserialize, Serialize};

/// Order statistics of one figure; all `None` when no turn had it (n = 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub n: u32,
    pub min: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub max: Option<f64>,
}

impl Stat {
    /// Nearest-rank percentiles of the finite values: each is one of the samples, and
    /// min <= p50 <= p90 <= max always holds.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Stat {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Stat {
            n: v.len() as u32,
            min: v.first().copied(),
            p50: Some(rank(0.5)),
            p90: Some(rank(0.9)),
            max: v.last().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Stat::of((1..=10).map(f64::from));
        assert_eq!((s.n, s.min, s.p50, s.p90, s.max), (10, Some(1.0), Some(5.0), Some(9.0), Some(10.0)));
        let one = Stat::of([7.0]);
        assert_eq!((one.p50, one.p90), (Some(7.0), Some(7.0)));
        let none = Stat::of([f64::NAN]);
        assert_eq!(none, Stat::default());
    }
}
