//! What the mode toggle shows of the cloud: is a key set and where is it kept, and did the last
//! check or request reach the API. The key itself never leaves the engine.

use std::sync::Mutex;

use super::protocol::CloudStatus;
use crate::config::Config;
use crate::llm::cloud::{self, CloudError, CloudLlm, CloudSettings, KeyStore};
use crate::sync::lock;
use crate::turn_record::TurnRecord;

/// Storing or forgetting the cloud API key failed.
#[derive(Debug, thiserror::Error)]
pub enum CloudKeyError {
    #[error("the API key is empty")]
    Empty,
    #[error(transparent)]
    Keyring(#[from] CloudError),
}

#[derive(Debug, Default)]
struct Seen {
    reachable: Option<bool>,
    detail: Option<String>,
}

/// What the mode card says when the API needs a key and none is set.
fn no_key(env: &str) -> String {
    format!("No API key: add one in Settings (or set {env})")
}

/// The last thing learnt about the cloud API.
pub(super) struct CloudProbe {
    seen: Mutex<Seen>,
}

impl CloudProbe {
    pub(super) fn new() -> CloudProbe {
        CloudProbe { seen: Mutex::new(Seen::default()) }
    }

    pub(super) fn status(&self, config: &Config) -> CloudStatus {
        let c = &config.cloud;
        // A withheld environment key is "not set", and says why until a check says more.
        let key = cloud::resolve_api_key(c);
        let key_required = !cloud::is_loopback_url(c.base_url());
        let key_store = match &key {
            Ok(Some((_, source))) => source.store(),
            _ => KeyStore::None,
        };
        let seen = lock(&self.seen);
        let detail = seen.detail.clone().or_else(|| match &key {
            Err(withheld) => Some(withheld.to_string()),
            Ok(None) if key_required => Some(no_key(c.api_key_env())),
            Ok(_) => None,
        });
        CloudStatus {
            provider: c.provider,
            base_url: c.base_url().to_owned(),
            model: c.model().to_owned(),
            key_set: matches!(key, Ok(Some(_))),
            reachable: seen.reachable,
            detail,
            model_short: crate::models::short_name(c.model()),
            key_required,
            key_store,
            keyring_available: c.use_keyring && cloud::keyring_available(),
            key_file: cloud::key_file_path().map(|p| p.display().to_string()),
            key_env: c.api_key_env().to_owned(),
        }
    }

    /// Asks the API (lists its models, times a short answer). Blocks for up to the cloud's
    /// timeouts. Without a key for an API that needs one it asks nothing: the answer is known.
    pub(super) fn check(&self, config: &Config) -> CloudStatus {
        let settings = CloudSettings::from_config(config);
        if settings.api_key.is_none() && !cloud::is_loopback_url(&settings.base_url) {
            *lock(&self.seen) = Seen::default();
            return self.status(config);
        }
        let host = cloud::api_host(&settings.base_url);
        let withheld = settings.key_withheld.clone();
        let outcome = CloudLlm::new(settings).and_then(|llm| llm.check());
        {
            let mut seen = lock(&self.seen);
            let detail = match outcome {
                Ok(check) => {
                    seen.reachable = Some(true);
                    let listed = match check.model_listed {
                        Some(true) => "model listed",
                        Some(false) => "model NOT listed",
                        None => "no model list",
                    };
                    format!("reachable, {listed}, first token in {:.0} ms", check.ttft_ms)
                }
                Err(e) => {
                    tracing::info!("cloud check failed: {e}");
                    seen.reachable = Some(false);
                    e.in_words(&host)
                }
            };
            seen.detail = Some(match withheld {
                Some(withheld) => format!("{detail}; {withheld}"),
                None => detail,
            });
        }
        self.status(config)
    }

    /// Learns from a finished turn: a cloud answer proves it reachable, a fallback says why
    /// not. Returns whether the turn involved the cloud (the toggle's status changed).
    pub(super) fn observe(&self, record: &TurnRecord) -> bool {
        let mut seen = lock(&self.seen);
        if record.fallback.as_deref() == Some(cloud::NO_KEY_REASON) {
            // Nothing was asked: the status already says there is no key.
            false
        } else if let Some(reason) = &record.fallback {
            seen.reachable = Some(false);
            seen.detail = Some(format!("last request fell back: {reason}"));
            true
        } else if record.engine.as_deref() == Some("cloud") {
            seen.reachable = Some(true);
            seen.detail = Some("answered the last turn".into());
            true
        } else {
            false
        }
    }

    /// Stores the key where this machine can keep it (keyring, else the 0600 key file).
    pub(super) fn store_key(&self, config: &Config, key: &str) -> Result<KeyStore, CloudKeyError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(CloudKeyError::Empty);
        }
        let stored = cloud::store_api_key(&config.cloud, key)?;
        *lock(&self.seen) = Seen::default();
        Ok(stored)
    }

    pub(super) fn forget_key(&self, config: &Config) -> Result<(), CloudKeyError> {
        cloud::delete_api_key(&config.cloud)?;
        *lock(&self.seen) = Seen::default();
        Ok(())
    }
}
