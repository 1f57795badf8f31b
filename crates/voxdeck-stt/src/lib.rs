//! The wire protocol between the engine and the Whisper worker.
