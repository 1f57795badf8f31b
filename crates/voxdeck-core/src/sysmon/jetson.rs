//! GPU readings on NVIDIA Jetson (Tegra), which has no NVML: the files jtop reads. GPU load is
//! a sysfs file in per-mille and its clock a devfreq device; memory is unified (the GPU
//! allocates system RAM), and what the GPU has allocated is listed by nvmap in debugfs,
//! readable by root only. Without root, voxdeck's share is its processes' resident memory from
//! `/proc`. The power mode comes from `nvpmodel -q`, once, when the probe starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::family::Member;
use crate::child_wait::wait_timeout;
use super::memory::kib_field;
use super::{GpuProbe, GpuProcess, GpuSnapshot};

/// GPU load files, per-mille, by JetPack generation (first existing wins).
const LOAD_FILES: [&str; 3] = [
    "sys/devices/platform/gpu.0/load",
    "sys/devices/gpu.0/load",
    "sys/devices/platform/bus@0/17000000.gpu/load",
];

/// nvmap's per-client table of GPU-visible allocations (root only).
const NVMAP_CLIENTS: &str = "sys/kernel/debug/nvmap/iovmm/clients";

/// devfreq devices; the GPU's is named after its unit address and chip
/// (`17000000.gpu` on Orin with JetPack 6, `17000000.ga10b` with JetPack 5, `57000000.gpu` on
/// Nano).
const DEVFREQ: &str = "sys/class/devfreq";

/// Longest wait for `nvpmodel -q` (it reads a file and prints two lines).
const NVPMODEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads a Jetson's GPU through sysfs and debugfs under a root (`/` outside tests).
pub struct JetsonProbe {
    root: PathBuf,
    name: String,
    load_file: Option<PathBuf>,
    /// The GPU's devfreq `cur_freq` file (Hz).
    freq_file: Option<PathBuf>,
    /// Whether the nvmap table was readable when probed; not retried, permissions do not change.
    nvmap_readable: bool,
    power_mode: Option<String>,
}

impl JetsonProbe {
    /// The probe for this machine, or `None` when it is not a Jetson.
    pub fn detect() -> Option<JetsonProbe> {
        let mut probe = JetsonProbe::with_root("/")?;
        probe.power_mode = query_nvpmodel();
        Some(probe)
    }

    /// The probe for the tree under `root` (a fake one in tests), or `None` when that tree is
    /// not a Jetson's: no `/etc/nv_tegra_release`, no `nvidia,tegra` in the device tree's
    /// `compatible` and no GPU load file.
    pub fn with_root(root: impl Into<PathBuf>) -> Option<JetsonProbe> {
        let root = root.into();
        let load_file = LOAD_FILES.iter().map(|f| root.join(f)).find(|p| p.is_file());
        let tegra = root.join("etc/nv_tegra_release").is_file()
            || std::fs::read(root.join("proc/device-tree/compatible"))
                .is_ok_and(|c| c.windows(12).any(|w| w == b"nvidia,tegra"));
        if !tegra && load_file.is_none() {
            return None;
        }
        let name = jetson_model(&root);
        let nvmap_readable = std::fs::read_to_string(root.join(NVMAP_CLIENTS)).is_ok();
        let freq_file = gpu_devfreq(&root);
        tracing::debug!(
            "Jetson GPU probe on {name}: load file {load_file:?}, clock {freq_file:?}, nvmap readable {nvmap_readable}"
        );
        Some(JetsonProbe { root, name, load_file, freq_file, nvmap_readable, power_mode: None })
    }

    /// Whether a GPU load file was found; without one, tegrastats is the only load source.
    pub fn has_load_file(&self) -> bool {
        self.load_file.is_some()
    }

}

/// The GPU's devfreq `cur_freq` under `root`, if there is one.
fn gpu_devfreq(root: &Path) -> Option<PathBuf> {
    let mut devices: Vec<PathBuf> = std::fs::read_dir(root.join(DEVFREQ))
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            ["gpu", "ga10b", "gv11b", "gp10b", "gm20b"].iter().any(|chip| name.ends_with(chip))
        })
        .map(|e| e.path().join("cur_freq"))
        .filter(|p| p.is_file())
        .collect();
    devices.sort();
    devices.into_iter().next()
}

/// `nvpmodel -q`'s mode name, or `None` when it is not installed, fails or hangs.
fn query_nvpmodel() -> Option<String> {
    let mut child = Command::new("nvpmodel")
        .arg("-q")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    if wait_timeout(&mut child, NVPMODEL_TIMEOUT).is_none() {
        let _ = child.kill();
        let _ = child.wait();
        tracing::debug!("nvpmodel -q did not answer in {NVPMODEL_TIMEOUT:?}");
        return None;
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    parse_nvpmodel(&out)
}

/// `NV Power Mode: MAXN` (then the mode's number on its own line) → `MAXN`.
pub fn parse_nvpmodel(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("NV Power Mode:"))
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
}

impl GpuProbe for JetsonProbe {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample(&mut self, members: &[Member]) -> Option<GpuSnapshot> {
        let utilization_pct = self
            .load_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| parse_load_permille(&t));
        let meminfo = std::fs::read_to_string(self.root.join("proc/meminfo")).ok();
        let total = meminfo.as_deref().and_then(|m| kib_field(m, "MemTotal:"));
        let available = meminfo.as_deref().and_then(|m| kib_field(m, "MemAvailable:"));
        let nvmap = if self.nvmap_readable {
            std::fs::read_to_string(self.root.join(NVMAP_CLIENTS)).ok()
        } else {
            None
        };
        let table = nvmap.as_deref().and_then(|t| parse_nvmap_clients(t, 0));
        // Each process's GPU allocations when nvmap is readable; else its resident memory,
        // which on unified memory is where its GPU buffers live too.
        let (processes, process_source): (Vec<GpuProcess>, &str) = match nvmap.as_deref().filter(|_| table.is_some()) {
            Some(text) => (
                members
                    .iter()
                    .map(|m| GpuProcess {
                        pid: m.pid,
                        role: m.role.to_owned(),
                        memory_bytes: parse_nvmap_clients(text, m.pid).map_or(0, |n| n.process_bytes),
                    })
                    .collect(),
                "nvmap (debugfs), per process",
            ),
            None => (
                members
                    .iter()
                    .filter_map(|m| {
                        let status = std::fs::read_to_string(self.root.join(format!("proc/{}/status", m.pid))).ok()?;
                        let rss = kib_field(&status, "VmRSS:")?;
                        Some(GpuProcess { pid: m.pid, role: m.role.to_owned(), memory_bytes: rss })
                    })
                    .collect(),
                "/proc RSS (unified memory; nvmap needs root)",
            ),
        };
        // GPU-allocated memory when nvmap is readable; else the RAM in use, which is the GPU's
        // pool too on unified memory.
        let memory_used_bytes = match table {
            Some(n) => Some(n.total_bytes),
            None => total.zip(available).map(|(t, a)| t.saturating_sub(a)),
        };
        let listed = !processes.is_empty();
        Some(GpuSnapshot {
            name: self.name.clone(),
            source: "jetson-sysfs".to_owned(),
            memory_used_bytes,
            memory_total_bytes: total,
            process_memory_bytes: listed.then(|| processes.iter().map(|p| p.memory_bytes).sum()),
            process_memory_source: listed.then(|| process_source.to_owned()),
            processes,
            utilization_pct,
            clock_mhz: self
                .freq_file
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|hz| hz.trim().parse::<u64>().ok())
                .map(|hz| u32::try_from(hz / 1_000_000).unwrap_or(u32::MAX)),
            memory_clock_mhz: None,
            power_mode: self.power_mode.clone(),
            unified_memory: true,
        })
    }
}

/// The board name from the device tree (`NVIDIA Jetson Orin NX ...`), else a generic name.
pub(super) fn jetson_model(root: &Path) -> String {
    std::fs::read_to_string(root.join("proc/device-tree/model"))
        .ok()
        .map(|m| m.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_owned())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "NVIDIA Jetson".to_owned())
}

/// Parses the GPU load file: per-mille (0..=1000) to percent.
pub fn parse_load_permille(text: &str) -> Option<f64> {
    let permille: u32 = text.trim().parse().ok()?;
    Some(f64::from(permille.min(1000)) / 10.0)
}

/// GPU-visible allocations from nvmap's `clients` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvmapUsage {
    /// All clients.
    pub total_bytes: u64,
    /// Clients whose pid is the one asked for.
    pub process_bytes: u64,
}

/// Parses `/sys/kernel/debug/nvmap/iovmm/clients`:
///
/// ```text
/// CLIENT                        PROCESS      PID        SIZE
/// user                      gnome-shell     1920      30276K
/// total                                             169568K
/// ```
///
/// Sizes end in a unit letter (the kernel prints `K`). The total comes from the `total` line,
/// or the sum of the rows when it is missing. Fields are read from the end of each line
/// because the process name may contain spaces. `None` when no line parses.
pub fn parse_nvmap_clients(text: &str, pid: u32) -> Option<NvmapUsage> {
    let mut sum = 0u64;
    let mut process_bytes = 0u64;
    let mut total_line = None;
    let mut any = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace().rev();
        let Some(size) = fields.next().and_then(parse_size) else {
            continue;
        };
        if line.trim_start().starts_with("total") {
            total_line = Some(size);
            any = true;
            continue;
        }
        let Some(row_pid) = fields.next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        any = true;
        sum += size;
        if row_pid == pid {
            process_bytes += size;
        }
    }
    any.then(|| NvmapUsage { total_bytes: total_line.unwrap_or(sum), process_bytes })
}

/// `12345K` → bytes. Accepts B/K/M/G suffixes (case-insensitive).
fn parse_size(token: &str) -> Option<u64> {
    let split = token.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = token.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let scale = match unit.to_ascii_uppercase().as_str() {
        "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return None,
    };
    value.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real file, as printed by nvmap_dev.c (`%-18s %18s %8u %10lluK`).
    const NVMAP: &str = "\
CLIENT                        PROCESS      PID        SIZE
user                      gnome-shell     1920      30276K
user                             Xorg     1689      57628K
user                      voxdeck app     4242     204800K
user                      voxdeck app     4242       1024K
total                                               293728K
";

    #[test]
    fn parses_nvmap_clients() {
        let usage = parse_nvmap_clients(NVMAP, 4242).expect("table parses");
        assert_eq!(usage.total_bytes, 293_728 * 1024);
        assert_eq!(usage.process_bytes, (204_800 + 1024) * 1024);
        let without_total: String =
            NVMAP.lines().filter(|l| !l.starts_with("total")).collect::<Vec<_>>().join("\n");
        let usage = parse_nvmap_clients(&without_total, 1).expect("rows parse");
        assert_eq!(usage.total_bytes, (30_276 + 57_628 + 204_800 + 1024) * 1024);
        assert_eq!(usage.process_bytes, 0);
        assert_eq!(parse_nvmap_clients("CLIENT PROCESS PID SIZE\n", 1), None);
    }

    #[test]
    fn parses_nvpmodel() {
        // JetPack 6 on an Orin NX 16GB.
        assert_eq!(parse_nvpmodel("NV Power Mode: MAXN\n0\n").as_deref(), Some("MAXN"));
        assert_eq!(parse_nvpmodel("NVPM WARN: fan mode is not set!\nNV Power Mode: 15W\n1\n").as_deref(), Some("15W"));
        assert_eq!(parse_nvpmodel("nvpmodel: command not found"), None);
    }

    #[test]
    fn parses_load_and_sizes() {
        assert_eq!(parse_load_permille("456\n"), Some(45.6));
        assert_eq!(parse_load_permille("0"), Some(0.0));
        assert_eq!(parse_load_permille("n/a"), None);
        assert_eq!(parse_size("12K"), Some(12 * 1024));
        assert_eq!(parse_size("3M"), Some(3 << 20));
        assert_eq!(parse_size("SIZE"), None);
        assert_eq!(parse_size("12"), None);
    }

    fn write(root: &Path, rel: &str, contents: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("relative path has a parent"))
            .expect("create fake sysfs dir");
        std::fs::write(path, contents).expect("write fake sysfs file");
    }

    #[test]
    fn reads_a_fake_orin_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            "proc/device-tree/compatible",
            b"nvidia,p3768-0000+p3767-0000\0nvidia,tegra234\0",
        );
        write(
            root,
            "proc/device-tree/model",
            b"NVIDIA Jetson Orin NX Engine Reference Carrier Board\0",
        );
        write(root, "sys/devices/platform/bus@0/17000000.gpu/load", b"731\n");
        write(root, "sys/class/devfreq/17000000.gpu/cur_freq", b"918000000\n");
        write(root, "sys/class/devfreq/3d00000.pcie/cur_freq", b"100000000\n");
        write(root, "proc/4242/status", b"Name:\tvoxdeck\nVmRSS:\t  204800 kB\n");
        write(root, "proc/4243/status", b"Name:\tvoxdeck-stt\nVmRSS:\t  102400 kB\n");
        write(
            root,
            "proc/meminfo",
            b"MemTotal:       15662836 kB\nMemFree:         9012345 kB\n\
              MemAvailable:   12000000 kB\n",
        );
        let members = [Member { pid: 4242, role: "engine" }, Member { pid: 4243, role: "stt" }];
        let mut probe = JetsonProbe::with_root(root).expect("fake tree is a Jetson");
        assert_eq!(probe.name(), "NVIDIA Jetson Orin NX Engine Reference Carrier Board");
        assert!(probe.has_load_file());
        let s = probe.sample(&members).expect("sample");
        assert_eq!(s.source, "jetson-sysfs");
        assert_eq!(s.utilization_pct, Some(73.1));
        assert_eq!(s.memory_total_bytes, Some(15_662_836 * 1024));
        assert_eq!(s.memory_used_bytes, Some((15_662_836 - 12_000_000) * 1024));
        assert_eq!(s.clock_mhz, Some(918));
        // Without nvmap: the processes' resident memory from /proc, and said so.
        assert_eq!(s.process_memory_bytes, Some((204_800 + 102_400) * 1024));
        assert_eq!(s.processes[1], GpuProcess { pid: 4243, role: "stt".into(), memory_bytes: 102_400 * 1024 });
        assert!(s.process_memory_source.as_deref().is_some_and(|w| w.starts_with("/proc RSS")), "{s:?}");
        assert!(s.unified_memory);

        // With debugfs readable (running as root), GPU memory comes from nvmap.
        write(root, NVMAP_CLIENTS, NVMAP.as_bytes());
        let mut probe = JetsonProbe::with_root(root).expect("still a Jetson");
        let s = probe.sample(&members).expect("sample");
        assert_eq!(s.memory_used_bytes, Some(293_728 * 1024));
        assert_eq!(s.process_memory_bytes, Some(205_824 * 1024));
        assert_eq!(s.processes[1].memory_bytes, 0, "the worker has no nvmap allocations in the table");
        assert_eq!(s.process_memory_source.as_deref(), Some("nvmap (debugfs), per process"));
    }

    #[test]
    fn a_plain_tree_is_not_a_jetson() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "proc/device-tree/compatible", b"raspberrypi,4-model-b\0brcm,bcm2711\0");
        assert!(JetsonProbe::with_root(dir.path()).is_none());
        // A release file alone is enough (a container without the device tree).
        write(dir.path(), "etc/nv_tegra_release", b"# R36 (release), REVISION: 3.0\n");
        let probe = JetsonProbe::with_root(dir.path()).expect("release file marks a Jetson");
        assert!(!probe.has_load_file());
        assert_eq!(probe.name(), "NVIDIA Jetson");
    }
}
