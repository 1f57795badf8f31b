//! `voxdeck cloud`: the cloud provider's key and a reachability test.

use std::io::BufRead;

use anyhow::Context;
use voxdeck_core::Config;
use voxdeck_core::llm::cloud::{self, CloudLlm, CloudSettings};

use crate::engine_args::EngineArgs;

#[derive(clap::Subcommand)]
pub enum CloudCommand {
    /// Check the configured provider: key present, model reachable, time to first token.
    Test {
        #[command(flatten)]
        engine: EngineArgs,
        /// Print one JSON object instead of words.
        #[arg(long)]
        json: bool,
    },
    /// Store the API key in the OS keyring, or without one in a key file only you can read
    /// (read from stdin, never from the command line).
    SetKey,
    /// Remove the API key from the OS keyring and the key file.
    ForgetKey,
}

pub fn run(cmd: CloudCommand, mut config: Config) -> anyhow::Result<()> {
    match cmd {
        CloudCommand::Test { engine, json } => {
            engine.apply(&mut config);
            test(&config, json)
        }
        CloudCommand::SetKey => {
            eprintln!("Paste the API key for {} and press Enter:", config.cloud.base_url());
            let mut key = String::new();
            std::io::stdin().lock().read_line(&mut key).context("reading the key")?;
            let key = key.trim();
            anyhow::ensure!(!key.is_empty(), "no key given; nothing stored");
            let place = match cloud::store_api_key(&config.cloud, key)? {
                cloud::KeyStore::Keyring => "the OS keyring".to_owned(),
                _ => match cloud::key_file_path() {
                    Some(path) => format!("{} (readable only by you; no OS keyring here)", path.display()),
                    None => "the key file".to_owned(),
                },
            };
            eprintln!("stored in {place} for {}", config.cloud.base_url());
            Ok(())
        }
        CloudCommand::ForgetKey => {
            cloud::delete_api_key(&config.cloud)?;
            eprintln!("removed from the OS keyring and the key file");
            if let Ok(Some((_, cloud::KeySource::Env(var)))) = cloud::resolve_api_key(&config.cloud) {
                eprintln!("{var} still holds a key: unset it to stop using it");
            }
            Ok(())
        }
    }
}

fn test(config: &Config, json: bool) -> anyhow::Result<()> {
    let settings = CloudSettings::from_config(config);
    let key = if settings.api_key.is_some() { "set" } else { "not set" };
    let withheld = settings.key_withheld.as_ref().map(|w| w.to_string());
    let model = settings.model.clone();
    let url = settings.base_url.clone();
    if settings.api_key.is_none() && !cloud::is_loopback_url(&url) && withheld.is_none() {
        // Nothing to ask: the API would refuse, and a lookup would only delay saying so.
        let env = config.cloud.api_key_env();
        anyhow::bail!("no API key for {}: run `voxdeck cloud set-key` or set {env}", cloud::api_host(&url));
    }
    let result = CloudLlm::new(settings).and_then(|c| c.check());
    let verdict = match &result {
        Ok(check) if check.model_listed == Some(false) => format!(
            "reachable, but {model} is not among the models {url} lists; check cloud.model"
        ),
        Ok(check) => format!(
            "OK: {model} at {url} answered, first token in {:.2} s (first byte {:.2} s)",
            check.ttft_ms / 1000.0,
            check.ttfb_ms / 1000.0
        ),
        Err(e) => {
            tracing::info!("cloud test failed: {e}");
            format!("FAILED: {}", e.in_words(&cloud::api_host(&url)))
        }
    };
    if json {
        let v = serde_json::json!({
            "base_url": url,
            "model": model,
            "key": key,
            "key_withheld": withheld,
            "ok": result.as_ref().is_ok_and(|c| c.model_listed != Some(false)),
            "model_listed": result.as_ref().ok().and_then(|c| c.model_listed),
            "ttft_ms": result.as_ref().ok().map(|c| c.ttft_ms),
            "ttfb_ms": result.as_ref().ok().map(|c| c.ttfb_ms),
            "verdict": verdict,
        });
        println!("{v}");
    } else {
        let why = withheld.map(|w| format!(" ({w})")).unwrap_or_default();
        println!("provider: {url}\nmodel:    {model}\nAPI key:  {key}{why}\n{verdict}");
    }
    match result {
        Ok(check) if check.model_listed != Some(false) => Ok(()),
        Ok(_) => anyhow::bail!("the model is not served there"),
        Err(e) => Err(anyhow::anyhow!(e.in_words(&cloud::api_host(&url)))),
    }
}
