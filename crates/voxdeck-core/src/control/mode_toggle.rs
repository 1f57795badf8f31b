//! The mode toggle: the answering mode (local, cloud, auto) and, beside it, what is known of
//! the cloud. Every change is published as one [`PanelEvent::Mode`].

use std::sync::Mutex;

use super::cloud_status::{CloudKeyError, CloudProbe};
use super::protocol::{CloudStatus, PanelEvent};
use super::publisher::Publisher;
use super::shared_config::SharedConfig;
use crate::config::Mode;
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

    /// Tells front ends the mode and what is known of the cloud.
    pub(super) fn publish(&self) {
        let cloud = self.cloud_status();
        self.publisher.panel(PanelEvent::Mode { mode: self.mode(), cloud });
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

    pub(super) fn store_key(&self, key: &str) -> Result<(), CloudKeyError> {
        self.cloud.store_key(&self.config.get(), key)?;
        self.publish();
        Ok(())
    }

    pub(super) fn forget_key(&self) -> Result<(), CloudKeyError> {
        self.cloud.forget_key(&self.config.get())?;
        self.publish();
        Ok(())
    }
}
