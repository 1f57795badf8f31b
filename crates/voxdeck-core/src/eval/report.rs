//! The eval's report: a Markdown table (`report.md`, also printed) and the JSON (`eval.json`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{EvalError, EvalReport, PathRow};

/// The table's header, also what tests look for.
pub const TABLE_HEADER: &str =
    "| Path | Model | Calls | Valid calls | Right tool | Arguments | False calls | Median added latency |";

/// The report as Markdown: the table, then what the columns mean.
pub fn markdown(report: &EvalReport) -> String {
    let tools = report.rows.first().map_or(0, |r| r.tool_requests);
    let none = report.rows.first().map_or(0, |r| r.no_tool_requests);
    let mut md = String::new();
    let _ = writeln!(md, "# voxdeck eval tools\n");
    let _ = writeln!(
        md,
        "{} of the set's {} requests ({tools} need a tool, {none} need none) on {} ({}, LLM threads: {}); \
         greedy, free answers capped at {} tokens, required calls at {}.\n",
        report.requests,
        report.set_size,
        report.host.cpu,
        report.host.os,
        report.host.threads,
        report.free_max_tokens,
        report.grammar_max_tokens,
    );
    let _ = writeln!(md, "{TABLE_HEADER}");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|");
    for row in &report.rows {
        let _ = writeln!(md, "{}", table_row(row));
    }
    md.push_str(
        "\n- **Calls**: answers that were tool calls, of all requests.\n\
         - **Valid calls**: calls the allowlist accepts (a real tool, arguments of the right types and bounds), \
         of the calls made (`-` when none were made). The grammar path must be 100%.\n\
         - **Right tool**: requests that need a tool answered with a call to the expected one.\n\
         - **Arguments**: requests that need a tool answered with a valid call to it whose arguments match \
         (seconds and clock times exactly; labels, topics and facts by word overlap of at least a half).\n\
         - **False calls**: requests that need no tool answered with a call anyway (the grammar path must call, \
         so its figure is 100% by design).\n\
         - **Median added latency**: request to the call, or to the first token of a spoken answer. The fast \
         path's is what matching costs before any model runs.\n",
    );
    md
}

fn table_row(row: &PathRow) -> String {
    let pct = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{:.0}%", x * 100.0));
    format!(
        "| {} | {} | {}/{} | {} | {} | {} | {} | {} |",
        row.path.as_str(),
        row.model.as_deref().unwrap_or("-"),
        row.calls,
        row.requests,
        pct(row.valid_call_rate),
        pct(row.right_tool_rate),
        pct(row.argument_accuracy),
        pct(row.false_call_rate),
        latency(row.median_added_ms),
    )
}

/// Milliseconds in the unit that reads best: "4 µs", "0.8 ms", "350 ms", "2.1 s".
fn latency(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 0.1 => format!("{:.0} µs", ms * 1000.0),
        Some(ms) if ms < 10.0 => format!("{ms:.1} ms"),
        Some(ms) if ms < 1000.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{:.1} s", ms / 1000.0),
    }
}

/// Writes `report.md` and `eval.json` to `out_dir` (created if needed); returns their paths.
pub fn write_outputs(report: &EvalReport, out_dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let fail = |path: PathBuf| move |source| EvalError::Write { path, source };
    std::fs::create_dir_all(out_dir).map_err(fail(out_dir.to_owned()))?;
    let json =
        serde_json::to_vec_pretty(report).map_err(std::io::Error::other).map_err(fail(out_dir.join("eval.json")))?;
    let mut written = Vec::new();
    for (name, bytes) in [("report.md", markdown(report).into_bytes()), ("eval.json", json)] {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).map_err(fail(path.clone()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_well() {
        assert_eq!(latency(Some(0.004)), "4 µs");
        assert_eq!(latency(Some(0.8)), "0.8 ms");
        assert_eq!(latency(Some(350.2)), "350 ms");
        assert_eq!(latency(Some(2100.0)), "2.1 s");
        assert_eq!(latency(None), "-");
    }
}
