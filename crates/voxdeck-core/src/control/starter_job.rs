//! The first run: the offer (which starter set, what it holds) and its one job, download the
//! missing files then load the models, published as `starter` events.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracing::{info, warn};

use super::downloads::{FileFailed, install_files};
use super::engine_slot::EngineSlot;
use super::mode_toggle::ModeToggle;
use super::protocol::{EngineStatus, PanelEvent, StarterJob, StarterSetId, StarterView};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use super::starter_set::{MachineFacts, describe, entries, needed, recommend};
use crate::models::Catalog;
use crate::sync::lock;

/// Longest wait for the models to load after the download, before the job lets go.
const LOAD_WAIT: Duration = Duration::from_secs(600);

/// Why a starter install cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    #[error("the models are already being downloaded")]
    Busy,
    #[error("cannot start the download thread: {0}")]
    Thread(std::io::Error),
}

pub(super) struct Starter {
    config: SharedConfig,
    publisher: Publisher,
    engine: Arc<EngineSlot>,
    toggle: Arc<ModeToggle>,
    /// Detected on first use (NVML is slow to open).
    facts: OnceLock<MachineFacts>,
    job: Arc<Mutex<StarterJob>>,
}

impl Starter {
    pub(super) fn new(
        config: SharedConfig,
        publisher: Publisher,
        engine: Arc<EngineSlot>,
        toggle: Arc<ModeToggle>,
    ) -> Starter {
        Starter {
            config,
            publisher,
            engine,
            toggle,
            facts: OnceLock::new(),
            job: Arc::new(Mutex::new(StarterJob::Idle)),
        }
    }

    /// The card: needed while no model answers, hears or speaks and nothing is loaded.
    pub(super) fn view(&self) -> StarterView {
        let config = self.config.get();
        let models_dir = config.models_dir();
        let catalog = Catalog::builtin();
        let facts = self.facts.get_or_init(MachineFacts::detect);
        let (set, reason) = recommend(facts, &catalog, &config.memory);
        let other = match set {
            StarterSetId::Production => StarterSetId::Test,
            StarterSetId::Test => StarterSetId::Production,
        };
        let loaded = matches!(self.engine.status(), EngineStatus::Ready { .. });
        StarterView {
            needed: !loaded && needed(&catalog, &models_dir),
            recommended: describe(&catalog, set, &models_dir),
            reason,
            alternative: describe(&catalog, other, &models_dir),
            job: lock(&self.job).clone(),
        }
    }

    /// Downloads what `set` misses (installed files are skipped), then loads the models.
    pub(super) fn install(self: &Arc<Self>, set: StarterSetId) -> Result<(), StarterError> {
        {
            let mut job = lock(&self.job);
            if matches!(*job, StarterJob::Downloading { .. } | StarterJob::Loading { .. }) {
                return Err(StarterError::Busy);
            }
            *job = StarterJob::Downloading { set, model: String::new(), done_bytes: 0, total_bytes: 0 };
        }
        let this = self.clone();
        let spawned = std::thread::Builder::new().name("voxdeck-starter".into()).spawn(move || this.run(set));
        if let Err(e) = spawned {
            self.set_job(StarterJob::Idle);
            return Err(StarterError::Thread(e));
        }
        Ok(())
    }

    fn run(&self, set: StarterSetId) {
        let config = self.config.get();
        let models_dir = config.models_dir();
        let catalog = Catalog::builtin();
        let chosen = entries(&catalog, set);
        let missing: Vec<_> = chosen
            .iter()
            .flat_map(|e| e.files.iter().map(move |f| (*e, f)))
            .filter(|(_, f)| {
                !std::fs::metadata(models_dir.join(&f.name)).is_ok_and(|m| m.is_file() && m.len() == f.size)
            })
            .collect();
        info!(?set, files = missing.len(), "installing the starter set");
        let result = install_files(&missing, &models_dir, &mut |model, _, done, total| {
            self.set_job(StarterJob::Downloading {
                set,
                model: model.to_owned(),
                done_bytes: done,
                total_bytes: total,
            });
        });
        if let Err(FileFailed { model, file, error }) = result {
            warn!("starter set: {file}: {error}");
            self.set_job(StarterJob::Failed { set, message: format!("Could not download {model}: {error}") });
            return;
        }
        self.set_job(StarterJob::Loading { set });
        // A failed earlier load leaves the slot empty, so this loads (no-op if already loading).
        self.engine.load(config, self.toggle.mode());
        let status = self.engine.wait_until_loaded(LOAD_WAIT);
        info!(?status, "starter set loaded");
        self.set_job(StarterJob::Idle);
    }

    /// Replaces the job's state and publishes the card.
    fn set_job(&self, job: StarterJob) {
        *lock(&self.job) = job;
        self.publisher.panel(PanelEvent::Starter { starter: self.view() });
    }
}
