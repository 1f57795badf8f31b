//! The mode toggle: the answering mode (local, cloud, auto) and, beside it, what is known of
//! the cloud. Every change is published as one [`PanelEvent::Mode`].

use std::sync::Mutex;

use super::cloud_status::{CloudKeyError, CloudProbe};
use super::protocol::{CloudStatus, PanelEvent};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::config::{Config, Mode};
use crate::llm::cloud::KeyStore;
use crate::models::{Catalog, short_name};
use crate::sync::lock;
use crate::turn_record::TurnRecord;

pub(super) struct ModeToggle {
    mode: Mutex<Mode>,
    cloud: CloudProbe,
    config: SharedConfig,
    publisher: Publisher,
}

impl ModeToggle {
    pub(super) fn new(mode: Mode, config: SharedConfig, publisher: Publisher) -> ModeToggle {
        ModeToggle { mode: Mutex::new(mode), cloud: CloudProbe::new(), config, publisher }
    }

    pub(super) fn mode(&self) -> Mode {
        *lock(&self.mode)
    }

    /// Changes the mode; [`ModeToggle::publish`] tells front ends.
    pub(super) fn set(&self, mode: Mode) {
        *lock(&self.mode) = mode;
    }

    pub(super) fn cloud_status(&self) -> CloudStatus {
        self.cloud.status(&self.config.get())
    }

    /// The configured local model's short name ("SmolLM2 135M"); empty when none is installed.
    pub(super) fn local_model(&self) -> String {
        local_model_name(&self.config.get())
    }

    /// Tells front ends the mode, the local model and what is known of the cloud.
    pub(super) fn publish(&self) {
        let cloud = self.cloud_status();
        self.publisher.panel(PanelEvent::Mode { mode: self.mode(), cloud, local_model: self.local_model() });
    }

    /// Learns from a finished turn; whether the cloud's status changed (then publish).
    pub(super) fn observe(&self, record: &TurnRecord) -> bool {
        self.cloud.observe(record)
    }

    /// Asks the cloud API now (blocks for up to its timeouts) and publishes the answer.
    pub(super) fn check_cloud(&self) -> CloudStatus {
        let cloud = self.cloud.check(&self.config.get());
        self.publish();
        cloud
    }

    pub(super) fn store_key(&self, key: &str) -> Result<KeyStore, CloudKeyError> {
        let stored = self.cloud.store_key(&self.config.get(), key)?;
        self.publish();
        Ok(stored)
    }

    pub(super) fn forget_key(&self) -> Result<(), CloudKeyError> {
        self.cloud.forget_key(&self.config.get())?;
        self.publish();
        Ok(())
    }
}

/// The short name of the local model `config` names ("SmolLM2 135M"), resolved as the loader
/// resolves it; empty when none is installed.
pub(super) fn local_model_name(config: &Config) -> String {
    match Catalog::builtin().resolve_llm(&config.llm.model, &config.models_dir()) {
        Ok(model) => short_name(&model.path.to_string_lossy()),
        Err(_) if !config.llm.model.is_empty() => short_name(&config.llm.model),
        Err(_) => String::new(),
    }
}
