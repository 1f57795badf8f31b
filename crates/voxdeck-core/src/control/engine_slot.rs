//! The voice loop as a slot that is empty, loading, running or failed. Loading happens on its
//! own thread so a front end stays responsive (and shows the steps) for the seconds it takes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tracing::{info, warn};

use super::controller::{ControlError, Inner};
use super::protocol::{EngineStatus, Outgoing, PanelEvent};
use crate::audio::capture::MicSource;
use crate::audio::playback::Player;
use crate::audio::sink::{AudioSink, WavSink};
use crate::audio::source::{AudioSource, WavSource};
use crate::config::{Config, Mode};
use crate::history::History;
use crate::pipeline::{Event, Session, SessionOptions, SessionParts, load_engines};
use crate::sync::lock;

/// Where push-to-talk listens and answers are spoken, when not the default devices.
#[derive(Debug, Clone, Default)]
pub struct SessionIo {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

enum Slot {
    Empty(EngineStatus),
    Loading(String),
    Running { session: Session, status: EngineStatus, sink: Arc<dyn AudioSink> },
}

pub(super) struct EngineSlot {
    slot: Mutex<Slot>,
    io: SessionIo,
}

impl EngineSlot {
    pub(super) fn new(io: SessionIo) -> EngineSlot {
        EngineSlot { slot: Mutex::new(Slot::Empty(EngineStatus::Unloaded)), io }
    }

    pub(super) fn status(&self) -> EngineStatus {
        match &*lock(&self.slot) {
            Slot::Empty(status) | Slot::Running { status, .. } => status.clone(),
            Slot::Loading(step) => EngineStatus::Loading { step: step.clone() },
        }
    }

    /// Runs `f` on the running session, or says why there is none.
    pub(super) fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> Result<R, ControlError> {
        match &*lock(&self.slot) {
            Slot::Running { session, .. } => Ok(f(session)),
            Slot::Loading(step) => Err(ControlError::Loading(step.clone())),
            Slot::Empty(EngineStatus::Failed { message }) => Err(ControlError::NotLoaded(format!(": {message}"))),
            Slot::Empty(_) => Err(ControlError::NotLoaded(" (press Load)".into())),
        }
    }

    pub(super) fn input_is_file(&self) -> bool {
        self.io.input.is_some()
    }

    pub(super) fn describe_input(&self) -> String {
        match &self.io.input {
            Some(path) => format!("file {}", path.display()),
            None => "microphone".into(),
        }
    }

    pub(super) fn describe_output(&self) -> String {
        match &self.io.output {
            Some(path) => format!("file {}", path.display()),
            None => "speaker".into(),
        }
    }

    /// Starts loading on a thread, unless loading or loaded already.
    pub(super) fn load(&self, inner: Weak<Inner>, config: Config, mode: Mode) {
        {
            let mut slot = lock(&self.slot);
            if matches!(*slot, Slot::Loading(_) | Slot::Running { .. }) {
                return;
            }
            *slot = Slot::Loading("checking memory".into());
        }
        publish(&inner, EngineStatus::Loading { step: "checking memory".into() });
        let io = self.io.clone();
        let weak = inner.clone();
        let spawned = std::thread::Builder::new().name("voxdeck-load".into()).spawn(move || {
            let started = Instant::now();
            let rss_before = crate::sysmon::memory::process_rss_bytes();
            let result = build_session(&inner, &config, &io, mode);
            let Some(strong) = inner.upgrade() else { return };
            let slot = &strong.engine.slot;
            let status = match result {
                Ok((session, sink, llm, stt, voice)) => {
                    let status = EngineStatus::Ready {
                        llm,
                        stt,
                        voice,
                        load_ms: started.elapsed().as_secs_f64() * 1000.0,
                    };
                    let share = match (crate::sysmon::memory::process_rss_bytes(), rss_before) {
                        (Some(after), Some(before)) => Some(after.saturating_sub(before)),
                        _ => None,
                    };
                    strong.charts.model_loaded(share);
                    forward(Arc::downgrade(&strong), &session);
                    info!(?status, "models loaded");
                    *lock(slot) = Slot::Running { session, status: status.clone(), sink };
                    status
                }
                Err(e) => {
                    let message = e.to_string();
                    warn!("loading the models failed: {message}");
                    let status = EngineStatus::Failed { message };
                    *lock(slot) = Slot::Empty(status.clone());
                    status
                }
            };
            strong.publish(PanelEvent::Engine { status });
        });
        if let Err(e) = spawned {
            let status = EngineStatus::Failed { message: format!("cannot start the loader thread: {e}") };
            *lock(&self.slot) = Slot::Empty(status.clone());
            publish(&weak, status);
        }
    }

    /// Stops the voice loop and frees its models.
    pub(super) fn unload(&self, inner: &Inner) {
        let was_running = matches!(*lock(&self.slot), Slot::Running { .. });
        if let Err(e) = self.take_session() {
            warn!("finishing the answer audio: {e}");
        }
        if was_running {
            inner.charts.model_unloaded();
            inner.publish(PanelEvent::Engine { status: EngineStatus::Unloaded });
        }
    }

    /// Takes the session out (dropping it stops its threads) and flushes a WAV output.
    pub(super) fn take_session(&self) -> Result<(), crate::audio::AudioError> {
        let taken = {
            let mut slot = lock(&self.slot);
            if !matches!(*slot, Slot::Running { .. }) {
                return Ok(());
            }
            std::mem::replace(&mut *slot, Slot::Empty(EngineStatus::Unloaded))
        };
        if let Slot::Running { session, sink, .. } = taken {
            drop(session);
            sink.finish()?;
        }
        Ok(())
    }

    fn set_step(&self, step: &str) {
        let mut slot = lock(&self.slot);
        if let Slot::Loading(current) = &mut *slot {
            *current = step.to_owned();
        }
    }
}

type Built = (Session, Arc<dyn AudioSink>, String, String, String);

/// Opens the devices, loads the models and starts the voice loop; failures in words.
fn build_session(inner: &Weak<Inner>, config: &Config, io: &SessionIo, mode: Mode) -> Result<Built, String> {
    // The speaker first: a machine without one should say so before seconds of loading.
    let sink: Arc<dyn AudioSink> = match &io.output {
        Some(path) => Arc::new(WavSink::create(path)),
        None => Arc::new(Player::from_config(&config.audio).map_err(|e| {
            format!(
                "cannot open the speaker: {e} (choose another output device in Settings, or start with --output FILE to write the answers to a WAV file)"
            )
        })?),
    };
    let source: Box<dyn AudioSource> = match &io.input {
        Some(path) => {
            if !path.is_file() {
                return Err(format!("the input file {} does not exist", path.display()));
            }
            Box::new(WavSource::new(path).max_seconds(config.audio.max_utterance_s))
        }
        None => Box::new(MicSource::from_config(&config.audio)),
    };
    let history = History::open_configured(&config.pipeline).map_err(|e| e.to_string())?;
    let engines = load_engines(config, &mut |step| {
        if let Some(strong) = inner.upgrade() {
            strong.engine.set_step(step);
            strong.publish(PanelEvent::Engine { status: EngineStatus::Loading { step: step.to_owned() } });
        }
    })
    .map_err(|e| e.to_string())?;
    let llm = engines.answerer.local_model().to_owned();
    let stt = engines.stt.model_name().to_owned();
    let voice = engines.tts.voice_name().to_owned();
    let session = Session::start(
        SessionParts {
            answerer: engines.answerer,
            stt: engines.stt,
            tts: engines.tts,
            source,
            sink: sink.clone(),
            history,
        },
        SessionOptions::from_config(config),
    )
    .map_err(|e| e.to_string())?;
    session.set_mode(mode);
    Ok((session, sink, llm, stt, voice))
}

/// Longest wait before answer text reaches front ends. A local model makes 30-200 tokens a
/// second; forwarding each one makes a webview re-render that often and takes a core from
/// the model on a small machine. 20 updates a second still reads as streaming.
const DELTA_INTERVAL: Duration = Duration::from_millis(50);

/// Feeds the session's events to the charts and on to every front end, until it stops.
/// Answer pieces are merged for up to [`DELTA_INTERVAL`]; everything else goes at once, in
/// order (pending text first).
fn forward(inner: Weak<Inner>, session: &Session) {
    let mut events = session.subscribe();
    let spawned = std::thread::Builder::new().name("voxdeck-forward".into()).spawn(move || {
        let mut merger = DeltaMerger::default();
        loop {
            let received = if merger.pending.is_some() {
                match events.try_recv() {
                    Ok(event) => Ok(event),
                    Err(TryRecvError::Empty) => {
                        let wait = merger.due_in();
                        if wait.is_zero() {
                            if let (Some(inner), Some(event)) = (inner.upgrade(), merger.take()) {
                                let _ = inner.out.send(Outgoing::Engine(event));
                            }
                        } else {
                            std::thread::sleep(wait.min(Duration::from_millis(5)));
                        }
                        continue;
                    }
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                }
            } else {
                events.blocking_recv()
            };
            let Some(inner) = inner.upgrade() else { return };
            match received {
                Ok(event) => {
                    inner.charts.feed(&event);
                    let event = match merger.offer(event) {
                        Offer::Held => continue,
                        Offer::Due(merged) => {
                            let _ = inner.out.send(Outgoing::Engine(merged));
                            continue;
                        }
                        Offer::Other { pending, event } => {
                            if let Some(merged) = pending {
                                let _ = inner.out.send(Outgoing::Engine(merged));
                            }
                            event
                        }
                    };
                    let cloud_news = match &event {
                        Event::TurnComplete { record } => inner.cloud.observe(record),
                        _ => false,
                    };
                    let _ = inner.out.send(Outgoing::Engine(event));
                    if cloud_news {
                        inner.publish_mode();
                    }
                }
                Err(RecvError::Lagged(n)) => warn!("the panel fell {n} events behind"),
                Err(RecvError::Closed) => {
                    if let Some(merged) = merger.take() {
                        let _ = inner.out.send(Outgoing::Engine(merged));
                    }
                    return;
                }
            }
        }
    });
    if let Err(e) = spawned {
        warn!("cannot start the event forwarder: {e}");
    }
}

/// Answer pieces of one turn merged into one [`Event::AnswerDelta`] (text joined, the latest
/// token count and time). An answer's first piece is never held, so the time to the first
/// token shows as it happens.
#[derive(Default)]
struct DeltaMerger {
    pending: Option<Event>,
    since: Option<Instant>,
    /// The turn whose first piece went out.
    started: Option<u64>,
}

enum Offer {
    /// Merged; not due yet.
    Held,
    /// Merged and due: send this.
    Due(Event),
    /// Not held: send `pending` first, then `event`.
    Other { pending: Option<Event>, event: Event },
}

impl DeltaMerger {
    fn offer(&mut self, event: Event) -> Offer {
        let Event::AnswerDelta { turn, text, tokens, elapsed_ms } = event else {
            return Offer::Other { pending: self.take(), event };
        };
        if self.started != Some(turn) {
            self.started = Some(turn);
            let pending = self.take();
            return Offer::Other { pending, event: Event::AnswerDelta { turn, text, tokens, elapsed_ms } };
        }
        match &mut self.pending {
            Some(Event::AnswerDelta { text: held, tokens: n, elapsed_ms: e, .. }) => {
                held.push_str(&text);
                *n = tokens;
                *e = elapsed_ms;
            }
            _ => {
                self.pending = Some(Event::AnswerDelta { turn, text, tokens, elapsed_ms });
                self.since = Some(Instant::now());
            }
        }
        if self.due_in().is_zero() { self.take().map_or(Offer::Held, Offer::Due) } else { Offer::Held }
    }

    fn due_in(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |t| DELTA_INTERVAL.saturating_sub(t.elapsed()))
    }

    fn take(&mut self) -> Option<Event> {
        self.since = None;
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(turn: u64, text: &str, tokens: u32) -> Event {
        Event::AnswerDelta { turn, text: text.into(), tokens, elapsed_ms: f64::from(tokens) }
    }

    #[test]
    fn answer_pieces_are_merged_in_order_and_the_first_goes_at_once() {
        let mut m = DeltaMerger::default();
        assert!(matches!(m.offer(delta(1, "The", 1)), Offer::Other { pending: None, .. }), "first piece at once");
        assert!(matches!(m.offer(delta(1, " capital", 2)), Offer::Held));
        assert!(matches!(m.offer(delta(1, " is", 3)), Offer::Held));
        // Anything else flushes the held text first, keeping the order.
        let Offer::Other { pending: Some(Event::AnswerDelta { text, tokens, elapsed_ms, .. }), event } =
            m.offer(Event::Spoken { turn: 1, index: 0, text: "x".into() })
        else {
            panic!("the held text comes first")
        };
        assert_eq!((text.as_str(), tokens, elapsed_ms), (" capital is", 3, 3.0));
        assert!(matches!(event, Event::Spoken { .. }));
        // After the interval, a piece is due with everything held before it.
        assert!(matches!(m.offer(delta(1, " Paris", 4)), Offer::Held));
        std::thread::sleep(DELTA_INTERVAL);
        let Offer::Due(Event::AnswerDelta { text, tokens, .. }) = m.offer(delta(1, ".", 5)) else { panic!("due") };
        assert_eq!((text.as_str(), tokens), (" Paris.", 5));
        // A new turn's first piece is not held either.
        assert!(matches!(m.offer(delta(2, "Yes", 1)), Offer::Other { pending: None, .. }));
    }
}

fn publish(inner: &Weak<Inner>, status: EngineStatus) {
    if let Some(inner) = inner.upgrade() {
        inner.publish(PanelEvent::Engine { status });
    }
}
