//! The Markdown report, shaped like the seed's tables.
//!
//! [`markdown`] renders a [`BenchReport`] the way the hand-made benchmark was written: a header
//! (date, host, settings, voice budget), one block per model, the response-time table with ✅ /
//! ⚠️ / ❌ cells, the metrics table, the speed comparison against the fastest model and the
//! recommendation ([`super::recommend`] picks it when the report has none).
//!
//! Every number may be missing or broken (NaN, infinite, zero): it prints as `n/a` (see
//! [`super::format`]).

use std::fmt::Write as _;

use super::format::{
    delta_suffix, fmt_bytes, fmt_date, fmt_memory, fmt_memory_source, fmt_offload, fmt_opt_secs, fmt_rate, fmt_secs, fmt_secs_precise,
    pct_delta, positive,
};
use super::recommend::{recommend, response_at};
use super::{BenchReport, ModelBench};
use crate::voice_latency::{Verdict, VoiceThresholds};

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
    let (recommended, reason) = recommendation(report);
    let is_recommended = |m: &ModelBench| recommended.as_deref() == Some(m.name.as_str());

    // Header.
    let _ = writeln!(md, "# 🎯 Voice model benchmark\n");
    let _ = writeln!(md, "**Date:** {}  ", fmt_date(report.created_unix_s));
    let _ = writeln!(md, "**Host:** {}  ", host_line(&report.host));
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
                "{}{}{}",
                fmt_memory(m),
                fmt_memory_source(m),
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

/// "Intel Xeon, 8 threads, GPU offload: yes (Orin), linux aarch64".
pub(super) fn host_line(host: &super::HostInfo) -> String {
    format!(
        "{}, {} thread{}, GPU offload: {}{}",
        or_unknown(&host.cpu),
        host.threads,
        if host.threads == 1 { "" } else { "s" },
        match (host.gpu_offload, &host.gpu) {
            (true, Some(gpu)) => format!("yes ({gpu})"),
            (true, None) => "yes".to_owned(),
            (false, _) => "no".to_owned(),
        },
        if host.os.trim().is_empty() { String::new() } else { format!(", {}", host.os) }
    )
}

/// The report's own recommendation (`recommended`, `recommendation_reason`), or, when both are
/// empty, the one [`recommend`] computes.
pub(super) fn recommendation(report: &BenchReport) -> (Option<String>, String) {
    if report.recommended.is_none() && report.recommendation_reason.trim().is_empty() {
        recommend(&report.models, &report.settings)
    } else {
        (report.recommended.clone(), report.recommendation_reason.clone())
    }
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

/// The verdict at `n` tokens: the recorded one, else judged from the response time.
pub(super) fn verdict_at(m: &ModelBench, n: u32, t: &VoiceThresholds) -> Option<Verdict> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::{llama, model, qwen, report, seed_report};

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
            "GPU offload: yes (NVIDIA Jetson Orin NX)",
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
            "Memory:              3.4 GiB VRAM (llama.cpp) (+79%)",
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
}
