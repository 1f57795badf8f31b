//! The assistant's live figures ([`LiveFigures`]) in words, for "how fast are you running?" and
//! "how much memory are you using?". A figure that is not known is left out, never made up.

use super::toolbox::LiveFigures;

/// "I'm generating about 68 tokens a second with SmolLM2 135M, and my last answer started 590
/// milliseconds after you let go."
pub fn speed_sentence(f: &LiveFigures) -> String {
    let model = f.model_name.as_deref().map(speakable_model_name).filter(|m| !m.is_empty());
    let rate = f.gen_tok_s.filter(|r| r.is_finite() && *r > 0.0).map(|r| {
        let rate = if r < 10.0 { format!("{r:.1}") } else { format!("{}", r.round() as i64) };
        match &model {
            Some(m) => format!("I'm generating about {rate} tokens a second with {m}"),
            None => format!("I'm generating about {rate} tokens a second"),
        }
    });
    let latency = match (ms_ok(f.first_audible_ms), ms_ok(f.ttft_ms)) {
        (Some(ms), _) => Some(format!("my last answer started {} after you let go", ms_words(ms))),
        (None, Some(ms)) => Some(format!("my last answer's first word took {}", ms_words(ms))),
        (None, None) => None,
    };
    match (rate, latency) {
        (Some(rate), Some(latency)) => format!("{rate}, and {latency}."),
        (Some(rate), None) => format!("{rate}."),
        (None, Some(latency)) => format!("{}.", capitalize(&latency)),
        (None, None) => "I haven't answered anything yet, so I have no speed to report.".into(),
    }
}

/// "I'm using 1.2 gigabytes of memory; the machine has 18 of 24 gigabytes free."
pub fn memory_sentence(f: &LiveFigures) -> String {
    let mine = f.rss_bytes.filter(|b| *b > 0).map(|rss| match f.gpu_bytes.filter(|b| *b > 0) {
        Some(gpu) => format!("I'm using {} of memory and {} on the GPU", bytes_words(rss), bytes_words(gpu)),
        None => format!("I'm using {} of memory", bytes_words(rss)),
    });
    let machine = match (f.system_available_bytes, f.system_total_bytes.filter(|b| *b > 0)) {
        (Some(free), Some(total)) => Some(format!("the machine has {} free", of_words(free.min(total), total))),
        _ => None,
    };
    match (mine, machine) {
        (Some(mine), Some(machine)) => format!("{mine}; {machine}."),
        (Some(mine), None) => format!("{mine}."),
        (None, Some(machine)) => format!("I can't measure my own memory, but {machine}."),
        (None, None) => "I can't measure my memory use on this machine.".into(),
    }
}

/// A model's file-ish name as it is said: "SmolLM2-135M-Instruct-Q8_0.gguf" -> "SmolLM2 135M".
pub fn speakable_model_name(name: &str) -> String {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let name = name.strip_suffix(".gguf").unwrap_or(name);
    let mut words = Vec::new();
    for word in name.split(['-', '_', ' ']).filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        // A quantisation tag ends the name: what follows it is about the file, not the model.
        let quant = (lower.starts_with('q') || lower.starts_with("iq"))
            && lower.trim_start_matches('i').chars().nth(1).is_some_and(|c| c.is_ascii_digit());
        if quant || matches!(lower.as_str(), "f16" | "bf16" | "f32" | "gguf") {
            break;
        }
        if matches!(lower.as_str(), "instruct" | "chat" | "it") {
            continue;
        }
        words.push(word);
    }
    words.join(" ")
}

fn ms_ok(ms: Option<f64>) -> Option<f64> {
    ms.filter(|m| m.is_finite() && *m >= 0.0)
}

/// "590 milliseconds", "1.2 seconds".
fn ms_words(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{} milliseconds", (ms / 10.0).round() as i64 * 10)
    } else {
        format!("{:.1} seconds", ms / 1000.0)
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// "850 megabytes", "1.2 gigabytes", "24 gigabytes".
fn bytes_words(bytes: u64) -> String {
    let b = bytes as f64;
    if b < GIB {
        format!("{} megabytes", (b / MIB).round() as i64)
    } else {
        format!("{} gigabytes", gib_number(b))
    }
}

/// "18 of 24 gigabytes", in the total's unit.
fn of_words(part: u64, total: u64) -> String {
    if (total as f64) < GIB {
        format!("{} of {} megabytes", (part as f64 / MIB).round() as i64, (total as f64 / MIB).round() as i64)
    } else {
        format!("{} of {} gigabytes", gib_number(part as f64), gib_number(total as f64))
    }
}

/// One decimal under 10 GiB, whole numbers above.
fn gib_number(bytes: f64) -> String {
    let g = bytes / GIB;
    if g < 10.0 {
        let s = format!("{g:.1}");
        s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
    } else {
        format!("{}", g.round() as i64)
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = 1 << 30;

    #[test]
    fn speed_with_every_figure() {
        let f = LiveFigures {
            gen_tok_s: Some(68.4),
            ttft_ms: Some(120.0),
            model_name: Some("SmolLM2-135M-Instruct-Q8_0.gguf".into()),
            first_audible_ms: Some(587.0),
            ..LiveFigures::default()
        };
        assert_eq!(
            speed_sentence(&f),
            "I'm generating about 68 tokens a second with SmolLM2 135M, and my last answer started 590 \
             milliseconds after you let go."
        );
    }

    #[test]
    fn speed_leaves_out_what_is_unknown() {
        assert_eq!(
            speed_sentence(&LiveFigures::default()),
            "I haven't answered anything yet, so I have no speed to report."
        );
        let rate_only = LiveFigures { gen_tok_s: Some(7.34), ..LiveFigures::default() };
        assert_eq!(speed_sentence(&rate_only), "I'm generating about 7.3 tokens a second.");
        let latency_only = LiveFigures { first_audible_ms: Some(1234.0), ..LiveFigures::default() };
        assert_eq!(speed_sentence(&latency_only), "My last answer started 1.2 seconds after you let go.");
        let nan = LiveFigures { gen_tok_s: Some(f64::NAN), ..LiveFigures::default() };
        assert!(speed_sentence(&nan).starts_with("I haven't answered"));
    }

    #[test]
    fn memory_in_gigabytes_and_megabytes() {
        let f = LiveFigures {
            rss_bytes: Some(G + G / 5),
            system_total_bytes: Some(24 * G),
            system_available_bytes: Some(18 * G),
            ..LiveFigures::default()
        };
        assert_eq!(memory_sentence(&f), "I'm using 1.2 gigabytes of memory; the machine has 18 of 24 gigabytes free.");
        let with_gpu = LiveFigures { gpu_bytes: Some(3 * G), ..f.clone() };
        assert_eq!(
            memory_sentence(&with_gpu),
            "I'm using 1.2 gigabytes of memory and 3 gigabytes on the GPU; the machine has 18 of 24 gigabytes free."
        );
        let small = LiveFigures { rss_bytes: Some(850 << 20), ..LiveFigures::default() };
        assert_eq!(memory_sentence(&small), "I'm using 850 megabytes of memory.");
        assert_eq!(memory_sentence(&LiveFigures::default()), "I can't measure my memory use on this machine.");
    }

    #[test]
    fn model_names_are_made_speakable() {
        assert_eq!(speakable_model_name("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"), "Qwen2.5 0.5B");
        assert_eq!(speakable_model_name("/models/Llama-3.2-3B-Instruct-IQ4_XS.gguf"), "Llama 3.2 3B");
        assert_eq!(speakable_model_name("SmolLM2 135M"), "SmolLM2 135M");
        assert_eq!(speakable_model_name("qwen-plus"), "qwen plus");
    }
}
