//! Memory estimates and the fit check made before loading a model.
//!
//! llama.cpp, whisper.cpp and ONNX Runtime answer "out of memory" by being killed, or by
//! swapping a Jetson to a standstill. So before anything is loaded, each model's need is
//! estimated from its file header ([`estimate_llm`], [`estimate_whisper`], [`estimate_piper`])
//! and checked ([`check`]) against a [`Budget`]: free memory, minus headroom, minus what the
//! other engines will hold. This is the seed's hand sum ("leaves 5.5 GB VRAM for Whisper +
//! TTS") done before every load, with a refusal that names the numbers instead of an OOM.
//!
//! The estimates are calibrated against what the libraries report and what the process RSS
//! shows; each estimator's doc says how close it is. They count what the libraries *reserve*,
//! which is at or above what a short run touches, so they err on the side of refusing.

mod available;
mod llm;
mod piper;
pub mod session;
mod whisper;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub use available::{Budget, Placement, Pool, Reservation};
pub use llm::{LLM_OVERHEAD_BYTES, LLM_OVERHEAD_PER_TOKEN, estimate_llm};
pub use piper::estimate_piper;
pub use whisper::estimate_whisper;

use crate::gguf::GgufError;

const MIB: u64 = 1 << 20;

/// What a model will need once loaded, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MemoryNeed {
    /// The weights as the library holds them.
    pub weights: u64,
    /// Attention caches (LLM: keys and values for `n_ctx` positions; Whisper: self and cross).
    pub kv_cache: u64,
    /// Compute and output buffers, plus the library's fixed per-model overhead.
    pub compute: u64,
    /// The context the KV cache is sized for (LLMs), so a refusal can say what to lower; 0 for
    /// models without one.
    pub n_ctx: u32,
}

impl MemoryNeed {
    pub fn total(&self) -> u64 {
        self.weights.saturating_add(self.kv_cache).saturating_add(self.compute)
    }
}

/// Why a need could not be estimated, or does not fit.
#[derive(Debug, thiserror::Error)]
pub enum MemoryFitError {
    #[error("{path} does not exist, so its memory need cannot be estimated")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("{path}: the model header has no `{key}`, so its memory need cannot be estimated")]
    MissingKey { path: PathBuf, key: String },
    #[error("{path} is not a {expected} ({detail})")]
    WrongFormat {
        path: PathBuf,
        expected: &'static str,
        detail: String,
    },
    #[error("{path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{0}")]
    WontFit(Box<WontFit>),
}

impl MemoryFitError {
    /// An I/O error opening `path`, with "not found" as [`MemoryFitError::Missing`].
    fn io(path: &std::path::Path, source: std::io::Error) -> MemoryFitError {
        if source.kind() == std::io::ErrorKind::NotFound {
            MemoryFitError::Missing { path: path.to_owned() }
        } else {
            MemoryFitError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}

/// A refusal: the model, what it needs, and the budget it did not fit in.
#[derive(Debug, Clone, Serialize)]
pub struct WontFit {
    pub model: String,
    pub need: MemoryNeed,
    pub budget: Budget,
}

impl fmt::Display for WontFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let WontFit { model, need, budget } = self;
        let mut parts = vec![format!("weights {}", format_bytes(need.weights))];
        if need.kv_cache > 0 {
            parts.push(match need.n_ctx {
                0 => format!("KV cache {}", format_bytes(need.kv_cache)),
                n => format!("KV cache {} for n_ctx {n}", format_bytes(need.kv_cache)),
            });
        }
        if need.compute > 0 {
            parts.push(format!("compute {}", format_bytes(need.compute)));
        }
        let free = budget.free_for_model();
        let free = if free == 0 {
            "nothing is free for it".to_owned()
        } else {
            format!("only {} is free for it", format_bytes(free))
        };
        let pool = match &budget.pool {
            Pool::SystemRam => "available".to_owned(),
            Pool::Unified => "available (unified memory, shared with the GPU)".to_owned(),
            Pool::Vram { device } => format!("of VRAM available on GPU {device}"),
        };
        write!(
            f,
            "{model} needs {} ({}) but {free} ({} {pool} - {} headroom",
            format_bytes(need.total()),
            parts.join(" + "),
            format_bytes(budget.available),
            format_bytes(budget.headroom),
        )?;
        if !budget.reserved.is_empty() {
            let names: Vec<&str> = budget.reserved.iter().map(|r| r.what.as_str()).collect();
            write!(
                f,
                " - {} held by {}",
                format_bytes(budget.reserved_bytes()),
                join_and(&names)
            )?;
        }
        let advice = if need.n_ctx > 0 {
            "free memory, lower llm.n_ctx, or pick a smaller model"
        } else {
            "free memory or pick a smaller model"
        };
        write!(f, "); {advice}")
    }
}

/// Checks that `model`, needing `need`, fits in what `budget` leaves for it.
pub fn check(model: &str, need: &MemoryNeed, budget: &Budget) -> Result<(), MemoryFitError> {
    let free = budget.free_for_model();
    if need.total() <= free {
        tracing::info!(
            model,
            need = %format_bytes(need.total()),
            free = %format_bytes(free),
            "memory check passed"
        );
        return Ok(());
    }
    Err(MemoryFitError::WontFit(Box::new(WontFit {
        model: model.to_owned(),
        need: *need,
        budget: budget.clone(),
    })))
}

/// Binary units as the reports use them: "1.9 GiB", "448 MiB", "12 KiB".
pub fn format_bytes(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    let b = bytes as f64;
    if bytes >= GIB {
        format!("{:.1} GiB", b / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.0} MiB", b / MIB as f64)
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Rounds `n` up to a multiple of `to` (a power of two).
fn pad(n: u64, to: u64) -> u64 {
    n.div_ceil(to) * to
}

/// The check for an LLM loaded on its own (`voxdeck ask`, `voxdeck bench`): its need against
/// free memory, VRAM for what is offloaded. Does nothing when `[memory] check = false`.
pub fn check_llm_alone(model: &crate::models::ResolvedModel, config: &crate::Config) -> Result<(), MemoryFitError> {
    if !config.memory.check {
        return Ok(());
    }
    let parts = session::SessionParts {
        stt: None,
        stt_on_gpu: false,
        voice: None,
        llm: session::Part { name: model.name.clone(), need: estimate_llm(&model.path, &config.llm)? },
        llm_layers: session::llm_layers(&model.path, &config.llm),
    };
    session::check_session(&parts, &session::detect_gpu(), Budget::system(&config.memory), &config.memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MemoryConfig;

    const GIB: u64 = 1 << 30;

    fn budget(available: u64) -> Budget {
        Budget::from_available(
            Pool::SystemRam,
            Some(available),
            None,
            &MemoryConfig {
                check: true,
                headroom_mb: 256,
                limit_mb: 0,
            },
        )
    }

    #[test]
    fn formats_binary_units() {
        assert_eq!(format_bytes(2 * GIB + GIB / 2), "2.5 GiB");
        assert_eq!(format_bytes(448 * MIB), "448 MiB");
        assert_eq!(format_bytes(1023 * MIB), "1023 MiB");
        assert_eq!(format_bytes(12 * 1024), "12 KiB");
        assert_eq!(format_bytes(0), "0 KiB");
    }

    #[test]
    fn joins_names_in_prose() {
        assert_eq!(join_and(&[]), "");
        assert_eq!(join_and(&["a"]), "a");
        assert_eq!(join_and(&["a", "b"]), "a and b");
        assert_eq!(join_and(&["a", "b", "c"]), "a, b and c");
    }

    #[test]
    fn total_adds_the_parts_without_overflow() {
        let need = MemoryNeed {
            weights: 3,
            kv_cache: 4,
            compute: 5,
            n_ctx: 0,
        };
        assert_eq!(need.total(), 12);
        let huge = MemoryNeed {
            weights: u64::MAX,
            ..need
        };
        assert_eq!(huge.total(), u64::MAX);
    }

    #[test]
    fn fits_exactly_and_refuses_one_byte_over() {
        let mut b = budget(2 * GIB);
        b.reserve("Whisper base.en", 512 * MIB);
        let free = 2 * GIB - 256 * MIB - 512 * MIB;
        assert_eq!(b.free_for_model(), free);
        let fits = MemoryNeed {
            weights: free,
            ..MemoryNeed::default()
        };
        assert!(check("m", &fits, &b).is_ok());
        let over = MemoryNeed {
            weights: free + 1,
            ..MemoryNeed::default()
        };
        assert!(matches!(check("m", &over, &b), Err(MemoryFitError::WontFit(_))));
    }

    #[test]
    fn the_refusal_names_every_number() {
        let mut b = budget(3 * GIB + GIB / 10);
        b.reserve("Whisper base.en", 500 * MIB);
        b.reserve("the Piper voice", 280 * MIB);
        let need = MemoryNeed {
            weights: 1900 * MIB,
            kv_cache: 448 * MIB,
            compute: 256 * MIB,
            n_ctx: 4096,
        };
        let err = check("Llama 3.2 3B Instruct", &need, &b).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Llama 3.2 3B Instruct needs 2.5 GiB (weights 1.9 GiB + KV cache 448 MiB for n_ctx 4096 + \
             compute 256 MiB) but only 2.1 GiB is free for it (3.1 GiB available - 256 MiB headroom - \
             780 MiB held by Whisper base.en and the Piper voice); free memory, lower llm.n_ctx, or pick \
             a smaller model"
        );
    }

    #[test]
    fn the_refusal_without_context_or_reservations() {
        let b = budget(200 * MIB);
        let need = MemoryNeed {
            weights: 60 * MIB,
            kv_cache: 0,
            compute: 120 * MIB,
            n_ctx: 0,
        };
        let err = check("Piper voice joe", &need, &b).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Piper voice joe needs 180 MiB (weights 60 MiB + compute 120 MiB) but nothing is free for it \
             (200 MiB available - 256 MiB headroom); free memory or pick a smaller model"
        );
    }

    #[test]
    fn the_refusal_names_the_pool() {
        let mut b = Budget::vram(GIB, 8 * GIB, &MemoryConfig::default());
        b.pool = Pool::Vram { device: 1 };
        let need = MemoryNeed {
            weights: 2 * GIB,
            ..MemoryNeed::default()
        };
        let err = check("m", &need, &b).unwrap_err().to_string();
        assert!(
            err.contains("1.0 GiB of VRAM available on GPU 1 - 256 MiB headroom"),
            "{err}"
        );
    }

    #[test]
    fn pads_to_multiples() {
        assert_eq!(pad(300, 256), 512);
        assert_eq!(pad(1024, 256), 1024);
        assert_eq!(pad(0, 256), 0);
    }
}
