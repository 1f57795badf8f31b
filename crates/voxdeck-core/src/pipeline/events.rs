//! What the engine tells its front ends: one broadcast stream of typed events (turn states,
//! input level, partial transcript and answer text, finished turn records, system metrics).
//! The CLI, the desktop app and the HTTP server all subscribe to the same stream.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::tools::{Fact, TimerView};
use crate::turn_record::{ToolCallRecord, TurnRecord};
use crate::sysmon::SystemSnapshot;

/// Where the assistant is in a turn; what the push-to-talk button shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum TurnState {
    Idle,
    Listening,
    Transcribing,
    Thinking,
    Speaking,
}

/// One event on the stream. Serialised with a `type` tag for the WebSocket and Tauri.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The assistant moved to `state` in turn `turn` (0 before any turn).
    State { turn: u64, state: TurnState },
    /// The microphone's level while listening, about 30 times a second.
    InputLevel { turn: u64, rms_dbfs: f32, peak_dbfs: f32 },
    /// What the user said, once transcribed.
    Transcript { turn: u64, text: String },
    /// A piece of the answer as it is generated; `tokens` generated so far and `elapsed_ms`
    /// since the request let a front end show live tokens per second.
    AnswerDelta { turn: u64, text: String, tokens: u32, elapsed_ms: f64 },
    /// A piece of the answer queued for speech, as it will be spoken (markup stripped).
    Spoken { turn: u64, index: u32, text: String },
    /// Something the user should be told in words ("Didn't catch that").
    Notice { turn: Option<u64>, message: String },
    /// A failure, in words, where it happened.
    Error { turn: Option<u64>, stage: String, message: String },
    /// A turn is over; its full record (also stored in history).
    TurnComplete { record: Box<TurnRecord> },
    /// A system metrics sample.
    System { snapshot: Box<SystemSnapshot> },
    /// The assistant called a tool in turn `turn` (also in the turn's record).
    ToolCall { turn: u64, call: ToolCallRecord },
    /// The timers changed (set, cancelled, rang, missed): every timer not yet cleared away.
    Timers { timers: Vec<TimerView> },
    /// A timer is due (or was missed while voxdeck was off); `spoken` is said aloud as soon
    /// as no answer is in progress.
    TimerDue { timer: TimerView, spoken: String },
    /// The answering mode changed by voice ("think harder", "answer locally").
    ModeChanged { mode: crate::config::Mode },
    /// The remembered facts changed: all of them, newest first.
    Facts { facts: Vec<Fact> },
    /// The assistant asks the user to confirm `action` ("forget_all") by voice or button,
    /// until `expires_unix_ms`.
    ConfirmAsked { action: String, prompt: String, expires_unix_ms: i64 },
}

/// Events buffered per subscriber; a subscriber that falls this far behind loses the oldest.
pub const EVENT_BUFFER: usize = 4096;

/// The sending side of the event stream. Cheap to clone; sending never blocks.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(EVENT_BUFFER);
        EventBus { tx }
    }

    /// Sends to every current subscriber (none is fine).
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub(crate) fn state(&self, turn: u64, state: TurnState) {
        self.send(Event::State { turn, state });
    }

    pub(crate) fn notice(&self, turn: Option<u64>, message: impl Into<String>) {
        self.send(Event::Notice { turn, message: message.into() });
    }

    pub(crate) fn error(&self, turn: Option<u64>, stage: &str, message: impl Into<String>) {
        self.send(Event::Error {
            turn,
            stage: stage.to_owned(),
            message: message.into(),
        });
    }
}

/// Waits on a broadcast stream from a plain thread, up to a deadline: tokio's receiver blocks
/// (`blocking_recv`) but has no timeout, and polling `try_recv` with sleeps wakes a core for
/// nothing. A current-thread runtime (no threads of its own, only a timer) drives the wait.
/// Not for async code, like `blocking_recv`.
pub(crate) struct StreamWaiter {
    runtime: tokio::runtime::Runtime,
}

impl StreamWaiter {
    pub(crate) fn new() -> std::io::Result<StreamWaiter> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        Ok(StreamWaiter { runtime })
    }

    /// The next message on `rx`, or `None` once `deadline` has passed with none. A message
    /// already queued is returned even past the deadline.
    pub(crate) fn recv_until<T: Clone>(
        &self,
        rx: &mut broadcast::Receiver<T>,
        deadline: Instant,
    ) -> Option<Result<T, RecvError>> {
        let deadline = tokio::time::Instant::from_std(deadline);
        self.runtime.block_on(async { tokio::time::timeout_at(deadline, rx.recv()).await.ok() })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_waiter_returns_queued_events_and_gives_up_at_the_deadline() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        let waiter = StreamWaiter::new().unwrap();
        bus.state(1, TurnState::Listening);
        let past = Instant::now() - Duration::from_millis(1);
        assert!(matches!(waiter.recv_until(&mut rx, past), Some(Ok(Event::State { turn: 1, .. }))));
        let started = Instant::now();
        assert!(waiter.recv_until(&mut rx, started + Duration::from_millis(30)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(30));
        let sender = bus.clone();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.state(2, TurnState::Thinking);
        });
        let got = waiter.recv_until(&mut rx, Instant::now() + Duration::from_secs(10));
        assert!(matches!(got, Some(Ok(Event::State { turn: 2, .. }))), "woken by the event, not the deadline");
        late.join().unwrap();
        drop(bus);
        assert!(matches!(waiter.recv_until(&mut rx, Instant::now() + Duration::from_secs(10)), Some(Err(RecvError::Closed))));
    }
}
