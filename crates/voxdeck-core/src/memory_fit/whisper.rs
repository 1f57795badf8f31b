//! A whisper.cpp ggml model's need in the Whisper worker, from its header.

use std::io::Read;
use std::path::Path;

use super::{MIB, MemoryFitError, MemoryNeed, pad};

/// `ggml` as a little-endian u32 ("lmgg" on disk).
const MAGIC: u32 = 0x6767_6d6c;
/// The worker process itself: its binary, whisper.cpp's context, the vocabulary and mel
/// filters (RSS after loading tiny.en, less its weights and caches).
const WORKER_OVERHEAD_BYTES: u64 = 20 * MIB;

/// The hyperparameters at the start of a whisper.cpp ggml file, after the magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WhisperDims {
    n_vocab: u64,
    n_audio_ctx: u64,
    n_audio_state: u64,
    n_audio_head: u64,
    n_audio_layer: u64,
    n_text_ctx: u64,
    n_text_state: u64,
    n_text_head: u64,
    n_text_layer: u64,
    n_mels: u64,
}

/// Estimates what the Whisper worker needs for the ggml model at `path` (flash attention off,
/// greedy decoding, as the worker runs it).
///
/// - weights: the file size (whisper.cpp loads every tensor; tiny.en: 77.7 MB file, "model
///   size 77.11 MB").
/// - KV cache: f16 self-attention cache (`n_text_layer * n_text_state * n_text_ctx`), cross
///   attention cache (`n_text_layer * n_text_state * n_audio_ctx`) and the encoder's padding
///   buffer (`n_audio_state * n_audio_ctx`), keys and values, contexts rounded up to 256:
///   exactly whisper.cpp's "kv self/cross/pad size" lines.
/// - compute: whisper.cpp's four compute buffers (conv, encode, cross, decode), led by the
///   decoder's logits for a full text context (`n_vocab * n_text_ctx * 4`) and the encoder's
///   attention scores (`n_audio_head * n_audio_ctx² * 4`), plus activations scaled by the model
///   width, fitted to tiny.en's reported buffers (177.8 MB, exact by construction); plus the
///   worker's own ~20 MiB.
///
/// Calibration on tiny.en: estimate 278 MiB; the worker's RSS is 108 MiB after loading and
/// peaks at 213 MiB transcribing 4 to 20 s of speech (one 30 s window). The difference is
/// buffer space reserved but not touched: the decoder's logits are only filled for long
/// prompts (the previous window's text), so the estimate is the worst case.
pub fn estimate_whisper(path: &Path) -> Result<MemoryNeed, MemoryFitError> {
    let mut file = std::fs::File::open(path).map_err(|e| MemoryFitError::io(path, e))?;
    let file_size = file.metadata().map_err(|e| MemoryFitError::io(path, e))?.len();
    let mut header = [0u8; 48];
    let read = read_up_to(&mut file, &mut header).map_err(|e| MemoryFitError::io(path, e))?;
    let dims = WhisperDims::parse(&header[..read]).map_err(|detail| {
        if read >= 4 && u32::from_le_bytes([header[0], header[1], header[2], header[3]]) == MAGIC {
            MemoryFitError::Corrupt {
                path: path.to_owned(),
                detail,
            }
        } else {
            MemoryFitError::WrongFormat {
                path: path.to_owned(),
                expected: "whisper.cpp ggml model",
                detail,
            }
        }
    })?;
    Ok(dims.need(file_size))
}

/// Reads until `buf` is full or the file ends; returns how much was read.
fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl WhisperDims {
    /// Parses the magic and the eleven i32 hyperparameters (the last, `ftype`, is not needed).
    fn parse(header: &[u8]) -> Result<WhisperDims, String> {
        if header.len() < 4 {
            return Err(format!("it is only {} bytes long", header.len()));
        }
        let word = |i: usize| {
            header
                .get(4 * i..4 * i + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if word(0) != Some(MAGIC) {
            return Err("it does not start with the ggml magic (a GGUF or CTranslate2 file? convert it first)".into());
        }
        if header.len() < 48 {
            return Err(format!("the header is truncated ({} of 48 bytes)", header.len()));
        }
        // (name, value, largest plausible): bounds no real Whisper comes near, so a damaged
        // header is an error, not an absurd estimate.
        let field = |i: usize, name: &str, max: u32| -> Result<u64, String> {
            let v = word(i).unwrap_or(0) as i32;
            if v <= 0 || v as u32 > max {
                return Err(format!("its {name} is {v}"));
            }
            Ok(v as u64)
        };
        Ok(WhisperDims {
            n_vocab: field(1, "n_vocab", 1 << 20)?,
            n_audio_ctx: field(2, "n_audio_ctx", 1 << 16)?,
            n_audio_state: field(3, "n_audio_state", 1 << 16)?,
            n_audio_head: field(4, "n_audio_head", 1 << 10)?,
            n_audio_layer: field(5, "n_audio_layer", 1 << 10)?,
            n_text_ctx: field(6, "n_text_ctx", 1 << 16)?,
            n_text_state: field(7, "n_text_state", 1 << 16)?,
            n_text_head: field(8, "n_text_head", 1 << 10)?,
            n_text_layer: field(9, "n_text_layer", 1 << 10)?,
            n_mels: field(10, "n_mels", 1 << 10)?,
        })
    }

    fn need(&self, file_size: u64) -> MemoryNeed {
        let audio_cells = pad(self.n_audio_ctx, 256);
        let text_cells = pad(self.n_text_ctx, 256);
        // keys and values, f16
        let kv_self = self.n_text_layer * self.n_text_state * text_cells * 2 * 2;
        let kv_cross = self.n_text_layer * self.n_text_state * audio_cells * 2 * 2;
        let kv_pad = self.n_audio_state * audio_cells * 2 * 2;

        // One f32 activation row over the audio and over the text context.
        let audio_row = self.n_audio_ctx * self.n_audio_state * 4;
        let text_row = self.n_text_ctx * self.n_text_state * 4;
        let mel = self.n_mels * 2 * self.n_audio_ctx * 4;
        let scores = self.n_audio_head * self.n_audio_ctx * self.n_audio_ctx * 4;
        let logits = self.n_vocab * self.n_text_ctx * 4;
        // tiny.en's buffers in activation rows: conv 5.3, encode 4.7 (+ scores), cross 1.7;
        // decode 4.3 text rows (+ logits).
        let compute = mel + audio_row * 117 / 10 + scores + logits + text_row * 43 / 10;
        MemoryNeed {
            weights: file_size,
            kv_cache: kv_self + kv_cross + kv_pad,
            compute: compute + WORKER_OVERHEAD_BYTES,
            n_ctx: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(hparams: [i32; 11]) -> Vec<u8> {
        let mut b = MAGIC.to_le_bytes().to_vec();
        for v in hparams {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    const TINY: [i32; 11] = [51864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1];

    #[test]
    fn matches_whisper_cpp_on_tiny() {
        let dims = WhisperDims::parse(&header(TINY)).unwrap();
        let need = dims.need(77_704_715);
        // "kv self size = 3.15 MB", "kv cross size = 9.44 MB", "kv pad size = 2.36 MB"
        assert_eq!(need.kv_cache, 3_145_728 + 9_437_184 + 2_359_296);
        // compute buffers conv 13.21 + encode 64.81 + cross 3.89 + decode 95.91 MB
        let buffers = (need.compute - WORKER_OVERHEAD_BYTES) as f64 / 1e6;
        assert!((buffers - 177.82).abs() < 0.5, "{buffers:.2} MB");
        assert_eq!(need.weights, 77_704_715);
    }

    #[test]
    fn bigger_models_need_more() {
        let tiny = WhisperDims::parse(&header(TINY)).unwrap().need(0);
        let base = [51864, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1];
        let base = WhisperDims::parse(&header(base)).unwrap().need(0);
        assert!(base.kv_cache > tiny.kv_cache && base.compute > tiny.compute);
    }

    #[test]
    fn rejects_foreign_and_damaged_headers() {
        assert!(
            WhisperDims::parse(b"GGUF\x03\0\0\0")
                .unwrap_err()
                .contains("ggml magic")
        );
        assert!(WhisperDims::parse(b"lm").unwrap_err().contains("2 bytes"));
        let full = header(TINY);
        assert!(WhisperDims::parse(&full[..20]).unwrap_err().contains("truncated"));
        let mut bad = TINY;
        bad[2] = -5;
        assert!(
            WhisperDims::parse(&header(bad))
                .unwrap_err()
                .contains("n_audio_state is -5")
        );
        bad[2] = i32::MAX;
        assert!(WhisperDims::parse(&header(bad)).is_err());
    }
}
