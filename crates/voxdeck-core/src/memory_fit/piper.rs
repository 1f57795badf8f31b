//! A Piper voice's need on ONNX Runtime.

use std::io::Read;
use std::path::Path;

use super::{MIB, MemoryFitError, MemoryNeed};

/// The runtime itself once loaded: its library's resident code, the environment, the session
/// beyond its weights (RSS growth on loading the test voice, less its weights: 44 MiB).
const RUNTIME_BYTES: u64 = 48 * MIB;
/// The longest sentence budgeted for, in seconds of audio: 30 words, where the spoken-style
/// answers (one to three short sentences) stay well below.
const SENTENCE_SECONDS: u64 = 10;
/// ONNX Runtime's arena per second of audio, as a fraction of the model's size: the test voice
/// (joe, medium, 60 MiB) grows it by 21 MiB per second synthesised in one piece.
const ARENA_PER_SECOND: (u64, u64) = (35, 100);

/// Estimates what a Piper voice (`<voice>.onnx`) needs on ONNX Runtime.
///
/// - weights: the file size (ONNX Runtime copies the initializers out of the protobuf).
/// - compute: the runtime (~48 MiB) and the memory arena, which grows with the longest
///   sentence synthesised in one piece and never shrinks: the decoder's activations take about
///   a third of the model's size per second of audio. Budgeted for 10 s sentences.
///
/// Calibration on en_US-joe-medium (60.3 MiB): estimate 319 MiB. Measured RSS growth of a fresh
/// process (one thread): 104 MiB after loading, 147 MiB after a 2 s sentence, 273 MiB after
/// 7 s, 315 MiB after 10 s, 540 MiB after 22 s. Other voices are scaled by their file size, an
/// unmeasured assumption (the arena follows the decoder's width, which grows with the model).
///
/// ONNX has no header to speak of, so the file is only checked to start like an ONNX model
/// (a protobuf whose first field is `ir_version`).
pub fn estimate_piper(onnx_path: &Path) -> Result<MemoryNeed, MemoryFitError> {
    let mut file = std::fs::File::open(onnx_path).map_err(|e| MemoryFitError::io(onnx_path, e))?;
    let file_size = file.metadata().map_err(|e| MemoryFitError::io(onnx_path, e))?.len();
    let mut first = [0u8; 1];
    let starts_like_onnx = file_size > 16 && file.read_exact(&mut first).is_ok() && first[0] == 0x08;
    if !starts_like_onnx {
        return Err(MemoryFitError::WrongFormat {
            path: onnx_path.to_owned(),
            expected: "ONNX model",
            detail: format!("a {file_size}-byte file that does not start with an ONNX ir_version"),
        });
    }
    let (num, den) = ARENA_PER_SECOND;
    Ok(MemoryNeed {
        weights: file_size,
        kv_cache: 0,
        compute: RUNTIME_BYTES + file_size * num / den * SENTENCE_SECONDS,
        n_ctx: 0,
    })
}
