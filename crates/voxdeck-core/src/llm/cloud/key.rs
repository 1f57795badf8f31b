//! The cloud API key: from the OS keyring (Secret Service on Linux), a key file readable only by
//! the user, or an environment variable, looked up in that order ([`resolve`]). It is never
//! written to the config file, never logged, never sent to a front end (they see where it is
//! kept, not what it is), and redacted from error messages.
//!
//! A headless machine (a Jetson over SSH) has no Secret Service: a cheap probe, run once
//! ([`keyring_available`]), says so up front, and a key stored there goes to the key file
//! (`$XDG_CONFIG_HOME/voxdeck/cloud-keys`, mode 0600, written atomically with that mode).
//!
//! A key is only ever sent to the host it was configured for, so a base URL changed later (by
//! a panel client through `set_settings`) cannot collect it: a keyring or file key is stored per
//! host and looked up by the host it is about to go to; an environment key belongs to the preset
//! provider's own host, or for `custom` to the base URL the process started with
//! ([`pin_env_key`]). Anywhere else needs its own key, stored with `voxdeck cloud set-key` by
//! the person at the machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use super::CloudError;
use super::url_policy::api_host;
use crate::config::{CloudConfig, CloudProvider};

/// A secret. Printing it, in any format, prints `ApiKey(set)`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_owned() } else { text.replace(&self.0, "***") }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(set)")
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(set)")
    }
}

/// Where a key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Keyring,
    File(PathBuf),
    Env(String),
}

impl KeySource {
    pub fn store(&self) -> KeyStore {
        match self {
            KeySource::Keyring => KeyStore::Keyring,
            KeySource::File(_) => KeyStore::File,
            KeySource::Env(_) => KeyStore::Env,
        }
    }
}

/// Where the key in use is kept, as a front end may know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum KeyStore {
    /// The OS keyring (Secret Service).
    Keyring,
    /// The key file in the config directory (mode 0600).
    File,
    /// The environment variable `cloud.api_key_env`.
    Env,
    /// No key.
    None,
}

/// Why a turn meant for the cloud was answered locally when there is no key: short, for the
/// turn's badge and the router's reason (the details are in the mode card and the log).
pub const NO_KEY_REASON: &str = "no API key";

/// An environment key that was not sent: the base URL is not the host it is for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {var} key is for {home}; not sent to {target}: store a key for that host with `voxdeck cloud set-key`")]
pub struct KeyWithheld {
    /// The environment variable.
    pub var: String,
    /// The host it belongs to.
    pub home: String,
    /// The host it would have gone to.
    pub target: String,
}

/// The host a stored key belongs to: the base URL's host (the whole text if it has none).
fn key_host(cloud: &CloudConfig) -> String {
    Url::parse(cloud.base_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| cloud.base_url().to_owned())
}

/// The keyring entry for a provider: service "voxdeck", user = the API's host.
fn entry(cloud: &CloudConfig) -> Result<keyring::Entry, keyring::Error> {
    keyring::Entry::new("voxdeck", &key_host(cloud))
}

/// Whether this machine has an OS keyring voxdeck can use. Probed once per process (a lookup
/// of an entry that is never stored: "not found" means the keyring answered), so a headless
/// machine is known before anyone pastes a key.
pub fn keyring_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let started = std::time::Instant::now();
        let answer = keyring::Entry::new("voxdeck", "voxdeck-keyring-probe").and_then(|e| e.get_password());
        let available = probe_answer(&answer);
        tracing::info!(available, ms = started.elapsed().as_millis() as u64, "OS keyring probe");
        if let Err(e) = &answer {
            tracing::debug!("OS keyring probe: {e}");
        }
        available
    })
}

/// A keyring that answers "no such entry" works; one that cannot be reached does not.
fn probe_answer(answer: &Result<String, keyring::Error>) -> bool {
    matches!(answer, Ok(_) | Err(keyring::Error::NoEntry))
}

/// The key file: `$XDG_CONFIG_HOME/voxdeck/cloud-keys` (`None` without a home directory).
pub fn key_file_path() -> Option<PathBuf> {
    crate::paths::config_dir().map(|dir| dir.join(KEY_FILE_NAME))
}

const KEY_FILE_NAME: &str = "cloud-keys";
const KEY_FILE_HEADER: &str = "# voxdeck cloud API keys, one per API host (`voxdeck cloud set-key` or the panel writes\n\
     # this file where there is no OS keyring). Readable only by you: keep it mode 0600.\n";

/// The key file: a TOML table of API host to key, mode 0600.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    pub fn new(path: impl Into<PathBuf>) -> KeyFile {
        KeyFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every host's key; empty when the file is missing. A file others can read is used, with a
    /// warning: refusing it would leave the user without a cloud and no clue why.
    fn read(&self) -> Result<BTreeMap<String, String>, CloudError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.error("cannot read", &e.to_string())),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(&self.path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!("{} can be read by other users: run `chmod 600` on it", self.path.display());
            }
        }
        toml::from_str(&text).map_err(|e| self.error("cannot parse", &e.message().to_owned()))
    }

    /// The key stored for `host`.
    pub fn get(&self, host: &str) -> Option<String> {
        match self.read() {
            Ok(mut keys) => keys.remove(host),
            Err(e) => {
                tracing::warn!("{e}");
                None
            }
        }
    }

    /// Stores `key` for `host`, replacing the file atomically; it is created with mode 0600.
    pub fn set(&self, host: &str, key: &str) -> Result<(), CloudError> {
        let mut keys = self.read()?;
        keys.insert(host.to_owned(), key.to_owned());
        self.write(&keys).map_err(|e| CloudError::Keyring(ApiKey::new(key).redact(&e.to_string())))
    }

    /// Removes `host`'s key; the file goes when it holds no other. Whether there was one.
    pub fn remove(&self, host: &str) -> Result<bool, CloudError> {
        let mut keys = self.read()?;
        if keys.remove(host).is_none() {
            return Ok(false);
        }
        if keys.is_empty() {
            std::fs::remove_file(&self.path).map_err(|e| self.error("cannot remove", &e.to_string()))?;
        } else {
            self.write(&keys)?;
        }
        Ok(true)
    }

    fn write(&self, keys: &BTreeMap<String, String>) -> Result<(), CloudError> {
        let body = toml::to_string(keys).map_err(|e| self.error("cannot write", &e.to_string()))?;
        crate::atomic_file::replace_private(&self.path, format!("{KEY_FILE_HEADER}{body}").as_bytes())
            .map(|_| ())
            .map_err(|e| self.error("cannot write", &e.to_string()))
    }

    fn error(&self, what: &str, detail: &str) -> CloudError {
        CloudError::Keyring(format!("{what} the key file {}: {detail}", self.path.display()))
    }
}

/// Fixes where the environment key of a `custom` provider may go: `cloud.key_url` when the
/// file sets it, else the base URL configured now (config file and command line), whatever a
/// panel changes it to later; the settings store writes it to the file when the panel moves
/// the base URL, so a restart keeps it. Front ends that take settings from clients
/// (`voxdeck serve`, the desktop app) call this once, at start.
pub fn pin_env_key(cloud: &mut CloudConfig) {
    if cloud.key_url.is_empty() {
        cloud.key_url = cloud.base_url().to_owned();
    }
}

/// The base URL whose host an environment key belongs to: a preset provider's own, or for
/// `custom` `cloud.key_url` (pinned, or set in the file), else the configured base URL.
fn env_key_home(cloud: &CloudConfig) -> &str {
    match cloud.provider {
        CloudProvider::Custom if !cloud.key_url.is_empty() => &cloud.key_url,
        CloudProvider::Custom => cloud.base_url(),
        preset => preset.defaults().0,
    }
}

/// Host and port as the key rule compares them: the port the scheme implies counts, so
/// `https://h/` and `https://h:443/` are the same place and `http://h:8080/` another.
fn place(url: &str) -> Option<(String, Option<u16>)> {
    let url = Url::parse(url.trim()).ok()?;
    Some((url.host_str()?.to_ascii_lowercase(), url.port_or_known_default()))
}

impl KeyWithheld {
    /// The refusal in a few words, for a turn's badge.
    pub fn short(&self) -> String {
        format!("key not sent to {}", self.target)
    }
}

/// The key rule for an environment key: `Ok` when the base URL is the host it belongs to.
fn check_env_key(cloud: &CloudConfig, var: &str) -> Result<(), KeyWithheld> {
    let home = env_key_home(cloud);
    let target = cloud.base_url();
    match (place(home), place(target)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        _ => Err(KeyWithheld { var: var.to_owned(), home: api_host(home), target: api_host(target) }),
    }
}

/// The key for the configured base URL: the OS keyring first (when `use_keyring` and this
/// machine has one), then the key file, then `$api_key_env` where that key belongs to the base
/// URL's host (else [`KeyWithheld`], which callers treat as no key).
pub fn resolve_api_key(cloud: &CloudConfig) -> Result<Option<(ApiKey, KeySource)>, KeyWithheld> {
    let from_keyring = || match entry(cloud).and_then(|e| e.get_password()) {
        Ok(key) => Some(key),
        Err(keyring::Error::NoEntry) => None,
        Err(e) => {
            tracing::debug!("OS keyring not available: {e}");
            None
        }
    };
    let file = key_file_path().map(KeyFile::new);
    let from_file = || file.as_ref().and_then(|f| f.get(&key_host(cloud)).map(|key| (key, f.path().to_owned())));
    let keyring = (cloud.use_keyring && keyring_available()).then_some(from_keyring);
    resolve(cloud, keyring, from_file, |var| std::env::var(var).ok())
}

/// The lookup order, with the sources passed in so tests need not touch the keyring, the home
/// directory or the process environment: the keyring (`None`: not consulted), the key file
/// (its key and path), the environment.
fn resolve(
    cloud: &CloudConfig,
    keyring: Option<impl FnOnce() -> Option<String>>,
    file: impl FnOnce() -> Option<(String, PathBuf)>,
    env: impl FnOnce(&str) -> Option<String>,
) -> Result<Option<(ApiKey, KeySource)>, KeyWithheld> {
    let usable = |key: String| {
        let key = key.trim();
        (!key.is_empty()).then(|| ApiKey::new(key))
    };
    if let Some(key) = keyring.and_then(|k| k()).and_then(usable) {
        return Ok(Some((key, KeySource::Keyring)));
    }
    if let Some((key, path)) = file().and_then(|(key, path)| Some((usable(key)?, path))) {
        return Ok(Some((key, KeySource::File(path))));
    }
    let var = cloud.api_key_env();
    let Some(key) = env(var).and_then(usable) else { return Ok(None) };
    check_env_key(cloud, var)?;
    Ok(Some((key, KeySource::Env(var.to_owned()))))
}

/// "set" or "not set": all a front end may know about the key. A withheld key is "not set":
/// it will not be sent.
pub fn key_status(cloud: &CloudConfig) -> &'static str {
    if matches!(resolve_api_key(cloud), Ok(Some(_))) { "set" } else { "not set" }
}

/// Stores `key` for the configured provider's host: in the OS keyring where there is one (and
/// `use_keyring`), else, or when the keyring fails, in the key file. Returns where it went.
pub fn store_api_key(cloud: &CloudConfig, key: &str) -> Result<KeyStore, CloudError> {
    let file = key_file_path().map(KeyFile::new);
    let keyring = (cloud.use_keyring && keyring_available()).then(|| entry(cloud));
    store(cloud, key, keyring, file.as_ref())
}

/// [`store_api_key`] with the keyring entry (`None`: no keyring) and the key file passed in.
fn store(
    cloud: &CloudConfig,
    key: &str,
    keyring: Option<Result<keyring::Entry, keyring::Error>>,
    file: Option<&KeyFile>,
) -> Result<KeyStore, CloudError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(CloudError::Keyring("the key is empty".into()));
    }
    let redact = |e: keyring::Error| format!("OS keyring: {}", ApiKey::new(key).redact(&e.to_string()));
    let keyring_failed = match keyring.map(|entry| entry.and_then(|e| e.set_password(key))) {
        Some(Ok(())) => return Ok(KeyStore::Keyring),
        Some(Err(e)) => Some(redact(e)),
        None => None,
    };
    if let Some(why) = &keyring_failed {
        tracing::warn!("OS keyring: {why}; keeping the key in the key file instead");
    }
    let Some(file) = file else {
        let why = keyring_failed.unwrap_or_else(|| "there is no OS keyring".into());
        return Err(CloudError::Keyring(format!("{why}, and no home directory for a key file")));
    };
    file.set(&key_host(cloud), key)?;
    Ok(KeyStore::File)
}

/// Removes the provider's key from the OS keyring and the key file (absent is fine). An
/// environment key stays: only the environment can take it away.
pub fn delete_api_key(cloud: &CloudConfig) -> Result<(), CloudError> {
    if keyring_available() {
        match entry(cloud).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(CloudError::Keyring(format!("OS keyring: {e}"))),
        }
    }
    if let Some(file) = key_file_path().map(KeyFile::new) {
        file.remove(&key_host(cloud))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let k = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{k:?} {k} {k:#?}"), "ApiKey(set) ApiKey(set) ApiKey(set)");
        assert_eq!(format!("{:?}", Some(&k)), "Some(ApiKey(set))");
        assert_eq!(k.redact("bad key sk-secret-123 refused"), "bad key *** refused");
    }

    fn provider(use_keyring: bool) -> CloudConfig {
        CloudConfig {
            provider: crate::config::CloudProvider::Custom,
            base_url: "https://voxdeck-test.invalid/v1".into(),
            model: "m".into(),
            api_key_env: "VOXDECK_TEST_KEY".into(),
            use_keyring,
            ..CloudConfig::default()
        }
    }

    /// `resolve` as `resolve_api_key` calls it on a machine with a keyring holding `ring`, no
    /// key file.
    fn with_ring(
        cloud: &CloudConfig,
        ring: impl FnOnce() -> Option<String>,
        env: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Option<(ApiKey, KeySource)>, KeyWithheld> {
        resolve(cloud, cloud.use_keyring.then_some(ring), || None, env)
    }

    #[test]
    fn the_keyring_comes_first_then_the_file_then_the_environment() {
        let env = |var: &str| (var == "VOXDECK_TEST_KEY").then(|| " sk-env ".to_owned());
        let file = || Some(("sk-file".to_owned(), PathBuf::from("/c/voxdeck/cloud-keys")));
        let found = |r: Result<Option<(ApiKey, KeySource)>, KeyWithheld>| r.expect("not withheld").expect("a key");
        let ring = || Some("sk-ring".to_owned());
        let (key, source) = found(resolve(&provider(true), Some(ring), file, env));
        assert_eq!((key.expose(), source), ("sk-ring", KeySource::Keyring));
        // No keyring on this machine (or `use_keyring = false`): the file.
        let (key, source) = found(resolve(&provider(true), None::<fn() -> Option<String>>, file, env));
        assert_eq!((key.expose(), source), ("sk-file", KeySource::File("/c/voxdeck/cloud-keys".into())));
        // An empty keyring entry: the file.
        let (key, _) = found(resolve(&provider(true), Some(|| Some("  ".to_owned())), file, env));
        assert_eq!(key.expose(), "sk-file");
        // Neither keyring nor file: the environment.
        let (key, source) = found(with_ring(&provider(false), ring, env));
        assert_eq!((key.expose(), source), ("sk-env", KeySource::Env("VOXDECK_TEST_KEY".into())));
        let (key, _) = found(with_ring(&provider(true), || Some("  ".into()), env));
        assert_eq!(key.expose(), "sk-env");
        assert_eq!(with_ring(&provider(true), || None, |_| Some(String::new())), Ok(None));
        let blank_file = || Some((" ".to_owned(), PathBuf::from("/f")));
        assert_eq!(resolve(&provider(true), None::<fn() -> Option<String>>, blank_file, |_| None), Ok(None));
    }

    /// What `resolve` makes of an environment key `sk-env` (no keyring key) for `cloud`.
    fn env_key_for(cloud: &CloudConfig) -> Result<Option<String>, String> {
        with_ring(cloud, || None, |_| Some("sk-env".into()))
            .map(|found| found.map(|(key, _)| key.expose().to_owned()))
            .map_err(|withheld| withheld.to_string())
    }

    fn preset(provider: CloudProvider, base_url: &str) -> CloudConfig {
        CloudConfig { provider, base_url: base_url.into(), use_keyring: false, ..CloudConfig::default() }
    }

    #[test]
    fn a_preset_s_environment_key_goes_only_to_the_preset_s_host() {
        let sent = Ok(Some("sk-env".to_owned()));
        assert_eq!(env_key_for(&preset(CloudProvider::OpenRouter, "")), sent);
        assert_eq!(env_key_for(&preset(CloudProvider::Groq, "")), sent);
        // The same host and port however it is written.
        assert_eq!(env_key_for(&preset(CloudProvider::OpenRouter, "https://OpenRouter.ai:443/api/v1/")), sent);
        assert_eq!(
            env_key_for(&preset(CloudProvider::OpenRouter, "http://127.0.0.1:18999/v1")),
            Err("the OPENROUTER_API_KEY key is for openrouter.ai; not sent to 127.0.0.1:18999: \
                 store a key for that host with `voxdeck cloud set-key`"
                .into())
        );
        for elsewhere in [
            "https://openrouter.ai.evil.example/api/v1",
            "https://openrouter.ai:8443/api/v1",
            "https://api.groq.com/openai/v1",
            "not a url",
        ] {
            let e = env_key_for(&preset(CloudProvider::OpenRouter, elsewhere)).expect_err(elsewhere);
            assert!(e.starts_with("the OPENROUTER_API_KEY key is for openrouter.ai; not sent to "), "{e}");
        }
        let e = env_key_for(&preset(CloudProvider::Groq, "https://openrouter.ai/api/v1")).expect_err("groq");
        assert!(e.starts_with("the GROQ_API_KEY key is for api.groq.com; not sent to openrouter.ai:"), "{e}");
    }

    #[test]
    fn a_custom_environment_key_stays_with_the_base_url_the_process_started_with() {
        let mut started = preset(CloudProvider::Custom, "http://127.0.0.1:8080/v1");
        // Not pinned (a one-shot command): the configured URL is the one it was given for.
        assert_eq!(env_key_for(&started), Ok(Some("sk-env".into())));
        pin_env_key(&mut started);
        assert_eq!(env_key_for(&started), Ok(Some("sk-env".into())));
        // Another path on the same server is the same host.
        let moved = |url: &str| CloudConfig { base_url: url.into(), ..started.clone() };
        assert_eq!(env_key_for(&moved("http://127.0.0.1:8080/other/v1")), Ok(Some("sk-env".into())));
        assert_eq!(
            env_key_for(&moved("http://127.0.0.1:18999/v1")),
            Err("the VOXDECK_CLOUD_API_KEY key is for 127.0.0.1:8080; not sent to 127.0.0.1:18999: \
                 store a key for that host with `voxdeck cloud set-key`"
                .into())
        );
        // Started on a preset, switched to custom: the custom key belongs to the preset's host.
        let mut from_preset = preset(CloudProvider::OpenRouter, "");
        pin_env_key(&mut from_preset);
        from_preset.provider = CloudProvider::Custom;
        from_preset.base_url = "https://collector.example/v1".into();
        from_preset.api_key_env = "OPENROUTER_API_KEY".into();
        let e = env_key_for(&from_preset).expect_err("withheld");
        assert!(e.starts_with("the OPENROUTER_API_KEY key is for openrouter.ai; not sent to collector.example:"), "{e}");
    }

    #[test]
    fn a_keyring_key_is_looked_up_for_the_host_it_goes_to() {
        // The keyring is asked for the entry of the URL the request goes to, so what it returns
        // was stored for that host; the environment rule does not apply to it.
        let mut cloud = preset(CloudProvider::OpenRouter, "https://collector.example/v1");
        cloud.use_keyring = true;
        let (key, source) = with_ring(&cloud, || Some("sk-ring".into()), |_| Some("sk-env".into()))
            .expect("not withheld")
            .expect("a key");
        assert_eq!((key.expose(), source), ("sk-ring", KeySource::Keyring));
        assert!(with_ring(&cloud, || None, |_| Some("sk-env".into())).is_err());
    }

    #[test]
    fn an_unreachable_keyring_is_not_an_error() {
        // On CI there is no Secret Service: the lookup must fail quietly, and quickly.
        let started = std::time::Instant::now();
        let cloud = CloudConfig { api_key_env: "VOXDECK_TEST_KEY_NEVER_SET".into(), ..provider(true) };
        assert_eq!(resolve_api_key(&cloud), Ok(None));
        assert_eq!(key_status(&cloud), "not set");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn an_empty_key_is_not_stored() {
        assert!(matches!(store_api_key(&provider(true), "  "), Err(CloudError::Keyring(_))));
    }

    #[test]
    fn the_probe_finds_no_keyring_without_a_session_bus_and_answers_once() {
        assert!(probe_answer(&Err(keyring::Error::NoEntry)), "an empty keyring is a keyring");
        assert!(probe_answer(&Ok("x".into())));
        assert!(!probe_answer(&Err(keyring::Error::PlatformFailure("DBus error".into()))));
        assert!(!probe_answer(&Err(keyring::Error::NoStorageAccess("locked".into()))));
        let started = std::time::Instant::now();
        let first = keyring_available();
        let probe = started.elapsed();
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            // This machine (CI, a Jetson over SSH): no Secret Service to reach.
            assert!(!first, "no session bus, yet the keyring probe succeeded");
        }
        assert!(probe < std::time::Duration::from_secs(10), "the probe took {probe:?}");
        // Cached: later calls cost nothing.
        let started = std::time::Instant::now();
        for _ in 0..100 {
            assert_eq!(keyring_available(), first);
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(5), "{:?}", started.elapsed());
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn without_a_keyring_the_key_goes_to_a_0600_file_per_host_and_forget_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("voxdeck").join(KEY_FILE_NAME));
        let cloud = provider(true);
        assert_eq!(store(&cloud, " sk-file-1 ", None, Some(&file)).unwrap(), KeyStore::File);
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(file.get("voxdeck-test.invalid").as_deref(), Some("sk-file-1"));
        // Another host's key sits beside it; neither is sent to the other's host.
        let other = CloudConfig { base_url: "http://127.0.0.1:9/v1".into(), ..cloud.clone() };
        store(&other, "sk-loopback", None, Some(&file)).unwrap();
        assert_eq!(file.get("voxdeck-test.invalid").as_deref(), Some("sk-file-1"));
        assert_eq!(file.get("127.0.0.1").as_deref(), Some("sk-loopback"));
        assert_eq!(mode(file.path()), 0o600);
        // A file someone loosened is written back 0600.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        store(&cloud, "sk-file-2", None, Some(&file)).unwrap();
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(file.get("voxdeck-test.invalid").as_deref(), Some("sk-file-2"));
        // Nothing but the file and no temporary beside it.
        assert_eq!(std::fs::read_dir(file.path().parent().unwrap()).unwrap().count(), 1);
        assert!(file.remove("voxdeck-test.invalid").unwrap());
        assert!(!file.remove("voxdeck-test.invalid").unwrap(), "absent is fine");
        assert_eq!(file.get("voxdeck-test.invalid"), None);
        assert!(file.remove("127.0.0.1").unwrap());
        assert!(!file.path().exists(), "an empty key file is removed");
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_keyring_falls_back_to_the_file() {
        // The keyring this machine has: none (no DBus), so writing to it fails as on a Jetson
        // over SSH ("Platform secure storage failure").
        if keyring_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join(KEY_FILE_NAME));
        let cloud = provider(true);
        let stored = store(&cloud, "sk-after-dbus", Some(entry(&cloud)), Some(&file)).unwrap();
        assert_eq!(stored, KeyStore::File);
        assert_eq!(file.get("voxdeck-test.invalid").as_deref(), Some("sk-after-dbus"));
        assert_eq!(mode(file.path()), 0o600);
        let e = store(&cloud, "sk-after-dbus", Some(entry(&cloud)), None).unwrap_err().to_string();
        assert!(!e.contains("sk-after-dbus") && e.contains("no home directory"), "{e}");
    }
}
