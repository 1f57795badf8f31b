//! The settings tab: the part of the configuration a user changes from the panel, with the
//! choices for it (catalog models and their install state, audio devices), saved back to the
//! config file.

use std::path::PathBuf;

use super::config_edit::{self, EditError};
use super::protocol::{CloudStatus, ModelView, Reply, Settings, SettingsView};
use super::shared_config::SharedConfig;
use crate::atomic_file;
use crate::audio::devices::{DeviceKind, list_devices};
use crate::config::{Config, ConfigError};
use crate::models::{Catalog, ModelKind, ModelSet};
use crate::paths::{self, ConfigLocation};

/// New settings that could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no config file to save to (no home directory)")]
    NoConfigFile,
    /// They would not load at the next start.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    #[error("cannot read {} to save the settings into it: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot save the settings into {}: {source}", path.display())]
    Edit { path: PathBuf, source: EditError },
    #[error("cannot save {}: {source}", path.display())]
    Save { path: PathBuf, source: std::io::Error },
}

/// The editable settings of `config`.
pub fn of(config: &Config) -> Settings {
    Settings {
        llm_model: config.llm.model.clone(),
        max_tokens: config.llm.max_tokens,
        mode: config.router.mode,
        natural_s: config.voice.natural_s,
        acceptable_s: config.voice.acceptable_s,
        unusable_s: config.voice.unusable_s,
        cloud_provider: config.cloud.provider,
        cloud_base_url: config.cloud.base_url.clone(),
        cloud_model: config.cloud.model.clone(),
        tts_engine: config.tts.engine,
        tts_voice: config.tts.voice.clone(),
        input_device: config.audio.input_device.clone(),
        output_device: config.audio.output_device.clone(),
        global_shortcut: config.ui.global_shortcut.clone(),
    }
}

/// `config` with `s` applied.
pub fn merged(config: &Config, s: &Settings) -> Config {
    let mut c = config.clone();
    c.llm.model = s.llm_model.trim().to_owned();
    c.llm.max_tokens = s.max_tokens;
    c.router.mode = s.mode;
    c.voice.natural_s = s.natural_s;
    c.voice.acceptable_s = s.acceptable_s;
    c.voice.unusable_s = s.unusable_s;
    c.cloud.provider = s.cloud_provider;
    c.cloud.base_url = s.cloud_base_url.trim().to_owned();
    c.cloud.model = s.cloud_model.trim().to_owned();
    c.tts.engine = s.tts_engine;
    c.tts.voice = s.tts_voice.trim().to_owned();
    c.audio.input_device = s.input_device.clone();
    c.audio.output_device = s.output_device.clone();
    c.ui.global_shortcut = s.global_shortcut.trim().to_owned();
    c
}

/// The settings tab's side of the configuration: shows it with its choices, and saves and
/// adopts changes.
pub(super) struct SettingsStore {
    config: SharedConfig,
    /// The controller's config file; `None`: the default one.
    path: Option<PathBuf>,
}

impl SettingsStore {
    pub(super) fn new(config: SharedConfig, path: Option<PathBuf>) -> SettingsStore {
        SettingsStore { config, path }
    }

    /// Where settings are saved: the controller's config file, else the default one.
    fn save_path(&self) -> Option<PathBuf> {
        self.path.clone().or_else(|| match paths::config_file(None) {
            ConfigLocation::Explicit(p) | ConfigLocation::Default(p) => Some(p),
            ConfigLocation::None => None,
        })
    }

    /// The tab's content; `cloud` is what the mode toggle knows of the cloud.
    pub(super) fn view(&self, cloud: CloudStatus) -> SettingsView {
        let config = self.config.get();
        let models_dir = config.models_dir();
        let models = Catalog::builtin()
            .entries
            .iter()
            .filter(|e| e.kind != ModelKind::Runtime)
            .map(|e| ModelView {
                id: e.id.clone(),
                name: e.name.clone(),
                kind: e.kind.to_string(),
                size_bytes: e.total_size(),
                installed: e.is_installed(&models_dir),
                test_set: e.set == ModelSet::Test,
            })
            .collect();
        let mut device_error = None;
        let mut names = |kind| match list_devices(kind) {
            Ok(list) => list.into_iter().map(|d| d.name).collect(),
            Err(e) => {
                device_error = Some(e.to_string());
                Vec::new()
            }
        };
        let input_devices = names(DeviceKind::Input);
        let output_devices = names(DeviceKind::Output);
        SettingsView {
            settings: of(&config),
            config_path: self.save_path().map(|p| p.display().to_string()),
            models,
            input_devices,
            output_devices,
            device_error,
            cloud,
        }
    }

    /// Validates, saves and adopts new settings. Only the settings that changed are written, into
    /// the config file as the user keeps it (comments, order, a symbolic link), see
    /// [`config_edit`]. The loaded models keep running as they are: `reload` says whether the
    /// change needs them reloaded.
    pub(super) fn apply(&self, settings: Settings) -> Result<Reply, SettingsError> {
        let old = self.config.get();
        let new = merged(&old, &settings);
        let path = self.save_path().ok_or(SettingsError::NoConfigFile)?;
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(SettingsError::Read { path, source }),
        };
        let text = config_edit::apply_changes(&current, &old, &new)
            .map_err(|source| SettingsError::Edit { path: path.clone(), source })?;
        // The same validation as at start, so what is saved always loads.
        Config::from_toml(&text, &path)?;
        if text != current {
            atomic_file::replace(&path, text.as_bytes())
                .map_err(|source| SettingsError::Save { path: path.clone(), source })?;
        }
        let reload = needs_reload(&old, &new);
        self.config.set(new);
        Ok(Reply::Saved { path: Some(path.display().to_string()), reload })
    }
}

/// Whether the running engines were built from settings that changed.
fn needs_reload(old: &Config, new: &Config) -> bool {
    old.llm != new.llm
        || old.tts != new.tts
        || old.audio != new.audio
        || old.cloud != new.cloud
        || old.voice != new.voice
}
