//! The settings tab: the part of the configuration a user changes from the panel, with the
//! choices for it (catalog models and their install state, audio devices), saved back to the
//! config file.

use std::path::PathBuf;

use super::config_edit::{self, EditError};
use super::protocol::{CloudStatus, FieldProblem, ModelView, Reply, Settings, SettingsView};
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

/// Each [`Settings`] field with the `config.toml` key it sets, as [`merged`] applies them.
const FIELDS: &[(&str, &str)] = &[
    ("llm_model", "llm.model"),
    ("max_tokens", "llm.max_tokens"),
    ("mode", "router.mode"),
    ("natural_s", "voice.natural_s"),
    ("acceptable_s", "voice.acceptable_s"),
    ("unusable_s", "voice.unusable_s"),
    ("cloud_provider", "cloud.provider"),
    ("cloud_base_url", "cloud.base_url"),
    ("cloud_model", "cloud.model"),
    ("tts_engine", "tts.engine"),
    ("tts_voice", "tts.voice"),
    ("input_device", "audio.input_device"),
    ("output_device", "audio.output_device"),
    ("global_shortcut", "ui.global_shortcut"),
];

/// What the config loader would refuse in `config` with `s` applied, each problem beside its
/// field: the loader's own rules ([`Config::problems`]), not a copy of them.
pub fn problems(config: &Config, s: &Settings) -> Vec<FieldProblem> {
    merged(config, s)
        .problems()
        .into_iter()
        .map(|p| FieldProblem {
            field: FIELDS.iter().find(|(_, key)| *key == p.field).map_or("", |(field, _)| field).to_owned(),
            key: p.field.to_owned(),
            message: p.message,
        })
        .collect()
}

/// The catalog models `s` chooses (LLM, voice) that are not installed, by id.
pub fn missing_models(config: &Config, s: &Settings) -> Vec<String> {
    let models_dir = config.models_dir();
    let catalog = Catalog::builtin();
    [s.llm_model.trim(), s.tts_voice.trim()]
        .into_iter()
        .filter_map(|id| catalog.get(id).ok())
        .filter(|entry| !entry.is_installed(&models_dir))
        .map(|entry| entry.id.clone())
        .collect()
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
#[derive(Clone)]
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

    /// `settings`' problems against the configuration in use.
    pub(super) fn problems(&self, settings: &Settings) -> Vec<FieldProblem> {
        problems(&self.config.get(), settings)
    }

    /// The models `settings` chooses that are not installed.
    pub(super) fn missing_models(&self, settings: &Settings) -> Vec<String> {
        missing_models(&self.config.get(), settings)
    }

    /// Validates, saves and adopts new settings; refused ones come back as
    /// [`Reply::Invalid`], each beside its field, and nothing is saved. Only the settings that changed are written, into
    /// the config file as the user keeps it (comments, order, a symbolic link), see
    /// [`config_edit`]. The loaded models keep running as they are: `reload` says whether the
    /// change needs them reloaded.
    pub(super) fn apply(&self, settings: Settings) -> Result<Reply, SettingsError> {
        let old = self.config.get();
        let fields = problems(&old, &settings);
        if !fields.is_empty() {
            return Ok(Reply::Invalid { fields });
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field(problems: &[FieldProblem], field: &str) -> String {
        let found = problems.iter().find(|p| p.field == field);
        found.unwrap_or_else(|| panic!("no problem for {field}: {problems:?}")).message.clone()
    }

    #[test]
    fn each_field_is_checked_by_the_loaders_rule_and_named() {
        let config = Config::default();
        let good = of(&config);
        assert_eq!(problems(&config, &good), []);
        let mut s = good.clone();
        s.max_tokens = 1_000_000;
        s.cloud_base_url = "not a url".into();
        s.global_shortcut = "Banana+Q".into();
        s.natural_s = 3.0;
        s.acceptable_s = 2.0;
        let found = problems(&config, &s);
        assert_eq!(field(&found, "max_tokens"), "must be between 1 and 65536, got 1000000");
        assert!(field(&found, "cloud_base_url").starts_with("must be a URL such as https://"), "{found:?}");
        assert!(field(&found, "global_shortcut").starts_with("does not know the key \"Banana\""), "{found:?}");
        // The reversed budget names the field, and no file path appears anywhere.
        assert_eq!(field(&found, "acceptable_s"), "must be at least voice.natural_s (3), got 2");
        assert!(found.iter().all(|p| !p.message.contains(".toml")), "{found:?}");
        assert_eq!(found.iter().find(|p| p.field == "acceptable_s").map(|p| p.key.as_str()), Some("voice.acceptable_s"));

        let mut s = good.clone();
        s.unusable_s = 2.5;
        assert_eq!(field(&problems(&config, &s), "unusable_s"), "must be at least voice.acceptable_s (3), got 2.5");
        let mut s = good.clone();
        s.natural_s = 0.0;
        assert_eq!(field(&problems(&config, &s), "natural_s"), "must be between 0.1 and 60, got 0");
        let mut s = good.clone();
        s.cloud_provider = crate::config::CloudProvider::Custom;
        s.cloud_base_url = "http://127.0.0.1:8080/v1".into();
        assert_eq!(field(&problems(&config, &s), "cloud_model"), "must be set when provider = \"custom\"");
        let mut s = good;
        s.cloud_base_url = "file:///etc/passwd".into();
        assert!(field(&problems(&config, &s), "cloud_base_url").starts_with("must be an http:// or https:// URL"));
    }

    /// A store saving into `text` written to a temp file; the file is returned with it.
    fn store(text: &str) -> (SettingsStore, tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::from_toml(text, &path).unwrap();
        (SettingsStore::new(SharedConfig::new(config), Some(path.clone())), dir, path)
    }

    #[test]
    fn saving_edits_the_file_in_place_with_floats_as_typed() {
        let text = "# my voxdeck\n[llm]\nmodel = \"x\"   # the small one\ntemperature = 0.7\nmax_tokens = 64  # short\n\n\
                    # seconds\n[voice]\nnatural_s = 2.0\n";
        let (store, _dir, path) = store(text);
        let mut s = of(&store.config.get());
        s.max_tokens = 100;
        s.natural_s = 1.7;
        s.acceptable_s = 2.3;
        let reply = store.apply(s).unwrap();
        assert!(matches!(reply, Reply::Saved { reload: true, .. }), "{reply:?}");
        let saved = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            saved,
            "# my voxdeck\n[llm]\nmodel = \"x\"   # the small one\ntemperature = 0.7\nmax_tokens = 100  # short\n\n\
             # seconds\n[voice]\nnatural_s = 1.7\nacceptable_s = 2.3\n"
        );
        assert!(!saved.contains("0.699999988079071"));
    }

    #[test]
    fn refused_settings_save_nothing_and_say_which_field() {
        let text = "[llm]\nmax_tokens = 64\n";
        let (store, _dir, path) = store(text);
        let mut s = of(&store.config.get());
        s.max_tokens = 1_000_000;
        s.global_shortcut = "Banana+Q".into();
        let Reply::Invalid { fields } = store.apply(s).unwrap() else { panic!("saved") };
        let named: Vec<&str> = fields.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(named, ["max_tokens", "global_shortcut"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(store.config.get().llm.max_tokens, 64);
    }

    #[test]
    fn missing_models_are_the_chosen_catalog_ids_not_installed() {
        // An empty models directory (unless VOXDECK_MODELS names the test set, which has
        // neither of these full-size models either).
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.models_dir = Some(dir.path().to_owned());
        let mut s = of(&config);
        s.llm_model = "llama-3.2-3b-instruct-q4_k_m".into();
        s.tts_voice = "piper-en_us-lessac-medium".into();
        assert_eq!(missing_models(&config, &s), ["llama-3.2-3b-instruct-q4_k_m", "piper-en_us-lessac-medium"]);
        // Paths and "best installed" are never downloads.
        s.llm_model = String::new();
        s.tts_voice = "/some/voice.onnx".into();
        assert_eq!(missing_models(&config, &s), Vec::<String>::new());
    }
}
