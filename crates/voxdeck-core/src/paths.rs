//! Where voxdeck keeps its files (XDG base directories, with voxdeck's own overrides).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "VOXDECK_CONFIG";
/// Environment variable naming the models directory.
pub const MODELS_ENV: &str = "VOXDECK_MODELS";

/// Which config file applies, and whether the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigLocation {
    /// From `--config` or `VOXDECK_CONFIG`: it must exist.
    Explicit(PathBuf),
    /// The XDG default: may be absent.
    Default(PathBuf),
    /// No home directory to look in.
    None,
}

/// The config file: `explicit`, else `VOXDECK_CONFIG`, else `$XDG_CONFIG_HOME/voxdeck/config.toml`.
pub fn config_file(explicit: Option<&Path>) -> ConfigLocation {
    config_file_with(explicit, &|k| std::env::var_os(k))
}

/// The models directory: `VOXDECK_MODELS`, else the config's `models_dir`, else
/// `$XDG_DATA_HOME/voxdeck/models`.
pub fn models_dir(configured: Option<&Path>) -> PathBuf {
    models_dir_with(configured, &|k| std::env::var_os(k))
}

/// voxdeck's config directory (`$XDG_CONFIG_HOME/voxdeck`), for files kept beside the default
/// config (the cloud key file); `None` without a home directory.
pub fn config_dir() -> Option<PathBuf> {
    xdg_dir(&|k| std::env::var_os(k), "XDG_CONFIG_HOME", ".config").map(|dir| dir.join("voxdeck"))
}

/// voxdeck's data directory (`$XDG_DATA_HOME/voxdeck`), for history and downloads.
pub fn data_dir() -> PathBuf {
    data_dir_with(&|k| std::env::var_os(k))
}

type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

fn non_empty(env: Env<'_>, key: &str) -> Option<PathBuf> {
    env(key).filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn xdg_dir(env: Env<'_>, var: &str, fallback: &str) -> Option<PathBuf> {
    non_empty(env, var).or_else(|| non_empty(env, "HOME").map(|home| home.join(fallback)))
}

fn config_file_with(explicit: Option<&Path>, env: Env<'_>) -> ConfigLocation {
    if let Some(path) = explicit {
        return ConfigLocation::Explicit(path.to_owned());
    }
    if let Some(path) = non_empty(env, CONFIG_ENV) {
        return ConfigLocation::Explicit(path);
    }
    match xdg_dir(env, "XDG_CONFIG_HOME", ".config") {
        Some(dir) => ConfigLocation::Default(dir.join("voxdeck").join("config.toml")),
        None => ConfigLocation::None,
    }
}

fn data_dir_with(env: Env<'_>) -> PathBuf {
    xdg_dir(env, "XDG_DATA_HOME", ".local/share")
        .unwrap_or_else(|| PathBuf::from("."))
        .join("voxdeck")
}

fn models_dir_with(configured: Option<&Path>, env: Env<'_>) -> PathBuf {
    non_empty(env, MODELS_ENV)
        .or_else(|| configured.map(Path::to_owned))
        .unwrap_or_else(|| data_dir_with(env).join("models"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn config_precedence() {
        let env = env_of(&[("HOME", "/h"), ("VOXDECK_CONFIG", "/env.toml")]);
        assert_eq!(
            config_file_with(Some(Path::new("/cli.toml")), &env),
            ConfigLocation::Explicit("/cli.toml".into())
        );
        assert_eq!(config_file_with(None, &env), ConfigLocation::Explicit("/env.toml".into()));
        let env = env_of(&[("HOME", "/h")]);
        assert_eq!(
            config_file_with(None, &env),
            ConfigLocation::Default("/h/.config/voxdeck/config.toml".into())
        );
        let env = env_of(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(
            config_file_with(None, &env),
            ConfigLocation::Default("/x/voxdeck/config.toml".into())
        );
    }

    #[test]
    fn models_dir_precedence() {
        let env = env_of(&[("HOME", "/h")]);
        assert_eq!(models_dir_with(None, &env), PathBuf::from("/h/.local/share/voxdeck/models"));
        assert_eq!(models_dir_with(Some(Path::new("/cfg")), &env), PathBuf::from("/cfg"));
        let env = env_of(&[("HOME", "/h"), ("XDG_DATA_HOME", "/d"), ("VOXDECK_MODELS", "/m")]);
        assert_eq!(models_dir_with(Some(Path::new("/cfg")), &env), PathBuf::from("/m"));
        let env = env_of(&[("HOME", "/h"), ("XDG_DATA_HOME", "/d")]);
        assert_eq!(models_dir_with(None, &env), PathBuf::from("/d/voxdeck/models"));
    }
}
