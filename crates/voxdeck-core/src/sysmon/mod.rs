//! System metrics, sampled in the background for the live charts: process and system RAM,
//! process and system CPU, and GPU memory and load.
//!
//! Where the numbers come from:
//! - RAM: `/proc/self/status` (VmRSS) and `/proc/meminfo` ([`memory`]).
//! - CPU: cumulative tick counters in `/proc/self/stat` and `/proc/stat`, diffed between two
//!   samples ([`cpu`]).
//! - GPU, behind [`GpuProbe`]: NVML on desktop/server NVIDIA GPUs ([`nvml`], the library is
//!   loaded at run time, so no driver means "n/a"); on Jetson, which has no NVML, the sysfs
//!   load file and nvmap's debugfs table that jtop reads ([`jetson`]), or `tegrastats` when
//!   the load file is not visible ([`tegrastats`]).
//!
//! Why it is cheap: a sample is a handful of reads of small kernel-generated files plus, with
//! a GPU, a few NVML calls; nothing is spawned or scanned per sample. At 2-4 Hz that is well
//! under 1 % of one core, and [`Monitor::cpu_seconds`] measures it.

pub mod cpu;
pub mod family;
pub mod jetson;
pub mod load_watch;
pub mod memory;
mod monitor;
pub mod nvml;
mod sampler;
pub mod tegrastats;

use serde::{Deserialize, Serialize};

pub use cpu::thread_cpu_seconds;
pub use monitor::Monitor;
pub use sampler::Sampler;

/// One sample, sent to UIs as JSON (snake_case keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SystemSnapshot {
    /// Wall clock of the sample, milliseconds since the Unix epoch.
    pub unix_ms: i64,
    pub process_rss_bytes: Option<u64>,
    /// Resident memory of all of voxdeck's processes (this one and its workers), from
    /// `/proc/PID/status`.
    pub voxdeck_rss_bytes: Option<u64>,
    pub system_total_bytes: Option<u64>,
    pub system_available_bytes: Option<u64>,
    /// Percent of ONE core used by this process since the previous sample; above 100 when
    /// several threads run. `None` on the first sample.
    pub process_cpu_pct: Option<f64>,
    /// Percent of all cores busy since the previous sample (0..=100). `None` on the first sample.
    pub system_cpu_pct: Option<f64>,
    /// Online CPU cores.
    pub cores: u32,
    /// `None`: no GPU readings here (no NVML, not a Jetson).
    pub gpu: Option<GpuSnapshot>,
}

/// GPU readings; each field is `None` when the source cannot tell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct GpuSnapshot {
    pub name: String,
    /// Where the device's readings come from: `"nvml"`, `"jetson-sysfs"` or `"tegrastats"`.
    pub source: String,
    /// Device memory in use. On Jetson: what the GPU has allocated (nvmap, root only), else
    /// the system RAM in use, since that is the GPU's pool too.
    pub memory_used_bytes: Option<u64>,
    pub memory_total_bytes: Option<u64>,
    /// voxdeck's share: the sum over `processes` (the engine and its workers).
    pub process_memory_bytes: Option<u64>,
    /// Where `process_memory_bytes` comes from, in words ("NVML, per process").
    pub process_memory_source: Option<String>,
    /// Each of voxdeck's processes and the GPU memory it holds.
    pub processes: Vec<GpuProcess>,
    pub utilization_pct: Option<f64>,
    /// Graphics clock now, MHz (NVML; devfreq or tegrastats on Jetson).
    pub clock_mhz: Option<u32>,
    /// Memory clock now, MHz (NVML).
    pub memory_clock_mhz: Option<u32>,
    /// Jetson's power mode as `nvpmodel -q` names it ("MAXN", "25W").
    pub power_mode: Option<String>,
    /// Jetson: GPU memory is system RAM, so it is not extra to the RAM figures.
    pub unified_memory: bool,
}

/// One of voxdeck's processes on the GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct GpuProcess {
    pub pid: u32,
    /// "engine" or "stt" (the Whisper worker).
    pub role: String,
    /// 0 when the process has no context on the device (nothing offloaded).
    pub memory_bytes: u64,
}

/// A source of GPU readings. `Send` so the sampler can live on its own thread.
pub trait GpuProbe: Send {
    /// The device's name.
    fn name(&self) -> &str;
    /// One reading, with the GPU memory of each of voxdeck's processes in `members` where the
    /// source can tell; `None` when the source has nothing right now.
    fn sample(&mut self, members: &[family::Member]) -> Option<GpuSnapshot>;
}

/// Interval asked of `tegrastats` when it is the fallback (it prints on its own schedule).
const TEGRASTATS_INTERVAL_MS: u32 = 500;

/// The first GPU source that works here: NVML, then Jetson sysfs (or tegrastats on a Jetson
/// whose load file is hidden). `None` when there is none; never an error.
pub fn probe_gpu() -> Option<Box<dyn GpuProbe>> {
    if let Some(nvml) = nvml::NvmlProbe::open() {
        return Some(Box::new(nvml));
    }
    let jetson = jetson::JetsonProbe::detect()?;
    if jetson.has_load_file() {
        return Some(Box::new(jetson));
    }
    match tegrastats::TegrastatsProbe::spawn(TEGRASTATS_INTERVAL_MS) {
        Some(tegrastats) => Some(Box::new(tegrastats)),
        // Memory readings still work without a load file.
        None => Some(Box::new(jetson)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn snapshot_json_uses_snake_case_and_round_trips() {
        let snapshot = SystemSnapshot {
            unix_ms: 1_700_000_000_000,
            process_rss_bytes: Some(1),
            voxdeck_rss_bytes: Some(1),
            system_total_bytes: Some(2),
            system_available_bytes: None,
            process_cpu_pct: Some(12.5),
            system_cpu_pct: None,
            cores: 8,
            gpu: Some(GpuSnapshot {
                name: "NVIDIA Jetson".to_owned(),
                source: "jetson-sysfs".to_owned(),
                memory_used_bytes: Some(3),
                memory_total_bytes: Some(4),
                utilization_pct: Some(50.0),
                clock_mhz: Some(918),
                power_mode: Some("MAXN".to_owned()),
                unified_memory: true,
                ..GpuSnapshot::default()
            }),
        };
        let json = serde_json::to_value(&snapshot).expect("serializes");
        assert_eq!(json["process_cpu_pct"], 12.5);
        assert_eq!(json["system_available_bytes"], serde_json::Value::Null);
        assert_eq!(json["gpu"]["unified_memory"], true);
        assert_eq!(json["gpu"]["utilization_pct"], 50.0);
        assert_eq!(json["gpu"]["clock_mhz"], 918);
        assert_eq!(json["gpu"]["power_mode"], "MAXN");
        let back: SystemSnapshot = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, snapshot);
    }

    #[test]
    fn probe_is_quick_and_none_without_a_gpu() {
        let start = Instant::now();
        let probe = probe_gpu();
        assert!(start.elapsed() < Duration::from_secs(5), "probe took {:?}", start.elapsed());
        let nvidia_driver = std::path::Path::new("/dev/nvidiactl").exists();
        if !nvidia_driver && jetson::JetsonProbe::detect().is_none() {
            assert!(probe.is_none(), "found {:?}", probe.map(|p| p.name().to_owned()));
        }
    }
}
