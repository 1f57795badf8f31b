//! Runs checked tool calls: timers, facts, the clock, the assistant's own state. One per
//! engine session; the panel reads and edits the same timers and facts through it.
//!
//! The store is the history database's `timers` and `facts` tables ([`super::store`]); every
//! change is committed before its confirmation is returned. One thread ([`super::timers`])
//! rings timers. The words are made in [`super::timer_words`], [`super::facts`],
//! [`super::clock`] and [`super::status_words`]; this module decides what to do.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Local;
use serde_json::json;

use super::spec::{self, ValidCall};
use super::store::{AddFact, EditFact, Store, StoreError, TimerRow};
use super::timers::{TimerThread, Wake};
use super::{Fact, TimerState, TimerView, ToolCall, ToolName, ToolResult, clock, facts, status_words, timer_words};
use crate::config::{Mode, ToolsConfig};
use crate::turn_record::unix_ms_now;

/// Errors of the toolbox's store (the history database's `timers` and `facts` tables).
#[derive(Debug, thiserror::Error)]
pub enum ToolboxError {
    #[error("tool store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
    #[error("no fact with id {0}")]
    NoSuchFact(i64),
    #[error("no running timer with id {0}")]
    NoSuchTimer(i64),
    #[error("{0}")]
    Refused(String),
}

impl From<StoreError> for ToolboxError {
    fn from(e: StoreError) -> ToolboxError {
        ToolboxError::Store { path: e.path, reason: e.reason }
    }
}

/// What the toolbox tells the session (which puts it on the event stream).
#[derive(Debug, Clone, PartialEq)]
pub enum ToolboxEvent {
    /// The timers changed: every timer the panel shows.
    Timers(Vec<TimerView>),
    /// A timer is due (`state: rang`), or was missed while voxdeck was off (`state: missed`,
    /// reported once at start). `spoken` is the sentence to say.
    TimerDue { timer: TimerView, spoken: String },
    /// The facts changed: all of them, newest first.
    Facts(Vec<Fact>),
    /// A confirmation is asked for (forget all), until `expires_unix_ms`.
    ConfirmAsked { action: String, prompt: String, expires_unix_ms: i64 },
}

pub use super::status_words::LiveFigures;

/// What the toolbox may ask of the assistant it belongs to.
pub trait AssistantControls: Send + Sync {
    /// Who answers from the next question on.
    fn set_mode(&self, mode: Mode);
    fn mode(&self) -> Mode;
    fn figures(&self) -> LiveFigures;
}

/// How long an ended timer stays on the panel.
const SHOWN_AFTER_END_MS: i64 = 10 * 60 * 1000;
/// Ended timers older than this are deleted at open.
const KEPT_AFTER_END_MS: i64 = 24 * 3600 * 1000;
/// A running timer found at open that came due less than this ago is rung, not called missed:
/// another toolbox on the file (an engine swap) is about to ring it.
const MISSED_GRACE_MS: i64 = 2000;
/// How long "forget all" waits for a yes.
const CONFIRM_FOR_MS: i64 = 30_000;
/// Facts said back for one "what do you know about X".
const RECALL_MAX: usize = 5;
/// What is said when the store fails (the details go to the log).
const STORE_FAILED: &str = "Sorry, I couldn't reach my memory store.";

/// The toolbox.
pub struct Toolbox {
    core: Arc<Core>,
    controls: Arc<dyn AssistantControls>,
    pending: Mutex<Option<Pending>>,
    /// Stopped and joined when the toolbox is dropped.
    _thread: TimerThread,
}

/// What the toolbox and its timer thread share.
struct Core {
    store: Store,
    wake: Arc<Wake>,
    max_timers: u32,
    max_facts: u32,
    on_event: Arc<dyn Fn(ToolboxEvent) + Send + Sync>,
}

/// An action waiting for the user's yes.
#[derive(Debug, Clone)]
struct Pending {
    action: &'static str,
    prompt: String,
    expires_unix_ms: i64,
}

/// A confirmation the toolbox waits for: what, the question asked, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConfirmation {
    pub action: String,
    pub prompt: String,
    pub expires_unix_ms: i64,
}

const FORGET_ALL: &str = "forget_all";

impl Toolbox {
    /// Opens the store at `db` (the history database; `None` = in memory, when history is
    /// off), re-arms running timers, reports those missed while off through `on_event`, and
    /// starts the timer thread.
    pub fn open(
        db: Option<PathBuf>,
        config: &ToolsConfig,
        controls: Arc<dyn AssistantControls>,
        on_event: Arc<dyn Fn(ToolboxEvent) + Send + Sync>,
    ) -> Result<Arc<Toolbox>, ToolboxError> {
        let store = Store::open(db.as_deref())?;
        let wake = Wake::new(store.file());
        let core = Arc::new(Core {
            store,
            wake: wake.clone(),
            max_timers: config.max_timers.max(1),
            max_facts: config.max_facts.max(1),
            on_event,
        });
        let now = unix_ms_now();
        core.store.prune_ended(now - KEPT_AFTER_END_MS)?;
        core.report_missed(now)?;
        let ring_core = core.clone();
        let thread = TimerThread::spawn(wake, move |now| ring_core.ring(now)).map_err(|e| ToolboxError::Store {
            path: db.clone().unwrap_or_default(),
            reason: format!("cannot start the timer thread: {e}"),
        })?;
        Ok(Arc::new(Toolbox { core, controls, pending: Mutex::new(None), _thread: thread }))
    }

    /// Checks `call` against the allowlist and `offered` and runs it. Never panics; a refusal
    /// or failure is a result with `ok: false` and a short spoken reason.
    pub fn run(&self, call: &ToolCall, offered: &[ToolName]) -> ToolResult {
        let call = match spec::validate(&call.name, &call.arguments, offered) {
            Ok(call) => call,
            Err(refusal) => return ToolResult::refused(refusal.to_string()),
        };
        let result = match call.tool {
            ToolName::SetTimer => self.set_timer(&call),
            ToolName::ListTimers => self.list_timers(),
            ToolName::CancelTimer => self.cancel_by_label(call.text("label")),
            ToolName::Remember => self.remember(call.text("fact")),
            ToolName::Recall => self.recall(call.text("about")),
            ToolName::Forget => self.forget(call.text("about")),
            ToolName::ForgetAll => self.ask_forget_all(),
            ToolName::GetTime => Ok(get_time(call.text("what"))),
            ToolName::AssistantStatus => Ok(self.assistant_status(call.text("what"))),
            ToolName::SetMode => Ok(self.set_mode(call.text("mode"))),
        };
        result.unwrap_or_else(|e| {
            tracing::warn!("tool {}: {e}", call.tool.as_str());
            ToolResult::refused(STORE_FAILED)
        })
    }

    /// Carries out an action the user confirmed (by button, or "yes" by voice): "forget_all".
    pub fn confirm(&self, action: &str) -> ToolResult {
        let pending = {
            let mut slot = self.pending();
            match slot.take() {
                Some(p) if p.action == action && p.expires_unix_ms > unix_ms_now() => Some(p),
                // A different action's confirmation stays pending.
                Some(p) if p.action != action && p.expires_unix_ms > unix_ms_now() => {
                    *slot = Some(p);
                    None
                }
                _ => None,
            }
        };
        let Some(pending) = pending else {
            return ToolResult::refused("There's nothing to confirm.");
        };
        match pending.action {
            FORGET_ALL => match self.core.store.delete_all_facts() {
                Ok(n) => {
                    self.core.facts_changed();
                    done(json!({"ok": true, "forgotten": n}), "I've forgotten everything.")
                }
                Err(e) => {
                    tracing::warn!("forget all: {e}");
                    ToolResult::refused(STORE_FAILED)
                }
            },
            _ => ToolResult::refused("There's nothing to confirm."),
        }
    }

    /// Drops a pending confirmation ("no").
    pub fn decline(&self) -> ToolResult {
        match self.pending().take() {
            Some(p) if p.expires_unix_ms > unix_ms_now() => {
                done(json!({"ok": true, "declined": p.action}), "Okay, I'll keep them.")
            }
            _ => ToolResult::refused("There's nothing to confirm."),
        }
    }

    /// The action waiting for a confirmation, if one is and has not expired.
    pub fn pending_confirmation(&self) -> Option<String> {
        self.confirmation().map(|p| p.action)
    }

    /// The pending confirmation with its question and expiry, for a front end that shows it
    /// (one that connects late included).
    pub fn confirmation(&self) -> Option<PendingConfirmation> {
        let mut slot = self.pending();
        if slot.as_ref().is_some_and(|p| p.expires_unix_ms <= unix_ms_now()) {
            *slot = None;
        }
        slot.as_ref().map(|p| PendingConfirmation {
            action: p.action.to_owned(),
            prompt: p.prompt.clone(),
            expires_unix_ms: p.expires_unix_ms,
        })
    }

    /// Every timer the panel shows: running ones, and those that rang or were missed lately.
    pub fn timers(&self) -> Vec<TimerView> {
        self.core.shown_timers()
    }

    /// Cancels a running timer (the panel's button).
    pub fn cancel_timer(&self, id: i64) -> Result<(), ToolboxError> {
        let running = self.core.store.running_timers()?;
        let target: Vec<TimerRow> = running.into_iter().filter(|t| t.view.id == id).collect();
        if target.is_empty() || self.core.store.end_timers(&target, TimerState::Cancelled, unix_ms_now())?.is_empty() {
            return Err(ToolboxError::NoSuchTimer(id));
        }
        self.core.timers_changed();
        Ok(())
    }

    /// Every fact, newest first.
    pub fn facts(&self) -> Vec<Fact> {
        self.core.facts()
    }

    /// Replaces a fact's text (the panel's edit), with the same checks as `remember`.
    pub fn edit_fact(&self, id: i64, text: &str) -> Result<Fact, ToolboxError> {
        let text = fact_text(text).map_err(ToolboxError::Refused)?;
        match self.core.store.edit_fact(id, &text, unix_ms_now())? {
            EditFact::Edited(fact) => {
                self.core.facts_changed();
                Ok(fact)
            }
            EditFact::Duplicate => Err(ToolboxError::Refused("I already know that.".into())),
            EditFact::Missing => Err(ToolboxError::NoSuchFact(id)),
        }
    }

    /// Deletes one fact (the panel's delete).
    pub fn delete_fact(&self, id: i64) -> Result<(), ToolboxError> {
        if self.core.store.delete_facts(&[id])? == 0 {
            return Err(ToolboxError::NoSuchFact(id));
        }
        self.core.facts_changed();
        Ok(())
    }

    /// The facts most relevant to `question`, at most `n`, for the LLM's context.
    pub fn relevant_facts(&self, question: &str, n: usize) -> Vec<Fact> {
        facts::relevant(&self.core.facts(), question, n)
    }

    // ---- timers

    fn set_timer(&self, call: &ValidCall) -> Result<ToolResult, ToolboxError> {
        let label = facts::clean(call.text("label"));
        let now = Local::now();
        let now_ms = now.timestamp_millis();
        let (due_ms, seconds, when) = match call.integer("seconds") {
            Some(s) => (now_ms + s * 1000, Some(s), String::new()),
            None => {
                let Some((h, m)) = spec::parse_clock(call.text("at")) else {
                    return Ok(ToolResult::refused("set_timer's at should be a time like 17:30."));
                };
                let Some(at) = clock::next_occurrence(&now, h, m) else {
                    return Ok(ToolResult::refused("That time is skipped by today's clock change."));
                };
                (at.timestamp_millis(), None, clock::when_words(&at, &now))
            }
        };
        let Some(row) = self.core.store.add_timer(&label, now_ms, due_ms, seconds, self.core.max_timers)? else {
            let max = self.core.max_timers;
            return Ok(ToolResult::refused(if max == 1 {
                "You already have a timer running.".to_owned()
            } else {
                format!("You already have {max} timers running.")
            }));
        };
        self.core.timers_changed();
        let due = clock::local_from_unix_ms(due_ms).map(|t| t.format("%H:%M").to_string()).unwrap_or_default();
        let content = json!({
            "ok": true, "timer_id": row.view.id, "label": label, "due": due, "seconds": (due_ms - now_ms + 999) / 1000
        });
        Ok(done(content, timer_words::set_sentence(&row, &when)))
    }

    fn list_timers(&self) -> Result<ToolResult, ToolboxError> {
        let running = self.core.store.running_timers()?;
        let now = unix_ms_now();
        let listed: Vec<_> = running
            .iter()
            .map(|t| json!({"timer_id": t.view.id, "label": t.view.label, "seconds_left": (t.view.due_unix_ms - now).max(0) / 1000}))
            .collect();
        Ok(done(json!({"ok": true, "timers": listed}), timer_words::list_sentence(&running, now)))
    }

    /// `cancel_timer {label}`: "" = the only one, "all" = all, else those with that label (or
    /// that name: "10 minute" for an unlabelled ten-minute timer).
    fn cancel_by_label(&self, label: &str) -> Result<ToolResult, ToolboxError> {
        let running = self.core.store.running_timers()?;
        if running.is_empty() {
            return Ok(ToolResult::refused("No timers are running."));
        }
        let wanted = facts::clean(label);
        let key = label_key(&wanted);
        let (targets, all) = match key.as_str() {
            "" | "it" | "that" | "this" => {
                if running.len() > 1 {
                    return Ok(ToolResult::refused(timer_words::which_sentence(&running, &local_clock)));
                }
                (running, false)
            }
            "all" | "all the" | "every" | "everything" => (running, true),
            _ => {
                let matching: Vec<TimerRow> = running
                    .into_iter()
                    .filter(|t| label_key(&t.view.label) == key || label_key(&timer_words::timer_name(t, &local_clock)) == key)
                    .collect();
                if matching.is_empty() {
                    return Ok(ToolResult::refused(format!("No timer called {wanted} is running.")));
                }
                (matching, false)
            }
        };
        let ended = self.core.store.end_timers(&targets, TimerState::Cancelled, unix_ms_now())?;
        if ended.is_empty() {
            return Ok(ToolResult::refused("That timer has already finished."));
        }
        self.core.timers_changed();
        let ids: Vec<i64> = ended.iter().map(|t| t.view.id).collect();
        let spoken = timer_words::cancelled_sentence(&ended, all && ended.len() > 1, &local_clock);
        Ok(done(json!({"ok": true, "cancelled": ids}), spoken))
    }

    // ---- facts

    fn remember(&self, fact: &str) -> Result<ToolResult, ToolboxError> {
        let text = match fact_text(fact) {
            Ok(text) => text,
            Err(reason) => return Ok(ToolResult::refused(reason)),
        };
        Ok(match self.core.store.add_fact(&text, unix_ms_now(), self.core.max_facts)? {
            AddFact::Added(fact) => {
                self.core.facts_changed();
                done(json!({"ok": true, "fact_id": fact.id}), "Okay, I'll remember that.")
            }
            AddFact::Duplicate(fact) => {
                done(json!({"ok": true, "fact_id": fact.id, "already_known": true}), "I already know that.")
            }
            AddFact::Full => ToolResult::refused(format!(
                "My memory is full: I keep {} facts. Forget some first.",
                self.core.max_facts
            )),
        })
    }

    fn recall(&self, about: &str) -> Result<ToolResult, ToolboxError> {
        let all = self.core.store.facts()?;
        let topic = facts::clean(about);
        let found: Vec<Fact> = if facts::means_everything(&topic) {
            all.into_iter().take(RECALL_MAX).collect()
        } else {
            facts::relevant(&all, &topic, RECALL_MAX)
        };
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        let content = json!({"ok": true, "facts": texts});
        if found.is_empty() {
            let spoken = if facts::means_everything(&topic) {
                "You haven't told me anything to remember yet.".to_owned()
            } else {
                format!("I don't know anything about {} yet.", facts::second_person(&topic))
            };
            return Ok(done(content, spoken));
        }
        Ok(done(content, facts::told_sentence(&found)))
    }

    fn forget(&self, about: &str) -> Result<ToolResult, ToolboxError> {
        let topic = facts::clean(about);
        if facts::means_everything(&topic) {
            return self.ask_forget_all();
        }
        let ids: Vec<i64> = facts::about_all_of(&self.core.store.facts()?, &topic).iter().map(|f| f.id).collect();
        let said = facts::second_person(&topic);
        let n = if ids.is_empty() { 0 } else { self.core.store.delete_facts(&ids)? };
        if n > 0 {
            self.core.facts_changed();
        }
        let spoken = match n {
            0 => format!("I had nothing about {said}."),
            1 => format!("Okay, I've forgotten the fact about {said}."),
            n => format!("Okay, I've forgotten {n} facts about {said}."),
        };
        Ok(done(json!({"ok": true, "forgotten": n}), spoken))
    }

    /// `forget_all`: deletes nothing yet; asks for a yes (voice or the panel's button).
    fn ask_forget_all(&self) -> Result<ToolResult, ToolboxError> {
        let n = self.core.store.fact_count()?;
        if n == 0 {
            return Ok(done(json!({"ok": true, "forgotten": 0}), "I don't have anything to forget."));
        }
        let prompt = if n == 1 {
            "Forget the one fact I know? Say yes to confirm, or press Forget all.".to_owned()
        } else {
            format!("Forget all {n} facts? Say yes to confirm, or press Forget all.")
        };
        let expires_unix_ms = unix_ms_now() + CONFIRM_FOR_MS;
        *self.pending() = Some(Pending { action: FORGET_ALL, prompt: prompt.clone(), expires_unix_ms });
        (self.core.on_event)(ToolboxEvent::ConfirmAsked {
            action: FORGET_ALL.into(),
            prompt: prompt.clone(),
            expires_unix_ms,
        });
        let content = json!({"ok": true, "confirmation_asked": true, "facts": n, "deleted": 0});
        Ok(done(content, prompt))
    }

    // ---- the assistant itself

    fn assistant_status(&self, what: &str) -> ToolResult {
        let f = self.controls.figures();
        let content = json!({
            "ok": true, "gen_tok_s": f.gen_tok_s, "ttft_ms": f.ttft_ms, "model": f.model_name,
            "first_audible_ms": f.first_audible_ms, "rss_bytes": f.rss_bytes, "gpu_bytes": f.gpu_bytes,
            "system_total_bytes": f.system_total_bytes, "system_available_bytes": f.system_available_bytes,
        });
        let spoken =
            if what == "memory" { status_words::memory_sentence(&f) } else { status_words::speed_sentence(&f) };
        done(content, spoken)
    }

    fn set_mode(&self, mode: &str) -> ToolResult {
        let (mode, spoken) = match mode {
            "cloud" => (Mode::Cloud, "Okay, I'll think harder: the cloud answers from now on."),
            "local" => (Mode::Local, "Okay, I'll answer on this device from now on."),
            _ => (Mode::Auto, "Okay, back to choosing per question."),
        };
        self.controls.set_mode(mode);
        done(json!({"ok": true, "mode": mode.as_str()}), spoken)
    }

    fn pending(&self) -> MutexGuard<'_, Option<Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Core {
    /// The timer thread's work: ends the timers due by `now` (those this connection ends are
    /// announced; another toolbox may have ended one first) and says when the next is due.
    fn ring(&self, now: i64) -> Result<Option<i64>, ToolboxError> {
        let due = self.store.due_timers(now)?;
        if !due.is_empty() {
            let rang = self.store.end_timers(&due, TimerState::Rang, now)?;
            for t in &rang {
                let spoken = timer_words::due_sentence(t, &local_clock);
                tracing::info!("timer {} is due", t.view.id);
                (self.on_event)(ToolboxEvent::TimerDue { timer: t.view.clone(), spoken });
            }
            if !rang.is_empty() {
                (self.on_event)(ToolboxEvent::Timers(self.shown_timers()));
            }
        }
        Ok(self.store.next_due()?)
    }

    /// At open: running timers that came due while nothing ran are marked missed and told once.
    fn report_missed(&self, now: i64) -> Result<(), ToolboxError> {
        let due = self.store.due_timers(now - MISSED_GRACE_MS)?;
        if due.is_empty() {
            return Ok(());
        }
        let missed = self.store.end_timers(&due, TimerState::Missed, now)?;
        let local_now = Local::now();
        for t in &missed {
            let when = clock::local_from_unix_ms(t.view.due_unix_ms)
                .map(|due| clock::when_words(&due, &local_now))
                .unwrap_or_default();
            let spoken = timer_words::missed_sentence(t, &local_clock, &when);
            (self.on_event)(ToolboxEvent::TimerDue { timer: t.view.clone(), spoken });
        }
        if !missed.is_empty() {
            (self.on_event)(ToolboxEvent::Timers(self.shown_timers()));
        }
        Ok(())
    }

    fn shown_timers(&self) -> Vec<TimerView> {
        match self.store.shown_timers(unix_ms_now() - SHOWN_AFTER_END_MS) {
            Ok(rows) => rows.into_iter().map(|t| t.view).collect(),
            Err(e) => {
                tracing::warn!("timers: {e}");
                Vec::new()
            }
        }
    }

    /// After a change: the timer threads on this file look again, the panel is told.
    fn timers_changed(&self) {
        self.wake.changed_everywhere(self.store.file());
        (self.on_event)(ToolboxEvent::Timers(self.shown_timers()));
    }

    fn facts(&self) -> Vec<Fact> {
        self.store.facts().unwrap_or_else(|e| {
            tracing::warn!("facts: {e}");
            Vec::new()
        })
    }

    fn facts_changed(&self) {
        (self.on_event)(ToolboxEvent::Facts(self.facts()));
    }
}

/// A fact as stored, or why not: the checks `remember` and the panel's edit share.
fn fact_text(raw: &str) -> Result<String, String> {
    let text = facts::clean(raw);
    if text.is_empty() {
        return Err("There's nothing to remember.".into());
    }
    if text.chars().count() > spec::MAX_FACT_CHARS {
        return Err(format!("That's too long: I keep facts of up to {} characters.", spec::MAX_FACT_CHARS));
    }
    Ok(text)
}

/// A label as compared: lower case, without "the"/"my" before or "timer" after.
fn label_key(label: &str) -> String {
    let lower = facts::clean(label).to_lowercase();
    let mut key = lower.as_str();
    for prefix in ["the ", "my ", "a "] {
        key = key.strip_prefix(prefix).unwrap_or(key);
    }
    let key = key.strip_suffix("timers").or_else(|| key.strip_suffix("timer")).unwrap_or(key).trim();
    key.to_owned()
}

/// "5:30 PM" for ms since the epoch, in the local zone.
fn local_clock(unix_ms: i64) -> String {
    clock::local_from_unix_ms(unix_ms).map(|t| clock::clock_words(&t)).unwrap_or_default()
}

fn get_time(what: &str) -> ToolResult {
    let now = Local::now();
    let iso = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let spoken = if what == "date" { clock::date_sentence(&now) } else { clock::time_sentence(&now) };
    done(json!({"ok": true, "now": iso}), spoken)
}

fn done(content: serde_json::Value, spoken: impl Into<String>) -> ToolResult {
    ToolResult { ok: true, content: content.to_string(), spoken: spoken.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Controls that record the mode and report fixed figures.
    struct Controls {
        mode: Mutex<Mode>,
        figures: LiveFigures,
    }

    impl AssistantControls for Controls {
        fn set_mode(&self, mode: Mode) {
            *self.mode.lock().unwrap() = mode;
        }
        fn mode(&self) -> Mode {
            *self.mode.lock().unwrap()
        }
        fn figures(&self) -> LiveFigures {
            self.figures.clone()
        }
    }

    struct Setup {
        toolbox: Arc<Toolbox>,
        controls: Arc<Controls>,
        events: Arc<Mutex<Vec<ToolboxEvent>>>,
    }

    fn setup_with(config: ToolsConfig, figures: LiveFigures) -> Setup {
        let controls = Arc::new(Controls { mode: Mutex::new(Mode::Auto), figures });
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let toolbox =
            Toolbox::open(None, &config, controls.clone(), Arc::new(move |e| sink.lock().unwrap().push(e))).unwrap();
        Setup { toolbox, controls, events }
    }

    fn setup() -> Setup {
        setup_with(ToolsConfig::default(), LiveFigures::default())
    }

    impl Setup {
        fn call(&self, name: &str, args: &str) -> ToolResult {
            self.toolbox.run(&ToolCall { id: "t".into(), name: name.into(), arguments: args.into() }, &ToolName::ALL)
        }
        fn take_events(&self) -> Vec<ToolboxEvent> {
            std::mem::take(&mut *self.events.lock().unwrap())
        }
    }

    #[test]
    fn set_list_and_cancel_timers_in_words() {
        let s = setup();
        assert_eq!(s.call("list_timers", "{}").spoken, "No timers are running.");
        let set = s.call("set_timer", r#"{"seconds": 600, "label": "tea\u0007"}"#);
        assert!(set.ok, "{set:?}");
        assert_eq!(set.spoken, "Tea timer set for 10 minutes.");
        let content: serde_json::Value = serde_json::from_str(&set.content).unwrap();
        assert_eq!((content["ok"].as_bool(), content["seconds"].as_i64()), (Some(true), Some(600)));
        assert!(matches!(s.take_events().as_slice(), [ToolboxEvent::Timers(t)] if t.len() == 1 && t[0].label == "tea"));
        assert_eq!(s.call("set_timer", r#"{"seconds": 3720}"#).spoken, "Timer set for 1 hour 2 minutes.");
        assert_eq!(
            s.call("list_timers", "").spoken,
            "You have 2 timers: tea, 10 minutes left; and one with 1 hour 2 minutes left."
        );
        let which = s.call("cancel_timer", r#"{"label": ""}"#);
        assert!(!which.ok);
        assert_eq!(which.spoken, "You have 2 timers: tea and a 1 hour 2 minute timer. Which one?");
        assert_eq!(s.call("cancel_timer", r#"{"label": "eggs"}"#).spoken, "No timer called eggs is running.");
        assert_eq!(s.call("cancel_timer", r#"{"label": "the Tea timer"}"#).spoken, "Okay, I've cancelled your tea timer.");
        assert_eq!(s.call("cancel_timer", r#"{"label": ""}"#).spoken, "Okay, I've cancelled your 1 hour 2 minute timer.");
        assert_eq!(s.call("cancel_timer", r#"{"label": "all"}"#).spoken, "No timers are running.");
        let shown = s.toolbox.timers();
        assert_eq!(shown.len(), 2, "cancelled timers stay on the panel a while");
        assert!(shown.iter().all(|t| t.state == TimerState::Cancelled));
        s.call("set_timer", r#"{"seconds": 60}"#);
        s.call("set_timer", r#"{"seconds": 70}"#);
        assert_eq!(s.call("cancel_timer", r#"{"label": "all"}"#).spoken, "Okay, I've cancelled all 2 timers.");
    }

    #[test]
    fn a_clock_time_timer_is_set_for_its_next_occurrence() {
        let s = setup();
        let r = s.call("set_timer", r#"{"at": "17:30"}"#);
        assert!(r.ok, "{r:?}");
        assert!(r.spoken.starts_with("Timer set for 5:30 PM"), "{}", r.spoken);
        let due = s.toolbox.timers()[0].due_unix_ms - unix_ms_now();
        assert!(due > 0 && due <= 24 * 3600 * 1000, "{due}");
        let content: serde_json::Value = serde_json::from_str(&r.content).unwrap();
        assert_eq!(content["due"], "17:30");
    }

    #[test]
    fn ten_thousand_timers_stop_at_the_limit_in_words() {
        let s = setup_with(ToolsConfig { max_timers: 50, ..ToolsConfig::default() }, LiveFigures::default());
        let mut refusals = 0;
        for i in 0..10_000 {
            let r = s.call("set_timer", &format!(r#"{{"seconds": {}}}"#, 60 + i));
            if !r.ok {
                assert_eq!(r.spoken, "You already have 50 timers running.");
                refusals += 1;
            }
        }
        assert_eq!(refusals, 10_000 - 50);
        assert_eq!(s.toolbox.timers().len(), 50);
        assert_eq!(s.toolbox.core.store.running_timers().unwrap().len(), 50);
    }

    #[test]
    fn bad_calls_are_refused_and_change_nothing() {
        let s = setup();
        for (name, args, said) in [
            ("run_shell", r#"{"cmd": "rm -rf /"}"#, "I don't have a tool called run_shell."),
            ("set_timer", r#"{"seconds": 315360000}"#, "I can only set timers up to 24 hours."),
            ("set_timer", "{\"seconds\": 5", "That tool call was garbled."),
            ("remember", r#"{"fact": "  \u0007 "}"#, "There's nothing to remember."),
        ] {
            let r = s.call(name, args);
            assert!(!r.ok, "{name} {args}");
            assert_eq!(r.spoken, said);
        }
        let huge = format!(r#"{{"fact": "{}"}}"#, "a".repeat(1 << 20));
        assert_eq!(s.call("remember", &huge).spoken, "That's too long: fact holds at most 500 characters.");
        let not_offered = s.toolbox.run(
            &ToolCall { id: "x".into(), name: "forget_all".into(), arguments: "{}".into() },
            &[ToolName::GetTime],
        );
        assert_eq!(not_offered.spoken, "I can't use forget_all here.");
        assert!(s.toolbox.facts().is_empty() && s.toolbox.timers().is_empty());
        assert!(s.toolbox.pending_confirmation().is_none());
        assert!(s.take_events().is_empty(), "nothing changed, nothing told");
    }

    #[test]
    fn remember_recall_and_forget() {
        let s = setup_with(ToolsConfig { max_facts: 3, ..ToolsConfig::default() }, LiveFigures::default());
        assert_eq!(s.call("recall", r#"{"about": "my sister"}"#).spoken, "I don't know anything about your sister yet.");
        assert_eq!(s.call("remember", r#"{"fact": "My sister's name is Anna."}"#).spoken, "Okay, I'll remember that.");
        assert!(matches!(s.take_events().as_slice(), [ToolboxEvent::Facts(f)] if f.len() == 1));
        assert_eq!(s.call("remember", r#"{"fact": "my sister's name is anna"}"#).spoken, "I already know that.");
        s.call("remember", r#"{"fact": "My sister lives in Oslo"}"#);
        s.call("remember", r#"{"fact": "The car is on level 3"}"#);
        let full = s.call("remember", r#"{"fact": "One fact too many"}"#);
        assert!(!full.ok);
        assert_eq!(full.spoken, "My memory is full: I keep 3 facts. Forget some first.");
        assert_eq!(
            s.call("recall", r#"{"about": "sister's name"}"#).spoken,
            "You told me 2 things: your sister's name is Anna; and your sister lives in Oslo."
        );
        assert_eq!(s.toolbox.facts()[0].text, "The car is on level 3", "newest first, stored as given");
        let top: Vec<String> = s.toolbox.relevant_facts("where is my car parked?", 3).into_iter().map(|f| f.text).collect();
        assert_eq!(top, ["The car is on level 3"]);
        assert_eq!(s.call("forget", r#"{"about": "the weather"}"#).spoken, "I had nothing about the weather.");
        assert_eq!(s.call("forget", r#"{"about": "my sister"}"#).spoken, "Okay, I've forgotten 2 facts about your sister.");
        assert_eq!(s.toolbox.facts().len(), 1);
    }

    #[test]
    fn forget_all_waits_for_a_yes() {
        let s = setup();
        assert_eq!(s.toolbox.confirm("forget_all").spoken, "There's nothing to confirm.");
        for fact in ["a b c", "d e f"] {
            s.call("remember", &format!(r#"{{"fact": "{fact}"}}"#));
        }
        s.take_events();
        let asked = s.call("forget_all", "{}");
        assert_eq!(asked.spoken, "Forget all 2 facts? Say yes to confirm, or press Forget all.");
        assert_eq!(s.toolbox.facts().len(), 2, "nothing deleted before the yes");
        assert!(matches!(s.take_events().as_slice(), [ToolboxEvent::ConfirmAsked { action, expires_unix_ms, .. }]
            if action == "forget_all" && *expires_unix_ms > unix_ms_now()));
        assert_eq!(s.toolbox.pending_confirmation().as_deref(), Some("forget_all"));
        assert_eq!(s.toolbox.decline().spoken, "Okay, I'll keep them.");
        assert_eq!(s.toolbox.pending_confirmation(), None);
        assert!(!s.toolbox.confirm("forget_all").ok, "a declined question is not confirmed");
        s.call("forget_all", "");
        let yes = s.toolbox.confirm("forget_all");
        assert!(yes.ok);
        assert_eq!(yes.spoken, "I've forgotten everything.");
        assert!(s.toolbox.facts().is_empty());
        assert!(matches!(s.take_events().last(), Some(ToolboxEvent::Facts(f)) if f.is_empty()));
        // An expired question cannot be confirmed.
        s.call("remember", r#"{"fact": "x y z"}"#);
        s.call("forget_all", "");
        s.toolbox.pending().as_mut().unwrap().expires_unix_ms = unix_ms_now() - 1;
        assert_eq!(s.toolbox.pending_confirmation(), None);
        assert_eq!(s.toolbox.confirm("forget_all").spoken, "There's nothing to confirm.");
        assert_eq!(s.toolbox.facts().len(), 1);
    }

    #[test]
    fn the_panel_edits_and_deletes_facts_with_the_same_checks() {
        let s = setup();
        s.call("remember", r#"{"fact": "My sister is Anna"}"#);
        s.call("remember", r#"{"fact": "The car is on level 3"}"#);
        let car = s.toolbox.facts()[0].clone();
        s.take_events();
        let edited = s.toolbox.edit_fact(car.id, " The car is on level 4\n").unwrap();
        assert_eq!(edited.text, "The car is on level 4");
        assert!(matches!(s.take_events().as_slice(), [ToolboxEvent::Facts(f)] if f[0].text == "The car is on level 4"));
        let refused = |r: Result<Fact, ToolboxError>| r.unwrap_err().to_string();
        assert_eq!(refused(s.toolbox.edit_fact(car.id, "my sister is anna.")), "I already know that.");
        assert_eq!(refused(s.toolbox.edit_fact(car.id, " ")), "There's nothing to remember.");
        assert!(refused(s.toolbox.edit_fact(car.id, &"x".repeat(1 << 20))).starts_with("That's too long"));
        assert!(matches!(s.toolbox.edit_fact(999, "x"), Err(ToolboxError::NoSuchFact(999))));
        assert_eq!(s.toolbox.facts()[0].text, "The car is on level 4", "a refused edit changes nothing");
        s.toolbox.delete_fact(car.id).unwrap();
        assert!(matches!(s.toolbox.delete_fact(car.id), Err(ToolboxError::NoSuchFact(_))));
        assert_eq!(s.toolbox.facts().len(), 1);
        assert!(matches!(s.take_events().as_slice(), [ToolboxEvent::Facts(f)] if f.len() == 1));
    }

    #[test]
    fn the_panel_cancels_a_timer_by_id() {
        let s = setup();
        s.call("set_timer", r#"{"seconds": 60}"#);
        let id = s.toolbox.timers()[0].id;
        s.toolbox.cancel_timer(id).unwrap();
        assert!(matches!(s.toolbox.cancel_timer(id), Err(ToolboxError::NoSuchTimer(_))));
        assert_eq!(s.toolbox.timers()[0].state, TimerState::Cancelled);
    }

    #[test]
    fn time_status_and_mode() {
        let figures = LiveFigures { gen_tok_s: Some(68.0), model_name: Some("SmolLM2 135M".into()), ..LiveFigures::default() };
        let s = setup_with(ToolsConfig::default(), figures);
        let time = s.call("get_time", r#"{"what": "time"}"#);
        assert!(time.spoken.starts_with("It's ") && time.spoken.ends_with("M."), "{}", time.spoken);
        let content: serde_json::Value = serde_json::from_str(&time.content).unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(content["now"].as_str().unwrap()).is_ok(), "{content}");
        assert!(s.call("get_time", r#"{"what": "date"}"#).spoken.contains(", 20"));
        assert_eq!(
            s.call("assistant_status", r#"{"what": "speed"}"#).spoken,
            "I'm generating about 68 tokens a second with SmolLM2 135M."
        );
        assert_eq!(
            s.call("assistant_status", r#"{"what": "memory"}"#).spoken,
            "I can't measure my memory use on this machine."
        );
        assert_eq!(s.call("set_mode", r#"{"mode": "cloud"}"#).spoken, "Okay, I'll think harder: the cloud answers from now on.");
        assert_eq!(s.controls.mode(), Mode::Cloud);
        assert_eq!(s.call("set_mode", r#"{"mode": "local"}"#).spoken, "Okay, I'll answer on this device from now on.");
        assert_eq!(s.call("set_mode", r#"{"mode": "auto"}"#).spoken, "Okay, back to choosing per question.");
        assert_eq!(s.controls.mode(), Mode::Auto);
    }

    #[test]
    fn labels_compare_loosely() {
        assert_eq!(label_key("The Tea timer"), "tea");
        assert_eq!(label_key("my pasta timers"), "pasta");
        assert_eq!(label_key("timer"), "");
    }
}
