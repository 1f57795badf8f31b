//! Loading a session's engines from the config: the thread plan, the memory check made before
//! anything is loaded, then speech to text, the voice and the LLM.

use std::sync::Arc;

use serde::Serialize;

use super::PipelineError;
use crate::config::{Config, TtsEngine};
use crate::llm::{ChatMessage, LocalLlm};
use crate::llm::cloud::{CloudLlm, CloudSettings, is_loopback_url};
use crate::memory_fit::session::{Part, SessionParts, detect_gpu, llm_layers};
use crate::memory_fit::{self, Budget};
use crate::models::{Catalog, ResolvedModel};
use crate::router::Router;
use crate::router::answerer::{Answerer, NamedEngine};
use crate::stt::{Stt, SttOptions};
use crate::tools::ToolOffer;
use crate::tts::{self, SpeechSynthesizer};

/// Threads for each engine. The LLM and the voice run at the same time while an answer is
/// spoken sentence by sentence; ggml's threads spin-wait on each other, so if together they ask
/// for more cores than there are, both slow down many times over. The LLM gets every core but
/// one; the voice two threads, which wait without spinning and so share the LLM's core (one,
/// with `tts.spin_threads`, on up to 4 cores). Whisper runs before the answer and gets what it
/// asks for, or with `stt.threads = 0` the cores other work leaves free (per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThreadPlan {
    pub llm: u32,
    pub tts: u32,
    pub stt: u32,
}

impl ThreadPlan {
    /// The plan for `cores` cores; explicit settings in `config` win.
    pub fn for_cores(cores: u32, config: &Config) -> ThreadPlan {
        let cores = cores.max(1);
        let llm = if config.llm.threads > 0 { config.llm.threads } else { (cores - 1).max(1) };
        let tts = if config.tts.threads > 0 {
            config.tts.threads
        } else if config.tts.spin_threads && cores <= 4 {
            1
        } else {
            // Piper's threads block rather than spin while they wait (`tts.spin_threads =
            // false`), so a second one shares the LLM's core without stalling it, and the first
            // piece, which the user is waiting for, is synthesised in about 2/3 of the time.
            cores.min(2)
        };
        ThreadPlan {
            llm,
            tts,
            stt: config.stt.threads,
        }
    }

    /// The plan for this machine.
    pub fn for_machine(config: &Config) -> ThreadPlan {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        ThreadPlan::for_cores(cores, config)
    }

    /// `config` with the plan applied.
    pub fn apply(&self, config: &Config) -> Config {
        let mut c = config.clone();
        c.llm.threads = self.llm;
        c.tts.threads = self.tts;
        c.stt.threads = self.stt;
        c
    }
}

/// Everything a session needs, loaded.
pub struct LoadedEngines {
    /// Routes questions between the local model and the cloud.
    pub answerer: Arc<Answerer>,
    /// The local model (also inside `answerer`), for its details.
    pub local: Arc<LocalLlm>,
    pub stt: Stt,
    pub tts: Arc<dyn SpeechSynthesizer>,
    pub threads: ThreadPlan,
}

/// The steps [`load_engines`] reports, in order: `progress` is called once as each begins, so a
/// front end can show "step 2 of 3".
pub const LOAD_STEPS: [&str; 3] = ["Speech to text", "Voice", "LLM"];

/// Loads speech to text, the voice and the local LLM as `config` says, after checking that
/// they fit in memory together. `progress` hears each step in words (one call per
/// [`LOAD_STEPS`] entry).
pub fn load_engines(config: &Config, progress: &mut dyn FnMut(&str)) -> Result<LoadedEngines, PipelineError> {
    let threads = ThreadPlan::for_machine(config);
    let config = threads.apply(config);
    let catalog = Catalog::builtin();
    let models_dir = config.models_dir();

    let model = catalog
        .resolve_llm(&config.llm.model, &models_dir)
        .map_err(|e| PipelineError::NoModel(e.to_string()))?;
    let stt_options = SttOptions::from_config(&config)?;

    if config.memory.check {
        let parts = session_parts(&config, &model, &stt_options)?;
        memory_fit::session::check_session(&parts, &detect_gpu(), Budget::system(&config.memory), &config.memory)?;
    }

    progress(&format!("starting speech to text ({})", stt_options.model_name));
    let stt = Stt::start(stt_options)?;
    progress("loading the voice");
    let tts: Arc<dyn SpeechSynthesizer> = Arc::from(tts::open(&config)?);
    progress(&format!("loading {}", model.name));
    let local = Arc::new(LocalLlm::load(&model, &config.llm)?);
    if config.llm.warm_prompt {
        warm_prompt(&local, &config.llm.system_prompt, ToolOffer::from_config(&config.tools));
    }
    let answerer = Arc::new(build_answerer(&config, local.clone(), &model.name));
    Ok(LoadedEngines {
        answerer,
        local,
        stt,
        tts,
        threads,
    })
}

/// Starts prefilling what every conversation begins with (the system prompt, up to where the
/// first question goes) into the local model's cache, in the background: the first answer then
/// decodes only its question. The messages are those [`super::context::build_messages`] makes,
/// with the tools the answers will offer (`tools`, [`ToolOffer::from_config`]).
pub fn warm_prompt(local: &LocalLlm, system_prompt: &str, tools: Option<ToolOffer>) {
    let mut messages = Vec::with_capacity(2);
    if !system_prompt.trim().is_empty() {
        messages.push(ChatMessage::system(system_prompt));
    }
    messages.push(ChatMessage::user(""));
    if let Err(e) = local.warm_prompt(messages, tools) {
        tracing::warn!("the system prompt could not be prefilled: {e}");
    }
}

/// What the memory check weighs for `config`'s session: Whisper, the voice (when Piper speaks
/// and it resolves) and the LLM, each estimated from its file's header (so a file that is not
/// a readable model fails here, before anything loads).
pub fn session_parts(
    config: &Config,
    model: &ResolvedModel,
    stt_options: &SttOptions,
) -> Result<SessionParts, PipelineError> {
    let catalog = Catalog::builtin();
    let stt = Some(Part { name: stt_options.model_name.clone(), need: memory_fit::estimate_whisper(&stt_options.model)? });
    // A voice that cannot be resolved is reported when it is opened.
    let voice = match config.tts.engine {
        TtsEngine::Espeak => None,
        _ => tts::resolve_voice(&config.tts.voice, &catalog, &config.models_dir()).ok(),
    };
    let voice = match voice {
        Some(v) => Some(Part { need: memory_fit::estimate_piper(&v.onnx)?, name: v.name }),
        None => None,
    };
    let llm = Part { name: model.name.clone(), need: memory_fit::estimate_llm(&model.path, &config.llm)? };
    Ok(SessionParts { stt, stt_on_gpu: config.stt.gpu, voice, llm, llm_layers: llm_layers(&model.path, &config.llm) })
}

/// The answerer for `config`: the loaded local model, and the configured cloud when it can be
/// used (a usable URL, and a key unless the server is on this machine).
pub fn build_answerer(config: &Config, local: Arc<LocalLlm>, local_name: &str) -> Answerer {
    let local = NamedEngine { engine: local, model: local_name.to_owned() };
    Answerer::new(local, build_cloud(config), Router::new(config.router.clone(), config.voice), config.router.mode)
}

/// The configured cloud engine, or why there is none in a few words (a turn's badge says it;
/// the log has the details).
pub fn build_cloud(config: &Config) -> Result<NamedEngine, String> {
    let settings = CloudSettings::from_config(config);
    if settings.api_key.is_none() && !is_loopback_url(&settings.base_url) {
        Err(match &settings.key_withheld {
            Some(withheld) => {
                tracing::info!("cloud LLM not available: {withheld}");
                withheld.short()
            }
            None => {
                tracing::info!(
                    "cloud LLM not available: no API key: store one in the panel's Settings, set {} or run \
                     `voxdeck cloud set-key`",
                    config.cloud.api_key_env()
                );
                crate::llm::cloud::NO_KEY_REASON.to_owned()
            }
        })
    } else {
        CloudLlm::new(settings)
            .map(|c| {
                let model = c.model().to_owned();
                NamedEngine { engine: Arc::new(c), model }
            })
            .map_err(|e| {
                tracing::info!("cloud LLM not available: {e}");
                e.fallback_reason()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llm_leaves_a_core_for_the_voice() {
        let c = Config::default();
        assert_eq!(ThreadPlan::for_cores(2, &c), ThreadPlan { llm: 1, tts: 2, stt: 0 });
        assert_eq!(ThreadPlan::for_cores(1, &c).tts, 1);
        let spinning = Config { tts: crate::config::TtsConfig { spin_threads: true, ..c.tts.clone() }, ..c.clone() };
        assert_eq!(ThreadPlan::for_cores(2, &spinning).tts, 1, "spinning threads must not share a core");
        assert_eq!(ThreadPlan::for_cores(8, &c), ThreadPlan { llm: 7, tts: 2, stt: 0 });
        assert_eq!(ThreadPlan::for_cores(1, &c).llm, 1);
        let mut c = Config::default();
        c.llm.threads = 4;
        c.tts.threads = 3;
        c.stt.threads = 2;
        assert_eq!(ThreadPlan::for_cores(2, &c), ThreadPlan { llm: 4, tts: 3, stt: 2 });
    }
}
