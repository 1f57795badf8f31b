//! Switching the loaded models for the ones the settings now name without leaving the user with
//! none. The new set is checked first (it resolves, is installed, its files read as models, and
//! it fits in memory). If it fits beside the running set it is loaded while the old one still
//! answers, and the old one is unloaded only once it has loaded; if it fits only once the old set
//! is freed, the old set is unloaded, and loaded again if the new one then fails. A refused
//! switch puts the running models back into the settings. Each step is published as
//! a [`SwitchStatus`] that replaces the last one, so no message outlives its state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::downloads::Downloads;
use super::engine_slot::{EngineSlot, Preloaded};
use super::mode_toggle::ModeToggle;
use super::protocol::{EngineStatus, PanelEvent, Reply, Settings, SwitchStatus};
use super::publisher::Publisher;
use super::settings::{self, SettingsError, SettingsStore};
use super::shared_config::SharedConfig;
use crate::config::{Config, TtsEngine};
use crate::memory_fit::session::{Gpu, check_session, detect_gpu};
use crate::memory_fit::{Budget, MemoryNeed};
use crate::models::Catalog;
use crate::pipeline::loader::{load_engines, session_parts};
use crate::stt::SttOptions;
use crate::sync::lock;

/// Longer than any load of the catalog's models on the slowest supported machine.
const LOAD_WAIT: Duration = Duration::from_secs(900);

/// A switch that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("the models are being switched already; wait for that to finish")]
    Busy,
    #[error("cannot start the switch: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// The panel's model switch: one at a time, on its own thread.
pub(super) struct ModelSwap {
    shared: Arc<Shared>,
}

struct Shared {
    engine: Arc<EngineSlot>,
    config: SharedConfig,
    toggle: Arc<ModeToggle>,
    settings: SettingsStore,
    downloads: Downloads,
    publisher: Publisher,
    status: Mutex<SwitchStatus>,
    busy: AtomicBool,
}

impl ModelSwap {
    pub(super) fn new(
        engine: Arc<EngineSlot>,
        config: SharedConfig,
        toggle: Arc<ModeToggle>,
        settings: SettingsStore,
        downloads: Downloads,
        publisher: Publisher,
    ) -> ModelSwap {
        let status = Mutex::new(SwitchStatus::Idle);
        let busy = AtomicBool::new(false);
        ModelSwap { shared: Arc::new(Shared { engine, config, toggle, settings, downloads, publisher, status, busy }) }
    }

    pub(super) fn status(&self) -> SwitchStatus {
        lock(&self.shared.status).clone()
    }

    /// Starts loading the models the saved settings name in place of the running ones.
    pub(super) fn reload(&self) -> Result<(), SwitchError> {
        self.run(|shared| shared.reload())
    }

    /// Checks `settings`; downloads the models it chooses that are missing, then saves it and
    /// reloads. Refused settings come back as [`Reply::Invalid`], and nothing starts.
    pub(super) fn switch(&self, settings: Settings) -> Result<Reply, SwitchError> {
        let fields = self.shared.settings.problems(&settings);
        if !fields.is_empty() {
            return Ok(Reply::Invalid { fields });
        }
        let missing = self.shared.settings.missing_models(&settings);
        self.run(move |shared| shared.download_save_reload(&missing, settings))?;
        Ok(Reply::Ok)
    }

    /// Runs `job` on a thread unless a switch runs already.
    fn run(&self, job: impl FnOnce(&Shared) + Send + 'static) -> Result<(), SwitchError> {
        if self.shared.busy.swap(true, Ordering::SeqCst) {
            return Err(SwitchError::Busy);
        }
        // Working from the reply on, so no client sees the last switch's outcome as this one's.
        self.shared.step("starting");
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new().name("voxdeck-switch".into()).spawn(move || {
            job(&shared);
            shared.busy.store(false, Ordering::SeqCst);
        });
        spawned.map(|_| ()).map_err(|e| {
            self.shared.busy.store(false, Ordering::SeqCst);
            SwitchError::Thread(e)
        })
    }
}

impl Shared {
    fn set(&self, status: SwitchStatus) {
        info!(?status, "model switch");
        *lock(&self.status) = status.clone();
        self.publisher.panel(PanelEvent::Switch { status });
    }

    fn step(&self, step: impl Into<String>) {
        self.set(SwitchStatus::Working { step: step.into() });
    }

    /// Downloads `missing` one after another, then saves `settings` and reloads.
    fn download_save_reload(&self, missing: &[String], settings: Settings) {
        let catalog = Catalog::builtin();
        for id in missing {
            let name = catalog.get(id).map_or_else(|_| id.clone(), |e| e.name.clone());
            self.step(format!("downloading {name}"));
            let (tx, rx) = std::sync::mpsc::channel();
            let started = self.downloads.start_then(id, Box::new(move |result| drop(tx.send(result))));
            let result = match started {
                Ok(()) => rx.recv().unwrap_or_else(|_| Err("the download stopped without a result".into())),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = result {
                return self.refused(format!("Not switched: downloading {name} failed ({e})."));
            }
        }
        match self.settings.apply(settings) {
            Ok(Reply::Invalid { fields }) => {
                let first = fields.first().map_or_else(String::new, |p| format!(" (`{}` {})", p.key, p.message));
                self.refused(format!("Not switched: the settings were refused{first}."))
            }
            Ok(_) => self.reload(),
            Err(e) => self.refused(format!("Not switched: {e}.")),
        }
    }

    /// Loads the saved settings' models in place of the running ones (see the module's doc).
    fn reload(&self) {
        let new = self.config.get();
        let mode = self.toggle.mode();
        let old = self.engine.running_config();
        let old_names = match self.engine.status() {
            EngineStatus::Ready { llm, .. } => llm,
            _ => "the current models".into(),
        };
        if let Some(old) = &old {
            self.step("checking the new models");
            let fit = match preflight(&new, old) {
                Ok(fit) => fit,
                Err(why) => {
                    self.restore_model_settings(old);
                    return self.refused(format!("Not switched, still on {old_names}: {why}."));
                }
            };
            if fit == Fit::Beside {
                // Loaded while the old set still answers; a failure leaves it untouched.
                let started = Instant::now();
                let rss_before = crate::sysmon::memory::process_rss_bytes();
                let loaded = load_engines(&new, &mut |step| self.step(step));
                let engines = match loaded {
                    Ok(engines) => engines,
                    Err(e) => {
                        self.restore_model_settings(old);
                        return self.refused(format!("Not switched, still on {old_names}: {e}."));
                    }
                };
                let rss_after = crate::sysmon::memory::process_rss_bytes();
                let memory_bytes = rss_after.zip(rss_before).map(|(after, before)| after.saturating_sub(before));
                self.step("starting the new models");
                self.engine.unload();
                self.engine.load_with(new, mode, Some(Preloaded { engines, since: started, memory_bytes }));
            } else {
                self.step("unloading the current models");
                self.engine.unload();
                self.step("loading the new models");
                self.engine.load(new, mode);
            }
        } else {
            self.step("loading the new models");
            self.engine.load(new, mode);
        }
        let failure = match self.engine.wait_until_loaded(LOAD_WAIT) {
            EngineStatus::Ready { llm, .. } => {
                return self.set(SwitchStatus::Switched { message: format!("Switched to {llm}.") });
            }
            EngineStatus::Failed { message } => message,
            other => format!("loading did not finish ({other:?})"),
        };
        let Some(old) = old else {
            return self.set(SwitchStatus::Failed { message: format!("The models could not be loaded: {failure}.") });
        };
        warn!("the new models failed to load ({failure}); loading the previous ones again");
        self.step(format!("loading {old_names} again"));
        self.restore_model_settings(&old);
        self.engine.load(old, mode);
        match self.engine.wait_until_loaded(LOAD_WAIT) {
            EngineStatus::Ready { llm, .. } => {
                self.refused(format!("Back on {llm}: the new models could not be loaded ({failure})."))
            }
            EngineStatus::Failed { message } => self.set(SwitchStatus::Failed {
                message: format!(
                    "The new models could not be loaded ({failure}), nor the previous ones again ({message})."
                ),
            }),
            other => self.set(SwitchStatus::Failed { message: format!("loading did not finish ({other:?})") }),
        }
    }

    fn refused(&self, message: String) {
        self.set(SwitchStatus::Refused { message });
    }

    /// Puts the running set's model choices back into the saved settings, so that they, the
    /// Settings tab and the next Load name the models that run.
    fn restore_model_settings(&self, running: &Config) {
        let current = self.config.get();
        let mut s = settings::of(&current);
        let old = settings::of(running);
        (s.llm_model, s.tts_voice, s.tts_engine) = (old.llm_model, old.tts_voice, old.tts_engine);
        if let Err(e) = self.settings.apply(s) {
            warn!("cannot put the previous model choices back into the settings: {e}");
        }
    }
}

/// Where the new set fits in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// Beside the running set: it is loaded before the old one is unloaded.
    Beside,
    /// Only once the running set is freed (or unknown: `memory.check = false`): the old set is
    /// unloaded first, and loaded again if the new one fails.
    AfterUnload,
}

/// Checks, without loading anything, that `new`'s models can be loaded in place of `old`'s:
/// each resolves and is installed, its file reads as that kind of model, and together they fit
/// in memory, beside `old`'s or once those are freed. The failure in words.
fn preflight(new: &Config, old: &Config) -> Result<Fit, String> {
    let parts = |config: &Config| -> Result<_, String> {
        let model =
            Catalog::builtin().resolve_llm(&config.llm.model, &config.models_dir()).map_err(|e| e.to_string())?;
        let stt = SttOptions::from_config(config).map_err(|e| e.to_string())?;
        // An explicit voice must be there (with "auto" a missing one falls back to espeak-ng).
        if config.tts.engine == TtsEngine::Piper
            || (config.tts.engine == TtsEngine::Auto && !config.tts.voice.is_empty())
        {
            crate::tts::resolve_voice(&config.tts.voice, &Catalog::builtin(), &config.models_dir())
                .map_err(|e| e.to_string())?;
        }
        session_parts(config, &model, &stt).map_err(|e| e.to_string())
    };
    let new_parts = parts(new)?;
    if !new.memory.check {
        return Ok(Fit::AfterUnload);
    }
    let gpu = detect_gpu();
    if check_session(&new_parts, &gpu, Budget::system(&new.memory), &new.memory).is_ok() {
        return Ok(Fit::Beside);
    }
    // What the running set holds comes back when it is unloaded.
    let freed = parts(old).map_or(0, |p| {
        let need = |n: &MemoryNeed| n.total();
        [p.stt.as_ref().map(|s| need(&s.need)), p.voice.as_ref().map(|v| need(&v.need)), Some(need(&p.llm.need))]
            .into_iter()
            .flatten()
            .fold(0u64, u64::saturating_add)
    });
    let mut budget = Budget::system(&new.memory);
    budget.available = budget.available.saturating_add(freed);
    let gpu = match gpu {
        Gpu::Discrete { free, total } => Gpu::Discrete { free: free.saturating_add(freed).min(total), total },
        other => other,
    };
    check_session(&new_parts, &gpu, budget, &new.memory).map_err(|e| e.to_string())?;
    Ok(Fit::AfterUnload)
}
