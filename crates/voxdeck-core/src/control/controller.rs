//! [`Controller`]: the engine as a control panel sees it. It owns the configuration, the
//! loaded voice loop (or none), the live charts and the background jobs, takes [`Command`]s and
//! publishes one [`Outgoing`] stream. The desktop app, `voxdeck serve` and the E2E tests are
//! thin layers over it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tracing::{info, warn};

use super::bench_job::BenchJob;
use super::chart_feed::ChartFeed;
use super::cloud_status::CloudProbe;
use super::engine_slot::{EngineSlot, SessionIo};
use super::protocol::{BenchStatus, Command, EngineStatus, Outgoing, PanelEvent, PanelStatus, Reply};
use super::{downloads, settings};
use crate::config::{Config, Mode};
use crate::pipeline::TurnState;
use crate::sync::lock;

/// How a controller starts.
#[derive(Debug, Clone, Default)]
pub struct ControllerOptions {
    pub config: Config,
    /// Where `set_settings` saves; `None`: the default config file (`$XDG_CONFIG_HOME`).
    pub config_path: Option<PathBuf>,
    /// A WAV file used as the push-to-talk source instead of the microphone (tests, demos).
    pub input: Option<PathBuf>,
    /// Write spoken answers to this WAV file instead of the speaker.
    pub output: Option<PathBuf>,
    /// Start loading the models in the background at once.
    pub load_on_start: bool,
    /// Where exports are written; `None`: the data directory (`$XDG_DATA_HOME/voxdeck`).
    pub data_dir: Option<PathBuf>,
}

/// A command that could not be carried out, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the models are not loaded{0}")]
    NotLoaded(String),
    #[error("the models are still loading ({0})")]
    Loading(String),
    #[error("{0}")]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error("{0}")]
    Settings(String),
    #[error("{0}")]
    Cloud(String),
    #[error("{0}")]
    Bench(String),
    #[error("{0}")]
    Download(String),
}

/// Messages buffered per subscriber; one that falls further behind loses the oldest.
const OUTGOING_BUFFER: usize = 4096;

/// The control panel's engine. Cheap to clone; every clone is the same controller.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) config: Mutex<Config>,
    pub(super) config_path: Option<PathBuf>,
    pub(super) out: broadcast::Sender<Outgoing>,
    pub(super) engine: EngineSlot,
    pub(super) charts: ChartFeed,
    pub(super) cloud: CloudProbe,
    pub(super) bench: BenchJob,
    pub(super) mode: Mutex<Mode>,
    pub(super) data_dir: PathBuf,
}

impl Inner {
    pub(super) fn publish(&self, event: PanelEvent) {
        let _ = self.out.send(Outgoing::Panel(event));
    }

    pub(super) fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    /// Tells front ends the mode and what is known of the cloud.
    pub(super) fn publish_mode(&self) {
        let cloud = self.cloud.status(&self.config());
        self.publish(PanelEvent::Mode { mode: *lock(&self.mode), cloud });
    }
}

impl Controller {
    /// Starts the controller (and, if asked, loading the models in the background).
    pub fn start(options: ControllerOptions) -> Controller {
        let (out, _) = broadcast::channel(OUTGOING_BUFFER);
        let config = options.config;
        let mode = config.router.mode;
        let io = SessionIo { input: options.input, output: options.output };
        let inner = Arc::new(Inner {
            charts: ChartFeed::new(&config),
            cloud: CloudProbe::new(&config),
            engine: EngineSlot::new(io),
            bench: BenchJob::default(),
            mode: Mutex::new(mode),
            config: Mutex::new(config),
            config_path: options.config_path,
            data_dir: options.data_dir.unwrap_or_else(crate::paths::data_dir),
            out,
        });
        ChartFeed::spawn_ticker(Arc::downgrade(&inner));
        let controller = Controller { inner };
        if options.load_on_start {
            controller.load();
        }
        controller
    }

    /// Every message for front ends, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.inner.out.subscribe()
    }

    /// Carries out one command. Blocks for short work (press, settings, a cloud check); long
    /// work (loading, bench, downloads) starts in the background and reports as events.
    pub fn handle(&self, command: Command) -> Result<Reply, ControlError> {
        let inner = &self.inner;
        match command {
            Command::Press => {
                let turn = inner.engine.with_session(|s| s.press())??;
                Ok(Reply::Turn { turn })
            }
            Command::Release => {
                // A WAV input is the whole utterance: its end is the release, so an early
                // release from the button must not cut the question short.
                if !inner.engine.input_is_file() {
                    inner.engine.with_session(|s| s.release())?;
                }
                Ok(Reply::Ok)
            }
            Command::SetMode { mode } => {
                self.set_mode(mode);
                Ok(Reply::Ok)
            }
            Command::LoadModels => {
                self.load();
                Ok(Reply::Ok)
            }
            Command::UnloadModels => {
                inner.engine.unload(inner);
                Ok(Reply::Ok)
            }
            Command::RunBench { runs } => {
                inner.bench.start(Arc::downgrade(inner), runs).map_err(ControlError::Bench)?;
                Ok(Reply::Ok)
            }
            Command::ExportBench { format } => inner.bench.export(format, &inner.data_dir).map_err(ControlError::Bench),
            Command::GetSettings => Ok(Reply::Settings { view: Box::new(settings::view(inner)) }),
            Command::SetSettings { settings } => settings::apply(inner, settings),
            Command::SetCloudKey { key } => {
                inner.cloud.store_key(&inner.config(), &key).map_err(ControlError::Cloud)?;
                self.publish_mode();
                Ok(Reply::Ok)
            }
            Command::ForgetCloudKey => {
                inner.cloud.forget_key(&inner.config()).map_err(ControlError::Cloud)?;
                self.publish_mode();
                Ok(Reply::Ok)
            }
            Command::CheckCloud => {
                let cloud = inner.cloud.check(&inner.config());
                self.publish_mode();
                Ok(Reply::Cloud { cloud })
            }
            Command::FetchModel { id } => {
                downloads::start(Arc::downgrade(inner), id).map_err(ControlError::Download)?;
                Ok(Reply::Ok)
            }
            Command::Status => Ok(Reply::Status { status: Box::new(self.status()) }),
        }
    }

    /// Everything a newly connected front end needs to draw itself.
    pub fn status(&self) -> PanelStatus {
        let inner = &self.inner;
        let config = inner.config();
        let (turn, state, turns) = inner
            .engine
            .with_session(|s| {
                let (turn, state) = s.state();
                (turn, state, s.turns())
            })
            .unwrap_or((0, TurnState::Idle, Vec::new()));
        PanelStatus {
            engine: inner.engine.status(),
            mode: *lock(&inner.mode),
            cloud: inner.cloud.status(&config),
            turn,
            state,
            turns,
            charts: inner.charts.latest(),
            bench: inner.bench.status(),
            input: inner.engine.describe_input(),
            output: inner.engine.describe_output(),
            shortcut: config.ui.global_shortcut.clone(),
        }
    }

    /// Stops the voice loop and the background threads' work; the controller stays usable
    /// for status.
    pub fn shutdown(&self) {
        self.inner.engine.unload(&self.inner);
    }

    /// Starts loading the models in the background (no-op while loading or loaded).
    fn load(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let mode = *lock(&self.inner.mode);
        self.inner.engine.load(weak, self.inner.config(), mode);
    }

    fn set_mode(&self, mode: Mode) {
        *lock(&self.inner.mode) = mode;
        let _ = self.inner.engine.with_session(|s| s.set_mode(mode));
        info!(mode = mode.as_str(), "answering mode");
        self.publish_mode();
    }

    fn publish_mode(&self) {
        self.inner.publish_mode();
    }

    /// Waits until the models are loaded (or failed), for front ends that must not take
    /// commands before (tests, `serve --wait`). Returns the final status.
    pub fn wait_until_loaded(&self, timeout: Duration) -> EngineStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let status = self.inner.engine.status();
            match status {
                EngineStatus::Loading { .. } if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    /// The bench tab's state.
    pub fn bench_status(&self) -> BenchStatus {
        self.inner.bench.status()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.engine.take_session() {
            warn!("stopping the voice loop: {e}");
        }
    }
}
