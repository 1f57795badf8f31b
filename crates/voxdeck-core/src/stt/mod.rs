//! Speech to text: the Whisper worker process, supervised.
