//! The voice loop: push-to-talk turns through six stages that pass typed frames, in order
//! (one file each):
//!
//! 1. [`capture_stage`]: the audio source started by `press()` becomes an utterance;
//! 2. [`stt_stage`]: Whisper transcribes it ("didn't catch that" for nothing);
//! 3. [`llm_stage`]: the engine answers, streaming tokens;
//! 4. [`splitter_stage`]: the stream becomes speakable pieces (first clause early, then
//!    sentences, markup stripped);
//! 5. [`tts_stage`]: each piece is synthesised;
//! 6. [`playback_stage`]: each piece is played, and the turn ends when the last is heard.
//!
//! [`Session`] is the API; [`turn`] holds the turn in flight and ends it in one place;
//! [`timeline`] is its clock and record; [`events`] the stream front ends subscribe to;
//! [`context`] picks the earlier turns the LLM sees; [`tool_use`] is the fast path and the
//! record of tool calls; [`loader`] loads the engines from config;
//! [`assemble`] builds a ready session from config and I/O, the same for every front end.

pub mod assemble;
pub mod capture_stage;
pub mod context;
pub(crate) mod draft_plan;
pub mod events;
pub mod frames;
pub mod llm_stage;
pub mod loader;
pub mod playback_stage;
pub mod session;
pub mod splitter_stage;
pub mod stt_stage;
pub mod timeline;
pub mod tool_use;
pub mod tts_stage;
pub(crate) mod turn;

pub use assemble::{AssembledSession, ModelNames, SessionIo, assemble};
pub use events::{Event, EventBus, TurnState};
pub use llm_stage::AnswerSettings;
pub use loader::{LOAD_STEPS, LoadedEngines, ThreadPlan, load_engines};
pub use session::{Session, SessionOptions, SessionParts, ToolsSetup};
pub use tool_use::ToolSettings;
pub use splitter_stage::SplitSettings;
pub use stt_stage::DIDNT_CATCH;
pub use timeline::{Mark, Timeline};
pub use crate::turn_record::{Outcome, TurnRecord};

/// Errors starting or driving a session. Each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmError),
    #[error(transparent)]
    Stt(#[from] crate::stt::SttError),
    #[error(transparent)]
    Tts(#[from] crate::tts::TtsError),
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    #[error(transparent)]
    Memory(#[from] crate::memory_fit::MemoryFitError),
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    #[error(transparent)]
    Tools(#[from] crate::tools::toolbox::ToolboxError),
    #[error("no LLM to answer with: {0}")]
    NoModel(String),
    #[error("cannot start a pipeline thread: {0}")]
    Thread(std::io::Error),
    #[error("the session has stopped")]
    Stopped,
}
