//! A ready session from the config and its I/O, built the same way for every front end (the
//! CLI's `talk`, the control panel, the voice-loop benchmark): load the engines, start the
//! stages, and hand back what front ends show and finish.

use std::sync::Arc;

use super::PipelineError;
use super::loader::{LoadedEngines, ThreadPlan, load_engines};
use super::session::{Session, SessionOptions, SessionParts, ToolsSetup};
use crate::audio::sink::AudioSink;
use crate::audio::source::AudioSource;
use crate::config::Config;
use crate::history::History;

/// What a session listens to, speaks into and remembers in, opened by the front end (see
/// [`crate::audio::open_input`] and [`crate::audio::open_output`]).
pub struct SessionIo {
    pub source: Box<dyn AudioSource>,
    pub sink: Arc<dyn AudioSink>,
    pub history: Option<History>,
}

/// The models a session runs, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNames {
    pub llm: String,
    pub stt: String,
    pub voice: String,
}

/// A started session and what its front end needs besides.
pub struct AssembledSession {
    pub session: Session,
    /// The session's sink, to [`AudioSink::finish`] once the session is dropped (a WAV output
    /// is complete only then).
    pub sink: Arc<dyn AudioSink>,
    pub models: ModelNames,
    pub threads: ThreadPlan,
}

/// Loads the engines `config` names (after the memory check; `progress` hears each step in
/// words) and starts a session on them with `io`. Nothing is heard until the first press.
pub fn assemble(
    config: &Config,
    options: SessionOptions,
    io: SessionIo,
    progress: &mut dyn FnMut(&str),
) -> Result<AssembledSession, PipelineError> {
    let engines = load_engines(config, progress)?;
    start_on(engines, options, io, config)
}

/// Starts a session with `io` on engines loaded already (a model switch loads the new ones
/// while the old session still runs). The toolbox keeps its timers and facts in `io`'s history
/// database (in memory when there is none).
pub fn start_on(
    engines: LoadedEngines,
    options: SessionOptions,
    io: SessionIo,
    config: &Config,
) -> Result<AssembledSession, PipelineError> {
    let models = ModelNames {
        llm: engines.answerer.local_model().to_owned(),
        stt: engines.stt.model_name().to_owned(),
        voice: engines.tts.voice_name().to_owned(),
    };
    let session = Session::start(
        SessionParts {
            answerer: engines.answerer,
            stt: engines.stt,
            tts: engines.tts,
            source: io.source,
            sink: io.sink.clone(),
            tools: config.tools.enabled.then(|| ToolsSetup {
                db: io.history.as_ref().map(|h| h.path().to_owned()),
                config: config.tools.clone(),
            }),
            history: io.history,
        },
        options,
    )?;
    Ok(AssembledSession { session, sink: io.sink, models, threads: engines.threads })
}
