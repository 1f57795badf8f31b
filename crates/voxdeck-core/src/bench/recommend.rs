//! The voice recommendation: which measured model to use for real-time voice, and why.

use super::format::{finite_or, fmt_bytes, fmt_secs};
use super::{BenchSettings, ModelBench};
use crate::voice_latency::{Verdict, VoiceThresholds};
/// The model recommended for real-time voice, and why, in one sentence.
///
/// Policy (the seed's "a fast good answer beats a slow perfect answer", without being slower
/// than needed):
///
/// 1. Among the voice-ready models ([`Verdict::voice_ready`]: natural or acceptable), take those
///    with the best verdict (natural beats acceptable), and of those the one with the largest
///    `file_size_bytes`: the most capable model that still feels that good. Ties go to the lower
///    response time, then to the model measured first.
/// 2. If no model is voice-ready, the one with the lowest response time at the verdict token
///    count (slow beats unusable when times are missing), with a reason saying that none meets
///    the budget.
/// 3. No models: `None`.
///
/// Response times are read at `settings.verdict_tokens`, and the reason quotes the voice budget.
pub fn recommend(models: &[ModelBench], settings: &BenchSettings) -> (Option<String>, String) {
    recommend_with(models, Some(settings.verdict_tokens), Some(&settings.thresholds))
}

fn recommend_with(
    models: &[ModelBench],
    verdict_tokens: Option<u32>,
    thresholds: Option<&VoiceThresholds>,
) -> (Option<String>, String) {
    if models.is_empty() {
        return (None, "No model was measured.".to_owned());
    }
    let latency = |m: &ModelBench| verdict_tokens.and_then(|n| response_at(m, n));
    let latency_key = |m: &ModelBench| latency(m).unwrap_or(f64::INFINITY);
    let ready: Vec<&ModelBench> = models.iter().filter(|m| m.verdict.voice_ready()).collect();

    if !ready.is_empty() {
        // `min_by` keeps the first of equal elements, so ties go to the model measured first.
        let best = ready
            .iter()
            .copied()
            .min_by(|a, b| {
                a.verdict
                    .cmp(&b.verdict)
                    .then(b.file_size_bytes.cmp(&a.file_size_bytes))
                    .then(latency_key(a).total_cmp(&latency_key(b)))
            })
            .expect("non-empty");
        let peers = ready.iter().filter(|m| m.verdict == best.verdict).count();
        let feel = verdict_phrase(best.verdict, thresholds);
        let timing = latency_phrase(latency(best), verdict_tokens);
        let reason = if models.len() == 1 {
            format!("{} is fit for real-time voice: {timing} {feel}.", best.name)
        } else if ready.len() == 1 {
            format!(
                "{} is the only model fit for real-time voice: {timing} {feel}, while the others \
                 are too slow.",
                best.name
            )
        } else if peers == 1 {
            format!(
                "{} is the only model whose answers feel {}{}, and a fast good answer beats a \
                 slow perfect one.",
                best.name,
                best.verdict,
                timing_short(latency(best), verdict_tokens, thresholds, best.verdict)
            )
        } else {
            format!(
                "{} is the largest ({}) of the {peers} models whose answers feel {}{}, so it is \
                 the most capable choice that still keeps up with conversation.",
                best.name,
                fmt_bytes(best.file_size_bytes),
                best.verdict,
                timing_short(latency(best), verdict_tokens, thresholds, best.verdict)
            )
        };
        return (Some(best.name.clone()), reason);
    }

    // Nobody is voice-ready: the least bad. Lowest response time first; without times, the
    // better verdict, then the faster generation.
    let best = models
        .iter()
        .min_by(|a, b| {
            latency_key(a)
                .total_cmp(&latency_key(b))
                .then(a.verdict.cmp(&b.verdict))
                .then(finite_or(b.gen_tok_s, 0.0).total_cmp(&finite_or(a.gen_tok_s, 0.0)))
        })
        .expect("non-empty");
    let feel = verdict_phrase(best.verdict, thresholds);
    let reason = match latency(best) {
        Some(t) => format!(
            "No model meets the voice budget; {} is the fastest at {} for a {}-token answer, but \
             that {feel}.",
            best.name,
            fmt_secs(t),
            verdict_tokens.unwrap_or_default()
        ),
        None => format!(
            "No model meets the voice budget; {} is the least slow, but its answers still {feel}.",
            best.name
        ),
    };
    (Some(best.name.clone()), reason)
}

/// "a 50-token answer takes 1.8s, which" / "its answers".
fn latency_phrase(latency: Option<f64>, tokens: Option<u32>) -> String {
    match (latency, tokens) {
        (Some(t), Some(n)) => format!("a {n}-token answer takes {}, which", fmt_secs(t)),
        _ => "its answers".to_owned(),
    }
}

/// " (1.8s for 50 tokens, under 2 s)" with whatever is known, or nothing.
fn timing_short(
    latency: Option<f64>,
    tokens: Option<u32>,
    thresholds: Option<&VoiceThresholds>,
    verdict: Verdict,
) -> String {
    let mut parts = Vec::new();
    if let (Some(t), Some(n)) = (latency, tokens) {
        parts.push(format!("{} for {n} tokens", fmt_secs(t)));
    }
    if let Some(b) = thresholds.map(|t| budget_phrase(verdict, t)) {
        parts.push(b);
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// "feels natural (under 2 s)", "is unusable (over 4 s)", ...; thresholds optional.
fn verdict_phrase(verdict: Verdict, thresholds: Option<&VoiceThresholds>) -> String {
    let base = match verdict {
        Verdict::Natural => "feels natural",
        Verdict::Acceptable => "has acceptable lag",
        Verdict::Slow => "is slow",
        Verdict::Unusable => "is unusable",
    };
    match thresholds {
        Some(t) => format!("{base} ({})", budget_phrase(verdict, t)),
        None => base.to_owned(),
    }
}

/// The budget band a verdict stands for: "under 2 s", "3–4 s", "over 4 s".
fn budget_phrase(verdict: Verdict, t: &VoiceThresholds) -> String {
    match verdict {
        Verdict::Natural => format!("under {} s", t.natural_s),
        Verdict::Acceptable => format!("under {} s", t.acceptable_s),
        Verdict::Slow => format!("{}–{} s", t.acceptable_s, t.unusable_s),
        Verdict::Unusable => format!("over {} s", t.unusable_s),
    }
}

/// Response time to the `n`th token, if measured and sane (finite, positive).
pub(super) fn response_at(m: &ModelBench, n: u32) -> Option<f64> {
    m.response_s
        .get(&n.to_string())
        .copied()
        .filter(|t| t.is_finite() && *t > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::{llama, model, qwen, settings};

    #[test]
    fn recommend_both_natural_prefers_the_larger() {
        let small = model("Small", 1.0, 1.1, 40.0, 90.0, 0.2, [0.8, 1.3, 2.6]);
        let big = model("Big", 2.0, 2.1, 25.0, 60.0, 0.3, [1.2, 1.9, 3.9]);
        let (name, reason) = recommend(&[small.clone(), big.clone()], &settings());
        assert_eq!(name.as_deref(), Some("Big"));
        assert!(reason.contains("largest"), "{reason}");
        // Order does not matter.
        assert_eq!(recommend(&[big, small], &settings()).0.as_deref(), Some("Big"));
    }

    #[test]
    fn recommend_natural_beats_a_larger_acceptable() {
        let natural = model("Natural", 1.0, 1.1, 40.0, 90.0, 0.2, [0.8, 1.3, 2.6]);
        let acceptable = model("Acceptable", 4.0, 4.1, 18.0, 50.0, 0.4, [1.8, 2.8, 5.6]);
        assert_eq!(acceptable.verdict, Verdict::Acceptable);
        let (name, reason) = recommend(&[acceptable, natural], &settings());
        assert_eq!(name.as_deref(), Some("Natural"));
        assert!(
            reason.contains("only model whose answers feel natural"),
            "{reason}"
        );
    }

    #[test]
    fn recommend_natural_over_unusable() {
        let (name, reason) = recommend(&[qwen(), llama()], &settings());
        assert_eq!(name.as_deref(), Some("Llama 3.2 3B"));
        assert!(
            reason.contains("only model fit for real-time voice"),
            "{reason}"
        );
        assert!(
            reason.contains("50-token answer takes 1.8s"),
            "inferred verdict tokens: {reason}"
        );
        let (_, exact) = recommend(&[qwen(), llama()], &settings());
        assert!(exact.contains("under 2 s"), "{exact}");
    }

    #[test]
    fn recommend_none_ready_picks_the_fastest_and_says_so() {
        let slow = model("Slow", 2.0, 2.1, 12.0, 40.0, 0.5, [2.2, 3.5, 7.0]);
        let slower = qwen();
        let (name, reason) =
            recommend(&[slower.clone(), slow.clone()], &settings());
        assert_eq!(name.as_deref(), Some("Slow"));
        assert!(
            reason.starts_with("No model meets the voice budget"),
            "{reason}"
        );
        assert!(reason.contains("3.5s"), "{reason}");
        assert_eq!(recommend(&[slower, slow], &settings()).0.as_deref(), Some("Slow"));
    }

    #[test]
    fn recommend_none_ready_lowest_time_wins_over_verdict_rank() {
        // Same verdict at 50 tokens; lower time wins even if generation is slower.
        let a = model("A", 2.0, 2.1, 15.0, 40.0, 0.5, [3.0, 4.5, 8.0]);
        let b = model("B", 2.0, 2.1, 20.0, 40.0, 2.0, [4.0, 4.8, 7.0]);
        let (name, _) = recommend(&[b, a], &settings());
        assert_eq!(name.as_deref(), Some("A"));
    }

    #[test]
    fn recommend_handles_empty_and_nan() {
        assert_eq!(recommend(&[], &settings()), (None, "No model was measured.".to_owned()));
        let mut m = qwen();
        m.response_s.values_mut().for_each(|v| *v = f64::NAN);
        m.gen_tok_s = f64::NAN;
        let (name, reason) = recommend(&[m], &settings());
        assert_eq!(name.as_deref(), Some("Qwen 2.5 7B"));
        assert!(
            reason.contains("No model meets the voice budget"),
            "{reason}"
        );
    }
}
