//! GPU readings through NVML (desktop and server NVIDIA GPUs). `libnvidia-ml.so.1` is loaded
//! at run time, so a machine without the NVIDIA driver simply has no NVML probe.

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::Clock;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;

use super::family::Member;
use super::{GpuProbe, GpuProcess, GpuSnapshot};

/// Reads device 0 (the one llama.cpp offloads to by default).
pub struct NvmlProbe {
    nvml: Nvml,
    /// Device name, read once.
    name: String,
}

impl NvmlProbe {
    /// Index of the device sampled.
    const DEVICE: u32 = 0;

    /// Loads NVML and opens device 0; `None` (logged at debug level) when either fails.
    pub fn open() -> Option<NvmlProbe> {
        NvmlProbe::from_init(Nvml::init())
    }

    /// [`NvmlProbe::open`] once NVML's library has been loaded (or not).
    fn from_init(nvml: Result<Nvml, nvml_wrapper::error::NvmlError>) -> Option<NvmlProbe> {
        let nvml = match nvml {
            Ok(nvml) => nvml,
            Err(e) => {
                tracing::debug!("NVML unavailable: {e}");
                return None;
            }
        };
        let name = match nvml.device_by_index(Self::DEVICE) {
            Ok(device) => device.name().unwrap_or_else(|_| "NVIDIA GPU".to_owned()),
            Err(e) => {
                tracing::debug!("NVML loaded but GPU {} unavailable: {e}", Self::DEVICE);
                return None;
            }
        };
        tracing::debug!("NVML GPU probe on {name}");
        Some(NvmlProbe { nvml, name })
    }
}

impl GpuProbe for NvmlProbe {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample(&mut self, members: &[Member]) -> Option<GpuSnapshot> {
        // The device handle borrows `self.nvml`; fetching it per sample is a cheap table lookup
        // and avoids a self-referential struct.
        let device = match self.nvml.device_by_index(Self::DEVICE) {
            Ok(device) => device,
            Err(e) => {
                tracing::debug!("NVML device {}: {e}", Self::DEVICE);
                return None;
            }
        };
        let memory = device.memory_info().ok();
        let compute = device.running_compute_processes().ok();
        let graphics = device.running_graphics_processes().ok();
        let processes: Vec<GpuProcess> = if compute.is_none() && graphics.is_none() {
            Vec::new()
        } else {
            members
                .iter()
                .map(|m| GpuProcess {
                    pid: m.pid,
                    role: m.role.to_owned(),
                    memory_bytes: process_memory(compute.iter().chain(graphics.iter()).flatten(), m.pid),
                })
                .collect()
        };
        let listed = !processes.is_empty();
        Some(GpuSnapshot {
            name: self.name.clone(),
            source: "nvml".to_owned(),
            memory_used_bytes: memory.as_ref().map(|m| m.used),
            memory_total_bytes: memory.as_ref().map(|m| m.total),
            process_memory_bytes: listed.then(|| processes.iter().map(|p| p.memory_bytes).sum()),
            process_memory_source: listed.then(|| "NVML, per process".to_owned()),
            processes,
            utilization_pct: device.utilization_rates().ok().map(|u| f64::from(u.gpu)),
            clock_mhz: device.clock_info(Clock::Graphics).ok(),
            memory_clock_mhz: device.clock_info(Clock::Memory).ok(),
            power_mode: None,
            unified_memory: false,
        })
    }
}

/// Memory held on the GPU by `pid`, from NVML's process lists. A process with both a compute
/// and a graphics context appears in both lists with the same figure, so take the largest
/// entry rather than a sum. 0 when the process has no context on the device (no model
/// offloaded); NVML reports host pids, so inside a pid namespace (container) this reads 0.
fn process_memory<'a>(processes: impl Iterator<Item = &'a ProcessInfo>, pid: u32) -> u64 {
    processes
        .filter(|p| p.pid == pid)
        .filter_map(|p| match p.used_gpu_memory {
            UsedGpuMemory::Used(bytes) => Some(bytes),
            UsedGpuMemory::Unavailable => None,
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32, used: UsedGpuMemory) -> ProcessInfo {
        ProcessInfo { pid, used_gpu_memory: used, gpu_instance_id: None, compute_instance_id: None }
    }

    #[test]
    fn picks_this_process_memory() {
        let list = [
            info(10, UsedGpuMemory::Used(500)),
            info(42, UsedGpuMemory::Used(4096)),
            info(42, UsedGpuMemory::Used(4096)),
            info(43, UsedGpuMemory::Unavailable),
        ];
        assert_eq!(process_memory(list.iter(), 42), 4096);
        assert_eq!(process_memory(list.iter(), 43), 0);
        assert_eq!(process_memory(list.iter(), 7), 0);
    }

    #[test]
    fn absent_library_means_no_probe() {
        let absent = Nvml::builder().lib_path(std::ffi::OsStr::new("/nonexistent/libnvidia-ml.so.1")).init();
        assert!(absent.is_err(), "NVML loaded from a path that does not exist");
        assert!(NvmlProbe::from_init(absent).is_none());
        // This machine: a probe that reads the GPU where there is an NVIDIA device, none
        // elsewhere.
        let device = std::path::Path::new("/dev/nvidia0").exists();
        match NvmlProbe::open() {
            Some(mut probe) => {
                assert!(device, "an NVML probe without /dev/nvidia0");
                let snapshot = probe.sample(&super::super::family::members()).expect("a sample from device 0");
                assert_eq!(snapshot.source, "nvml");
                assert_eq!(snapshot.processes[0].pid, std::process::id());
                assert!(snapshot.memory_total_bytes.is_some_and(|t| t > 0), "{snapshot:?}");
            }
            None => assert!(!device, "/dev/nvidia0 is there but NVML did not open it"),
        }
    }
}
