//! A GGUF model's need on llama.cpp, from its header.

use std::path::Path;

use super::{MIB, MemoryFitError, MemoryNeed, pad};
use crate::config::{FlashAttn, LlmConfig};
use crate::gguf::{self, GgufError, GgufInfo, GgufValue};

/// llama.cpp's memory per model beyond its buffers: tensor and graph metadata, the CPU
/// backend's threads and code, plus [`LLM_OVERHEAD_PER_TOKEN`] per vocabulary entry for the
/// tokenizer's tables (token texts, the text-to-id map, the piece cache). Fitted to the RSS of a
/// fresh process after loading, less the buffers: 21 MiB for SmolLM2 (49k tokens), 45 MiB for
/// Gemma 3 (262k tokens).
pub const LLM_OVERHEAD_BYTES: u64 = 16 * MIB;
/// Per vocabulary entry, see [`LLM_OVERHEAD_BYTES`].
pub const LLM_OVERHEAD_PER_TOKEN: u64 = 120;

/// llama.cpp sizes the KV cache in whole blocks of 256 cells (`n_ctx` 300 holds 512 cells).
const KV_CELL_PAD: u64 = 256;
/// Activations of one token through a layer, in f32s per embedding dimension: fitted to
/// llama.cpp's reported compute buffers (5.01 for SmolLM2 135M, 5.02 for Gemma 3 270M).
const ACTIVATION_FACTOR: u64 = 5;

/// Estimates what the GGUF model at `path` needs when loaded with `llm`'s context settings.
///
/// - weights: the tensor data the header describes (what llama.cpp maps, `llama_model_size`).
///   Not counted: the repacked copies llama.cpp's CPU backend makes of some quantised tensors
///   for faster kernels (Gemma 3 270M on x86-64 with AVX2: +12.7 MiB, 5 %).
/// - KV cache: `n_layer * cells * n_head_kv * (key_length + value_length) * 2` bytes (f16),
///   with `cells` = `n_ctx` rounded up to 256 as llama.cpp does (the engine's
///   `ModelInfo::kv_cache_bytes` uses `n_ctx` as given, so the two differ only when `n_ctx` is
///   not a multiple of 256). GQA counts through `head_count_kv`. Sliding-window layers are
///   counted in full, as llama.cpp allocates them by default (`swa_full`); a per-layer
///   `head_count_kv` array is read as `head_count` (an upper bound).
/// - compute: llama.cpp's compute buffer for one micro-batch (`n_ubatch` tokens): the logits
///   `n_ubatch * n_vocab * 4`, activations `n_ubatch * n_embd * 4 * 5`, and the attention mask
///   `n_ubatch * cells` (f16 with flash attention, `auto` counting as on, f32 without; two masks
///   for sliding-window models); plus the output buffer (one row of logits) and the fixed and
///   per-token overhead ([`LLM_OVERHEAD_BYTES`]).
///
/// Calibration (this llama.cpp, CPU, flash attention auto/off, `n_ctx` 300 to 16384,
/// `n_ubatch` 64 to 1024): KV cache exact, compute buffer within 1.2 % of the "CPU compute
/// buffer size" llama.cpp logs for SmolLM2 135M and Gemma 3 270M (SmolLM2 at `n_ctx` 4096:
/// 105.6 MiB estimated, 106.8 MiB reported; Gemma 3: 526.3 vs 526.3 MiB); all buffers together
/// within 2 % of llama.cpp's total (Gemma 3 at 1024: 774 vs 788 MiB, the difference being the
/// repacked weights).
///
/// The logits part of the compute buffer is reserved in full but only touched for the tokens
/// whose logits are asked for (voxdeck asks for the last one), so on a CPU the process RSS
/// stays well below the estimate for large vocabularies: at `n_ctx` 1024, after a 512-token
/// prompt, SmolLM2 grew the RSS by 150 MiB (estimate 240 MiB) and Gemma 3 by 332 MiB
/// (estimate 820 MiB, 512 of it logits). CUDA allocations are committed when made (on a Jetson
/// too, out of the shared DRAM), so with the layers offloaded the estimate is what it costs.
pub fn estimate_llm(path: &Path, llm: &LlmConfig) -> Result<MemoryNeed, MemoryFitError> {
    let info = gguf::inspect(path).map_err(|e| match e {
        GgufError::Io { path, source } => MemoryFitError::io(&path, source),
        other => other.into(),
    })?;
    let dims = LlmDims::read(&info, path)?;
    Ok(dims.need(info.tensor_data_bytes, llm))
}

/// The header figures the estimate uses.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LlmDims {
    n_layer: u64,
    n_embd: u64,
    n_head_kv: u64,
    key_length: u64,
    value_length: u64,
    n_vocab: u64,
    /// `context_length`, used when `llm.n_ctx` is 0 (llama.cpp's default then).
    n_ctx_train: Option<u64>,
    sliding_window: bool,
}

impl LlmDims {
    fn read(info: &GgufInfo, path: &Path) -> Result<LlmDims, MemoryFitError> {
        let arch = info.architecture().ok_or_else(|| MemoryFitError::MissingKey {
            path: path.to_owned(),
            key: "general.architecture".into(),
        })?;
        let required = |suffix: &str| {
            info.arch_u64(suffix)
                .filter(|v| *v > 0)
                .ok_or_else(|| MemoryFitError::MissingKey {
                    path: path.to_owned(),
                    key: format!("{arch}.{suffix}"),
                })
        };
        let n_layer = required("block_count")?;
        let n_embd = required("embedding_length")?;
        let n_head = required("attention.head_count")?;
        let n_head_kv = info.arch_u64("attention.head_count_kv").unwrap_or(n_head);
        let head_dim = n_embd / n_head;
        let n_vocab = info
            .arch_u64("vocab_size")
            .or_else(|| match info.metadata.get("tokenizer.ggml.tokens") {
                Some(GgufValue::Array { len }) => Some(*len),
                _ => None,
            })
            .filter(|v| *v > 0)
            .ok_or_else(|| MemoryFitError::MissingKey {
                path: path.to_owned(),
                key: "tokenizer.ggml.tokens".into(),
            })?;
        Ok(LlmDims {
            n_layer,
            n_embd,
            n_head_kv,
            key_length: info.arch_u64("attention.key_length").unwrap_or(head_dim),
            value_length: info.arch_u64("attention.value_length").unwrap_or(head_dim),
            n_vocab,
            n_ctx_train: info.arch_u64("context_length").filter(|v| *v > 0),
            sliding_window: info.arch_u64("attention.sliding_window").is_some_and(|w| w > 0),
        })
    }

    fn need(&self, weights: u64, llm: &LlmConfig) -> MemoryNeed {
        let n_ctx = match llm.n_ctx {
            0 => self.n_ctx_train.unwrap_or(4096),
            n => u64::from(n),
        };
        let cells = pad(n_ctx, KV_CELL_PAD);
        let kv_cache = self.n_layer * cells * self.n_head_kv * (self.key_length + self.value_length) * 2;

        // llama.cpp clamps the batch to the context, and the micro-batch to the batch.
        let n_batch = u64::from(llm.n_batch.max(1)).min(n_ctx);
        let n_ubatch = u64::from(llm.n_ubatch.max(1)).min(n_batch);
        let logits = n_ubatch * self.n_vocab * 4;
        let activations = n_ubatch * self.n_embd * 4 * ACTIVATION_FACTOR;
        let mask_bytes = if llm.flash_attn == FlashAttn::Off { 4 } else { 2 };
        let masks = if self.sliding_window { 2 } else { 1 };
        let mask = masks * n_ubatch * cells * mask_bytes;
        let output = self.n_vocab * 4;
        let overhead = LLM_OVERHEAD_BYTES + self.n_vocab * LLM_OVERHEAD_PER_TOKEN;
        MemoryNeed {
            weights,
            kv_cache,
            compute: logits + activations + mask + output + overhead,
            n_ctx: u32::try_from(n_ctx).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: LlmDims = LlmDims {
        n_layer: 30,
        n_embd: 576,
        n_head_kv: 3,
        key_length: 64,
        value_length: 64,
        n_vocab: 49152,
        n_ctx_train: Some(8192),
        sliding_window: false,
    };

    const GEMMA3: LlmDims = LlmDims {
        n_layer: 18,
        n_embd: 640,
        n_head_kv: 1,
        key_length: 256,
        value_length: 256,
        n_vocab: 262_144,
        n_ctx_train: Some(32768),
        sliding_window: true,
    };

    fn config(n_ctx: u32, n_ubatch: u32, flash_attn: FlashAttn) -> LlmConfig {
        LlmConfig {
            n_ctx,
            n_batch: 512,
            n_ubatch,
            flash_attn,
            ..LlmConfig::default()
        }
    }

    /// The compute buffer alone, as llama.cpp logs it (without output buffer and overhead).
    fn compute_buffer(dims: &LlmDims, llm: &LlmConfig) -> f64 {
        let need = dims.need(0, llm);
        let extra = dims.n_vocab * 4 + LLM_OVERHEAD_BYTES + dims.n_vocab * LLM_OVERHEAD_PER_TOKEN;
        (need.compute - extra) as f64 / MIB as f64
    }

    #[test]
    fn kv_cache_matches_what_llama_cpp_allocates() {
        // "CPU KV buffer size" lines: SmolLM2 90.00 MiB and Gemma 3 12.00 + 60.00 MiB at 4096.
        assert_eq!(SMOLLM2.need(0, &config(4096, 512, FlashAttn::Auto)).kv_cache, 90 * MIB);
        assert_eq!(GEMMA3.need(0, &config(4096, 512, FlashAttn::Auto)).kv_cache, 72 * MIB);
        // 300 and 1000 are rounded up to 512 and 1024 cells.
        assert_eq!(
            SMOLLM2.need(0, &config(300, 512, FlashAttn::Auto)).kv_cache * 4,
            45 * MIB
        );
        assert_eq!(
            SMOLLM2.need(0, &config(1000, 512, FlashAttn::Auto)).kv_cache * 4,
            90 * MIB
        );
    }

    #[test]
    fn compute_buffer_is_within_two_percent_of_llama_cpp() {
        // (dims, n_ctx, n_ubatch, flash attention, MiB llama.cpp reported)
        let reported = [
            (SMOLLM2, 4096, 512, FlashAttn::Auto, 106.77),
            (SMOLLM2, 1024, 512, FlashAttn::Auto, 103.77),
            (SMOLLM2, 16384, 512, FlashAttn::Auto, 117.64),
            (SMOLLM2, 4096, 128, FlashAttn::Auto, 26.69),
            (SMOLLM2, 4096, 512, FlashAttn::Off, 110.39),
            (SMOLLM2, 300, 512, FlashAttn::Auto, 59.85),
            (GEMMA3, 4096, 512, FlashAttn::Auto, 526.28),
            (GEMMA3, 1024, 512, FlashAttn::Auto, 521.53),
            (GEMMA3, 16384, 512, FlashAttn::Auto, 550.28),
            (GEMMA3, 4096, 64, FlashAttn::Auto, 65.78),
            (GEMMA3, 4096, 512, FlashAttn::Off, 536.27),
            (GEMMA3, 300, 512, FlashAttn::Auto, 304.27),
        ];
        for (dims, n_ctx, n_ubatch, fa, mib) in reported {
            let estimate = compute_buffer(&dims, &config(n_ctx, n_ubatch, fa));
            let error = (estimate - mib).abs() / mib;
            assert!(
                error < 0.02,
                "n_vocab {} n_ctx {n_ctx} n_ubatch {n_ubatch} {fa:?}: {estimate:.2} MiB vs {mib} MiB",
                dims.n_vocab
            );
        }
    }

    #[test]
    fn zero_context_means_the_training_context() {
        let need = SMOLLM2.need(0, &config(0, 512, FlashAttn::Auto));
        assert_eq!(need.n_ctx, 8192);
        assert_eq!(need.kv_cache, 180 * MIB);
    }

    #[test]
    fn weights_pass_through_and_total_adds_up() {
        let need = GEMMA3.need(250_000_000, &config(1024, 512, FlashAttn::Auto));
        assert_eq!(need.weights, 250_000_000);
        assert_eq!(need.n_ctx, 1024);
        assert_eq!(need.total(), need.weights + need.kv_cache + need.compute);
    }
}
