//! Opening the database: identity checks, connection settings and schema migrations.
//!
//! The schema version is `PRAGMA user_version`; migration `n` takes it from `n` to `n + 1`.
//! Migrations only ever add, so that an older voxdeck refuses a newer file instead of
//! misreading it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::HistoryError;

/// `PRAGMA application_id` of a voxdeck history ("voxd"), so that another program's SQLite
/// file is told apart from ours.
pub(super) const APPLICATION_ID: i32 = 0x766f_7864;

/// How long a statement waits for another connection's lock (the app and `voxdeck history`
/// may share the file) before it fails with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One entry per schema version. The full record is kept as JSON in `record`, so a new
/// `TurnRecord` field needs no migration; the other columns are there to be queried.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        conversation TEXT NOT NULL,
        turn INTEGER NOT NULL,
        started_unix_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        transcript TEXT NOT NULL,
        answer TEXT NOT NULL,
        interrupted INTEGER NOT NULL,
        engine TEXT,
        record TEXT NOT NULL,
        UNIQUE (conversation, turn)
    );
    -- UNIQUE (conversation, turn) is the index for one conversation's turns; this one is for
    -- the newest turns and conversations of all.
    CREATE INDEX turns_by_start ON turns (started_unix_ms);",
    // 1 -> 2: the assistant's timers and remembered facts (tools::store). A timer's `seconds`
    // is the duration asked for (NULL when set for a clock time); `ended_unix_ms` is when it
    // rang, was missed or cancelled (NULL while running).
    "CREATE TABLE timers (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        set_unix_ms INTEGER NOT NULL,
        due_unix_ms INTEGER NOT NULL,
        seconds INTEGER,
        state TEXT NOT NULL,
        ended_unix_ms INTEGER
    );
    CREATE INDEX timers_by_state_due ON timers (state, due_unix_ms);
    CREATE TABLE facts (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL
    );",
];

/// The schema version this build writes and reads.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens `path` (creating the file only if `create`), checks that it is a voxdeck history,
/// switches it to WAL and brings its schema up to date.
pub(super) fn open(path: &Path, create: bool) -> Result<Connection, HistoryError> {
    let sql = |e| HistoryError::from_sqlite(path, e);
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    // Before anything writes: never turn someone else's database into WAL or add our table.
    check_identity(&conn, path)?;

    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            "history database {}: journal mode is {mode}, not WAL (the file system may not support it)",
            path.display()
        );
    }
    // In WAL mode NORMAL keeps every commit across a process crash; only a power loss may
    // roll back the last commits, and it never corrupts the file.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
    // Cleared or replaced turns are overwritten on disk, not just unlinked: it is speech.
    conn.pragma_update(None, "secure_delete", true).map_err(sql)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// An in-memory database with the same schema, for the toolbox when history is off.
pub(super) fn open_in_memory() -> Result<Connection, HistoryError> {
    let path = Path::new(":memory:");
    let mut conn = Connection::open_in_memory().map_err(|e| HistoryError::from_sqlite(path, e))?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Fails unless the file is empty, or ours at a schema version this build knows.
fn check_identity(conn: &Connection, path: &Path) -> Result<(), HistoryError> {
    let sql = |e| HistoryError::from_sqlite(path, e);
    // The first read of the file: where a file that is not SQLite at all fails.
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(sql)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    let not_ours = |reason: String| HistoryError::NotADatabase {
        path: path.to_owned(),
        reason,
    };
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(not_ours(format!(
            "a SQLite database of another application, id {app_id:#010x}"
        )));
    }
    if app_id == 0 && (tables > 0 || version != 0) {
        return Err(not_ours(format!("a SQLite database with {tables} other table(s)")));
    }
    if version < 0 {
        return Err(not_ours(format!("schema version {version}")));
    }
    if version > SCHEMA_VERSION {
        return Err(HistoryError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Applies the pending migrations in one transaction. IMMEDIATE takes the write lock before
/// reading the version, so two processes opening a new file at once migrate it once.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), HistoryError> {
    let sql = |e| HistoryError::from_sqlite(path, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if version > SCHEMA_VERSION {
        return Err(HistoryError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(()); // dropping `tx` rolls back a transaction that changed nothing
    }
    for (from, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(migration).map_err(sql)?;
        tracing::debug!("history database {}: schema {from} -> {}", path.display(), from + 1);
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(sql)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sql)?;
    tx.commit().map_err(sql)
}
