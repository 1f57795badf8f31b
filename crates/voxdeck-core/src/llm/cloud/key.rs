//! The cloud API key: from the OS keyring (Secret Service on Linux) or an environment
//! variable. It is never written to the config file, never logged, never sent to a front end
//! (they see "set" or "not set"), and redacted from error messages.
//!
//! A key is only ever sent to the host it was configured for, so a base URL changed later (by
//! a panel client through `set_settings`) cannot collect it: a keyring key is stored per host
//! and looked up by the host it is about to go to; an environment key belongs to the preset
//! provider's own host, or for `custom` to the base URL the process started with
//! ([`pin_env_key`]). Anywhere else needs its own key, stored with `voxdeck cloud set-key` by
//! the person at the machine.

use reqwest::Url;

use super::CloudError;
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
    Env(String),
}

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

/// The keyring entry for a provider: service "voxdeck", user = the API's host.
fn entry(cloud: &CloudConfig) -> Result<keyring::Entry, keyring::Error> {
    let host = Url::parse(cloud.base_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| cloud.base_url().to_owned());
    keyring::Entry::new("voxdeck", &host)
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

/// `host[:port]` for messages (the port only when the URL names one).
fn shown(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// The key rule for an environment key: `Ok` when the base URL is the host it belongs to.
fn check_env_key(cloud: &CloudConfig, var: &str) -> Result<(), KeyWithheld> {
    let home = env_key_home(cloud);
    let target = cloud.base_url();
    match (place(home), place(target)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        _ => Err(KeyWithheld { var: var.to_owned(), home: shown(home), target: shown(target) }),
    }
}

/// The key for the configured base URL: the OS keyring first (when `use_keyring`), then
/// `$api_key_env` where that key belongs to the base URL's host (else [`KeyWithheld`], which
/// callers treat as no key). A keyring that cannot be reached (no Secret Service, as on a
/// headless machine) counts as empty.
pub fn resolve_api_key(cloud: &CloudConfig) -> Result<Option<(ApiKey, KeySource)>, KeyWithheld> {
    let from_keyring = || match entry(cloud).and_then(|e| e.get_password()) {
        Ok(key) => Some(key),
        Err(keyring::Error::NoEntry) => None,
        Err(e) => {
            tracing::debug!("OS keyring not available: {e}");
            None
        }
    };
    resolve(cloud, from_keyring, |var| std::env::var(var).ok())
}

/// [`resolve_api_key`] with its two sources passed in, so tests need not touch the process
/// environment.
fn resolve(
    cloud: &CloudConfig,
    keyring: impl FnOnce() -> Option<String>,
    env: impl FnOnce(&str) -> Option<String>,
) -> Result<Option<(ApiKey, KeySource)>, KeyWithheld> {
    let usable = |key: String| {
        let key = key.trim();
        (!key.is_empty()).then(|| ApiKey::new(key))
    };
    if cloud.use_keyring
        && let Some(key) = keyring().and_then(usable)
    {
        return Ok(Some((key, KeySource::Keyring)));
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

/// Stores `key` in the OS keyring for the configured provider.
pub fn store_api_key(cloud: &CloudConfig, key: &str) -> Result<(), CloudError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(CloudError::Keyring("the key is empty".into()));
    }
    entry(cloud)
        .and_then(|e| e.set_password(key))
        .map_err(|e| CloudError::Keyring(ApiKey::new(key).redact(&e.to_string())))
}

/// Removes the provider's key from the OS keyring (absent is fine).
pub fn delete_api_key(cloud: &CloudConfig) -> Result<(), CloudError> {
    match entry(cloud).and_then(|e| e.delete_credential()) {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(CloudError::Keyring(e.to_string())),
    }
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

    #[test]
    fn the_keyring_comes_first_then_the_environment() {
        let env = |var: &str| (var == "VOXDECK_TEST_KEY").then(|| " sk-env ".to_owned());
        let found = |r: Result<Option<(ApiKey, KeySource)>, KeyWithheld>| r.expect("not withheld").expect("a key");
        let (key, source) = found(resolve(&provider(true), || Some("sk-ring".into()), env));
        assert_eq!((key.expose(), source), ("sk-ring", KeySource::Keyring));
        let (key, source) = found(resolve(&provider(false), || Some("sk-ring".into()), env));
        assert_eq!((key.expose(), source), ("sk-env", KeySource::Env("VOXDECK_TEST_KEY".into())));
        let (key, _) = found(resolve(&provider(true), || Some("  ".into()), env));
        assert_eq!(key.expose(), "sk-env");
        assert_eq!(resolve(&provider(true), || None, |_| Some(String::new())), Ok(None));
    }

    /// What `resolve` makes of an environment key `sk-env` (no keyring key) for `cloud`.
    fn env_key_for(cloud: &CloudConfig) -> Result<Option<String>, String> {
        resolve(cloud, || None, |_| Some("sk-env".into()))
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
        let (key, source) = resolve(&cloud, || Some("sk-ring".into()), |_| Some("sk-env".into()))
            .expect("not withheld")
            .expect("a key");
        assert_eq!((key.expose(), source), ("sk-ring", KeySource::Keyring));
        assert!(resolve(&cloud, || None, |_| Some("sk-env".into())).is_err());
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
}
