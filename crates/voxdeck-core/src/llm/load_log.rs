//! llama.cpp's and ggml's log, into `tracing` (target `llama_cpp_2`, errors only unless
//! `RUST_LOG` asks for more), and the facts only that log states: how many layers a load put on
//! the GPU, what each device's buffers hold, and which GPUs ggml found.
//!
//! ```text
//! ggml_cuda_init: found 1 CUDA devices:
//!   Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes
//! load_tensors: offloaded 29/29 layers to GPU
//! load_tensors:        CUDA0 model buffer size =  1918.36 MiB
//! llama_kv_cache:      CUDA0 KV buffer size =   224.00 MiB
//! sched_reserve:      CUDA0 compute buffer size =   256.50 MiB
//! ```
//!
//! llama.cpp logs from the thread that calls it, so a load's lines are collected per thread
//! between [`start_capture`] and [`finish_capture`].

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_void};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What one load put where, from llama.cpp's own lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadLog {
    /// `offloaded N/M layers to GPU`: N and M (M counts the output layer). `None`: llama.cpp
    /// printed no such line (a build without a GPU backend, or no device).
    pub offloaded: Option<(u32, u32)>,
    /// Every buffer not on the CPU: model weights, KV cache and compute buffers per device.
    pub device_buffers: Vec<DeviceBuffer>,
}

/// One of llama.cpp's buffers on a GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceBuffer {
    /// ggml's buffer name: `CUDA0`, `CUDA_Host` is not a device and is left out.
    pub device: String,
    /// `model`, `KV` or `compute`.
    pub kind: String,
    pub bytes: u64,
}

impl LoadLog {
    /// Bytes on GPUs, all kinds.
    pub fn device_bytes(&self) -> u64 {
        self.device_buffers.iter().map(|b| b.bytes).sum()
    }

    /// Takes in one complete log line.
    fn read(&mut self, line: &str) {
        if let Some(layers) = parse_offloaded(line) {
            self.offloaded = Some(layers);
        } else if let Some(buffer) = parse_buffer(line) {
            self.device_buffers.push(buffer);
        }
    }
}

thread_local! {
    /// The load being captured on this thread.
    static CAPTURE: RefCell<Option<LoadLog>> = const { RefCell::new(None) };
    /// The line llama.cpp is in the middle of (it logs `CONT` pieces), and its level.
    static PARTIAL: RefCell<(i32, String)> = const { RefCell::new((0, String::new())) };
}

/// The GPUs ggml's CUDA backend listed when it started ("NVIDIA H100 80GB HBM3, compute
/// capability 9.0, VMM: yes").
static DEVICES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Starts collecting this thread's load lines.
pub(crate) fn start_capture() {
    CAPTURE.with(|c| *c.borrow_mut() = Some(LoadLog::default()));
}

/// What was collected since [`start_capture`] on this thread.
pub(crate) fn finish_capture() -> LoadLog {
    CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default()
}

/// The GPUs ggml found, as it described them.
pub fn gpu_devices() -> Vec<String> {
    DEVICES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Routes llama.cpp's and ggml's log through [`log_line`]. Call once, before the backend starts.
pub(crate) fn install() {
    // SAFETY: the callback neither panics nor unwinds (locks recover from poisoning, nothing
    // is unwrapped) and uses no user data.
    unsafe {
        llama_cpp_sys_2::llama_log_set(Some(log_callback), std::ptr::null_mut());
        llama_cpp_sys_2::ggml_log_set(Some(log_callback), std::ptr::null_mut());
    }
}

unsafe extern "C" fn log_callback(level: llama_cpp_sys_2::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let level = level as i32;
    let complete: Vec<(i32, String)> = PARTIAL.with(|p| {
        let mut p = p.borrow_mut();
        if level != llama_cpp_sys_2::GGML_LOG_LEVEL_CONT as i32 {
            p.0 = level;
        }
        p.1.push_str(&text);
        let mut lines = Vec::new();
        while let Some(end) = p.1.find('\n') {
            let line: String = p.1.drain(..=end).collect();
            lines.push((p.0, line.trim_end().to_owned()));
        }
        lines
    });
    for (level, line) in complete {
        if !line.is_empty() {
            log_line(level, &line);
        }
    }
}

/// One complete line: kept if it says where a load put things, then logged at its level.
fn log_line(level: i32, line: &str) {
    CAPTURE.with(|c| {
        if let Some(log) = c.borrow_mut().as_mut() {
            log.read(line);
        }
    });
    if let Some(device) = parse_device(line) {
        DEVICES.lock().unwrap_or_else(|e| e.into_inner()).push(device.to_owned());
    }
    use llama_cpp_sys_2::{GGML_LOG_LEVEL_DEBUG, GGML_LOG_LEVEL_ERROR, GGML_LOG_LEVEL_WARN};
    match level {
        l if l == GGML_LOG_LEVEL_ERROR as i32 => tracing::error!(target: "llama_cpp_2", "{line}"),
        l if l == GGML_LOG_LEVEL_WARN as i32 => tracing::warn!(target: "llama_cpp_2", "{line}"),
        l if l == GGML_LOG_LEVEL_DEBUG as i32 => tracing::debug!(target: "llama_cpp_2", "{line}"),
        _ => tracing::info!(target: "llama_cpp_2", "{line}"),
    }
}

/// `load_tensors: offloaded 29/29 layers to GPU` → (29, 29).
fn parse_offloaded(line: &str) -> Option<(u32, u32)> {
    let rest = line.split_once("offloaded ")?.1;
    let (counts, tail) = rest.split_once(' ')?;
    if !tail.starts_with("layers to GPU") {
        return None;
    }
    let (n, m) = counts.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// `llama_kv_cache:      CUDA0 KV buffer size =   224.00 MiB` → CUDA0, KV, bytes. CPU buffers
/// (`CPU`, `CPU_Mapped`, `CPU_REPACK`, `CUDA_Host` pinned host memory) are not on a device.
fn parse_buffer(line: &str) -> Option<DeviceBuffer> {
    let (head, size) = line.split_once(" buffer size =")?;
    let mut words = head.rsplit(' ').filter(|w| !w.is_empty());
    let kind = words.next()?;
    let device = words.next()?;
    if !matches!(kind, "model" | "KV" | "compute") || device.starts_with("CPU") || device.ends_with("_Host") {
        return None;
    }
    let mib: f64 = size.trim().strip_suffix("MiB")?.trim().parse().ok()?;
    Some(DeviceBuffer { device: device.to_owned(), kind: kind.to_owned(), bytes: (mib * 1024.0 * 1024.0).round() as u64 })
}

/// `  Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes` → the description.
fn parse_device(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("Device ")?;
    let (index, description) = rest.split_once(": ")?;
    (index.parse::<u32>().is_ok() && description.contains("compute capability")).then_some(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// llama.cpp's lines for Llama 3.2 3B on a CUDA GPU (b6000-era format).
    const LOAD: &str = "\
load_tensors: offloading 28 repeating layers to GPU
load_tensors: offloading output layer to GPU
load_tensors: offloaded 29/29 layers to GPU
load_tensors:        CUDA0 model buffer size =  1918.36 MiB
load_tensors:   CPU_Mapped model buffer size =   308.23 MiB
llama_kv_cache:      CUDA0 KV buffer size =   224.00 MiB
llama_context:  CUDA_Host  output buffer size =     0.49 MiB
sched_reserve:      CUDA0 compute buffer size =   256.50 MiB
sched_reserve:  CUDA_Host compute buffer size =    14.01 MiB
";

    #[test]
    fn reads_layers_and_device_buffers() {
        let mut log = LoadLog::default();
        for line in LOAD.lines() {
            log.read(line);
        }
        assert_eq!(log.offloaded, Some((29, 29)));
        let kinds: Vec<(&str, &str)> = log.device_buffers.iter().map(|b| (b.device.as_str(), b.kind.as_str())).collect();
        assert_eq!(kinds, [("CUDA0", "model"), ("CUDA0", "KV"), ("CUDA0", "compute")]);
        assert_eq!(log.device_buffers[0].bytes, (1918.36f64 * 1024.0 * 1024.0).round() as u64);
        assert_eq!(log.device_bytes() >> 20, 1918 + 224 + 256);
    }

    #[test]
    fn a_cpu_load_has_no_device_facts() {
        let mut log = LoadLog::default();
        log.read("load_tensors:   CPU_Mapped model buffer size =    98.36 MiB");
        log.read("llama_kv_cache:        CPU KV buffer size =    22.50 MiB");
        log.read("load_tensors: offloading 30 repeating layers to GPU");
        assert_eq!(log, LoadLog::default());
        assert_eq!(parse_offloaded("load_tensors: offloaded 0/31 layers to GPU"), Some((0, 31)));
    }

    #[test]
    fn reads_the_device_list() {
        assert_eq!(
            parse_device("  Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes"),
            Some("NVIDIA H100 80GB HBM3, compute capability 9.0, VMM: yes")
        );
        assert_eq!(parse_device("Device 0: something else"), None);
    }
}
