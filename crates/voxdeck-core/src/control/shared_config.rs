//! The controller's configuration, one copy shared by the components that read it (the mode
//! toggle, the bench and download jobs) and the settings tab that replaces it.

use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::sync::lock;

#[derive(Clone)]
pub(super) struct SharedConfig(Arc<Mutex<Config>>);

impl SharedConfig {
    pub(super) fn new(config: Config) -> SharedConfig {
        SharedConfig(Arc::new(Mutex::new(config)))
    }

    /// A snapshot: what a job started now runs with.
    pub(super) fn get(&self) -> Config {
        lock(&self.0).clone()
    }

    pub(super) fn set(&self, config: Config) {
        *lock(&self.0) = config;
    }
}
