//! The Markdown report, shaped like the seed's tables, and the voice recommendation.
//!
//! [`markdown`] renders a [`BenchReport`] the way the hand-made benchmark was written: a header
//! (date, host, settings, voice budget), one block per model, the response-time table with ✅ /
//! ⚠️ / ❌ cells, the metrics table, the speed comparison against the fastest model and the
//! recommendation. [`recommend`] picks the model for real-time voice.
//!
//! Every number may be missing or broken (NaN, infinite, zero): it prints as `n/a`, and no ratio
//! is ever taken against zero.

use std::fmt::Write as _;

use super::{BenchReport, BenchSettings, ModelBench};
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

/// The Markdown report, shaped like the seed's: header, one block per model, the response-time
/// table, the metrics table, the speed comparison and the recommendation.
///
/// The recommendation is the report's own (`recommended`, `recommendation_reason`); when both are
/// empty it is computed with [`recommend`].
pub fn markdown(report: &BenchReport) -> String {
    let mut md = String::new();
    let settings = &report.settings;
    let thresholds = &settings.thresholds;
    let models = &report.models;
    let (recommended, reason) =
        if report.recommended.is_none() && report.recommendation_reason.trim().is_empty() {
            recommend(models, settings)
        } else {
            (
                report.recommended.clone(),
                report.recommendation_reason.clone(),
            )
        };
    let is_recommended = |m: &ModelBench| recommended.as_deref() == Some(m.name.as_str());

    // Header.
    let _ = writeln!(md, "# 🎯 Voice model benchmark\n");
    let _ = writeln!(md, "**Date:** {}  ", fmt_date(report.created_unix_s));
    let _ = writeln!(
        md,
        "**Host:** {}, {} threads, GPU offload: {}{}  ",
        or_unknown(&report.host.cpu),
        report.host.threads,
        if report.host.gpu_offload { "yes" } else { "no" },
        if report.host.os.trim().is_empty() {
            String::new()
        } else {
            format!(", {}", report.host.os)
        }
    );
    let _ = writeln!(
        md,
        "**Settings:** {} run{} per model (median), {}-token prompt, response times at {} tokens, \
         verdict at {} tokens  ",
        settings.runs,
        if settings.runs == 1 { "" } else { "s" },
        settings.prompt_tokens,
        join_tokens(&settings.response_tokens),
        settings.verdict_tokens
    );
    let _ = writeln!(
        md,
        "**Voice budget:** natural < {} s, acceptable < {} s, unusable > {} s  ",
        thresholds.natural_s, thresholds.acceptable_s, thresholds.unusable_s
    );
    if !settings.question.trim().is_empty() {
        let _ = writeln!(md, "**Question:** \"{}\"  ", settings.question.trim());
    }
    if let Some(name) = &recommended {
        let _ = writeln!(md, "**Recommendation:** {}  ", escape_md(name));
    }
    md.push_str("\n---\n\n");

    if models.is_empty() {
        md.push_str("No models were measured.\n");
        return md;
    }

    let baseline = fastest(models);

    // Per-model blocks.
    md.push_str("## 📊 Benchmark results\n\n");
    for m in models {
        let vs_base = baseline.filter(|b| !std::ptr::eq(*b, m));
        let _ = writeln!(
            md,
            "### {} {}{}",
            escape_md(&m.name),
            verdict_emoji(m.verdict),
            if is_recommended(m) {
                " (recommended)"
            } else {
                ""
            }
        );
        md.push_str("```\n");
        let line = |md: &mut String, label: &str, value: String| {
            let _ = writeln!(md, "{:<21}{}", format!("{label}:"), value);
        };
        let size = fmt_bytes(m.file_size_bytes);
        let size = if m.file_size_bytes == 0 {
            size
        } else {
            format!("{size} (file)")
        };
        line(&mut md, "Model Size", size);
        line(
            &mut md,
            "Memory",
            format!(
                "{}{}",
                fmt_memory(m),
                delta_suffix(vs_base.map(|b| (m.memory_bytes as f64, b.memory_bytes as f64)))
            ),
        );
        line(&mut md, "GPU Offload", fmt_offload(m));
        line(
            &mut md,
            "Generation Speed",
            format!(
                "{}{}",
                fmt_rate(m.gen_tok_s),
                delta_suffix(vs_base.map(|b| (m.gen_tok_s, b.gen_tok_s)))
            ),
        );
        line(
            &mut md,
            "Prompt Speed",
            format!(
                "{}{}",
                fmt_rate(m.prompt_tok_s),
                delta_suffix(vs_base.map(|b| (m.prompt_tok_s, b.prompt_tok_s)))
            ),
        );
        line(&mut md, "Time to first token", fmt_secs_precise(m.ttft_s));
        line(
            &mut md,
            "Response Time",
            format!(
                "{} ({} tokens)",
                fmt_opt_secs(response_at(m, settings.verdict_tokens)),
                settings.verdict_tokens
            ),
        );
        line(&mut md, "Status", status_text(m.verdict).to_owned());
        md.push_str("```\n\n");
    }
    md.push_str("---\n\n");

    // Response-time table.
    md.push_str("## 🎙️ Performance vs voice requirements\n\n");
    let mut header = vec!["Model".to_owned()];
    header.extend(
        settings
            .response_tokens
            .iter()
            .map(|n| format!("{n} tokens")),
    );
    header.push("Voice Ready?".to_owned());
    push_table_header(&mut md, &header);
    for m in models {
        let bold = is_recommended(m);
        let mut row = vec![bold_if(&escape_md(&m.name), bold)];
        for &n in &settings.response_tokens {
            row.push(match response_at(m, n) {
                Some(t) => {
                    let v = verdict_at(m, n, thresholds).unwrap_or(Verdict::Unusable);
                    format!("{} {}", bold_if(&fmt_secs(t), bold), verdict_emoji(v))
                }
                None => "n/a".to_owned(),
            });
        }
        row.push(
            if m.verdict.voice_ready() {
                "✅ **YES**"
            } else {
                "❌ **NO**"
            }
            .to_owned(),
        );
        push_table_row(&mut md, &row);
    }
    let _ = writeln!(
        md,
        "\n✅ natural (< {n} s) · 🆗 acceptable (< {a} s) · ⚠️ slow ({a}–{u} s) · ❌ unusable (> {u} s); \
         the verdict is taken at {v} tokens.\n",
        n = thresholds.natural_s,
        a = thresholds.acceptable_s,
        u = thresholds.unusable_s,
        v = settings.verdict_tokens
    );
    md.push_str("---\n\n");

    // Metrics table.
    md.push_str("## 📋 Metrics\n\n");
    let mut header = vec!["Metric".to_owned()];
    header.extend(models.iter().map(|m| escape_md(&m.name)));
    push_table_header(&mut md, &header);
    let several = models.len() > 1;
    let smallest = models
        .iter()
        .filter(|m| m.memory_bytes > 0)
        .min_by_key(|m| m.memory_bytes)
        .map(|m| m.memory_bytes);
    let mut speed = vec!["Speed".to_owned()];
    let mut memory = vec!["Memory".to_owned()];
    let mut latency = vec![format!(
        "Voice latency ({} tokens)",
        settings.verdict_tokens
    )];
    let mut verdict = vec!["**Verdict**".to_owned()];
    for m in models {
        let best_speed = several && baseline.is_some_and(|b| std::ptr::eq(b, m));
        speed.push(format!(
            "{}{}",
            fmt_rate(m.gen_tok_s),
            if best_speed { " ✅" } else { "" }
        ));
        let best_mem = several && m.memory_bytes > 0 && Some(m.memory_bytes) == smallest;
        memory.push(format!(
            "{}{}",
            fmt_memory(m),
            if best_mem { " ✅" } else { "" }
        ));
        latency.push(match response_at(m, settings.verdict_tokens) {
            Some(t) => format!("{} {}", fmt_secs(t), verdict_emoji(m.verdict)),
            None => "n/a".to_owned(),
        });
        verdict.push(format!("**{}**", m.verdict.as_str().to_uppercase()));
    }
    for row in [speed, memory, latency, verdict] {
        push_table_row(&mut md, &row);
    }
    md.push_str("\n---\n\n");

    // Speed comparison against the fastest model.
    md.push_str("## ⚡ Speed comparison\n\n");
    match baseline {
        _ if models.len() == 1 => md.push_str("Only one model measured: nothing to compare.\n"),
        None => md.push_str("No model has a valid generation speed: nothing to compare.\n"),
        Some(base) => {
            let _ = writeln!(
                md,
                "- **{}**: fastest, **{}**",
                escape_md(&base.name),
                fmt_rate(base.gen_tok_s)
            );
            for m in models.iter().filter(|m| !std::ptr::eq(*m, base)) {
                let _ = writeln!(md, "- {}", compare_line(m, base, settings.verdict_tokens));
            }
        }
    }
    md.push_str("\n---\n\n");

    // Recommendation.
    md.push_str("## 🏆 Recommendation\n\n");
    match &recommended {
        Some(name) => {
            let _ = writeln!(md, "**{}** for real-time voice.\n", escape_md(name));
        }
        None => md.push_str("No model recommended.\n\n"),
    }
    if !reason.trim().is_empty() {
        let _ = writeln!(md, "**Reason:** {}", reason.trim());
    }
    md
}

/// "**Qwen**: **2.8x slower** than Llama (9.7 tok/s vs 27.2 tok/s); memory +79% (...); ...".
fn compare_line(m: &ModelBench, base: &ModelBench, verdict_tokens: u32) -> String {
    let name = escape_md(&m.name);
    let base_name = escape_md(&base.name);
    let mut line = match (positive(m.gen_tok_s), positive(base.gen_tok_s)) {
        (Some(v), Some(b)) => {
            let ratio = b / v;
            if ratio < 1.05 {
                format!(
                    "**{name}**: about as fast as {base_name} ({} vs {})",
                    fmt_rate(v),
                    fmt_rate(b)
                )
            } else {
                format!(
                    "**{name}**: **{ratio:.1}x slower** than {base_name} ({} vs {})",
                    fmt_rate(v),
                    fmt_rate(b)
                )
            }
        }
        _ => format!("**{name}**: generation speed n/a"),
    };
    if let Some(d) = pct_delta(m.memory_bytes as f64, base.memory_bytes as f64) {
        let _ = write!(
            line,
            "; memory {d} ({} vs {})",
            fmt_bytes(m.memory_bytes),
            fmt_bytes(base.memory_bytes)
        );
    }
    let (lm, lb) = (
        response_at(m, verdict_tokens),
        response_at(base, verdict_tokens),
    );
    if let Some(((lm, lb), d)) = lm
        .zip(lb)
        .and_then(|(a, b)| Some(((a, b), pct_delta(a, b)?)))
    {
        let _ = write!(
            line,
            "; latency {d} ({} vs {} at {verdict_tokens} tokens)",
            fmt_secs(lm),
            fmt_secs(lb)
        );
    }
    line
}

/// The model with the highest finite, positive generation rate (first on ties).
fn fastest(models: &[ModelBench]) -> Option<&ModelBench> {
    models
        .iter()
        .filter(|m| positive(m.gen_tok_s).is_some())
        .fold(None, |best: Option<&ModelBench>, m| match best {
            Some(b) if b.gen_tok_s >= m.gen_tok_s => Some(b),
            _ => Some(m),
        })
}

/// Response time to the `n`th token, if measured and sane (finite, positive).
fn response_at(m: &ModelBench, n: u32) -> Option<f64> {
    m.response_s
        .get(&n.to_string())
        .copied()
        .filter(|t| t.is_finite() && *t > 0.0)
}

/// The verdict at `n` tokens: the recorded one, else judged from the response time.
fn verdict_at(m: &ModelBench, n: u32, t: &VoiceThresholds) -> Option<Verdict> {
    m.verdicts
        .get(&n.to_string())
        .copied()
        .or_else(|| response_at(m, n).map(|s| Verdict::of(s, t)))
}

/// ✅ natural, 🆗 acceptable, ⚠️ slow, ❌ unusable.
pub fn verdict_emoji(v: Verdict) -> &'static str {
    match v {
        Verdict::Natural => "✅",
        Verdict::Acceptable => "🆗",
        Verdict::Slow => "⚠️",
        Verdict::Unusable => "❌",
    }
}

fn status_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Natural => "VOICE READY (feels natural)",
        Verdict::Acceptable => "VOICE READY (acceptable lag)",
        Verdict::Slow => "TOO SLOW (noticeable lag)",
        Verdict::Unusable => "TOO SLOW (unusable)",
    }
}

fn push_table_header(md: &mut String, cells: &[String]) {
    push_table_row(md, cells);
    let seps: Vec<String> = cells
        .iter()
        .map(|c| "-".repeat(c.chars().count().max(3) + 2))
        .collect();
    let _ = writeln!(md, "|{}|", seps.join("|"));
}

fn push_table_row(md: &mut String, cells: &[String]) {
    let _ = writeln!(md, "| {} |", cells.join(" | "));
}

fn bold_if(s: &str, bold: bool) -> String {
    if bold {
        format!("**{s}**")
    } else {
        s.to_owned()
    }
}

/// Keeps a model name from breaking a table or turning into markup. Underscores inside a word
/// (`Q4_K_M`) are not emphasis in CommonMark, so only those at a word's edge are escaped.
fn escape_md(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let inside_word = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphanumeric());
        let edge_underscore = c == '_' && !(inside_word(i.checked_sub(1)) && inside_word(Some(i + 1)));
        if edge_underscore || matches!(c, '|' | '*' | '`' | '[' | ']' | '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(if c == '\n' { ' ' } else { c });
    }
    out
}

fn or_unknown(s: &str) -> &str {
    if s.trim().is_empty() {
        "unknown CPU"
    } else {
        s.trim()
    }
}

fn join_tokens(tokens: &[u32]) -> String {
    if tokens.is_empty() {
        return "no".to_owned();
    }
    tokens
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

fn positive(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

fn finite_or(v: f64, default: f64) -> f64 {
    if v.is_finite() { v } else { default }
}

/// "+79%" / "-64%" of `value` against `base`; `None` when either is missing or `base` is zero.
fn pct_delta(value: f64, base: f64) -> Option<String> {
    let (v, b) = (positive(value)?, positive(base)?);
    let pct = (v / b - 1.0) * 100.0;
    Some(format!("{}{:.0}%", if pct >= 0.0 { "+" } else { "" }, pct))
}

/// " (+79%)" for a (value, baseline) pair, or nothing.
fn delta_suffix(pair: Option<(f64, f64)>) -> String {
    pair.and_then(|(v, b)| pct_delta(v, b))
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

fn fmt_rate(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v:.1} tok/s")
    } else {
        "n/a".to_owned()
    }
}

fn fmt_secs(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v:.1}s")
    } else {
        "n/a".to_owned()
    }
}

fn fmt_opt_secs(v: Option<f64>) -> String {
    v.map(fmt_secs).unwrap_or_else(|| "n/a".to_owned())
}

fn fmt_secs_precise(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v:.2}s")
    } else {
        "n/a".to_owned()
    }
}

/// Binary units, as the seed's "1.9GB" (a 2.0 GB file is 1.9 GiB); 0 means "not measured".
fn fmt_bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    const GIB: f64 = 1024.0 * MIB;
    let b = b as f64;
    if b <= 0.0 {
        "n/a".to_owned()
    } else if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else {
        format!("{:.0} MiB", (b / MIB).max(1.0))
    }
}

/// "1.9 GiB VRAM".
fn fmt_memory(m: &ModelBench) -> String {
    if m.memory_bytes == 0 {
        return "n/a".to_owned();
    }
    let kind = m.memory_kind.trim().to_uppercase();
    if kind.is_empty() {
        fmt_bytes(m.memory_bytes)
    } else {
        format!("{} {kind}", fmt_bytes(m.memory_bytes))
    }
}

/// "29/29 layers (100%)", "0/29 layers (CPU only)".
fn fmt_offload(m: &ModelBench) -> String {
    if m.total_layers == 0 {
        return "n/a".to_owned();
    }
    if m.gpu_layers == 0 {
        return format!("0/{} layers (CPU only)", m.total_layers);
    }
    let pct = f64::from(m.gpu_layers.min(m.total_layers)) / f64::from(m.total_layers) * 100.0;
    format!("{}/{} layers ({pct:.0}%)", m.gpu_layers, m.total_layers)
}

/// "2025-11-13 14:05 UTC" from seconds since the Unix epoch.
fn fmt_date(unix_s: u64) -> String {
    if unix_s == 0 {
        return "n/a".to_owned();
    }
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The seed's Llama 3.2 3B vs Qwen 2.5 7B numbers as a [`BenchReport`], for tests here and in
/// [`super::charts`].
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeMap;

    use super::super::{
        BenchReport, BenchSettings, HostInfo, ModelBench, RunSample, SCHEMA_VERSION,
    };
    use crate::voice_latency::{Verdict, VoiceThresholds};

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

    /// A model with response times at 30/50/100 tokens; verdicts judged by the default budget.
    pub(crate) fn model(
        name: &str,
        file_gib: f64,
        mem_gib: f64,
        gen_rate: f64,
        prompt: f64,
        ttft: f64,
        times: [f64; 3],
    ) -> ModelBench {
        let t = VoiceThresholds::default();
        let response_s: BTreeMap<String, f64> = [30, 50, 100]
            .iter()
            .zip(times)
            .map(|(n, s)| (n.to_string(), s))
            .collect();
        let verdicts = response_s
            .iter()
            .map(|(k, &s)| (k.clone(), Verdict::of(s, &t)))
            .collect();
        ModelBench {
            name: name.to_owned(),
            path: format!("/models/{}.gguf", name.replace(' ', "-")),
            file_size_bytes: (file_gib * GIB) as u64,
            memory_bytes: (mem_gib * GIB) as u64,
            memory_kind: "vram".to_owned(),
            gpu_layers: 29,
            total_layers: 29,
            gen_tok_s: gen_rate,
            prompt_tok_s: prompt,
            ttft_s: ttft,
            verdict: Verdict::of(times[1], &t),
            runs: vec![RunSample {
                gen_tok_s: gen_rate,
                prompt_tok_s: prompt,
                ttft_s: ttft,
                response_s: response_s.clone(),
            }],
            response_s,
            verdicts,
        }
    }

    pub(crate) fn llama() -> ModelBench {
        model("Llama 3.2 3B", 1.88, 1.9, 27.2, 48.0, 0.35, [1.1, 1.8, 3.7])
    }

    pub(crate) fn qwen() -> ModelBench {
        model("Qwen 2.5 7B", 3.3, 3.4, 9.7, 31.1, 0.62, [3.1, 5.2, 10.3])
    }

    pub(crate) fn settings() -> BenchSettings {
        BenchSettings {
            runs: 3,
            prompt_tokens: 512,
            response_tokens: vec![30, 50, 100],
            verdict_tokens: 50,
            question: "Hey, what's a good way to wind down in the evening?".to_owned(),
            thresholds: VoiceThresholds::default(),
        }
    }

    pub(crate) fn report(models: Vec<ModelBench>) -> BenchReport {
        let (recommended, recommendation_reason) = super::recommend(&models, &settings());
        BenchReport {
            schema_version: SCHEMA_VERSION,
            created_unix_s: 1_763_042_700, // 2025-11-13 14:05 UTC
            host: HostInfo {
                cpu: "Jetson Orin NX 16GB (8-core Arm Cortex-A78AE)".to_owned(),
                threads: 8,
                gpu_offload: true,
                os: "linux".to_owned(),
            },
            settings: settings(),
            models,
            recommended,
            recommendation_reason,
        }
    }

    /// The seed: Llama 3.2 3B vs Qwen 2.5 7B.
    pub(crate) fn seed_report() -> BenchReport {
        report(vec![llama(), qwen()])
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{llama, model, qwen, report, seed_report, settings};
    use super::*;

    /// The table row that starts with `| {name}` or `| **{name}**`.
    fn row<'a>(md: &'a str, name: &str) -> &'a str {
        md.lines()
            .find(|l| {
                l.starts_with(&format!("| {name} |")) || l.starts_with(&format!("| **{name}** |"))
            })
            .unwrap_or_else(|| panic!("no table row for {name} in\n{md}"))
    }

    fn cells(row: &str) -> Vec<&str> {
        row.trim()
            .trim_matches('|')
            .split(" | ")
            .map(str::trim)
            .collect()
    }

    #[test]
    fn seed_report_has_the_seeds_sections() {
        let md = markdown(&seed_report());
        for needle in [
            "**Date:** 2025-11-13 14:05 UTC",
            "GPU offload: yes",
            "8 threads",
            "3 runs per model",
            "512-token prompt",
            "natural < 2 s, acceptable < 3 s, unusable > 4 s",
            "### Llama 3.2 3B ✅ (recommended)",
            "### Qwen 2.5 7B ❌",
            "GPU Offload:         29/29 layers (100%)",
            "Generation Speed:    27.2 tok/s\n",
            "Generation Speed:    9.7 tok/s (-64%)",
            "Prompt Speed:        31.1 tok/s (-35%)",
            "Memory:              3.4 GiB VRAM (+79%)",
            "Time to first token: 0.35s",
            "Response Time:       1.8s (50 tokens)",
            "Response Time:       5.2s (50 tokens)",
            "Status:              VOICE READY (feels natural)",
            "Status:              TOO SLOW (unusable)",
            "| Model | 30 tokens | 50 tokens | 100 tokens | Voice Ready? |",
            "| Metric | Llama 3.2 3B | Qwen 2.5 7B |",
            "| Speed | 27.2 tok/s ✅ | 9.7 tok/s |",
            "| Memory | 1.9 GiB VRAM ✅ | 3.4 GiB VRAM |",
            "| Voice latency (50 tokens) | 1.8s ✅ | 5.2s ❌ |",
            "| **Verdict** | **NATURAL** | **UNUSABLE** |",
            "**Qwen 2.5 7B**: **2.8x slower** than Llama 3.2 3B (9.7 tok/s vs 27.2 tok/s)",
            "memory +79% (3.4 GiB vs 1.9 GiB)",
            "latency +189% (5.2s vs 1.8s at 50 tokens)",
            "## 🏆 Recommendation",
            "**Llama 3.2 3B** for real-time voice.",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        assert!(md.contains("x slower"));
    }

    #[test]
    fn table_cells_carry_the_verdict_emojis() {
        let md = markdown(&seed_report());
        let llama = cells(row(&md, "Llama 3.2 3B"));
        // 3.7 s at 100 tokens is slow by the budget (the seed's ✅ there was generous).
        assert_eq!(
            llama,
            [
                "**Llama 3.2 3B**",
                "**1.1s** ✅",
                "**1.8s** ✅",
                "**3.7s** ⚠️",
                "✅ **YES**"
            ]
        );
        let qwen = cells(row(&md, "Qwen 2.5 7B"));
        assert_eq!(
            qwen,
            ["Qwen 2.5 7B", "3.1s ⚠️", "5.2s ❌", "10.3s ❌", "❌ **NO**"]
        );
        // The separator has as many columns as the header.
        let header = md.lines().position(|l| l.starts_with("| Model |")).unwrap();
        let sep = md.lines().nth(header + 1).unwrap();
        assert_eq!(sep.matches('|').count(), 6, "{sep}");
        assert!(sep.chars().all(|c| c == '|' || c == '-'));
    }

    #[test]
    fn table_columns_follow_the_configured_token_counts() {
        let mut r = seed_report();
        r.settings.response_tokens = vec![20, 50, 200];
        let md = markdown(&r);
        assert!(
            md.contains("| Model | 20 tokens | 50 tokens | 200 tokens | Voice Ready? |"),
            "{md}"
        );
        // Unmeasured counts are n/a, measured ones keep their emoji.
        assert_eq!(
            cells(row(&md, "Qwen 2.5 7B")),
            ["Qwen 2.5 7B", "n/a", "5.2s ❌", "n/a", "❌ **NO**"]
        );
    }

    #[test]
    fn acceptable_cells_get_their_own_emoji() {
        let m = model("Phi", 2.0, 2.2, 20.0, 60.0, 0.3, [1.5, 2.5, 4.5]);
        let md = markdown(&report(vec![m]));
        assert_eq!(
            cells(row(&md, "Phi")),
            [
                "**Phi**",
                "**1.5s** ✅",
                "**2.5s** 🆗",
                "**4.5s** ❌",
                "✅ **YES**"
            ]
        );
    }

    #[test]
    fn one_model_has_nothing_to_compare() {
        let md = markdown(&report(vec![llama()]));
        assert!(md.contains("Llama 3.2 3B"));
        assert!(md.contains("Only one model measured"), "{md}");
        assert!(!md.contains("x slower"));
        assert!(
            !md.contains("(+") && !md.contains("(-"),
            "no deltas against itself:\n{md}"
        );
        assert!(
            md.contains("| Speed | 27.2 tok/s |"),
            "no 'best' mark when alone:\n{md}"
        );
    }

    #[test]
    fn no_models_is_a_short_report() {
        let md = markdown(&report(vec![]));
        assert!(md.contains("No models were measured."));
        assert!(!md.contains("| Model |"));
    }

    #[test]
    fn nan_and_zero_values_print_na() {
        let mut broken = qwen();
        broken.gen_tok_s = f64::NAN;
        broken.prompt_tok_s = 0.0;
        broken.ttft_s = f64::INFINITY;
        broken.memory_bytes = 0;
        broken.file_size_bytes = 0;
        broken.total_layers = 0;
        broken.response_s.insert("50".to_owned(), f64::NAN);
        let mut zero = llama();
        zero.name = "Zero".to_owned();
        zero.gen_tok_s = 0.0;
        let mut r = report(vec![llama(), broken, zero]);
        r.created_unix_s = 0;
        let md = markdown(&r);
        assert!(md.contains("Generation Speed:    n/a"), "{md}");
        assert!(md.contains("Prompt Speed:        n/a\n"), "{md}");
        assert!(md.contains("Model Size:          n/a\n"), "{md}");
        assert!(md.contains("| Speed | 27.2 tok/s ✅ | n/a | n/a |"), "{md}");
        assert!(
            md.contains("| Qwen 2.5 7B | 3.1s ⚠️ | n/a | 10.3s ❌ | ❌ **NO** |"),
            "{md}"
        );
        assert!(md.contains("Time to first token: n/a"));
        assert!(md.contains("Memory:              n/a"));
        assert!(md.contains("GPU Offload:         n/a"));
        assert!(md.contains("Response Time:       n/a (50 tokens)"));
        assert!(md.contains("**Qwen 2.5 7B**: generation speed n/a"), "{md}");
        assert!(md.contains("**Zero**: generation speed n/a"), "{md}");
        assert!(!md.contains("NaN") && !md.contains("inf"), "{md}");

        // Nothing valid at all still renders.
        let mut all_nan = qwen();
        all_nan.gen_tok_s = f64::NAN;
        all_nan.response_s.values_mut().for_each(|v| *v = f64::NAN);
        let md = markdown(&report(vec![all_nan.clone(), all_nan]));
        assert!(md.contains("No model has a valid generation speed"), "{md}");
        assert!(!md.contains("NaN"));
    }

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

    #[test]
    fn markdown_falls_back_to_computing_the_recommendation() {
        let mut r = seed_report();
        r.recommended = None;
        r.recommendation_reason.clear();
        let md = markdown(&r);
        assert!(md.contains("**Llama 3.2 3B** for real-time voice."), "{md}");
        assert!(md.contains("under 2 s"), "{md}");
    }

    #[test]
    fn names_are_escaped_in_tables() {
        let mut m = llama();
        m.name = "odd|name_v2 _x".to_owned();
        let md = markdown(&report(vec![m]));
        assert!(md.contains("odd\\|name_v2 \\_x"), "{md}");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(fmt_date(1_763_042_700), "2025-11-13 14:05 UTC");
        assert_eq!(fmt_date(4_107_542_399), "2100-02-28 23:59 UTC");
    }

    #[test]
    fn byte_and_delta_formatting() {
        assert_eq!(fmt_bytes(0), "n/a");
        assert_eq!(fmt_bytes(300 * 1024 * 1024), "300 MiB");
        assert_eq!(fmt_bytes(2_019_377_696), "1.9 GiB");
        assert_eq!(pct_delta(3.4, 1.9).as_deref(), Some("+79%"));
        assert_eq!(pct_delta(9.7, 27.2).as_deref(), Some("-64%"));
        assert_eq!(pct_delta(1.0, 0.0), None);
        assert_eq!(pct_delta(f64::NAN, 1.0), None);
    }
}
