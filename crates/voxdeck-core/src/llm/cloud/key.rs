//! The cloud API key: from the OS keyring (Secret Service on Linux) or an environment
//! variable. It is never written to the config file, never logged, never sent to a front end
//! (they see "set" or "not set"), and redacted from error messages.

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
        if self.0.len() < 4 { text.to_owned() } else { text.replace(&self.0, "***") }
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
    if cloud.use_keyring {
        match entry(cloud).and_then(|e| e.get_password()) {
            Ok(key) if !key.trim().is_empty() => return Some((ApiKey::new(key.trim()), KeySource::Keyring)),
            Ok(_) | Err(keyring::Error::NoEntry) => {}
            Err(e) => tracing::debug!("OS keyring not available: {e}"),
        }
    }
    let var = cloud.api_key_env();
    match std::env::var(var) {
        Ok(key) if !key.trim().is_empty() => Some((ApiKey::new(key.trim()), KeySource::Env(var.to_owned()))),
        _ => None,
    }
}

/// "set" or "not set": all a front end may know about the key.
pub fn key_status(cloud: &CloudConfig) -> &'static str {
    if resolve_api_key(cloud).is_some() { "set" } else { "not set" }
}

/// Stores `key` in the OS keyring for the configured provider.
pub fn store_api_key(cloud: &CloudConfig, key: &str) -> Result<(), super::CloudError> {
    entry(cloud)
        .and_then(|e| e.set_password(key))
        .map_err(|e| super::CloudError::Keyring(ApiKey::new(key).redact(&e.to_string())))
}

/// Removes the provider's key from the OS keyring (absent is fine).
pub fn delete_api_key(cloud: &CloudConfig) -> Result<(), super::CloudError> {
    match entry(cloud).and_then(|e| e.delete_credential()) {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(super::CloudError::Keyring(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let k = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{k:?} {k}"), "ApiKey(set) ApiKey(set)");
        assert_eq!(k.redact("bad key sk-secret-123 refused"), "bad key *** refused");
    }

    #[test]
    fn the_environment_variable_is_read() {
        let cloud = CloudConfig {
            use_keyring: false,
            api_key_env: "VOXDECK_TEST_KEY_ENV_READ".into(),
            ..CloudConfig::default()
        };
        assert!(resolve_api_key(&cloud).is_none());
        assert_eq!(key_status(&cloud), "not set");
        // SAFETY: a variable only this test uses.
        unsafe { std::env::set_var("VOXDECK_TEST_KEY_ENV_READ", " sk-x1 ") };
        let (key, source) = resolve_api_key(&cloud).expect("key from the environment");
        assert_eq!(key.expose(), "sk-x1");
        assert_eq!(source, KeySource::Env("VOXDECK_TEST_KEY_ENV_READ".into()));
        assert_eq!(key_status(&cloud), "set");
    }
}
