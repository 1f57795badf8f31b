//! The toolbox on a real history database file: a short timer rings once, timers and facts
//! survive a restart and a crash, a timer that came due while voxdeck was off is reported once
//! as missed, and two toolboxes on one file (an engine swap) announce a timer once.

use std::path::Path;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voxdeck_core::config::{Mode, ToolsConfig};
use voxdeck_core::history::History;
use voxdeck_core::tools::toolbox::{AssistantControls, LiveFigures, Toolbox, ToolboxEvent};
use voxdeck_core::tools::{TimerState, TimerView, ToolCall, ToolName, ToolResult};

struct Controls(Mutex<Mode>);

impl AssistantControls for Controls {
    fn set_mode(&self, mode: Mode) {
        *self.0.lock().unwrap() = mode;
    }
    fn mode(&self) -> Mode {
        *self.0.lock().unwrap()
    }
    fn figures(&self) -> LiveFigures {
        LiveFigures::default()
    }
}

fn open(db: &Path) -> (Arc<Toolbox>, Receiver<ToolboxEvent>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let toolbox = Toolbox::open(
        Some(db.to_owned()),
        &ToolsConfig::default(),
        Arc::new(Controls(Mutex::new(Mode::Auto))),
        Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }),
    )
    .expect("opens the toolbox");
    (toolbox, rx)
}

fn call(toolbox: &Toolbox, name: &str, args: &str) -> ToolResult {
    let result = toolbox.run(&ToolCall { id: "t".into(), name: name.into(), arguments: args.into() }, &ToolName::ALL);
    assert!(result.ok, "{name} {args}: {result:?}");
    result
}

/// The timers announced (TimerDue) on `rx` within `within`.
fn dues(rx: &Receiver<ToolboxEvent>, within: Duration) -> Vec<(TimerView, String)> {
    let deadline = Instant::now() + within;
    let mut dues = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(ToolboxEvent::TimerDue { timer, spoken }) => dues.push((timer, spoken)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    dues
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn a_short_timer_rings_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (toolbox, rx) = open(&dir.path().join("history.sqlite3"));
    assert_eq!(call(&toolbox, "set_timer", r#"{"seconds": 1, "label": "tea"}"#).spoken, "Tea timer set for 1 second.");
    let due_ms = toolbox.timers()[0].due_unix_ms;
    let (timer, spoken) = loop {
        match rx.recv_timeout(Duration::from_millis(1500)) {
            Ok(ToolboxEvent::TimerDue { timer, spoken }) => break (timer, spoken),
            Ok(_) => {}
            Err(e) => panic!("the timer did not ring within half a second of its due time: {e}"),
        }
    };
    let late_ms = now_ms() - due_ms;
    assert_eq!((timer.state, spoken.as_str()), (TimerState::Rang, "Your tea timer is done."));
    assert!((0..500).contains(&late_ms), "rang {late_ms} ms after its due time");
    eprintln!("the timer rang {late_ms} ms after its due time");
    assert!(dues(&rx, Duration::from_millis(1000)).is_empty(), "it rang once");
    assert_eq!(toolbox.timers()[0].state, TimerState::Rang, "the panel shows it rang");
    assert_eq!(call(&toolbox, "list_timers", "{}").spoken, "No timers are running.");
}

#[test]
fn timers_and_facts_survive_a_restart_and_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let (toolbox, _rx) = open(&db);
    call(&toolbox, "set_timer", r#"{"seconds": 2, "label": "eggs"}"#);
    call(&toolbox, "remember", r#"{"fact": "My sister's name is Anna"}"#);
    drop(toolbox); // closed without cancelling

    let (toolbox, rx) = open(&db);
    let timers = toolbox.timers();
    assert_eq!((timers.len(), timers[0].label.as_str(), timers[0].state), (1, "eggs", TimerState::Running));
    let rang = dues(&rx, Duration::from_millis(3000));
    assert_eq!(rang.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["Your eggs timer is done."]);
    assert_eq!(call(&toolbox, "recall", r#"{"about": "my sister"}"#).spoken, "You told me: your sister's name is Anna.");

    // A crash: the toolbox is never dropped, nothing is shut down.
    call(&toolbox, "set_timer", r#"{"seconds": 3600, "label": "bread"}"#);
    let bread = toolbox.timers().into_iter().find(|t| t.label == "bread").unwrap();
    std::mem::forget(toolbox);
    let (toolbox, _rx) = open(&db);
    let after = toolbox.timers().into_iter().find(|t| t.label == "bread").expect("the timer outlived the crash");
    assert_eq!(after, bread);
    toolbox.cancel_timer(after.id).unwrap();
}

#[test]
fn a_timer_due_while_off_is_reported_missed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let (toolbox, _rx) = open(&db);
    call(&toolbox, "set_timer", r#"{"seconds": 3600, "label": "tea"}"#);
    drop(toolbox);
    // It came due a minute ago, while nothing ran.
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute("UPDATE timers SET due_unix_ms = ?1", [now_ms() - 60_000]))
        .unwrap();

    let (toolbox, rx) = open(&db);
    let missed = dues(&rx, Duration::from_millis(300));
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert_eq!(missed[0].0.state, TimerState::Missed);
    assert!(missed[0].1.starts_with("While I was off, your tea timer was due "), "{}", missed[0].1);
    assert_eq!(toolbox.timers()[0].state, TimerState::Missed);
    drop(toolbox);

    let (_toolbox, rx) = open(&db);
    assert!(dues(&rx, Duration::from_millis(300)).is_empty(), "reported once, not at every start");
}

#[test]
fn two_toolboxes_on_one_file_announce_a_timer_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let (a, rx_a) = open(&db);
    let (b, rx_b) = open(&db);
    call(&a, "set_timer", r#"{"seconds": 1, "label": "one"}"#);
    call(&b, "set_timer", r#"{"seconds": 1, "label": "two"}"#);
    // Both wait; the events stay queued in each channel.
    let ra = dues(&rx_a, Duration::from_millis(2500));
    let rb = dues(&rx_b, Duration::from_millis(100));
    let mut labels: Vec<String> = ra.iter().chain(&rb).map(|(t, _)| t.label.clone()).collect();
    labels.sort();
    assert_eq!(labels, ["one", "two"], "each timer announced once: a {ra:?}, b {rb:?}");

    // The old session goes away before its timer is due: the new one rings it.
    call(&a, "set_timer", r#"{"seconds": 1, "label": "three"}"#);
    drop(a);
    let rang = dues(&rx_b, Duration::from_millis(2500));
    assert_eq!(rang.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["Your three timer is done."]);
    drop(b);
}

#[test]
fn the_history_shares_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite3");
    let (toolbox, _rx) = open(&db);
    let history = History::open(&db).expect("the history opens the toolbox's file");
    assert!(history.all(10).unwrap().is_empty());
    call(&toolbox, "remember", r#"{"fact": "The car is on level 3"}"#);
    drop(history);
    // Another program's database is refused, as the history refuses it.
    let foreign = dir.path().join("other.sqlite3");
    rusqlite::Connection::open(&foreign).and_then(|c| c.execute_batch("CREATE TABLE x (y)")).unwrap();
    let err = Toolbox::open(
        Some(foreign),
        &ToolsConfig::default(),
        Arc::new(Controls(Mutex::new(Mode::Auto))),
        Arc::new(|_| {}),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("not a voxdeck history"), "{err}");
}
