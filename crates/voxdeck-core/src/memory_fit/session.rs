//! The check before a voice session loads: Whisper, the voice and the LLM together, each in the
//! memory it will really use.
//!
//! With a GPU, every process that uses it holds a CUDA context of its own: the engine
//! (llama.cpp) and, with `stt.gpu`, the Whisper worker. On a discrete GPU the offloaded layers,
//! their KV cache and the contexts come out of VRAM and the rest out of system RAM; on a Jetson
//! both are the same unified memory.

use super::{Budget, MIB, MemoryFitError, MemoryNeed, Pool, check};
use crate::config::MemoryConfig;

/// VRAM one CUDA context takes on a discrete GPU before any buffer: the driver's context, the
/// kernels of ggml's CUDA backend (loaded lazily) and cuBLAS's workspace. An estimate from
/// llama.cpp users' reports (300-500 MiB with CUDA 12); `.ci/gpu-check.sh` measures it.
pub const CUDA_CONTEXT_BYTES: u64 = 400 * MIB;

/// The same on a Jetson, out of unified memory (smaller: no separate device heap to mirror).
/// An estimate too, pending a measurement on an Orin.
pub const JETSON_CUDA_CONTEXT_BYTES: u64 = 200 * MIB;

/// The GPU a session may use, as far as memory goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gpu {
    /// No GPU offload: a CPU build, or no device.
    None,
    /// A discrete GPU with `free` of `total` bytes of VRAM free now (NVML).
    Discrete { free: u64, total: u64 },
    /// A Jetson: the GPU allocates system RAM.
    Unified,
}

impl Gpu {
    fn context_bytes(&self) -> u64 {
        match self {
            Gpu::None => 0,
            Gpu::Discrete { .. } => CUDA_CONTEXT_BYTES,
            Gpu::Unified => JETSON_CUDA_CONTEXT_BYTES,
        }
    }
}

/// One model of the session and what it needs.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub need: MemoryNeed,
}

/// The session's models (only the LLM for `ask` and `bench`). `llm_layers`: layers to offload
/// (already capped) of the total, as llama.cpp counts them (`block_count + 1`).
#[derive(Debug, Clone)]
pub struct SessionParts {
    pub stt: Option<Part>,
    pub stt_on_gpu: bool,
    pub voice: Option<Part>,
    pub llm: Part,
    pub llm_layers: (u32, u32),
}

/// Checks that the session fits: system RAM for what stays on the host, VRAM for what is
/// offloaded, each with the other engines' shares and every CUDA context reserved.
pub fn check_session(parts: &SessionParts, gpu: &Gpu, system: Budget, config: &MemoryConfig) -> Result<(), MemoryFitError> {
    let mut system = system;
    let context = gpu.context_bytes();
    let stt_gpu = parts.stt_on_gpu && *gpu != Gpu::None;
    let (gpu_layers, total_layers) = parts.llm_layers;
    let llm_gpu = gpu_layers > 0 && *gpu != Gpu::None;
    let mut vram = match gpu {
        Gpu::Discrete { free, total } => Some(Budget::vram(*free, *total, config)),
        _ => None,
    };

    // Whisper: in VRAM with its own context on a discrete GPU, else in system RAM (plus its
    // context on a Jetson).
    if let Some(stt) = &parts.stt {
        let on_gpu = || format!("{} on the GPU", stt.name);
        match (&mut vram, stt_gpu) {
            (Some(vram), true) => vram.reserve(on_gpu(), stt.need.total() + context),
            (None, true) => system.reserve(on_gpu(), stt.need.total() + context),
            _ => system.reserve(stt.name.clone(), stt.need.total()),
        }
    }
    if let Some(voice) = &parts.voice {
        system.reserve(voice.name.clone(), voice.need.total());
    }

    match (&vram, llm_gpu) {
        (Some(vram), true) => {
            let placement = parts.llm.need.split_offload(gpu_layers, total_layers);
            let mut on_device = placement.device;
            on_device.compute = on_device.compute.saturating_add(context);
            check(&format!("{} ({gpu_layers}/{total_layers} layers on the GPU)", parts.llm.name), &on_device, vram)?;
            if placement.host.total() > 0 {
                check(&format!("{} (the layers left on the CPU)", parts.llm.name), &placement.host, &system)?;
            }
            Ok(())
        }
        (None, true) => {
            let mut need = parts.llm.need;
            need.compute = need.compute.saturating_add(context);
            check(&parts.llm.name, &need, &system)
        }
        _ => check(&parts.llm.name, &parts.llm.need, &system),
    }
}

/// The LLM's layers to offload (capped) and its total, as llama.cpp counts them: `block_count
/// + 1` for the output layer. (0, 1) when the header cannot tell (the load reports that).
pub fn llm_layers(path: &std::path::Path, config: &crate::config::LlmConfig) -> (u32, u32) {
    let total = crate::gguf::inspect(path)
        .ok()
        .and_then(|h| h.arch_u64("block_count"))
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1));
    (config.gpu_layers.as_count().min(total), total)
}

/// The GPU for the memory check: none unless llama.cpp can offload; a Jetson's unified memory;
/// else the discrete GPU's free VRAM from NVML (none when NVML cannot tell).
pub fn detect_gpu() -> Gpu {
    if !crate::llm::gpu_offload_supported() {
        return Gpu::None;
    }
    if matches!(Budget::system(&MemoryConfig::default()).pool, Pool::Unified) {
        return Gpu::Unified;
    }
    let reading = crate::sysmon::nvml::NvmlProbe::open().and_then(|mut p| {
        use crate::sysmon::GpuProbe as _;
        p.sample(&[])
    });
    match reading.and_then(|r| r.memory_total_bytes.zip(r.memory_used_bytes)) {
        Some((total, used)) => Gpu::Discrete { free: total.saturating_sub(used), total },
        None => {
            tracing::warn!("llama.cpp can offload but NVML gives no VRAM figures; VRAM is not checked");
            Gpu::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn need(gib: f64) -> MemoryNeed {
        MemoryNeed { weights: (gib * GIB as f64) as u64, kv_cache: 0, compute: 0, n_ctx: 0 }
    }

    fn parts(stt_on_gpu: bool) -> SessionParts {
        SessionParts {
            stt: Some(Part { name: "Whisper base.en".into(), need: need(0.3) }),
            stt_on_gpu,
            voice: Some(Part { name: "Piper joe".into(), need: need(0.1) }),
            // The seed's Llama 3.2 3B: 1.9 GB, 29/29 layers.
            llm: Part { name: "Llama 3.2 3B".into(), need: need(1.9) },
            llm_layers: (29, 29),
        }
    }

    fn config() -> MemoryConfig {
        MemoryConfig { check: true, headroom_mb: 256, limit_mb: 0 }
    }

    fn ram(gib: u64) -> Budget {
        Budget::from_available(Pool::SystemRam, Some(gib * GIB), None, &config())
    }

    #[test]
    fn the_worker_context_is_counted_on_the_gpu() {
        // 3 GiB free: the LLM (1.9) and its context (0.4) fit alone; Whisper (0.3) and a second
        // context (0.4) on the same GPU do not.
        let gpu = Gpu::Discrete { free: 3 * GIB, total: 8 * GIB };
        check_session(&parts(false), &gpu, ram(8), &config()).expect("Whisper on the CPU: fits");
        let err = check_session(&parts(true), &gpu, ram(8), &config()).unwrap_err().to_string();
        assert!(err.contains("Llama 3.2 3B (29/29 layers on the GPU)"), "{err}");
        assert!(err.contains("of VRAM available on GPU 0"), "{err}");
        assert!(err.contains("held by Whisper base.en on the GPU"), "{err}");
    }

    #[test]
    fn a_partial_offload_checks_both_pools() {
        let mut p = parts(false);
        p.llm_layers = (10, 29);
        let gpu = Gpu::Discrete { free: 8 * GIB, total: 8 * GIB };
        // Two thirds of 1.9 GiB stay on the host: 1.3 GiB, with 1 GiB of RAM free it does not fit.
        let err = check_session(&p, &gpu, ram(1), &config()).unwrap_err().to_string();
        assert!(err.contains("(the layers left on the CPU)"), "{err}");
        check_session(&p, &gpu, ram(4), &config()).expect("enough RAM for the host part");
    }

    #[test]
    fn unified_memory_counts_everything_once_in_ram() {
        let gpu = Gpu::Unified;
        // 2.9 GiB available: 1.9 + 0.3 + 0.1 + 0.25 headroom = 2.55 fits with one context
        // (0.2), not with two.
        let available = Budget::from_available(Pool::Unified, Some(2 * GIB + 900 * MIB), None, &config());
        check_session(&parts(false), &gpu, available.clone(), &config()).expect("one context fits");
        let err = check_session(&parts(true), &gpu, available, &config()).unwrap_err().to_string();
        assert!(err.contains("unified memory"), "{err}");
        // Without a GPU, no context at all.
        let tight = Budget::from_available(Pool::SystemRam, Some(2 * GIB + 700 * MIB), None, &config());
        check_session(&parts(true), &Gpu::None, tight, &config()).expect("CPU only: no context to count");
    }
}
