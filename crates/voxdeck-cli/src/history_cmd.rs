//! `voxdeck history`: list, clear or locate the turn history.
//!
//! Reading never creates the database: a missing file is "no history yet", not an error.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use voxdeck_core::Config;
use voxdeck_core::history::{ConversationSummary, History, Listing};
use voxdeck_core::pipeline::timeline::{Outcome, TurnRecord};

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Show the newest N turns (or conversations); 0 = all.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20)]
    limit: usize,
    /// One JSON object per line: the turn record (the keys of `voxdeck talk --json`).
    #[arg(long)]
    json: bool,
    /// Only the turns of this conversation.
    #[arg(long, value_name = "ID", conflicts_with = "last")]
    conversation: Option<String>,
    /// Only the turns of the most recent conversation.
    #[arg(long)]
    last: bool,
    /// List conversations (id, turns, first and last time) instead of turns.
    #[arg(long, conflicts_with_all = ["conversation", "last"])]
    conversations: bool,
    /// Delete every turn and print how many were deleted.
    #[arg(long, conflicts_with_all = ["limit", "json", "conversation", "last", "conversations", "path"])]
    clear: bool,
    /// Print the database's path and nothing else.
    #[arg(long, conflicts_with_all = ["limit", "json", "conversation", "last", "conversations"])]
    path: bool,
}

pub fn run(args: HistoryArgs, config: Config) -> anyhow::Result<()> {
    let path = History::configured_path(&config.pipeline);
    if args.path {
        return emit(format!("{}\n", path.display()));
    }
    if !config.pipeline.history {
        // The file may still hold turns from before; listing and clearing them stay possible.
        eprintln!("history is off (pipeline.history = false): new turns are not recorded");
    }
    let Some(history) = History::open_existing(&path)? else {
        let note = format!("no history yet ({})", path.display());
        // stdout carries only JSON in --json mode.
        if args.json {
            eprintln!("{note}");
            return Ok(());
        }
        return emit(format!("{note}\n"));
    };
    if args.clear {
        let n = history.clear()?;
        return emit(format!(
            "deleted {n} {} from {}\n",
            plural(n, "turn", "turns"),
            path.display()
        ));
    }
    let limit = if args.limit == 0 { usize::MAX } else { args.limit };
    if args.conversations {
        let mut list = history.conversations()?;
        list.truncate(limit);
        return emit(conversations_text(&list, args.json, history.path())?);
    }
    let listing = match (&args.conversation, args.last) {
        (Some(id), _) => history.list(Some(id), limit)?,
        (None, true) => match history.last_conversation()? {
            Some(id) => history.list(Some(&id), limit)?,
            None => Listing::default(),
        },
        (None, false) => history.list(None, limit)?,
    };
    let skipped = skipped_note(&listing.skipped);
    let records = listing.records;
    if args.json {
        let mut out = String::new();
        for record in &records {
            out.push_str(&serde_json::to_string(record)?);
            out.push('\n');
        }
        // stdout carries only JSON.
        if let Some(note) = skipped {
            eprintln!("{note}");
        }
        return emit(out);
    }
    let mut out = if records.is_empty() {
        let which = args
            .conversation
            .map(|id| format!(" in conversation {id}"))
            .unwrap_or_default();
        format!("no turns{which} ({})\n", history.path().display())
    } else {
        records.iter().map(turn_block).collect::<Vec<_>>().join("\n")
    };
    if let Some(note) = skipped {
        let _ = writeln!(out, "\n{note}");
    }
    emit(out)
}

/// The listing's last line when rows were skipped: how many, and which.
fn skipped_note(ids: &[i64]) -> Option<String> {
    if ids.is_empty() {
        return None;
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    Some(format!(
        "{} unreadable {} skipped (id {}); the database was left as it is",
        ids.len(),
        plural(ids.len(), "row", "rows"),
        list.join(", ")
    ))
}

/// Writes to stdout; a closed pipe (`voxdeck history | head`) is not an error.
fn emit(text: String) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => Ok(result?),
    }
}

fn conversations_text(list: &[ConversationSummary], json: bool, path: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    if json {
        for c in list {
            out.push_str(&serde_json::to_string(c)?);
            out.push('\n');
        }
    } else if list.is_empty() {
        let _ = writeln!(out, "no conversations ({})", path.display());
    } else {
        for c in list {
            let _ = writeln!(
                out,
                "{}  {} {}  {} .. {}",
                c.id,
                c.turns,
                plural(c.turns as usize, "turn", "turns"),
                fmt_unix_ms(c.first_unix_ms),
                fmt_unix_ms(c.last_unix_ms)
            );
        }
    }
    Ok(out)
}

/// One turn for people: when, what was said, what was answered, and how fast.
fn turn_block(r: &TurnRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  conversation {}, turn {}",
        fmt_unix_ms(r.started_unix_ms),
        r.conversation,
        r.turn
    );
    let said = if r.transcript.trim().is_empty() {
        "(nothing understood)"
    } else {
        r.transcript.trim()
    };
    let _ = writeln!(out, "  you: {}", indent(said));
    if r.engine.is_some() || !r.answer.is_empty() {
        let who: Vec<&str> = [r.engine.as_deref(), r.model.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let who = if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", who.join(", "))
        };
        let marker = if r.interrupted || r.outcome == Outcome::Interrupted {
            " [interrupted]"
        } else {
            ""
        };
        let _ = writeln!(out, "  assistant{who}: {}{marker}", indent(r.answer.trim()));
    }
    if let Some(fallback) = &r.fallback {
        let _ = writeln!(out, "  fallback: {}", indent(fallback));
    }
    if let Some(error) = &r.error {
        let _ = writeln!(out, "  error: {}", indent(error));
    }
    let mut figures = Vec::new();
    if let Some(ms) = r.first_audio_ms {
        figures.push(format!("first audio {ms:.0} ms"));
    }
    if let Some(ms) = r.first_audible_ms {
        figures.push(format!("heard {ms:.0} ms"));
    }
    match (r.gen_tokens, r.gen_tok_s) {
        (Some(n), Some(rate)) => figures.push(format!("gen {n} tok at {rate:.1} tok/s")),
        (None, Some(rate)) => figures.push(format!("gen {rate:.1} tok/s")),
        _ => {}
    }
    if !figures.is_empty() {
        let _ = writeln!(out, "  {}", figures.join(" | "));
    }
    out
}

/// Continuation lines of a multi-line text, indented under the block.
fn indent(text: &str) -> String {
    text.replace('\n', "\n    ")
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "2025-11-13 14:05:09 UTC" from milliseconds since the Unix epoch.
fn fmt_unix_ms(unix_ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix_ms.div_euclid(1000)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("{unix_ms} ms after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(fmt_unix_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_unix_ms(1_763_042_709_999), "2025-11-13 14:05:09 UTC");
        assert_eq!(fmt_unix_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn a_turn_block_shows_text_engine_and_timings() {
        let mut r = TurnRecord::new("c1", 2);
        r.started_unix_ms = 1_763_042_709_000;
        r.outcome = Outcome::Interrupted;
        r.interrupted = true;
        r.transcript = "What time is it?".into();
        r.answer = "It is".into();
        r.engine = Some("local".into());
        r.model = Some("Llama 3.2 3B".into());
        r.first_audio_ms = Some(640.4);
        r.first_audible_ms = Some(702.6);
        r.gen_tokens = Some(31);
        r.gen_tok_s = Some(27.24);
        assert_eq!(
            turn_block(&r),
            "2025-11-13 14:05:09 UTC  conversation c1, turn 2\n\
             \x20 you: What time is it?\n\
             \x20 assistant (local, Llama 3.2 3B): It is [interrupted]\n\
             \x20 first audio 640 ms | heard 703 ms | gen 31 tok at 27.2 tok/s\n"
        );
        let mut silent = TurnRecord::new("c1", 3);
        silent.started_unix_ms = 0;
        silent.outcome = Outcome::NoSpeech;
        assert_eq!(
            turn_block(&silent),
            "1970-01-01 00:00:00 UTC  conversation c1, turn 3\n  you: (nothing understood)\n"
        );
    }
}
