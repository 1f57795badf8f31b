//! A whisper.cpp ggml model's need in the Whisper worker, from its header (read and checked by
//! [`voxdeck_stt::ggml`], the check every path that loads a Whisper model makes).

use std::path::Path;

use voxdeck_stt::ggml::{self, HeaderError, WhisperHeader};

use super::{MIB, MemoryFitError, MemoryNeed, pad};

/// The worker process itself: its binary, whisper.cpp's context, the vocabulary and mel
/// filters (RSS after loading tiny.en, less its weights and caches).
const WORKER_OVERHEAD_BYTES: u64 = 20 * MIB;

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
    let header = ggml::read_header(path).map_err(|e| match e {
        HeaderError::Io(source) => MemoryFitError::io(path, source),
        e @ (HeaderError::NotGgml(_) | HeaderError::NotAFile) => MemoryFitError::WrongFormat {
            path: path.to_owned(),
            expected: "whisper.cpp ggml model",
            detail: e.to_string(),
        },
        other => MemoryFitError::Corrupt {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    })?;
    Ok(need(&header))
}

/// The need of a model with `h`'s dimensions (see [`estimate_whisper`]).
fn need(h: &WhisperHeader) -> MemoryNeed {
    let d = |v: u32| u64::from(v);
    let (n_vocab, n_audio_ctx, n_audio_state, n_audio_head) =
        (d(h.n_vocab), d(h.n_audio_ctx), d(h.n_audio_state), d(h.n_audio_head));
    let (n_text_ctx, n_text_state, n_text_layer, n_mels) =
        (d(h.n_text_ctx), d(h.n_text_state), d(h.n_text_layer), d(h.n_mels));
    let audio_cells = pad(n_audio_ctx, 256);
    let text_cells = pad(n_text_ctx, 256);
    // keys and values, f16
    let kv_self = n_text_layer * n_text_state * text_cells * 2 * 2;
    let kv_cross = n_text_layer * n_text_state * audio_cells * 2 * 2;
    let kv_pad = n_audio_state * audio_cells * 2 * 2;

    // One f32 activation row over the audio and over the text context.
    let audio_row = n_audio_ctx * n_audio_state * 4;
    let text_row = n_text_ctx * n_text_state * 4;
    let mel = n_mels * 2 * n_audio_ctx * 4;
    let scores = n_audio_head * n_audio_ctx * n_audio_ctx * 4;
    let logits = n_vocab * n_text_ctx * 4;
    // tiny.en's buffers in activation rows: conv 5.3, encode 4.7 (+ scores), cross 1.7;
    // decode 4.3 text rows (+ logits).
    let compute = mel + audio_row * 117 / 10 + scores + logits + text_row * 43 / 10;
    MemoryNeed {
        weights: h.file_bytes,
        kv_cache: kv_self + kv_cross + kv_pad,
        compute: compute + WORKER_OVERHEAD_BYTES,
        n_ctx: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tiny.en's header (77.7 MB file).
    const TINY: WhisperHeader = WhisperHeader {
        n_vocab: 51864,
        n_audio_ctx: 1500,
        n_audio_state: 384,
        n_audio_head: 6,
        n_audio_layer: 4,
        n_text_ctx: 448,
        n_text_state: 384,
        n_text_head: 6,
        n_text_layer: 4,
        n_mels: 80,
        ftype: 1,
        file_bytes: 77_704_715,
    };

    #[test]
    fn matches_whisper_cpp_on_tiny() {
        let need = need(&TINY);
        // "kv self size = 3.15 MB", "kv cross size = 9.44 MB", "kv pad size = 2.36 MB"
        assert_eq!(need.kv_cache, 3_145_728 + 9_437_184 + 2_359_296);
        // compute buffers conv 13.21 + encode 64.81 + cross 3.89 + decode 95.91 MB
        let buffers = (need.compute - WORKER_OVERHEAD_BYTES) as f64 / 1e6;
        assert!((buffers - 177.82).abs() < 0.5, "{buffers:.2} MB");
        assert_eq!(need.weights, 77_704_715);
    }

    #[test]
    fn bigger_models_need_more() {
        let base = WhisperHeader {
            n_audio_state: 512,
            n_audio_head: 8,
            n_audio_layer: 6,
            n_text_state: 512,
            n_text_head: 8,
            n_text_layer: 6,
            ..TINY
        };
        let (tiny, base) = (need(&TINY), need(&base));
        assert!(base.kv_cache > tiny.kv_cache && base.compute > tiny.compute);
    }
}
