//! Process and system memory readings (Linux `/proc`); `None` where the platform has no such file.

/// Resident set size of this process, in bytes.
pub fn process_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmRSS:")
}

/// Resident set size of process `pid`, in bytes; `None` once it has exited.
pub fn pid_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&status, "VmRSS:")
}

/// Resident memory of all of voxdeck's processes (this one and its workers).
pub fn voxdeck_rss_bytes(members: &[super::family::Member]) -> Option<u64> {
    let readings: Vec<u64> = members.iter().filter_map(|m| pid_rss_bytes(m.pid)).collect();
    (!readings.is_empty()).then(|| readings.iter().sum())
}

/// Memory the system can still give to a new allocation (MemAvailable), in bytes.
pub fn system_available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&meminfo, "MemAvailable:")
}

/// Total system memory, in bytes.
pub fn system_total_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&meminfo, "MemTotal:")
}

/// Parses a `Name:   1234 kB` line (`/proc/meminfo`, `/proc/PID/status`) into bytes.
pub(super) fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kib_lines() {
        let text = "Name:\tx\nVmRSS:\t   2048 kB\nVmSwap:\t0 kB\n";
        assert_eq!(kib_field(text, "VmRSS:"), Some(2 * 1024 * 1024));
        assert_eq!(kib_field(text, "VmHWM:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn live_readings_are_plausible() {
        let rss = process_rss_bytes().unwrap();
        let total = system_total_bytes().unwrap();
        assert!(rss > 0 && rss < total);
        assert!(system_available_bytes().unwrap() <= total);
        assert_eq!(pid_rss_bytes(std::process::id()).map(|b| b > 0), Some(true));
        let family = super::super::family::members();
        assert!(voxdeck_rss_bytes(&family).unwrap() >= rss / 2);
    }
}
