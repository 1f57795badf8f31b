//! Turn history in SQLite: each finished turn is one row, committed before [`History::append`]
//! returns, so a crash loses at most the turn in flight.
//!
//! The database is one file under the data dir (`pipeline.history_path` overrides it) in WAL
//! mode: readers (`voxdeck history`, the app) never block the writer, and with
//! `synchronous=NORMAL` a commit survives the process dying; a power loss may only roll back
//! the last commits. Context for the LLM is built elsewhere from [`History::recent`].
//!
//! Each row keeps the whole record as JSON beside a few queryable columns. A row whose JSON
//! does not parse does not fail a query: it is rebuilt from the columns (text, outcome,
//! engine; no timings) and a warning names it; a row that cannot be read at all is skipped,
//! named in a warning and counted in [`Listing::skipped`]. Reading never repairs the file.

mod row;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde::Serialize;

use crate::config::PipelineConfig;
use crate::paths;
use crate::turn_record::{TurnRecord, unix_ms_now};

/// Errors of the history database. Each names the file, since it may be the user's to fix.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot create the history directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a voxdeck history database ({reason}); move it away or set pipeline.history_path")]
    NotADatabase { path: PathBuf, reason: String },
    #[error(
        "history database {path} has schema version {found}, newer than this voxdeck's {supported}; \
         upgrade voxdeck, or move the file away or set pipeline.history_path"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("cannot encode turn {turn} of conversation {conversation} for {path}: {source}")]
    Encode {
        path: PathBuf,
        conversation: String,
        turn: u64,
        source: serde_json::Error,
    },
    #[error("history database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
}

impl HistoryError {
    /// A SQLite error on `path`; a damaged or foreign file becomes [`HistoryError::NotADatabase`].
    fn from_sqlite(path: &Path, source: rusqlite::Error) -> HistoryError {
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => HistoryError::NotADatabase {
                path: path.to_owned(),
                reason: source.to_string(),
            },
            _ => HistoryError::Sqlite {
                path: path.to_owned(),
                source,
            },
        }
    }
}

/// One conversation as `voxdeck history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub id: String,
    pub turns: u64,
    /// When its first and last turns started, milliseconds since the Unix epoch.
    pub first_unix_ms: i64,
    pub last_unix_ms: i64,
}

/// Turns read back, oldest first, and the ids of the rows skipped because they could not be
/// read (each also named in a warning), for a listing to count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub records: Vec<TurnRecord>,
    pub skipped: Vec<i64>,
}

/// The turn history: one SQLite connection, shared by the threads that hold the `History`.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl History {
    /// Opens the database at `path`, creating it and its directory if missing.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        Ok(History::with_connection(path, open_connection(path)?))
    }

    /// Opens the database at `path` if it exists; `None` if it does not. For readers, which
    /// should not leave an empty database behind.
    pub fn open_existing(path: &Path) -> Result<Option<History>, HistoryError> {
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(History::with_connection(path, schema::open(path, false)?)))
    }

    /// The configured history: `None` when `pipeline.history` is off.
    pub fn open_configured(config: &PipelineConfig) -> Result<Option<History>, HistoryError> {
        if !config.history {
            tracing::debug!("history is off (pipeline.history = false)");
            return Ok(None);
        }
        History::open(&History::configured_path(config)).map(Some)
    }

    /// `$XDG_DATA_HOME/voxdeck/history.sqlite3`.
    pub fn default_path() -> PathBuf {
        paths::data_dir().join("history.sqlite3")
    }

    /// `pipeline.history_path`, or [`History::default_path`] when it is empty.
    pub fn configured_path(config: &PipelineConfig) -> PathBuf {
        if config.history_path.trim().is_empty() {
            History::default_path()
        } else {
            PathBuf::from(&config.history_path)
        }
    }

    fn with_connection(path: &Path, conn: Connection) -> History {
        tracing::debug!("history database {}", path.display());
        History {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `record`, replacing an earlier one of the same conversation and turn. One
    /// statement, committed when this returns.
    pub fn append(&self, record: &TurnRecord) -> Result<(), HistoryError> {
        let json = serde_json::to_string(record).map_err(|source| HistoryError::Encode {
            path: self.path.clone(),
            conversation: record.conversation.clone(),
            turn: record.turn,
            source,
        })?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(row::UPSERT).map_err(|e| self.error(e))?;
        stmt.execute(params![
            record.conversation,
            record.turn,
            record.started_unix_ms,
            row::outcome_name(record.outcome),
            record.transcript,
            record.answer,
            record.interrupted,
            record.engine,
            json,
        ])
        .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The last `limit` turns of `conversation`, oldest first (unreadable rows left out).
    pub fn recent(&self, conversation: &str, limit: usize) -> Result<Vec<TurnRecord>, HistoryError> {
        Ok(self.list(Some(conversation), limit)?.records)
    }

    /// The newest `limit` turns of any conversation, oldest first (unreadable rows left out).
    pub fn all(&self, limit: usize) -> Result<Vec<TurnRecord>, HistoryError> {
        Ok(self.list(None, limit)?.records)
    }

    /// The newest `limit` turns of `conversation` (of every conversation when `None`), oldest
    /// first, and the rows among them that could not be read: a damaged row is skipped, with a
    /// warning naming it, instead of failing the whole listing.
    pub fn list(&self, conversation: Option<&str>, limit: usize) -> Result<Listing, HistoryError> {
        let limit = sql_limit(limit);
        match conversation {
            Some(id) => {
                let sql = format!(
                    "SELECT {} FROM turns WHERE conversation = ?1 ORDER BY turn DESC LIMIT ?2",
                    row::COLUMNS
                );
                self.newest_first(&sql, params![id, limit])
            }
            None => {
                let sql = format!(
                    "SELECT {} FROM turns ORDER BY started_unix_ms DESC, id DESC LIMIT ?1",
                    row::COLUMNS
                );
                self.newest_first(&sql, params![limit])
            }
        }
    }

    /// Runs a query that selects rows newest first, and returns them oldest first.
    fn newest_first(&self, sql: &str, params: impl rusqlite::Params) -> Result<Listing, HistoryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params, row::from_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.error(e))?;
        let mut listing = Listing::default();
        for read in rows.into_iter().rev() {
            match read {
                row::ReadRow::Record(record) => listing.records.push(record),
                row::ReadRow::Unreadable { id } => listing.skipped.push(id),
            }
        }
        Ok(listing)
    }

    /// Every conversation, the most recently active first. Rows whose conversation or start
    /// time is not what voxdeck writes (another program's BLOB) are left out, with a warning.
    pub fn conversations(&self) -> Result<Vec<ConversationSummary>, HistoryError> {
        self.warn_unsortable()?;
        let conn = self.conn();
        let sql = format!(
            "SELECT conversation, count(*), min(started_unix_ms), max(started_unix_ms) AS last_ms,
                    max(id) AS last_id
             FROM turns WHERE {SORTABLE} GROUP BY conversation ORDER BY last_ms DESC, last_id DESC"
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.error(e))?;
        stmt.query_map([], |r| {
            Ok(ConversationSummary {
                id: r.get(0)?,
                turns: r.get(1)?,
                first_unix_ms: r.get(2)?,
                last_unix_ms: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.error(e))
    }

    /// The conversation of the newest turn, if there is any turn (rows left out as in
    /// [`History::conversations`]).
    pub fn last_conversation(&self) -> Result<Option<String>, HistoryError> {
        self.warn_unsortable()?;
        let sql =
            format!("SELECT conversation FROM turns WHERE {SORTABLE} ORDER BY started_unix_ms DESC, id DESC LIMIT 1");
        self.conn()
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)).optional())
            .map_err(|e| self.error(e))
    }

    /// Names, in a warning, the rows that summaries leave out.
    fn warn_unsortable(&self) -> Result<(), HistoryError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT id FROM turns WHERE NOT ({SORTABLE})"))
            .map_err(|e| self.error(e))?;
        let ids: Vec<i64> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(e))?;
        if !ids.is_empty() {
            tracing::warn!(
                "history rows {ids:?} cannot be read (their conversation or start time is not what voxdeck \
                 stores); left out"
            );
        }
        Ok(())
    }

    /// Deletes every turn and returns how many. Deleted text is overwritten in the file
    /// (`secure_delete`) and the write-ahead log is emptied when no reader holds it.
    pub fn clear(&self) -> Result<usize, HistoryError> {
        let conn = self.conn();
        let deleted = conn.execute("DELETE FROM turns", []).map_err(|e| self.error(e))?;
        // Best effort: a reader in another process keeps the log until it is done.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!(
                "history database {}: cannot empty the write-ahead log: {e}",
                self.path.display()
            );
        }
        Ok(deleted)
    }

    /// The connection. A thread that panicked while holding it cannot have left a transaction
    /// half done (every write is one statement), so a poisoned lock is still usable.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, e: rusqlite::Error) -> HistoryError {
        HistoryError::from_sqlite(&self.path, e)
    }
}

/// A connection of its own to the history database at `path` (created with its directory if
/// missing), with the same identity checks, WAL and migrations as [`History::open`]: for the
/// toolbox's `timers` and `facts` tables, which live in the same file.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, HistoryError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    schema::open(path, true)
}

/// An in-memory database with the history's schema (history off: the toolbox's timers and
/// facts last as long as the process).
pub(crate) fn open_in_memory() -> Result<Connection, HistoryError> {
    schema::open_in_memory()
}

/// The rows conversation summaries can group and sort: those whose conversation and start
/// time have the types voxdeck writes.
const SORTABLE: &str = "typeof(conversation) = 'text' AND typeof(started_unix_ms) = 'integer'";

/// SQLite's LIMIT is an i64; anything larger is "no limit".
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A new conversation id: the time in milliseconds (hex, so ids sort by start time), the
/// process id and a per-process counter, e.g. `0197a3c5e2f1-4d2-0`. Unique without a UUID:
/// two processes differ by pid, two ids of one process by the counter.
pub fn new_conversation_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:012x}-{:x}-{n:x}", unix_ms_now().max(0), std::process::id())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::turn_record::Outcome;

    fn record(conversation: &str, turn: u64) -> TurnRecord {
        let mut r = TurnRecord::new(conversation, turn);
        r.started_unix_ms = 1_750_000_000_000 + turn as i64 * 10_000;
        r.outcome = Outcome::Answered;
        r.transcript = format!("question {turn} — ünïcode");
        r.answer = format!("answer {turn}");
        r.generated = r.answer.clone();
        r.engine = Some("local".into());
        r.model = Some("SmolLM2 135M".into());
        r.route_reason = Some("mode local".into());
        r.press_ms = Some(-812.5);
        r.release_ms = Some(0.0);
        r.first_audio_ms = Some(640.25);
        r.first_audible_ms = Some(702.5);
        r.gen_tokens = Some(31);
        r.gen_tok_s = Some(118.0);
        r.utterance_s = 1.25;
        r.sentences = 2;
        r
    }

    fn temp_history() -> (tempfile::TempDir, History) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let history = History::open(&dir.path().join("sub/dir/history.sqlite3")).expect("opens a new database");
        (dir, history)
    }

    fn turns(records: &[TurnRecord]) -> Vec<(String, u64)> {
        records.iter().map(|r| (r.conversation.clone(), r.turn)).collect()
    }

    #[test]
    fn records_round_trip() {
        let (_dir, h) = temp_history();
        let mut interrupted = record("c1", 2);
        interrupted.outcome = Outcome::Interrupted;
        interrupted.interrupted = true;
        interrupted.generated = "answer 2, and more that was never spoken".into();
        interrupted.engine = None;
        let written = vec![record("c1", 1), interrupted];
        for r in &written {
            h.append(r).expect("appends");
        }
        assert_eq!(h.recent("c1", 10).expect("reads"), written);
        assert_eq!(h.all(10).expect("reads"), written);
    }

    #[test]
    fn recent_is_oldest_first_and_limited() {
        let (_dir, h) = temp_history();
        for turn in [3, 1, 5, 2, 4] {
            h.append(&record("c", turn)).expect("appends");
        }
        let got = h.recent("c", 3).expect("reads");
        assert_eq!(turns(&got), [("c".into(), 3), ("c".into(), 4), ("c".into(), 5)]);
        assert!(h.recent("c", 0).expect("reads").is_empty());
        assert_eq!(h.recent("c", usize::MAX).expect("reads").len(), 5);
        assert!(h.recent("other", 3).expect("reads").is_empty());
    }

    #[test]
    fn appending_a_turn_again_replaces_it() {
        let (_dir, h) = temp_history();
        h.append(&record("c", 1)).expect("appends");
        let mut retry = record("c", 1);
        retry.answer = "the retried answer".into();
        h.append(&retry).expect("appends again");
        assert_eq!(h.recent("c", 10).expect("reads"), [retry]);
    }

    #[test]
    fn conversations_are_separate() {
        let (_dir, h) = temp_history();
        let mut later = record("b", 1);
        later.started_unix_ms += 1_000_000;
        for r in [record("a", 1), record("a", 2), later.clone(), record("a", 3)] {
            h.append(&r).expect("appends");
        }
        assert_eq!(
            turns(&h.recent("a", 10).expect("reads")),
            [("a".into(), 1), ("a".into(), 2), ("a".into(), 3)]
        );
        assert_eq!(h.recent("b", 10).expect("reads"), [later.clone()]);
        assert_eq!(turns(&h.all(2).expect("reads")), [("a".into(), 3), ("b".into(), 1)]);
        let summaries = h.conversations().expect("lists");
        assert_eq!(
            summaries,
            [
                ConversationSummary {
                    id: "b".into(),
                    turns: 1,
                    first_unix_ms: later.started_unix_ms,
                    last_unix_ms: later.started_unix_ms,
                },
                ConversationSummary {
                    id: "a".into(),
                    turns: 3,
                    first_unix_ms: record("a", 1).started_unix_ms,
                    last_unix_ms: record("a", 3).started_unix_ms,
                },
            ]
        );
        assert_eq!(h.last_conversation().expect("reads").as_deref(), Some("b"));
        assert_eq!(h.clear().expect("clears"), 4);
        assert!(h.all(10).expect("reads").is_empty());
        assert_eq!(h.last_conversation().expect("reads"), None);
    }

    #[test]
    fn reopening_keeps_the_turns() {
        let (dir, h) = temp_history();
        let path = h.path().to_owned();
        assert!(path.starts_with(dir.path()));
        h.append(&record("c", 1)).expect("appends");
        drop(h);
        let h = History::open(&path).expect("reopens");
        assert_eq!(h.recent("c", 10).expect("reads"), [record("c", 1)]);
        let existing = History::open_existing(&path).expect("opens").expect("exists");
        assert_eq!(existing.all(10).expect("reads").len(), 1);
    }

    #[test]
    fn open_existing_does_not_create() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite3");
        assert!(History::open_existing(&path).expect("no error").is_none());
        assert!(!path.exists());
    }

    #[test]
    fn the_database_is_in_wal_mode() {
        let (_dir, h) = temp_history();
        let mode: String = h
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("reads the journal mode");
        assert_eq!(mode, "wal");
        let sync: i64 = h
            .conn()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .expect("reads");
        assert_eq!(sync, 1, "synchronous=NORMAL");
        let other = Connection::open(h.path()).expect("a second connection");
        let mode: String = other
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("reads");
        assert_eq!(mode, "wal", "WAL is a property of the file");
    }

    #[test]
    fn an_append_is_committed_when_it_returns() {
        let (_dir, h) = temp_history();
        h.append(&record("c", 1)).expect("appends");
        // A second, independent connection sees the turn while the first is still open: it is
        // in the file (the WAL), not in a buffer of this process.
        let other = Connection::open(h.path()).expect("a second connection");
        let json: String = other
            .query_row(
                "SELECT record FROM turns WHERE conversation = 'c' AND turn = 1",
                [],
                |r| r.get(0),
            )
            .expect("the row is there");
        let back: TurnRecord = serde_json::from_str(&json).expect("the record parses");
        assert_eq!(back, record("c", 1));
        drop(h);
    }

    #[test]
    fn concurrent_appends_from_two_threads() {
        let (_dir, h) = temp_history();
        let h = Arc::new(h);
        let threads: Vec<_> = ["x", "y"]
            .into_iter()
            .map(|conversation| {
                let h = Arc::clone(&h);
                std::thread::spawn(move || {
                    for turn in 1..=50 {
                        h.append(&record(conversation, turn)).expect("appends");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("the thread finishes");
        }
        assert_eq!(h.recent("x", 100).expect("reads").len(), 50);
        assert_eq!(h.recent("y", 100).expect("reads").len(), 50);
        assert_eq!(h.all(1000).expect("reads").len(), 100);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("history.sqlite3");
        std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).expect("writes");
        for result in [
            History::open(&path),
            History::open_existing(&path).map(|h| h.expect("exists")),
        ] {
            let err = result.expect_err("garbage is refused");
            assert!(matches!(err, HistoryError::NotADatabase { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("is not a voxdeck history database"), "{text}");
            assert!(text.contains("pipeline.history_path"), "{text}");
        }
        assert_eq!(
            std::fs::read_to_string(&path).expect("reads"),
            "these are my notes, not a database\n".repeat(200),
            "the file is left alone"
        );
    }

    #[test]
    fn another_programs_database_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("other.sqlite3");
        Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE notes (body TEXT)"))
            .expect("creates another database");
        let err = History::open(&path).expect_err("refused");
        assert!(matches!(err, HistoryError::NotADatabase { .. }), "{err:?}");
        let mode: String = Connection::open(&path)
            .and_then(|c| c.pragma_query_value(None, "journal_mode", |r| r.get(0)))
            .expect("reads");
        assert_eq!(mode, "delete", "not switched to WAL");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (_dir, h) = temp_history();
        let path = h.path().to_owned();
        drop(h);
        Connection::open(&path)
            .and_then(|c| c.pragma_update(None, "user_version", 99))
            .expect("bumps the version");
        let err = History::open(&path).expect_err("refused");
        assert!(matches!(err, HistoryError::NewerSchema { found: 99, .. }), "{err:?}");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn a_damaged_record_keeps_its_columns() {
        let (_dir, h) = temp_history();
        h.append(&record("c", 1)).expect("appends");
        h.append(&record("c", 2)).expect("appends");
        Connection::open(h.path())
            .and_then(|c| c.execute("UPDATE turns SET record = '{not json' WHERE turn = 1", []))
            .expect("damages a row");
        let got = h.recent("c", 10).expect("the query still succeeds");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], record("c", 2));
        let damaged = &got[0];
        let original = record("c", 1);
        assert_eq!((damaged.conversation.as_str(), damaged.turn), ("c", 1));
        assert_eq!(damaged.started_unix_ms, original.started_unix_ms);
        assert_eq!(damaged.outcome, Outcome::Answered);
        assert_eq!(damaged.transcript, original.transcript);
        assert_eq!(damaged.answer, original.answer);
        assert_eq!(damaged.engine, original.engine);
        assert_eq!(damaged.first_audio_ms, None, "timings are lost");
    }

    #[test]
    fn a_row_with_blobs_for_text_is_skipped_and_counted() {
        let (_dir, h) = temp_history();
        for turn in 1..=4 {
            h.append(&record("c", turn)).expect("appends");
        }
        // Another program wrote BLOBs where text belongs: turn 2 has nothing readable left,
        // turn 3 only its record (its columns still hold the text).
        let damage = Connection::open(h.path()).expect("a second connection");
        damage
            .execute(
                "UPDATE turns SET transcript = X'00FF10', record = X'7B226F757463' WHERE turn = 2",
                [],
            )
            .expect("damages turn 2");
        damage
            .execute("UPDATE turns SET record = X'7B' WHERE turn = 3", [])
            .expect("damages turn 3");
        let id_of_2: i64 = damage
            .query_row("SELECT id FROM turns WHERE turn = 2", [], |r| r.get(0))
            .expect("reads the id");
        let files = || {
            ["", "-wal"]
                .map(|suffix| std::fs::read(format!("{}{suffix}", h.path().display())).expect("reads the file"))
        };
        let before = files();

        for listing in [h.list(Some("c"), 10), h.list(None, 10)] {
            let listing = listing.expect("the listing still succeeds");
            assert_eq!(turns(&listing.records), [("c".into(), 1), ("c".into(), 3), ("c".into(), 4)]);
            assert_eq!(listing.skipped, [id_of_2], "the unreadable row is counted");
            assert_eq!(listing.records[0], record("c", 1));
            let rebuilt = &listing.records[1];
            assert_eq!(rebuilt.transcript, record("c", 3).transcript, "a BLOB record keeps its columns");
            assert_eq!(rebuilt.first_audio_ms, None);
        }
        assert_eq!(h.recent("c", 10).expect("reads").len(), 3);
        assert_eq!(h.all(10).expect("reads").len(), 3);

        assert!(files() == before, "reading changed the database");

        // Summaries leave out a row whose conversation they cannot group by.
        damage
            .execute("UPDATE turns SET conversation = X'00' WHERE turn = 4", [])
            .expect("damages turn 4");
        let summaries = h.conversations().expect("the summaries still succeed");
        assert_eq!(summaries.len(), 1);
        assert_eq!((summaries[0].id.as_str(), summaries[0].turns), ("c", 3));
        assert_eq!(h.last_conversation().expect("reads").as_deref(), Some("c"));
        assert_eq!(h.list(None, 10).expect("reads").records.len(), 3, "turn 4's record still reads");
        let before = files();
        assert_eq!(h.conversations().expect("reads"), summaries);
        assert!(files() == before, "reading changed the database");
        let kinds: (String, String) = damage
            .query_row("SELECT typeof(transcript), typeof(record) FROM turns WHERE turn = 2", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("reads the row");
        assert_eq!(kinds, ("blob".into(), "blob".into()), "the row is left as it was");
    }

    #[test]
    fn configured_path_and_disabled_history() {
        let mut config = PipelineConfig::default();
        assert_eq!(History::configured_path(&config), History::default_path());
        assert!(History::default_path().ends_with("voxdeck/history.sqlite3"));
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("h.sqlite3");
        config.history_path = path.display().to_string();
        let h = History::open_configured(&config)
            .expect("opens")
            .expect("history is on");
        assert_eq!(h.path(), path);
        config.history = false;
        assert!(History::open_configured(&config).expect("no error").is_none());
    }

    #[test]
    fn conversation_ids_are_unique() {
        let ids: Vec<String> = (0..1000).map(|_| new_conversation_id()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(ids[0].len() >= 16 && ids[0].is_ascii(), "{}", ids[0]);
    }
}
