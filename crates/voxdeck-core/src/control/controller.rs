//! [`Controller`]: the engine as a control panel sees it. It owns the configuration, the
//! loaded voice loop (or none), the live charts and the background jobs, takes [`Command`]s and
//! publishes one [`Outgoing`] stream. The desktop app, `voxdeck serve` and the E2E tests are
//! thin layers over it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tracing::info;

use super::bench_job::{BenchJob, BenchJobError};
use super::latency_job::LatencyJob;
use super::chart_feed::ChartFeed;
use super::cloud_status::CloudKeyError;
use super::downloads::{DownloadError, Downloads};
use super::engine_slot::{EngineError, EngineSlot, IoFiles};
use super::mode_toggle::ModeToggle;
use super::model_swap::{ModelSwap, SwitchError};
use super::protocol::{BenchStatus, Command, EngineStatus, Outgoing, PanelStatus, Reply, ToolsView};
use super::publisher::Outlet;
use super::settings::{SettingsError, SettingsStore};
use super::shared_config::SharedConfig;
use super::starter_job::{Starter, StarterError};
use super::tool_panel::{self, ToolPanel, ToolPanelError};
use crate::config::{Config, Mode};
use crate::pipeline::TurnState;

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
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Cloud(#[from] CloudKeyError),
    #[error(transparent)]
    Bench(#[from] BenchJobError),
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error(transparent)]
    Switch(#[from] SwitchError),
    #[error(transparent)]
    Starter(#[from] StarterError),
    #[error(transparent)]
    OutOfRange(#[from] crate::bounds::OutOfRange),
    #[error(transparent)]
    Tools(#[from] ToolPanelError),
}

/// Messages buffered per subscriber; one that falls further behind loses the oldest.
const OUTGOING_BUFFER: usize = 4096;

/// The control panel's engine. Cheap to clone; every clone is the same controller.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

/// The components, wired together once in [`Controller::start`]. Each owns its state; the
/// controller only dispatches commands to them.
struct Inner {
    /// First, so the stream closes before the voice loop stops: nothing is published once
    /// the controller is going.
    outlet: Outlet,
    config: SharedConfig,
    toggle: Arc<ModeToggle>,
    charts: Arc<ChartFeed>,
    /// The voice loop; dropping it stops the session.
    engine: Arc<EngineSlot>,
    bench: BenchJob,
    latency: LatencyJob,
    downloads: Downloads,
    settings: SettingsStore,
    swap: ModelSwap,
    /// The first run's offer and its download.
    starter: Arc<Starter>,
    /// The timers, facts and confirmations of the session's toolbox.
    tools: Arc<ToolPanel>,
}

impl Controller {
    /// Starts the controller (and, if asked, loading the models in the background).
    pub fn start(options: ControllerOptions) -> Controller {
        let mut config = options.config;
        // Clients may change the cloud's base URL; the environment key stays with this one.
        crate::llm::cloud::pin_env_key(&mut config.cloud);
        let outlet = Outlet::new(OUTGOING_BUFFER);
        let publisher = outlet.publisher();
        let charts = Arc::new(ChartFeed::new(&config));
        ChartFeed::spawn_ticker(&charts, publisher.clone());
        let mode = config.router.mode;
        let config = SharedConfig::new(config);
        let toggle = Arc::new(ModeToggle::new(mode, config.clone(), publisher.clone()));
        let files = IoFiles { input: options.input, output: options.output };
        let tools = Arc::new(ToolPanel::default());
        let engine =
            Arc::new(EngineSlot::new(files, publisher.clone(), charts.clone(), toggle.clone()));
        let data_dir = options.data_dir.unwrap_or_else(crate::paths::data_dir);
        let downloads = Downloads::new(config.clone(), publisher.clone());
        let settings = SettingsStore::new(config.clone(), options.config_path);
        let swap = ModelSwap::new(
            engine.clone(),
            config.clone(),
            toggle.clone(),
            settings.clone(),
            downloads.clone(),
            publisher.clone(),
        );
        let inner = Inner {
            bench: BenchJob::new(config.clone(), publisher.clone(), data_dir),
            latency: LatencyJob::new(config.clone(), publisher.clone()),
            starter: Arc::new(Starter::new(config.clone(), publisher.clone(), engine.clone(), toggle.clone())),
            downloads,
            settings,
            swap,
            outlet,
            config,
            toggle,
            charts,
            engine,
            tools,
        };
        let controller = Controller { inner: Arc::new(inner) };
        if options.load_on_start {
            controller.load();
        }
        controller
    }

    /// Every message for front ends, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.inner.outlet.subscribe()
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
                inner.engine.unload();
                Ok(Reply::Ok)
            }
            Command::RunBench { runs } => {
                inner.bench.start(runs)?;
                Ok(Reply::Ok)
            }
            Command::CancelBench => {
                inner.bench.cancel();
                Ok(Reply::Ok)
            }
            Command::ExportBench { format } => Ok(inner.bench.export(format)?),
            Command::RunLatencyBench { limit, voice } => {
                inner.latency.start(limit, voice)?;
                Ok(Reply::Ok)
            }
            Command::CancelLatencyBench => {
                inner.latency.cancel();
                Ok(Reply::Ok)
            }
            Command::GetSettings => {
                Ok(Reply::Settings { view: Box::new(inner.settings.view(inner.toggle.cloud_status())) })
            }
            Command::SetSettings { settings } => Ok(inner.settings.apply(settings)?),
            Command::ValidateSettings { settings } => {
                let fields = inner.settings.problems(&settings);
                Ok(if fields.is_empty() { Reply::Ok } else { Reply::Invalid { fields } })
            }
            Command::ReloadModels => {
                inner.swap.reload()?;
                Ok(Reply::Ok)
            }
            Command::SwitchModels { settings } => Ok(inner.swap.switch(settings)?),
            Command::SetCloudKey { key } => {
                let stored = inner.toggle.store_key(&key)?;
                info!(?stored, "cloud API key stored");
                self.refresh_cloud();
                Ok(Reply::Cloud { cloud: inner.toggle.cloud_status() })
            }
            Command::ForgetCloudKey => {
                inner.toggle.forget_key()?;
                self.refresh_cloud();
                Ok(Reply::Cloud { cloud: inner.toggle.cloud_status() })
            }
            Command::CheckCloud => Ok(Reply::Cloud { cloud: inner.toggle.check_cloud() }),
            Command::FetchModel { id } => {
                inner.downloads.start(&id)?;
                Ok(Reply::Ok)
            }
            Command::Status => Ok(Reply::Status { status: Box::new(self.status()) }),
            Command::InstallStarter { set } => {
                inner.starter.install(set)?;
                Ok(Reply::Ok)
            }
            Command::ChartView { width, height, pixel_ratio, dark } => {
                inner.charts.set_view(super::chart_draw::View::reported(width, height, pixel_ratio, dark)?);
                Ok(Reply::Ok)
            }
            Command::CancelTimer { id } => self.with_toolbox(|tb| Ok(tb.cancel_timer(id)?)),
            Command::AddFact { text } => self.with_toolbox(|tb| inner.tools.add_fact(tb, &text)),
            Command::EditFact { id, text } => self.with_toolbox(|tb| Ok(tb.edit_fact(id, &text).map(drop)?)),
            Command::DeleteFact { id } => self.with_toolbox(|tb| Ok(tb.delete_fact(id)?)),
            Command::ForgetAll => self.with_toolbox(|tb| inner.tools.ask_forget_all(tb)),
            Command::Confirm { action } => self.with_toolbox(|tb| inner.tools.confirm(tb, &action)),
            Command::Decline => self.with_toolbox(|tb| {
                inner.tools.decline(tb);
                Ok(())
            }),
            Command::GetTools => Ok(Reply::Tools { tools: self.tools() }),
        }
    }

    /// Everything a newly connected front end needs to draw itself.
    pub fn status(&self) -> PanelStatus {
        let inner = &self.inner;
        let (turn, state, turns) = inner
            .engine
            .with_session(|s| {
                let (turn, state) = s.state();
                (turn, state, s.turns())
            })
            .unwrap_or((0, TurnState::Idle, Vec::new()));
        PanelStatus {
            engine: inner.engine.status(),
            mode: inner.toggle.mode(),
            cloud: inner.toggle.cloud_status(),
            local_model: inner.toggle.local_model(),
            turn,
            state,
            turns,
            charts: inner.charts.latest(),
            bench: inner.bench.status(),
            latency: inner.latency.status(),
            input: inner.engine.describe_input(),
            output: inner.engine.describe_output(),
            shortcut: inner.config.get().ui.global_shortcut,
            limits: crate::bounds::limits(),
            switch: inner.swap.status(),
            starter: inner.starter.view(),
            tools: self.tools(),
        }
    }

    /// The running session's toolbox, out of the engine slot's lock (a tool may take a moment).
    fn toolbox(&self) -> Result<Arc<crate::tools::toolbox::Toolbox>, ControlError> {
        let toolbox = self.inner.engine.with_session(|s| s.toolbox().cloned())?;
        Ok(tool_panel::require(toolbox)?)
    }

    /// Runs a tool command on the toolbox, then replies with the tools' state.
    fn with_toolbox(
        &self,
        f: impl FnOnce(&crate::tools::toolbox::Toolbox) -> Result<(), ToolPanelError>,
    ) -> Result<Reply, ControlError> {
        let toolbox = self.toolbox()?;
        f(&toolbox)?;
        Ok(Reply::Tools { tools: self.inner.tools.view(Some(&toolbox), "") })
    }

    /// The timers widget's and Memory tab's state: empty, with the reason, without a toolbox.
    fn tools(&self) -> ToolsView {
        match self.toolbox() {
            Ok(toolbox) => self.inner.tools.view(Some(&toolbox), ""),
            Err(e) => self.inner.tools.view(None, &e.to_string()),
        }
    }

    /// Stops the voice loop and the background threads' work; the controller stays usable
    /// for status.
    pub fn shutdown(&self) {
        self.inner.bench.cancel();
        self.inner.latency.cancel();
        self.inner.engine.unload();
    }

    /// Starts loading the models in the background (no-op while loading or loaded).
    fn load(&self) {
        self.inner.engine.load(self.inner.config.get(), self.inner.toggle.mode());
    }

    /// Gives the running answerer the cloud engine as the key now allows: a stored key is used
    /// from the next question on, without reloading the models.
    fn refresh_cloud(&self) {
        let cloud = crate::pipeline::loader::build_cloud(&self.inner.config.get());
        let _ = self.inner.engine.with_session(|s| s.answerer().set_cloud(cloud));
    }

    fn set_mode(&self, mode: Mode) {
        self.inner.toggle.set(mode);
        let _ = self.inner.engine.with_session(|s| s.set_mode(mode));
        info!(mode = mode.as_str(), "answering mode");
        self.inner.toggle.publish();
    }

    /// Waits until the models are loaded (or failed), for front ends that must not take
    /// commands before (tests, `serve --wait`). Returns the final status.
    pub fn wait_until_loaded(&self, timeout: Duration) -> EngineStatus {
        self.inner.engine.wait_until_loaded(timeout)
    }

    /// The bench tab's state.
    pub fn bench_status(&self) -> BenchStatus {
        self.inner.bench.status()
    }
}
