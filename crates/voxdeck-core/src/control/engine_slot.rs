//! The voice loop as a slot that is empty, loading, running or failed. Loading happens on its
//! own thread so a front end stays responsive (and shows the steps) for the seconds it takes.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::chart_feed::ChartFeed;
use super::forwarder;
use super::mode_toggle::ModeToggle;
use super::protocol::{EngineStatus, PanelEvent};
use super::publisher::Publisher;
use crate::audio::sink::AudioSink;
use crate::audio::{open_input, open_output};
use crate::config::{Config, Mode};
use crate::history::History;
use crate::pipeline::assemble::start_on;
use crate::pipeline::{AssembledSession, LOAD_STEPS, LoadedEngines, ModelNames, Session, SessionIo, SessionOptions, assemble};
use crate::sync::lock;

/// Files push-to-talk listens to and answers are spoken into, instead of the default devices.
#[derive(Debug, Clone, Default)]
pub(super) struct IoFiles {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

/// Engines a model switch loaded beside the running session, to start in its place.
pub(super) struct Preloaded {
    pub engines: LoadedEngines,
    /// When their load began (the load time counts from there).
    pub since: Instant,
    /// What they added to this process's memory (RSS), measured around their load.
    pub memory_bytes: Option<u64>,
}

/// Why a command that needs the voice loop cannot run now.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the models are not loaded (press Load)")]
    NotLoaded,
    #[error("the models are not loaded: {0}")]
    LoadFailed(String),
    #[error("the models are still loading ({0})")]
    Loading(String),
}

enum Slot {
    Empty(EngineStatus),
    /// The step in words, and its index in [`LOAD_STEPS`] (1-based; 0: checking memory).
    Loading(String, u32),
    /// `config`: what the session was loaded from, for a switch to come back to.
    Running { session: Session, status: EngineStatus, sink: Arc<dyn AudioSink>, config: Box<Config> },
}

pub(super) struct EngineSlot {
    slot: Mutex<Slot>,
    /// Signalled when loading ends (ready or failed).
    settled: Condvar,
    files: IoFiles,
    publisher: Publisher,
    charts: Arc<ChartFeed>,
    toggle: Arc<ModeToggle>,
}

impl EngineSlot {
    /// An empty slot. A session it runs feeds `charts` and tells `toggle` about finished turns.
    pub(super) fn new(
        files: IoFiles,
        publisher: Publisher,
        charts: Arc<ChartFeed>,
        toggle: Arc<ModeToggle>,
    ) -> EngineSlot {
        EngineSlot {
            slot: Mutex::new(Slot::Empty(EngineStatus::Unloaded)),
            settled: Condvar::new(),
            files,
            publisher,
            charts,
            toggle,
        }
    }

    pub(super) fn status(&self) -> EngineStatus {
        status_of(&lock(&self.slot))
    }

    /// Blocks until loading has ended (or `timeout` passed) and returns the status then.
    pub(super) fn wait_until_loaded(&self, timeout: Duration) -> EngineStatus {
        let (slot, _) = self
            .settled
            .wait_timeout_while(lock(&self.slot), timeout, |slot| matches!(slot, Slot::Loading(..)))
            .unwrap_or_else(PoisonError::into_inner);
        status_of(&slot)
    }

    /// The configuration the running session was loaded from; `None` when none runs.
    pub(super) fn running_config(&self) -> Option<Config> {
        match &*lock(&self.slot) {
            Slot::Running { config, .. } => Some((**config).clone()),
            _ => None,
        }
    }

    /// Runs `f` on the running session, or says why there is none.
    pub(super) fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> Result<R, EngineError> {
        match &*lock(&self.slot) {
            Slot::Running { session, .. } => Ok(f(session)),
            Slot::Loading(step, _) => Err(EngineError::Loading(step.clone())),
            Slot::Empty(EngineStatus::Failed { message }) => Err(EngineError::LoadFailed(message.clone())),
            Slot::Empty(_) => Err(EngineError::NotLoaded),
        }
    }

    pub(super) fn input_is_file(&self) -> bool {
        self.files.input.is_some()
    }

    pub(super) fn describe_input(&self) -> String {
        match &self.files.input {
            Some(path) => format!("file {}", path.display()),
            None => "microphone".into(),
        }
    }

    pub(super) fn describe_output(&self) -> String {
        match &self.files.output {
            Some(path) => format!("file {}", path.display()),
            None => "speaker".into(),
        }
    }

    /// Starts loading on a thread, unless loading or loaded already.
    pub(super) fn load(self: &Arc<Self>, config: Config, mode: Mode) {
        self.load_with(config, mode, None);
    }

    /// [`EngineSlot::load`]; `preloaded`: `config`'s engines, loaded already (a model switch
    /// loads them beside the running session), so only the devices and the session start.
    pub(super) fn load_with(self: &Arc<Self>, config: Config, mode: Mode, preloaded: Option<Preloaded>) {
        let first = if preloaded.is_some() { "starting the loaded models" } else { "checking memory" };
        {
            let mut slot = lock(&self.slot);
            if matches!(*slot, Slot::Loading(..) | Slot::Running { .. }) {
                return;
            }
            *slot = Slot::Loading(first.into(), 0);
        }
        self.publish(loading_status(first, 0));
        let weak = Arc::downgrade(self);
        let files = self.files.clone();
        let spawned = std::thread::Builder::new().name("voxdeck-load".into()).spawn(move || {
            let started = preloaded.as_ref().map_or_else(Instant::now, |p| p.since);
            let rss_before = crate::sysmon::memory::process_rss_bytes();
            // What preloaded engines added was measured while they loaded (the old set was still
            // in memory then); otherwise it is what this load adds.
            let measured = preloaded.as_ref().map(|p| p.memory_bytes);
            let result = build_session(&weak, &config, &files, mode, preloaded.map(|p| p.engines));
            let share = measured.unwrap_or_else(|| {
                let after = crate::sysmon::memory::process_rss_bytes();
                after.zip(rss_before).map(|(after, before)| after.saturating_sub(before))
            });
            // A controller dropped meanwhile: the session is dropped (stopped) here.
            if let Some(slot) = weak.upgrade() {
                slot.loaded(result, config, started, share);
            }
        });
        if let Err(e) = spawned {
            let status = EngineStatus::Failed { message: format!("cannot start the loader thread: {e}") };
            self.settle(Slot::Empty(status.clone()));
            self.publish(status);
        }
    }

    /// Takes the loader's result: the running session, or the failure in words.
    fn loaded(&self, result: Result<AssembledSession, String>, config: Config, started: Instant, share: Option<u64>) {
        let status = match result {
            Ok(AssembledSession { session, sink, models: ModelNames { llm, stt, voice }, .. }) => {
                let llm_name = super::mode_toggle::local_model_name(&config);
                let status = EngineStatus::Ready { llm, stt, voice, load_ms: started.elapsed().as_secs_f64() * 1000.0 };
                self.charts.model_loaded(share, &llm_name);
                forwarder::spawn(
                    session.subscribe(),
                    self.publisher.clone(),
                    self.charts.clone(),
                    self.toggle.clone(),
                );
                info!(?status, "models loaded");
                self.settle(Slot::Running { session, status: status.clone(), sink, config: Box::new(config) });
                status
            }
            Err(message) => {
                warn!("loading the models failed: {message}");
                let status = EngineStatus::Failed { message };
                self.settle(Slot::Empty(status.clone()));
                status
            }
        };
        self.publish(status);
        // The mode buttons name the model that was loaded.
        self.toggle.publish();
    }

    /// Stops the voice loop and frees its models.
    pub(super) fn unload(&self) {
        let was_running = matches!(*lock(&self.slot), Slot::Running { .. });
        if let Err(e) = self.take_session() {
            warn!("finishing the answer audio: {e}");
        }
        if was_running {
            self.charts.model_unloaded();
            self.publish(EngineStatus::Unloaded);
        }
    }

    /// Takes the session out (dropping it stops its threads) and flushes a WAV output.
    fn take_session(&self) -> Result<(), crate::audio::AudioError> {
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

    /// The loader began its next step: returns that step's status.
    fn next_step(&self, step: &str) -> Option<EngineStatus> {
        let mut slot = lock(&self.slot);
        let Slot::Loading(current, index) = &mut *slot else { return None };
        *current = step.to_owned();
        *index = (*index + 1).min(LOAD_STEPS.len() as u32);
        Some(loading_status(step, *index))
    }

    /// Ends loading: `slot` replaces the loading state and waiters wake.
    fn settle(&self, slot: Slot) {
        *lock(&self.slot) = slot;
        self.settled.notify_all();
    }

    fn publish(&self, status: EngineStatus) {
        self.publisher.panel(PanelEvent::Engine { status });
    }
}

impl Drop for EngineSlot {
    fn drop(&mut self) {
        if let Err(e) = self.take_session() {
            warn!("stopping the voice loop: {e}");
        }
    }
}

fn status_of(slot: &Slot) -> EngineStatus {
    match slot {
        Slot::Empty(status) | Slot::Running { status, .. } => status.clone(),
        Slot::Loading(step, index) => loading_status(step, *index),
    }
}

/// Loading, at step `index` (1-based; 0 before the first) of [`LOAD_STEPS`].
fn loading_status(step: &str, index: u32) -> EngineStatus {
    EngineStatus::Loading {
        step: step.to_owned(),
        index,
        of: LOAD_STEPS.len() as u32,
        steps: LOAD_STEPS.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Opens the devices, loads the models and starts the voice loop; failures in words.
fn build_session(
    slot: &Weak<EngineSlot>,
    config: &Config,
    files: &IoFiles,
    mode: Mode,
    preloaded: Option<LoadedEngines>,
) -> Result<AssembledSession, String> {
    if let Some(path) = files.input.as_deref().filter(|p| !p.is_file()) {
        return Err(format!("the input file {} does not exist", path.display()));
    }
    // The speaker (or the output file) first: a machine without one should say so before
    // seconds of loading.
    let opened = open_output(files.output.as_deref(), files.input.as_slice(), &config.audio);
    let sink = opened.map_err(|e| match files.output {
        Some(_) => format!("--output: {e}"),
        None => format!(
            "cannot open the speaker: {e} (choose another output device in Settings, or start with --output FILE to write the answers to a WAV file)"
        ),
    })?;
    let source = open_input(files.input.as_slice(), &config.audio);
    let history = History::open_configured(&config.pipeline).map_err(|e| e.to_string())?;
    let io = SessionIo { source, sink, history };
    let options = SessionOptions::from_config(config);
    let assembled = match preloaded {
        Some(engines) => start_on(engines, options, io, config),
        None => assemble(config, options, io, &mut |step| {
            if let Some(slot) = slot.upgrade()
                && let Some(status) = slot.next_step(step)
            {
                slot.publish(status);
            }
        }),
    }
    .map_err(|e| e.to_string())?;
    assembled.session.set_mode(mode);
    Ok(assembled)
}
