//! The flags that choose the answering engine for one command: the mode, and a cloud provider
//! that overrides the configured one (`--cloud-url`, `--cloud-model`, `--cloud-key-env`).

use voxdeck_core::Config;
use voxdeck_core::config::{CloudProvider, Mode};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct EngineArgs {
    /// local, cloud or auto (default: router.mode).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// An OpenAI-compatible API's base URL, up to /v1 (vLLM, llama-server, Ollama, LM Studio,
    /// OpenRouter...); https, or http to this machine only.
    #[arg(long, value_name = "URL")]
    pub cloud_url: Option<String>,
    /// The model name that API knows.
    #[arg(long, value_name = "NAME")]
    pub cloud_model: Option<String>,
    /// The environment variable holding its API key.
    #[arg(long, value_name = "VAR")]
    pub cloud_key_env: Option<String>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ModeArg {
    Local,
    Cloud,
    Auto,
}

impl EngineArgs {
    /// Applies the flags to `config`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(mode) = self.mode {
            config.router.mode = match mode {
                ModeArg::Local => Mode::Local,
                ModeArg::Cloud => Mode::Cloud,
                ModeArg::Auto => Mode::Auto,
            };
        }
        let c = &mut config.cloud;
        if let Some(url) = &self.cloud_url {
            let model = if c.provider == CloudProvider::Custom { c.model.clone() } else { String::new() };
            c.provider = CloudProvider::Custom;
            c.base_url = url.trim_end_matches('/').to_owned();
            // A custom server's own model name, unless given: most single-model servers
            // (llama-server, vLLM with one model) accept any name.
            c.model = if model.is_empty() { "default".to_owned() } else { model };
            // The key variable of the configured provider does not belong to this server.
            if self.cloud_key_env.is_none() && c.api_key_env.is_empty() {
                c.api_key_env = CloudProvider::Custom.defaults().2.to_owned();
            }
            c.use_keyring = false;
        }
        if let Some(model) = &self.cloud_model {
            c.model = model.clone();
        }
        if let Some(var) = &self.cloud_key_env {
            c.api_key_env = var.clone();
        }
    }
}
