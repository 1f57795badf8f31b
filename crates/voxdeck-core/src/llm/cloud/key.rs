//! The cloud API key: from the OS keyring (Secret Service on Linux) or an environment
//! variable. It is never written to the config file, never logged, never sent to a front end
//! (they see "set" or "not set"), and redacted from error messages.

use super::CloudError;
use crate::config::CloudConfig;

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

/// The keyring entry for a provider: service "voxdeck", user = the API's host.
fn entry(cloud: &CloudConfig) -> Result<keyring::Entry, keyring::Error> {
    let host = reqwest::Url::parse(cloud.base_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| cloud.base_url().to_owned());
    keyring::Entry::new("voxdeck", &host)
}

/// The key: the OS keyring first (when `use_keyring`), then `$api_key_env`. A keyring that
/// cannot be reached (no Secret Service, as on a headless machine) counts as empty.
pub fn resolve_api_key(cloud: &CloudConfig) -> Option<(ApiKey, KeySource)> {
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
) -> Option<(ApiKey, KeySource)> {
    let usable = |key: String| {
        let key = key.trim();
        (!key.is_empty()).then(|| ApiKey::new(key))
    };
    if cloud.use_keyring
        && let Some(key) = keyring().and_then(usable)
    {
        return Some((key, KeySource::Keyring));
    }
    let var = cloud.api_key_env();
    env(var).and_then(usable).map(|key| (key, KeySource::Env(var.to_owned())))
}

/// "set" or "not set": all a front end may know about the key.
pub fn key_status(cloud: &CloudConfig) -> &'static str {
    if resolve_api_key(cloud).is_some() { "set" } else { "not set" }
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
        let (key, source) = resolve(&provider(true), || Some("sk-ring".into()), env).expect("key");
        assert_eq!((key.expose(), source), ("sk-ring", KeySource::Keyring));
        let (key, source) = resolve(&provider(false), || Some("sk-ring".into()), env).expect("key");
        assert_eq!((key.expose(), source), ("sk-env", KeySource::Env("VOXDECK_TEST_KEY".into())));
        let (key, _) = resolve(&provider(true), || Some("  ".into()), env).expect("key");
        assert_eq!(key.expose(), "sk-env");
        assert!(resolve(&provider(true), || None, |_| Some(String::new())).is_none());
    }

    #[test]
    fn an_unreachable_keyring_is_not_an_error() {
        // On CI there is no Secret Service: the lookup must fail quietly, and quickly.
        let started = std::time::Instant::now();
        let cloud = CloudConfig { api_key_env: "VOXDECK_TEST_KEY_NEVER_SET".into(), ..provider(true) };
        assert!(resolve_api_key(&cloud).is_none());
        assert_eq!(key_status(&cloud), "not set");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn an_empty_key_is_not_stored() {
        assert!(matches!(store_api_key(&provider(true), "  "), Err(CloudError::Keyring(_))));
    }
}
