//! The toolbox's tables (`timers`, `facts`) in the history database, or in memory when history
//! is off. The schema is the history's (migration 1 -> 2 in `history::schema`); this module only
//! reads and writes rows.
//!
//! Every change is one statement or one transaction, committed before the method returns, so a
//! confirmation is only spoken for what is on disk, and nothing is stored half-way. A check and
//! the write it guards (the timer limit, a duplicate fact) share an IMMEDIATE transaction, so two
//! toolboxes on one file cannot both pass the check. A timer ends with
//! `UPDATE .. WHERE state = 'running'`: only the connection whose statement changed the row
//! announces it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::facts;
use super::toolbox::ToolboxError;
use super::{Fact, TimerState, TimerView};
use crate::history;

/// A timer as stored: what the panel sees, and the duration it was set for (`None` when it was
/// set for a clock time), which names an unlabelled timer ("your 10 minute timer").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRow {
    pub view: TimerView,
    pub seconds: Option<i64>,
}

/// What adding a fact did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddFact {
    Added(Fact),
    /// The same fact (ignoring case and final punctuation) is already stored.
    Duplicate(Fact),
    /// `max` facts are stored already.
    Full,
}

/// What editing a fact did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditFact {
    Edited(Fact),
    /// Another fact already says this.
    Duplicate,
    Missing,
}

/// One connection to the tables.
pub struct Store {
    conn: Mutex<Connection>,
    /// The file, or ":memory:".
    path: PathBuf,
    in_memory: bool,
}

const TIMER_COLUMNS: &str = "id, label, set_unix_ms, due_unix_ms, seconds, state";
const FACT_COLUMNS: &str = "id, text, created_unix_ms, updated_unix_ms";

impl Store {
    /// Opens the history database at `db` (with its checks and migrations), or a new in-memory
    /// one when `None`.
    pub fn open(db: Option<&Path>) -> Result<Store, ToolboxError> {
        let (conn, path, in_memory) = match db {
            Some(path) => (history::open_connection(path), path.to_owned(), false),
            None => (history::open_in_memory(), PathBuf::from(":memory:"), true),
        };
        let conn = conn.map_err(|e| ToolboxError::Store { path: path.clone(), reason: e.to_string() })?;
        Ok(Store { conn: Mutex::new(conn), path, in_memory })
    }

    /// The file, `None` in memory.
    pub fn file(&self) -> Option<&Path> {
        (!self.in_memory).then_some(self.path.as_path())
    }

    // ---- timers

    /// Adds a running timer unless `max_running` are running already (`None` then).
    pub fn add_timer(
        &self,
        label: &str,
        set_ms: i64,
        due_ms: i64,
        seconds: Option<i64>,
        max_running: u32,
    ) -> Result<Option<TimerRow>, ToolboxError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.error(e))?;
        let running: i64 = tx
            .query_row("SELECT count(*) FROM timers WHERE state = 'running'", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        if running >= i64::from(max_running) {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO timers (label, set_unix_ms, due_unix_ms, seconds, state) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![label, set_ms, due_ms, seconds],
        )
        .map_err(|e| self.error(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.error(e))?;
        let view = TimerView { id, label: label.to_owned(), set_unix_ms: set_ms, due_unix_ms: due_ms, state: TimerState::Running };
        Ok(Some(TimerRow { view, seconds }))
    }

    /// The running timers, soonest first.
    pub fn running_timers(&self) -> Result<Vec<TimerRow>, ToolboxError> {
        self.timer_query(
            &format!("SELECT {TIMER_COLUMNS} FROM timers WHERE state = 'running' ORDER BY due_unix_ms, id"),
            [],
        )
    }

    /// The running timers and those that ended at or after `ended_since_ms`, by due time.
    pub fn shown_timers(&self, ended_since_ms: i64) -> Result<Vec<TimerRow>, ToolboxError> {
        self.timer_query(
            &format!(
                "SELECT {TIMER_COLUMNS} FROM timers WHERE state = 'running' OR ended_unix_ms >= ?1 \
                 ORDER BY due_unix_ms, id"
            ),
            [ended_since_ms],
        )
    }

    /// The running timers due at or before `before_ms`, soonest first.
    pub fn due_timers(&self, before_ms: i64) -> Result<Vec<TimerRow>, ToolboxError> {
        self.timer_query(
            &format!(
                "SELECT {TIMER_COLUMNS} FROM timers WHERE state = 'running' AND due_unix_ms <= ?1 \
                 ORDER BY due_unix_ms, id"
            ),
            [before_ms],
        )
    }

    /// When the soonest running timer is due.
    pub fn next_due(&self) -> Result<Option<i64>, ToolboxError> {
        self.conn()
            .query_row("SELECT min(due_unix_ms) FROM timers WHERE state = 'running'", [], |r| r.get(0))
            .map_err(|e| self.error(e))
    }

    /// Ends the running timers among `timers` as `state`, in one transaction; returns those this
    /// call ended (a timer another connection ended first is left out).
    pub fn end_timers(&self, timers: &[TimerRow], state: TimerState, now_ms: i64) -> Result<Vec<TimerRow>, ToolboxError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.error(e))?;
        let mut ended = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE timers SET state = ?2, ended_unix_ms = ?3 WHERE id = ?1 AND state = 'running'",
                )
                .map_err(|e| self.error(e))?;
            for timer in timers {
                if stmt.execute(params![timer.view.id, state_name(state), now_ms]).map_err(|e| self.error(e))? == 1 {
                    let mut timer = timer.clone();
                    timer.view.state = state;
                    ended.push(timer);
                }
            }
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(ended)
    }

    /// Forgets timers that ended before `before_ms` (the panel no longer shows them).
    pub fn prune_ended(&self, before_ms: i64) -> Result<usize, ToolboxError> {
        self.conn()
            .execute("DELETE FROM timers WHERE state <> 'running' AND ended_unix_ms < ?1", [before_ms])
            .map_err(|e| self.error(e))
    }

    fn timer_query(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<TimerRow>, ToolboxError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.error(e))?;
        let rows = stmt.query_map(params, timer_row).map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.error(e))
    }

    // ---- facts

    /// Every fact, newest first.
    pub fn facts(&self) -> Result<Vec<Fact>, ToolboxError> {
        let conn = self.conn();
        all_facts(&conn).map_err(|e| self.error(e))
    }

    /// Stores `text` (already cleaned) unless it is a duplicate or `max` are stored.
    pub fn add_fact(&self, text: &str, now_ms: i64, max: u32) -> Result<AddFact, ToolboxError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.error(e))?;
        let existing = all_facts(&tx).map_err(|e| self.error(e))?;
        let key = facts::duplicate_key(text);
        if let Some(same) = existing.iter().find(|f| facts::duplicate_key(&f.text) == key) {
            return Ok(AddFact::Duplicate(same.clone()));
        }
        if existing.len() >= max as usize {
            return Ok(AddFact::Full);
        }
        tx.execute(
            "INSERT INTO facts (text, created_unix_ms, updated_unix_ms) VALUES (?1, ?2, ?2)",
            params![text, now_ms],
        )
        .map_err(|e| self.error(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.error(e))?;
        Ok(AddFact::Added(Fact { id, text: text.to_owned(), created_unix_ms: now_ms, updated_unix_ms: now_ms }))
    }

    /// Replaces fact `id`'s text (already cleaned) unless another fact says the same.
    pub fn edit_fact(&self, id: i64, text: &str, now_ms: i64) -> Result<EditFact, ToolboxError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.error(e))?;
        let existing = all_facts(&tx).map_err(|e| self.error(e))?;
        let Some(old) = existing.iter().find(|f| f.id == id) else {
            return Ok(EditFact::Missing);
        };
        let key = facts::duplicate_key(text);
        if existing.iter().any(|f| f.id != id && facts::duplicate_key(&f.text) == key) {
            return Ok(EditFact::Duplicate);
        }
        tx.execute("UPDATE facts SET text = ?2, updated_unix_ms = ?3 WHERE id = ?1", params![id, text, now_ms])
            .map_err(|e| self.error(e))?;
        tx.commit().map_err(|e| self.error(e))?;
        Ok(EditFact::Edited(Fact { id, text: text.to_owned(), created_unix_ms: old.created_unix_ms, updated_unix_ms: now_ms }))
    }

    /// Deletes the facts `ids` in one transaction; returns how many there were.
    pub fn delete_facts(&self, ids: &[i64]) -> Result<usize, ToolboxError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| self.error(e))?;
        let mut deleted = 0;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM facts WHERE id = ?1").map_err(|e| self.error(e))?;
            for id in ids {
                deleted += stmt.execute([id]).map_err(|e| self.error(e))?;
            }
        }
        tx.commit().map_err(|e| self.error(e))?;
        Ok(deleted)
    }

    /// Deletes every fact (one statement); returns how many there were.
    pub fn delete_all_facts(&self) -> Result<usize, ToolboxError> {
        self.conn().execute("DELETE FROM facts", []).map_err(|e| self.error(e))
    }

    /// How many facts are stored.
    pub fn fact_count(&self) -> Result<usize, ToolboxError> {
        let n: i64 =
            self.conn().query_row("SELECT count(*) FROM facts", [], |r| r.get(0)).map_err(|e| self.error(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The connection. Every write is one statement or a transaction that rolls back when
    /// dropped, so a lock poisoned by a panic holds nothing half done.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, e: rusqlite::Error) -> ToolboxError {
        ToolboxError::Store { path: self.path.clone(), reason: e.to_string() }
    }
}

fn all_facts(conn: &Connection) -> rusqlite::Result<Vec<Fact>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {FACT_COLUMNS} FROM facts ORDER BY created_unix_ms DESC, id DESC"))?;
    let rows = stmt.query_map([], fact_row)?;
    rows.collect()
}

fn fact_row(r: &Row<'_>) -> rusqlite::Result<Fact> {
    Ok(Fact { id: r.get(0)?, text: r.get(1)?, created_unix_ms: r.get(2)?, updated_unix_ms: r.get(3)? })
}

fn timer_row(r: &Row<'_>) -> rusqlite::Result<TimerRow> {
    let state: String = r.get(5)?;
    Ok(TimerRow {
        view: TimerView {
            id: r.get(0)?,
            label: r.get(1)?,
            set_unix_ms: r.get(2)?,
            due_unix_ms: r.get(3)?,
            state: parse_state(&state),
        },
        seconds: r.get(4)?,
    })
}

fn state_name(state: TimerState) -> &'static str {
    match state {
        TimerState::Running => "running",
        TimerState::Rang => "rang",
        TimerState::Missed => "missed",
        TimerState::Cancelled => "cancelled",
    }
}

/// A stored state; an unknown one (a newer voxdeck's) reads as cancelled: shown, never rung.
fn parse_state(s: &str) -> TimerState {
    match s {
        "running" => TimerState::Running,
        "rang" => TimerState::Rang,
        "missed" => TimerState::Missed,
        _ => TimerState::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_limit_and_guarded_ends() {
        let store = Store::open(None).unwrap();
        let a = store.add_timer("tea", 0, 1000, Some(1), 2).unwrap().unwrap();
        store.add_timer("", 0, 500, Some(1), 2).unwrap().unwrap();
        assert_eq!(store.add_timer("x", 0, 10, None, 2).unwrap(), None, "the limit counts running timers");
        assert_eq!(store.running_timers().unwrap().iter().map(|t| t.view.due_unix_ms).collect::<Vec<_>>(), [500, 1000]);
        assert_eq!(store.next_due().unwrap(), Some(500));
        assert_eq!(store.end_timers(&[a.clone()], TimerState::Rang, 1000).unwrap().len(), 1);
        assert!(store.end_timers(&[a], TimerState::Rang, 1000).unwrap().is_empty(), "a timer ends once");
        assert_eq!(store.shown_timers(0).unwrap().len(), 2);
        assert_eq!(store.shown_timers(2000).unwrap().len(), 1, "an old ended timer is not shown");
        assert_eq!(store.prune_ended(2000).unwrap(), 1);
    }

    #[test]
    fn facts_refuse_duplicates_and_the_limit() {
        let store = Store::open(None).unwrap();
        let AddFact::Added(a) = store.add_fact("My sister is Anna.", 1, 2).unwrap() else { panic!() };
        assert!(matches!(store.add_fact("my sister is anna", 2, 2).unwrap(), AddFact::Duplicate(f) if f.id == a.id));
        let AddFact::Added(b) = store.add_fact("The car is on level 3", 3, 2).unwrap() else { panic!() };
        assert_eq!(store.add_fact("One more", 4, 2).unwrap(), AddFact::Full);
        assert_eq!(store.facts().unwrap().iter().map(|f| f.id).collect::<Vec<_>>(), [b.id, a.id], "newest first");
        assert_eq!(store.edit_fact(b.id, "MY SISTER IS ANNA", 5).unwrap(), EditFact::Duplicate);
        assert!(matches!(store.edit_fact(b.id, "The car is on level 4", 5).unwrap(), EditFact::Edited(_)));
        assert_eq!(store.edit_fact(99, "x", 5).unwrap(), EditFact::Missing);
        assert_eq!(store.delete_facts(&[a.id, 99]).unwrap(), 1);
        assert_eq!(store.delete_all_facts().unwrap(), 1);
        assert_eq!(store.fact_count().unwrap(), 0);
    }
}
