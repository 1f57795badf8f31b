//! voxdeck-core's tests of the real cpal/ALSA path, in a binary of their own: they point ALSA
//! at a generated configuration through `ALSA_CONFIG_PATH`, which is process-wide (see
//! `alsa_env`), and setting it while other tests run and read the environment is not safe.
//! `alsa_env::setup` runs these tests one at a time.

mod alsa_env;
// This binary uses only the voice loop's helpers (`voice_config`, `spoken_question`).
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;

mod audio_alsa;
mod barge_in;
