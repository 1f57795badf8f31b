//! The turn in flight: its timeline, its record as the stages fill it in, what has been handed
//! to the speaker, and the one place a turn ends (answered, interrupted, nothing heard, failed):
//! recorded in history, remembered as context, announced on the event stream.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sync::lock;
use std::time::Instant;

use super::events::{Event, EventBus, TurnState};
use super::frames::AnswerText;
use super::timeline::{Mark, Outcome, Timeline, TurnRecord};
use crate::audio::sink::{AudioSink, Heard};
use crate::history::History;
use crate::llm::CancelToken;
use crate::sysmon::{self, GpuProbe, family};

/// A piece of the answer handed to the speaker, and how long it sounds.
#[derive(Debug, Clone)]
pub(crate) struct SpokenPiece {
    pub text: String,
    pub seconds: f64,
}

/// One turn, from press to its end.
pub(crate) struct ActiveTurn {
    pub id: u64,
    pub timeline: Timeline,
    pub record: TurnRecord,
    /// Cancels the answer being generated.
    pub cancel: Option<CancelToken>,
    /// Pieces written to the speaker, in order.
    pub spoken: Vec<SpokenPiece>,
    /// Some of the answer could not be played (or written to the file): the person did not
    /// get it, so the turn cannot end as answered.
    pub undelivered: bool,
    /// When the first audible piece written is heard: set by the sink (a speaker's output
    /// callback sets it later), read into [`Mark::FirstAudible`] as the turn closes.
    pub heard: Option<Heard>,
    pub state: TurnState,
}

impl ActiveTurn {
    fn new(id: u64, timeline: Timeline, record: TurnRecord, state: TurnState) -> ActiveTurn {
        ActiveTurn { id, timeline, record, cancel: None, spoken: Vec::new(), undelivered: false, heard: None, state }
    }
}

/// What every stage shares: the current turn, the speaker, history and the event stream.
pub(crate) struct Shared {
    pub bus: EventBus,
    /// The live turn's number; frames of any other turn are stale and dropped.
    current: AtomicU64,
    turn: Mutex<Option<ActiveTurn>>,
    pub sink: Arc<dyn AudioSink>,
    pub history: Option<History>,
    pub conversation: String,
    /// Finished turns of this conversation, the LLM's context.
    past: Mutex<Vec<TurnRecord>>,
    /// The GPU source (NVML, Jetson sysfs), probed once; read as each turn ends.
    gpu: Mutex<Option<Box<dyn GpuProbe>>>,
    /// What the assistant will say on its own once no turn is in flight (a timer is due).
    /// Locked only while `turn` is held, so a press and an announcement cannot both start.
    announcements: Mutex<VecDeque<String>>,
    /// The sentence splitter's input, for announcements; dropped at shutdown so the stages
    /// can end.
    speak: Mutex<Option<Sender<AnswerText>>>,
}

impl Shared {
    pub fn new(
        bus: EventBus,
        sink: Arc<dyn AudioSink>,
        history: Option<History>,
        conversation: String,
        past: Vec<TurnRecord>,
    ) -> Shared {
        let next = past.last().map_or(0, |r| r.turn);
        Shared {
            bus,
            current: AtomicU64::new(next),
            turn: Mutex::new(None),
            sink,
            history,
            conversation,
            past: Mutex::new(past),
            gpu: Mutex::new(sysmon::probe_gpu()),
            announcements: Mutex::new(VecDeque::new()),
            speak: Mutex::new(None),
        }
    }

    /// Where announcements are spoken: the sentence splitter's input.
    pub fn set_announcement_output(&self, output: Sender<AnswerText>) {
        *lock(&self.speak) = Some(output);
    }

    /// Says `text` on its own as soon as no turn is in flight: now if idle, else after the
    /// turn in flight ends (never over an answer, never while the button is held). Each is a
    /// turn of its own (`announcement: true`) that a press cuts short like any answer.
    pub fn announce(&self, text: String) {
        self.next_announcement(Some(text));
    }

    /// Starts the next announcement (after `text`, if given, joins the queue) when idle.
    fn next_announcement(&self, text: Option<String>) {
        let mut guard = lock(&self.turn);
        let mut queue = lock(&self.announcements);
        queue.extend(text);
        if guard.is_some() || self.current() == u64::MAX {
            return;
        }
        let Some(text) = queue.pop_front() else { return };
        drop(queue);
        let now = Instant::now();
        let id = self.current() + 1;
        self.current.store(id, Ordering::Release);
        let mut record = TurnRecord::new(&self.conversation, id);
        record.outcome = Outcome::Failed;
        record.announcement = true;
        record.generated = text.clone();
        let mut timeline = Timeline::new();
        timeline.mark_at(Mark::Press, now);
        timeline.mark_at(Mark::Release, now);
        *guard = Some(ActiveTurn::new(id, timeline, record, TurnState::Thinking));
        drop(guard);
        self.bus.state(id, TurnState::Thinking);
        let speak = lock(&self.speak).clone();
        let sent = speak.is_some_and(|out| {
            out.send(AnswerText::Piece { turn: id, text }).is_ok() && out.send(AnswerText::End { turn: id }).is_ok()
        });
        if !sent {
            self.end_turn(id, Outcome::Failed, |t| t.record.error = Some("the voice loop has stopped".into()));
        }
    }

    /// The live turn's number (the last one started).
    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Acquire)
    }

    pub fn is_current(&self, turn: u64) -> bool {
        self.current() == turn
    }

    /// Runs `f` on turn `turn` if it is still the one in flight; `None` when it has ended or
    /// been replaced. The lock is held during `f`, so a press cannot slip in between a stage's
    /// check and its action (a stale sentence reaching the speaker after a barge-in).
    pub fn with_turn<R>(&self, turn: u64, f: impl FnOnce(&mut ActiveTurn) -> R) -> Option<R> {
        let mut guard = lock(&self.turn);
        match guard.as_mut() {
            Some(active) if active.id == turn => Some(f(active)),
            _ => None,
        }
    }

    /// Marks a milestone of turn `turn` now.
    pub fn mark(&self, turn: u64, mark: Mark) {
        self.with_turn(turn, |t| t.timeline.mark(mark));
    }

    /// Moves turn `turn` to `state` and says so on the stream.
    pub fn set_state(&self, turn: u64, state: TurnState) {
        let changed = self
            .with_turn(turn, |t| {
                let changed = t.state != state;
                t.state = state;
                changed
            })
            .unwrap_or(false);
        if changed {
            self.bus.state(turn, state);
        }
    }

    /// The state of the turn in flight (idle when none).
    pub fn state(&self) -> (u64, TurnState) {
        let guard = lock(&self.turn);
        match guard.as_ref() {
            Some(t) => (t.id, t.state),
            None => (self.current(), TurnState::Idle),
        }
    }

    /// Starts a new turn pressed at `pressed`, ending the one in flight first (barge-in: its
    /// speech is silenced and its answer cancelled). Returns the new turn's number.
    pub fn begin_turn(&self, pressed: Instant) -> u64 {
        let mut guard = lock(&self.turn);
        self.cut_short(&mut guard, pressed);
        let id = self.current() + 1;
        self.current.store(id, Ordering::Release);
        let mut record = TurnRecord::new(&self.conversation, id);
        record.outcome = Outcome::Failed;
        let mut timeline = Timeline::new();
        timeline.mark_at(Mark::Press, pressed);
        *guard = Some(ActiveTurn::new(id, timeline, record, TurnState::Listening));
        drop(guard);
        self.bus.state(id, TurnState::Listening);
        id
    }

    /// Ends the turn in flight as interrupted (the session is closing) and silences the sink.
    pub fn shutdown(&self) {
        let mut guard = lock(&self.turn);
        self.cut_short(&mut guard, Instant::now());
        // No turn may start after this.
        self.current.store(u64::MAX, Ordering::Release);
        drop(guard);
        lock(&self.speak).take();
        self.sink.stop();
    }

    /// Ends the turn in flight, if any, as interrupted at `at`.
    fn cut_short(&self, guard: &mut MutexGuard<'_, Option<ActiveTurn>>, at: Instant) {
        if let Some(mut old) = guard.take() {
            self.interrupt(&mut old, at);
            self.close(old);
        }
    }

    /// Cuts `turn` short: what is queued on the speaker is dropped, generation is cancelled,
    /// and the answer kept is what was actually heard.
    fn interrupt(&self, turn: &mut ActiveTurn, pressed: Instant) {
        let pending_s = self.sink.pending_s();
        self.sink.stop();
        if let Some(cancel) = &turn.cancel {
            cancel.cancel();
        }
        turn.timeline.mark_at(Mark::Interrupted, pressed);
        turn.timeline.mark(Mark::Silenced);
        let heard = heard_text(&turn.spoken, pending_s);
        turn.record.outcome = Outcome::Interrupted;
        turn.record.interrupted = true;
        turn.record.answer = heard;
        tracing::debug!(turn = turn.id, pending_s, "turn interrupted");
    }

    /// Ends turn `turn` with `outcome` if it is still in flight, after `f` has filled in the
    /// record. Returns false when the turn had already ended (a barge-in got there first).
    pub fn end_turn(&self, turn: u64, outcome: Outcome, f: impl FnOnce(&mut ActiveTurn)) -> bool {
        let mut guard = lock(&self.turn);
        let Some(active) = guard.as_mut().filter(|t| t.id == turn) else {
            return false;
        };
        f(active);
        let r = &active.record;
        let nothing_said = r.generated.trim().is_empty() && r.error.is_some();
        let outcome = if outcome == Outcome::Answered && (nothing_said || active.undelivered) {
            Outcome::Failed
        } else {
            outcome
        };
        active.record.outcome = outcome;
        if outcome == Outcome::Answered {
            active.record.answer = active.record.generated.clone();
        }
        let Some(active) = guard.take() else { return false };
        drop(guard);
        self.close(active);
        self.next_announcement(None);
        true
    }

    /// Files a finished turn: timeline into the record, history, context, event, idle.
    fn close(&self, mut turn: ActiveTurn) {
        // Unheard (cut before its first audible sample played): no mark. Never before the audio
        // was handed over: the speaker may pull a sample before the stage marks the hand-over.
        if let Some(at) = turn.heard.as_ref().and_then(Heard::get) {
            let handed = turn.timeline.get(Mark::FirstAudioOut).unwrap_or(at);
            turn.timeline.mark_at(Mark::FirstAudible, at.max(handed));
        }
        turn.record.fill_times(&turn.timeline);
        turn.record.gpu.reading = lock(&self.gpu).as_mut().and_then(|g| g.sample(&family::members()));
        let record = turn.record;
        let saved = self.history.as_ref().map_or(Ok(()), |h| h.append(&record));
        if let Err(e) = saved {
            tracing::warn!("turn {} not saved to history: {e}", record.turn);
            self.bus.error(Some(record.turn), "history", e.to_string());
        }
        // An announcement is not part of the conversation the LLM continues.
        if matches!(record.outcome, Outcome::Answered | Outcome::Interrupted) && !record.announcement {
            lock(&self.past).push(record.clone());
        }
        let id = record.turn;
        if self.is_current(id) {
            self.bus.state(id, TurnState::Idle);
        }
        self.bus.send(Event::TurnComplete { record: Box::new(record) });
    }

    /// The finished turns of this conversation, oldest first.
    pub fn past(&self) -> Vec<TurnRecord> {
        lock(&self.past).clone()
    }
}

/// The text actually heard: every piece handed to the speaker, minus the `pending_s` seconds
/// still queued, cutting the piece that was playing at the word reached.
pub(crate) fn heard_text(pieces: &[SpokenPiece], pending_s: f64) -> String {
    let total: f64 = pieces.iter().map(|p| p.seconds).sum();
    let mut heard_s = (total - pending_s.max(0.0)).max(0.0);
    let mut out: Vec<String> = Vec::new();
    for piece in pieces {
        if heard_s <= 0.0 {
            break;
        }
        if heard_s >= piece.seconds {
            out.push(piece.text.clone());
            heard_s -= piece.seconds;
        } else {
            let words: Vec<&str> = piece.text.split_whitespace().collect();
            let n = ((heard_s / piece.seconds) * words.len() as f64).floor() as usize;
            if n > 0 {
                out.push(format!("{}…", words[..n].join(" ")));
            }
            break;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::WavSink;

    fn piece(text: &str, seconds: f64) -> SpokenPiece {
        SpokenPiece { text: text.into(), seconds }
    }

    #[test]
    fn heard_text_cuts_at_the_word_reached() {
        let pieces = [piece("Paris is the capital.", 2.0), piece("It has two million people.", 2.5)];
        assert_eq!(heard_text(&pieces, 0.0), "Paris is the capital. It has two million people.");
        assert_eq!(heard_text(&pieces, 2.5), "Paris is the capital.");
        // Half of the second piece heard: 2 of its 5 words.
        assert_eq!(heard_text(&pieces, 1.25), "Paris is the capital. It has…");
        assert_eq!(heard_text(&pieces, 4.5), "");
        assert_eq!(heard_text(&pieces, 10.0), "");
        assert_eq!(heard_text(&[], 0.0), "");
    }

    #[test]
    fn an_answer_that_was_not_delivered_ends_failed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sink = Arc::new(WavSink::create(&dir.path().join("a.wav")));
        let shared = Shared::new(EventBus::new(), sink, None, "c".into(), Vec::new());
        let mut events = shared.bus.subscribe();
        let mut outcomes = Vec::new();
        for undelivered in [false, true] {
            let turn = shared.begin_turn(Instant::now());
            let ended = shared.end_turn(turn, Outcome::Answered, |t| {
                t.record.generated = "Paris.".into();
                t.undelivered = undelivered;
            });
            assert!(ended);
            while let Ok(event) = events.try_recv() {
                if let Event::TurnComplete { record } = event {
                    outcomes.push((record.outcome, record.answer));
                }
            }
        }
        assert_eq!(
            outcomes,
            [(Outcome::Answered, "Paris.".to_owned()), (Outcome::Failed, String::new())]
        );
        assert_eq!(shared.past().len(), 1, "an answer nobody heard is not context");
    }
}
