//! A voice session: the engine API every front end drives. `press()` starts listening (and
//! interrupts whatever the assistant was doing), `release()` ends the utterance and starts the
//! turn; everything that happens comes back on the event stream from `subscribe()`.
//!
//! Each stage runs on its own thread and passes typed frames to the next over a channel:
//! capture -> speech to text -> answer (LLM) -> sentence splitter -> text to speech -> playback.
//! The stages block on real work (a Whisper window, a decode step, an ONNX run, a device
//! queue), so they are threads rather than async tasks; the event stream is a tokio broadcast
//! that async front ends await and the CLI reads blocking.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::events::{Event, EventBus, StreamWaiter, TurnState};
use super::draft_plan::DraftState;
use super::frames::CaptureStarted;
use super::llm_stage::AnswerSettings;
use super::splitter_stage::SplitSettings;
use super::timeline::{Mark, Outcome, TurnRecord};
use super::turn::Shared;
use super::{PipelineError, capture_stage, llm_stage, playback_stage, splitter_stage, stt_stage, tts_stage};
use crate::audio::sink::AudioSink;
use crate::audio::source::AudioSource;
use crate::config::{Config, Mode};
use crate::router::answerer::Answerer;
use crate::history::{History, new_conversation_id};
use crate::stt::Stt;
use crate::sync::lock;
use crate::sysmon::Monitor;
use crate::tools::toolbox::{Toolbox, ToolboxEvent};
use super::tool_use::SessionControls;
use crate::tts::SpeechSynthesizer;

/// The components a session runs on, loaded by the caller (see [`super::load_engines`]); front
/// ends let `pipeline::assemble` load them and start the session in one step.
pub struct SessionParts {
    /// Answers questions: routes between the local model and the cloud.
    pub answerer: Arc<Answerer>,
    pub stt: Stt,
    pub tts: Arc<dyn SpeechSynthesizer>,
    /// Where utterances come from: the microphone, or a WAV file for headless turns.
    pub source: Box<dyn AudioSource>,
    /// Where answers are spoken: the speaker, or a WAV file.
    pub sink: Arc<dyn AudioSink>,
    pub history: Option<History>,
    /// The assistant's tools (timers, facts, ...); `None` with `tools.enabled = false`.
    pub tools: Option<ToolsSetup>,
}

/// Where the toolbox keeps its timers and facts, and its limits.
#[derive(Debug, Clone)]
pub struct ToolsSetup {
    /// The history database; `None` keeps them in memory (history off).
    pub db: Option<std::path::PathBuf>,
    pub config: crate::config::ToolsConfig,
}

/// How a session behaves (from `[pipeline]`, `[llm]` and `[metrics]`).
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub answer: AnswerSettings,
    pub split: SplitSettings,
    pub min_utterance_ms: u32,
    /// Transcribe while the button is held (`pipeline.incremental_stt`).
    pub incremental_stt: bool,
    /// Continue this conversation (its turns are the context), or start a new one.
    pub resume: Option<String>,
    /// System metrics samples per second on the event stream; `None` = no sampling.
    pub metrics_hz: Option<f64>,
}

impl SessionOptions {
    pub fn from_config(config: &Config) -> SessionOptions {
        SessionOptions {
            answer: AnswerSettings {
                system_prompt: config.llm.system_prompt.clone(),
                max_tokens: config.llm.max_tokens,
                context_turns: config.pipeline.context_turns as usize,
                n_ctx: config.llm.n_ctx,
                ignore_eos: false,
                draft_prefill: config.pipeline.draft_prefill,
                tools: super::ToolSettings::from_config(&config.tools),
            },
            split: SplitSettings {
                stream: config.pipeline.stream_sentences,
                clause_min_words: config.pipeline.clause_min_words as usize,
                first_piece_max_words: config.pipeline.first_piece_max_words as usize,
            },
            min_utterance_ms: config.pipeline.min_utterance_ms,
            incremental_stt: config.pipeline.incremental_stt,
            resume: None,
            metrics_hz: Some(config.metrics.hz),
        }
    }
}

/// A running voice loop.
pub struct Session {
    shared: Arc<Shared>,
    answerer: Arc<Answerer>,
    toolbox: Option<Arc<Toolbox>>,
    source: Mutex<Box<dyn AudioSource>>,
    capture: Option<Sender<CaptureStarted>>,
    threads: Vec<JoinHandle<()>>,
    monitor: Option<Monitor>,
}

impl Session {
    /// Starts the stages. Nothing is heard until [`Session::press`].
    pub fn start(parts: SessionParts, options: SessionOptions) -> Result<Session, PipelineError> {
        let bus = EventBus::new();
        let (conversation, past) = match (&options.resume, &parts.history) {
            (Some(id), Some(history)) => (id.clone(), history.recent(id, options.answer.context_turns.max(1))?),
            (Some(id), None) => (id.clone(), Vec::new()),
            (None, _) => (new_conversation_id(), Vec::new()),
        };
        let shared = Arc::new(Shared::new(bus.clone(), parts.sink, parts.history, conversation, past));

        let (capture_tx, capture_rx) = channel();
        let (utterance_tx, utterance_rx) = channel();
        let (question_tx, question_rx) = channel();
        let (text_tx, text_rx) = channel();
        let (speak_tx, speak_rx) = channel();
        let (audio_tx, audio_rx) = channel();

        let mut threads = Vec::new();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("voxdeck-{name}"))
                .spawn(f)
                .map_err(PipelineError::Thread)
        };
        // Passes over the audio so far: one at a time, none while they cannot keep up.
        let drafts = Arc::new(DraftState::default());
        let drafting = options.incremental_stt.then(|| capture_stage::Drafting {
            threshold_dbfs: parts.stt.gate().threshold_dbfs,
            state: drafts.clone(),
        });
        let s = shared.clone();
        threads.push(spawn("capture", Box::new(move || capture_stage::run(s, drafting, capture_rx, utterance_tx)))?);
        let (s, stt, min_ms) = (shared.clone(), parts.stt, options.min_utterance_ms);
        threads.push(spawn(
            "stt-stage",
            Box::new(move || stt_stage::run(s, stt, min_ms, drafts, utterance_rx, question_tx)),
        )?);
        shared.set_announcement_output(text_tx.clone());
        let toolbox = match parts.tools {
            Some(setup) => Some(open_toolbox(&shared, &parts.answerer, setup)?),
            None => None,
        };
        let (s, answerer, answer, tools) =
            (shared.clone(), parts.answerer.clone(), options.answer.clone(), toolbox.clone());
        threads.push(spawn(
            "answer",
            Box::new(move || llm_stage::run(s, answerer, tools, answer, question_rx, text_tx)),
        )?);
        let (s, split) = (shared.clone(), options.split);
        threads.push(spawn("splitter", Box::new(move || splitter_stage::run(s, split, text_rx, speak_tx)))?);
        let (s, tts) = (shared.clone(), parts.tts);
        threads.push(spawn("tts-stage", Box::new(move || tts_stage::run(s, tts, speak_rx, audio_tx)))?);
        let s = shared.clone();
        threads.push(spawn("playback", Box::new(move || playback_stage::run(s, audio_rx)))?);

        let monitor = match options.metrics_hz {
            Some(hz) if hz > 0.0 => {
                let bus = bus.clone();
                let monitor = Monitor::spawn(hz, move |snapshot| {
                    bus.send(Event::System { snapshot: Box::new(snapshot) });
                })
                .map_err(PipelineError::Thread)?;
                Some(monitor)
            }
            _ => None,
        };
        Ok(Session {
            shared,
            answerer: parts.answerer,
            toolbox,
            source: Mutex::new(parts.source),
            capture: Some(capture_tx),
            threads,
            monitor,
        })
    }

    /// Push-to-talk down: starts listening. If the assistant is transcribing, thinking or
    /// speaking, that turn is cut short first (barge-in): playback stops, generation and
    /// pending speech are cancelled, and the answer keeps what was heard. Pressing while
    /// already listening changes nothing. Returns the listening turn's number. When the
    /// source cannot start, the error is [`PipelineError::Audio`] and the new turn has already
    /// ended as failed (its error and record are on the event stream; its number is
    /// [`Session::state`]'s).
    pub fn press(&self) -> Result<u64, PipelineError> {
        let pressed = Instant::now();
        let (turn, state) = self.shared.state();
        if state == TurnState::Listening {
            return Ok(turn);
        }
        let turn = self.shared.begin_turn(pressed);
        let mut source = lock(&self.source);
        source.stop(); // a source that ended on its own (a file) is reset for a new start
        let started = source.start();
        let what = source.describe();
        drop(source);
        match started {
            Ok(events) => {
                let capture = self.capture.as_ref().ok_or(PipelineError::Stopped)?;
                capture.send(CaptureStarted { turn, events }).map_err(|_| PipelineError::Stopped)?;
                Ok(turn)
            }
            Err(e) => {
                let message = format!("cannot listen to {what}: {e}");
                self.shared.bus.error(Some(turn), "capture", &message);
                self.shared.end_turn(turn, Outcome::Failed, |t| {
                    t.timeline.mark_at(Mark::Release, pressed);
                    t.record.error = Some(message);
                });
                Err(PipelineError::Audio(e))
            }
        }
    }

    /// Push-to-talk up: the utterance ends here and the turn starts. Does nothing unless
    /// listening (a file source ends its utterance by itself).
    pub fn release(&self) {
        let released = Instant::now();
        let (turn, state) = self.shared.state();
        if state != TurnState::Listening {
            return;
        }
        self.shared.with_turn(turn, |t| t.timeline.mark_at(Mark::Release, released));
        lock(&self.source).stop();
    }

    /// Replaces the audio source for the next press (another WAV file, another microphone).
    pub fn set_source(&self, source: Box<dyn AudioSource>) {
        let mut current = lock(&self.source);
        current.stop();
        *current = source;
    }

    /// Local, cloud or auto, from the next question on; no model is reloaded.
    pub fn set_mode(&self, mode: Mode) {
        self.answerer.set_mode(mode);
    }

    pub fn mode(&self) -> Mode {
        self.answerer.mode()
    }

    /// The answerer (models, routing), for front ends that show them.
    pub fn answerer(&self) -> &Arc<Answerer> {
        &self.answerer
    }

    /// The assistant's tools: the panel lists and edits timers and facts through them.
    pub fn toolbox(&self) -> Option<&Arc<Toolbox>> {
        self.toolbox.as_ref()
    }

    /// The event stream. Subscribe before pressing to see the whole turn.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.bus.subscribe()
    }

    /// A sender on the event stream, for front ends that add their own events.
    pub fn bus(&self) -> EventBus {
        self.shared.bus.clone()
    }

    /// The latest turn's number and the assistant's state.
    pub fn state(&self) -> (u64, TurnState) {
        self.shared.state()
    }

    /// This session's conversation id (in history).
    pub fn conversation(&self) -> &str {
        &self.shared.conversation
    }

    /// The finished turns of this conversation, oldest first.
    pub fn turns(&self) -> Vec<TurnRecord> {
        self.shared.past()
    }

    /// Blocks until turn `turn` has ended (answered, interrupted, nothing heard or failed) and
    /// returns its record, reading `events` (subscribed before the press). `None` on timeout or
    /// when the stream closes. For plain threads, not async code (as `blocking_recv`).
    pub fn wait_for_turn(
        events: &mut broadcast::Receiver<Event>,
        turn: u64,
        timeout: Duration,
    ) -> Option<TurnRecord> {
        Session::follow_turn(events, turn, timeout, |_| {})
    }

    /// [`Session::wait_for_turn`], handing every other event to `on_event` as it comes (a CLI
    /// printing the transcript and the answer while it waits).
    pub fn follow_turn(
        events: &mut broadcast::Receiver<Event>,
        turn: u64,
        timeout: Duration,
        mut on_event: impl FnMut(&Event),
    ) -> Option<TurnRecord> {
        let deadline = Instant::now() + timeout;
        let waiter = match StreamWaiter::new() {
            Ok(waiter) => waiter,
            Err(e) => {
                tracing::warn!("cannot wait for the turn's events: {e}");
                return None;
            }
        };
        loop {
            match waiter.recv_until(events, deadline)? {
                Ok(Event::TurnComplete { record }) if record.turn == turn => return Some(*record),
                Ok(event) => on_event(&event),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("event reader fell {n} events behind");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
/// Opens the toolbox on `shared`: its timers ring as announcements, its changes go on the
/// event stream. Running timers are re-armed and missed ones announced.
fn open_toolbox(shared: &Arc<Shared>, answerer: &Arc<Answerer>, setup: ToolsSetup) -> Result<Arc<Toolbox>, PipelineError> {
    let weak = Arc::downgrade(shared);
    let controls = Arc::new(SessionControls { answerer: answerer.clone(), shared: weak.clone() });
    let on_event = Arc::new(move |event: ToolboxEvent| {
        let Some(shared) = weak.upgrade() else { return };
        match event {
            ToolboxEvent::Timers(timers) => shared.bus.send(Event::Timers { timers }),
            ToolboxEvent::TimerDue { timer, spoken } => {
                shared.bus.send(Event::TimerDue { timer, spoken: spoken.clone() });
                shared.announce(spoken);
            }
            ToolboxEvent::Facts(facts) => shared.bus.send(Event::Facts { facts }),
            ToolboxEvent::ConfirmAsked { action, prompt, expires_unix_ms } => {
                shared.bus.send(Event::ConfirmAsked { action, prompt, expires_unix_ms })
            }
        }
    });
    Ok(Toolbox::open(setup.db, &setup.config, controls, on_event)?)
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(monitor) = self.monitor.take() {
            monitor.stop();
        }
        lock(&self.source).stop();
        self.shared.shutdown();
        // Closing the first channel closes each next one as its stage returns.
        drop(self.capture.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
