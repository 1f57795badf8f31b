//! Where the memory comes from, and what of it is already spoken for.

use serde::Serialize;

use super::{MIB, MemoryNeed};
use crate::config::MemoryConfig;
use crate::sysmon::memory;

/// Which memory a model is loaded into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Pool {
    /// A machine without a GPU, or the host side of a partial offload.
    SystemRam,
    /// A GPU's own memory; what NVML reports for `device`.
    Vram { device: u32 },
    /// A Jetson: CPU and GPU share the same DRAM, so offloaded layers come out of system RAM
    /// and the numbers are the same as [`Pool::SystemRam`]'s.
    Unified,
}

/// Memory that another engine holds or will hold, taken off the budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    pub what: String,
    pub bytes: u64,
}

/// Where the memory comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub pool: Pool,
    /// What the pool can still give, capped by `memory.limit_mb`; `u64::MAX` when it cannot be
    /// read (no `/proc/meminfo`), which turns the check into a no-op rather than a false refusal.
    pub available: u64,
    /// Kept free for the system and other programs (`memory.headroom_mb`).
    pub headroom: u64,
    /// What STT and TTS hold or will hold. Reserve only engines not loaded yet: a loaded one is
    /// already missing from `available`.
    pub reserved: Vec<Reservation>,
    /// The pool's size, when known (for reports).
    pub total: Option<u64>,
}

impl Budget {
    /// System memory: MemAvailable (which counts the page cache as free, as the kernel will
    /// give it up), capped by `limit_mb` when non-zero. [`Pool::Unified`] on a Jetson.
    pub fn system(config: &MemoryConfig) -> Budget {
        let pool = if unified_memory() {
            Pool::Unified
        } else {
            Pool::SystemRam
        };
        let available = memory::system_available_bytes();
        if available.is_none() && config.limit_mb == 0 {
            tracing::warn!("cannot read the system's available memory; the memory check is skipped");
        }
        Budget::from_available(pool, available, memory::system_total_bytes(), config)
    }

    /// A GPU's memory from NVML's figures (`free_bytes` of `total`), on device 0; set `pool`
    /// for another device.
    pub fn vram(free_bytes: u64, total: u64, config: &MemoryConfig) -> Budget {
        Budget::from_available(
            Pool::Vram { device: 0 },
            Some(free_bytes.min(total)),
            Some(total),
            config,
        )
    }

    /// A budget of `available` bytes (`None`: unknown) in `pool`, with `config`'s headroom and
    /// limit applied.
    pub fn from_available(pool: Pool, available: Option<u64>, total: Option<u64>, config: &MemoryConfig) -> Budget {
        let limit = (config.limit_mb > 0).then(|| config.limit_mb.saturating_mul(MIB));
        let available = match (available, limit) {
            (Some(a), Some(l)) => a.min(l),
            (Some(a), None) => a,
            (None, Some(l)) => l,
            (None, None) => u64::MAX,
        };
        Budget {
            pool,
            available,
            headroom: config.headroom_mb.saturating_mul(MIB),
            reserved: Vec::new(),
            total,
        }
    }

    /// Takes `bytes` off the budget for `what` (e.g. "Whisper base.en").
    pub fn reserve(&mut self, what: impl Into<String>, bytes: u64) {
        self.reserved.push(Reservation {
            what: what.into(),
            bytes,
        });
    }

    pub fn reserved_bytes(&self) -> u64 {
        self.reserved.iter().fold(0u64, |sum, r| sum.saturating_add(r.bytes))
    }

    /// What is left for the model being checked: available - headroom - reservations.
    pub fn free_for_model(&self) -> u64 {
        self.available
            .saturating_sub(self.headroom)
            .saturating_sub(self.reserved_bytes())
    }
}

/// An LLM's need split between the host and the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub host: MemoryNeed,
    pub device: MemoryNeed,
}

impl MemoryNeed {
    /// Where an LLM's memory goes with `gpu_layers` of `total_layers` offloaded (llama.cpp's
    /// count, which includes the output layer: `block_count + 1`). Check `device` against a
    /// [`Budget::vram`] and `host` against [`Budget::system`]; on [`Pool::Unified`] check the
    /// whole need instead.
    ///
    /// Approximate: weights and KV cache are split by the fraction of layers offloaded, as if
    /// every layer were the same size (the token embeddings stay on the host and the output
    /// layer is the largest, so the device share is over- or understated by a few percent);
    /// the compute buffers, dominated by the logits, go where the output layer is, which is
    /// the GPU only when every layer is offloaded.
    pub fn split_offload(&self, gpu_layers: u32, total_layers: u32) -> Placement {
        let total = u64::from(total_layers.max(1));
        let on_gpu = u64::from(gpu_layers).min(total);
        let share = |bytes: u64| (u128::from(bytes) * u128::from(on_gpu) / u128::from(total)) as u64;
        let all = on_gpu == total;
        let device = MemoryNeed {
            weights: share(self.weights),
            kv_cache: share(self.kv_cache),
            compute: if all { self.compute } else { 0 },
            n_ctx: self.n_ctx,
        };
        let host = MemoryNeed {
            weights: self.weights - device.weights,
            kv_cache: self.kv_cache - device.kv_cache,
            compute: self.compute - device.compute,
            n_ctx: self.n_ctx,
        };
        Placement { host, device }
    }
}

/// A Jetson (Tegra): the GPU has no memory of its own.
fn unified_memory() -> bool {
    std::path::Path::new("/etc/nv_tegra_release").exists()
        || std::fs::read("/proc/device-tree/compatible").is_ok_and(|c| c.windows(12).any(|w| w == b"nvidia,tegra"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(headroom_mb: u64, limit_mb: u64) -> MemoryConfig {
        MemoryConfig {
            check: true,
            headroom_mb,
            limit_mb,
        }
    }

    #[test]
    fn the_limit_caps_what_is_available() {
        let b = Budget::from_available(Pool::SystemRam, Some(8 << 30), None, &config(256, 1024));
        assert_eq!(b.available, 1024 * MIB);
        assert_eq!(b.headroom, 256 * MIB);
        assert_eq!(b.free_for_model(), 768 * MIB);
        let b = Budget::from_available(Pool::SystemRam, Some(512 * MIB), None, &config(0, 1024));
        assert_eq!(b.available, 512 * MIB, "a limit never adds memory");
    }

    #[test]
    fn unknown_memory_checks_nothing_unless_limited() {
        let b = Budget::from_available(Pool::SystemRam, None, None, &config(256, 0));
        assert_eq!(b.available, u64::MAX);
        assert!(b.free_for_model() > 1 << 60);
        let b = Budget::from_available(Pool::SystemRam, None, None, &config(256, 300));
        assert_eq!(b.free_for_model(), 44 * MIB);
    }

    #[test]
    fn reservations_come_off_and_never_underflow() {
        let mut b = Budget::from_available(Pool::Unified, Some(1000 * MIB), None, &config(100, 0));
        b.reserve("Whisper", 300 * MIB);
        b.reserve(String::from("voice"), 200 * MIB);
        assert_eq!(b.reserved_bytes(), 500 * MIB);
        assert_eq!(b.free_for_model(), 400 * MIB);
        b.reserve("more", u64::MAX);
        assert_eq!(b.free_for_model(), 0);
    }

    #[test]
    fn vram_is_free_of_total() {
        let b = Budget::vram(6 << 30, 8 << 30, &config(256, 0));
        assert_eq!(b.pool, Pool::Vram { device: 0 });
        assert_eq!(b.available, 6 << 30);
        assert_eq!(b.total, Some(8 << 30));
        assert_eq!(Budget::vram(9 << 30, 8 << 30, &config(0, 0)).available, 8 << 30);
    }

    #[test]
    fn system_budget_reads_meminfo() {
        let b = Budget::system(&config(0, 0));
        if let Some(available) = memory::system_available_bytes() {
            // MemAvailable moves; the reading is within a few MiB of a second one.
            assert!(b.available.abs_diff(available) < 64 * MIB);
        }
        assert!(b.reserved.is_empty());
    }

    #[test]
    fn offload_splits_by_layers() {
        let need = MemoryNeed {
            weights: 3000,
            kv_cache: 300,
            compute: 100,
            n_ctx: 1024,
        };
        let none = need.split_offload(0, 29);
        assert_eq!(none.host, need);
        assert_eq!(none.device.total(), 0);

        let all = need.split_offload(99, 29);
        assert_eq!(all.device, need);
        assert_eq!(all.host.total(), 0);

        let part = need.split_offload(10, 30);
        assert_eq!(
            (part.device.weights, part.device.kv_cache, part.device.compute),
            (1000, 100, 0)
        );
        assert_eq!(
            (part.host.weights, part.host.kv_cache, part.host.compute),
            (2000, 200, 100)
        );
        assert_eq!(part.host.total() + part.device.total(), need.total());
    }
}
