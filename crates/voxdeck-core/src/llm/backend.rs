//! The process-wide llama.cpp backend: initialised once, logs routed to `tracing`.

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;

use super::LlmError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The backend, initialising it on first use.
pub(crate) fn backend() -> Result<&'static LlamaBackend, LlmError> {
    BACKEND
        .get_or_init(|| {
            super::load_log::install();
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Backend(e.clone()))
}

/// Whether this build of llama.cpp can offload layers to a GPU (built with `--features cuda`
/// and a device present).
pub fn gpu_offload_supported() -> bool {
    backend().map(|b| b.supports_gpu_offload()).unwrap_or(false)
}

/// The CPU's model name, for reports.
pub fn host_cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}
