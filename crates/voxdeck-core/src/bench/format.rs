//! The report's number, size and date formatting. Every formatter prints a missing or broken
//! number (NaN, infinite, zero) as `n/a`, and no ratio is ever taken against zero.

use super::ModelBench;

pub(super) fn positive(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

pub(super) fn finite_or(v: f64, default: f64) -> f64 {
    if v.is_finite() { v } else { default }
}

/// "+79%" / "-64%" of `value` against `base`; `None` when either is missing or `base` is zero.
pub(super) fn pct_delta(value: f64, base: f64) -> Option<String> {
    let (v, b) = (positive(value)?, positive(base)?);
    let pct = (v / b - 1.0) * 100.0;
    Some(format!("{}{:.0}%", if pct >= 0.0 { "+" } else { "" }, pct))
}

/// " (+79%)" for a (value, baseline) pair, or nothing.
pub(super) fn delta_suffix(pair: Option<(f64, f64)>) -> String {
    pair.and_then(|(v, b)| pct_delta(v, b))
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

pub(super) fn fmt_rate(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v:.1} tok/s")
    } else {
        "n/a".to_owned()
    }
}

pub(super) fn fmt_secs(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v:.1}s")
    } else {
        "n/a".to_owned()
    }
}

pub(super) fn fmt_opt_secs(v: Option<f64>) -> String {
    v.map(fmt_secs).unwrap_or_else(|| "n/a".to_owned())
}

pub(super) fn fmt_secs_precise(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("{v:.2}s")
    } else {
        "n/a".to_owned()
    }
}

/// Binary units, as the seed's "1.9GB" (a 2.0 GB file is 1.9 GiB); 0 means "not measured".
pub(super) fn fmt_bytes(b: u64) -> String {
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
pub(super) fn fmt_memory(m: &ModelBench) -> String {
    if m.memory_bytes == 0 {
        return "n/a".to_owned();
    }
    let kind = m.memory_kind.trim().to_uppercase();
    if kind.is_empty() { fmt_bytes(m.memory_bytes) } else { format!("{} {kind}", fmt_bytes(m.memory_bytes)) }
}

/// Where the memory figure comes from, and llama.cpp's own account beside a driver's figure:
/// " (NVML; llama.cpp's GPU buffers 1.6 GiB)"; empty when nothing is known.
pub(super) fn fmt_memory_source(m: &ModelBench) -> String {
    let mut sources = Vec::new();
    if !m.memory_source.trim().is_empty() {
        sources.push(m.memory_source.trim().to_owned());
    }
    if m.gpu_buffers_bytes > 0 && m.memory_source != "llama.cpp" {
        sources.push(format!("llama.cpp's GPU buffers {}", fmt_bytes(m.gpu_buffers_bytes)));
    }
    if m.memory_bytes == 0 || sources.is_empty() { String::new() } else { format!(" ({})", sources.join("; ")) }
}

/// "29/29 layers (100%)", "0/29 layers (CPU only)".
pub(super) fn fmt_offload(m: &ModelBench) -> String {
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
pub(super) fn fmt_date(unix_s: u64) -> String {
    let time = i64::try_from(unix_s).ok().filter(|s| *s > 0).map(time::OffsetDateTime::from_unix_timestamp);
    match time {
        Some(Ok(t)) => {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        }
        _ => "n/a".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(fmt_date(0), "n/a");
        assert_eq!(fmt_date(951_782_400), "2000-02-29 00:00 UTC");
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
