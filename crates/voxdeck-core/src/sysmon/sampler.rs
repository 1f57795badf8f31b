//! One [`SystemSnapshot`] on demand; keeps the previous CPU counters to turn them into rates.

use std::time::{SystemTime, UNIX_EPOCH};

use super::cpu::CpuMeter;
use super::{GpuProbe, SystemSnapshot, family, probe_gpu};
use super::memory;

/// Stateful sampler: the first sample has no CPU rates, later ones cover the time since the
/// previous sample.
pub struct Sampler {
    cpu: CpuMeter,
    gpu: Option<Box<dyn GpuProbe>>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    /// A sampler with the GPU probed once ([`probe_gpu`]); loading NVML can take a moment, so
    /// call this where a short delay does not matter (the [`super::Monitor`] thread does).
    pub fn new() -> Sampler {
        Sampler::with_gpu(probe_gpu())
    }

    /// A sampler with a given GPU source (`None`: no GPU readings).
    pub fn with_gpu(gpu: Option<Box<dyn GpuProbe>>) -> Sampler {
        Sampler { cpu: CpuMeter::default(), gpu }
    }

    /// The GPU source's device name, if any.
    pub fn gpu_name(&self) -> Option<&str> {
        self.gpu.as_deref().map(GpuProbe::name)
    }

    /// Reads everything now.
    pub fn sample(&mut self) -> SystemSnapshot {
        let cpu = self.cpu.read();
        let cores = cpu.cores.filter(|&c| c > 0).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        });
        let members = family::members();
        SystemSnapshot {
            unix_ms: unix_ms(SystemTime::now()),
            process_rss_bytes: memory::process_rss_bytes(),
            voxdeck_rss_bytes: memory::voxdeck_rss_bytes(&members),
            system_total_bytes: memory::system_total_bytes(),
            system_available_bytes: memory::system_available_bytes(),
            process_cpu_pct: cpu.process_pct,
            system_cpu_pct: cpu.system_pct,
            cores,
            gpu: self.gpu.as_mut().and_then(|g| g.sample(&members)),
        }
    }
}

/// Milliseconds since the Unix epoch (negative before it, for a badly set clock).
fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysmon::GpuSnapshot;
    use std::time::{Duration, Instant};

    struct FakeGpu;

    impl GpuProbe for FakeGpu {
        fn name(&self) -> &str {
            "Fake GPU"
        }

        fn sample(&mut self, members: &[family::Member]) -> Option<GpuSnapshot> {
            Some(GpuSnapshot {
                name: "Fake GPU".to_owned(),
                source: "nvml".to_owned(),
                memory_used_bytes: Some(1 << 30),
                memory_total_bytes: Some(8 << 30),
                process_memory_bytes: Some(1 << 29),
                processes: members
                    .iter()
                    .map(|m| super::super::GpuProcess { pid: m.pid, role: m.role.to_owned(), memory_bytes: 1 << 29 })
                    .collect(),
                utilization_pct: Some(42.0),
                ..GpuSnapshot::default()
            })
        }
    }

    #[test]
    fn unix_ms_handles_both_sides_of_the_epoch() {
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1234)), 1234);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_millis(5)), -5);
    }

    #[test]
    fn passes_gpu_readings_through() {
        let mut sampler = Sampler::with_gpu(Some(Box::new(FakeGpu)));
        assert_eq!(sampler.gpu_name(), Some("Fake GPU"));
        let gpu = sampler.sample().gpu.expect("fake GPU reading");
        assert_eq!(gpu.utilization_pct, Some(42.0));
        assert_eq!(gpu.processes[0].pid, std::process::id(), "this process is sampled first");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn live_sample_is_plausible() {
        let mut sampler = Sampler::new();
        let first = sampler.sample();
        let total = first.system_total_bytes.expect("MemTotal");
        let rss = first.process_rss_bytes.expect("VmRSS");
        assert!(rss > 0 && rss < total);
        assert!(first.system_available_bytes.expect("MemAvailable") <= total);
        assert!(first.cores > 0);
        assert!(first.unix_ms > 1_600_000_000_000);

        // Busy work so the second sample has CPU time to report.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let second = sampler.sample();
        let process = second.process_cpu_pct.expect("process CPU on the second sample");
        let system = second.system_cpu_pct.expect("system CPU on the second sample");
        assert!(process > 0.0, "process {process}%");
        assert!(system > 0.0 && system <= 100.0, "system {system}%");
        assert!(second.unix_ms >= first.unix_ms);
    }
}
