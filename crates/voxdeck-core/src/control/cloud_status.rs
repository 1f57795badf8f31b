//! What the mode toggle shows of the cloud: is a key set, and did the last check or request
//! reach the API. The key itself never leaves the engine.

use std::sync::Mutex;

use super::protocol::CloudStatus;
use crate::config::Config;
use crate::llm::cloud::{self, CloudError, CloudLlm, CloudSettings};
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
        let seen = lock(&self.seen);
        CloudStatus {
            provider: c.provider,
            base_url: c.base_url().to_owned(),
            model: c.model().to_owned(),
            key_set: matches!(key, Ok(Some(_))),
            reachable: seen.reachable,
            detail: seen.detail.clone().or_else(|| key.err().map(|withheld| withheld.to_string())),
        }
    }

    /// Asks the API (lists its models, times a short answer). Blocks for up to the cloud's
    /// timeouts.
    pub(super) fn check(&self, config: &Config) -> CloudStatus {
        let settings = CloudSettings::from_config(config);
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
                    seen.reachable = Some(false);
                    e.to_string()
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
        if let Some(reason) = &record.fallback {
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

    pub(super) fn store_key(&self, config: &Config, key: &str) -> Result<(), CloudKeyError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(CloudKeyError::Empty);
        }
        cloud::store_api_key(&config.cloud, key)?;
        *lock(&self.seen) = Seen::default();
        Ok(())
    }

    pub(super) fn forget_key(&self, config: &Config) -> Result<(), CloudKeyError> {
        cloud::delete_api_key(&config.cloud)?;
        *lock(&self.seen) = Seen::default();
        Ok(())
    }
}
