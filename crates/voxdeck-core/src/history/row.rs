//! A turn as a row of `turns`, and back.
//!
//! The row's `record` column holds the whole [`TurnRecord`] as JSON; the other columns copy
//! the fields that queries and a damaged row need.

use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::turn_record::{Outcome, TurnRecord};

/// The columns [`from_row`] reads, in its order.
pub(super) const COLUMNS: &str =
    "id, conversation, turn, started_unix_ms, outcome, transcript, answer, interrupted, engine, record";

/// Upserts one record: a second append of the same (conversation, turn) replaces the first in
/// place (same `id`), so a retried append is idempotent.
pub(super) const UPSERT: &str = "INSERT INTO turns
    (conversation, turn, started_unix_ms, outcome, transcript, answer, interrupted, engine, record)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (conversation, turn) DO UPDATE SET
        started_unix_ms = excluded.started_unix_ms, outcome = excluded.outcome,
        transcript = excluded.transcript, answer = excluded.answer,
        interrupted = excluded.interrupted, engine = excluded.engine, record = excluded.record";

/// A row read back: its record, or the id of a row that could not be read at all.
#[derive(Debug)]
pub(super) enum ReadRow {
    Record(TurnRecord),
    Unreadable { id: i64 },
}

/// The record of a row selected with [`COLUMNS`].
///
/// A `record` that does not parse (damaged, not text, or written by a version whose fields this
/// one cannot read) does not fail the query: the record is rebuilt from the columns (text,
/// outcome, engine; no timings) and a warning names the row. A row whose columns cannot be read
/// either (a BLOB where text belongs) is skipped, with a warning naming it; only errors of the
/// database itself fail the query. Nothing is written back: the file stays as it was.
pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<ReadRow> {
    let id: i64 = row.get(0)?;
    match record(row, id) {
        Ok(record) => Ok(ReadRow::Record(record)),
        Err(rusqlite::Error::InvalidColumnType(_, column, kind)) => {
            tracing::warn!(
                "history row {id} cannot be read (its {column} is a {kind}, not what voxdeck stores there); skipped"
            );
            Ok(ReadRow::Unreadable { id })
        }
        Err(e @ (rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::IntegralValueOutOfRange(..))) => {
            tracing::warn!("history row {id} cannot be read ({e}); skipped");
            Ok(ReadRow::Unreadable { id })
        }
        Err(e) => Err(e),
    }
}

/// The row's JSON record, else what its columns say.
fn record(row: &Row<'_>, id: i64) -> rusqlite::Result<TurnRecord> {
    let parsed = match row.get_ref(9)? {
        ValueRef::Text(json) => serde_json::from_slice::<TurnRecord>(json).map_err(|e| e.to_string()),
        other => Err(format!("{} instead of JSON text", other.data_type())),
    };
    match parsed {
        Ok(record) => Ok(record),
        Err(e) => {
            let rebuilt = rebuild(row)?;
            tracing::warn!("history row {id}: unreadable record ({e}); keeping its text only");
            Ok(rebuilt)
        }
    }
}

/// What the columns alone say about a turn.
fn rebuild(row: &Row<'_>) -> rusqlite::Result<TurnRecord> {
    let conversation: String = row.get(1)?;
    let mut record = TurnRecord::new(&conversation, row.get(2)?);
    record.started_unix_ms = row.get(3)?;
    record.interrupted = row.get(7)?;
    let outcome: String = row.get(4)?;
    record.outcome = parse_outcome(&outcome).unwrap_or(if record.interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Failed
    });
    record.transcript = row.get(5)?;
    record.answer = row.get(6)?;
    record.generated = record.answer.clone();
    record.engine = row.get(8)?;
    Ok(record)
}

/// The `outcome` column: the same names as the record's JSON.
pub(super) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Answered => "answered",
        Outcome::Interrupted => "interrupted",
        Outcome::NoSpeech => "no_speech",
        Outcome::Failed => "failed",
    }
}

fn parse_outcome(name: &str) -> Option<Outcome> {
    [
        Outcome::Answered,
        Outcome::Interrupted,
        Outcome::NoSpeech,
        Outcome::Failed,
    ]
    .into_iter()
    .find(|o| outcome_name(*o) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_match_the_json() {
        for o in [
            Outcome::Answered,
            Outcome::Interrupted,
            Outcome::NoSpeech,
            Outcome::Failed,
        ] {
            let json = serde_json::to_value(o).expect("an outcome serialises");
            assert_eq!(json.as_str(), Some(outcome_name(o)));
            assert_eq!(parse_outcome(outcome_name(o)), Some(o));
        }
        assert_eq!(parse_outcome("cancelled"), None);
    }
}
