//! CPU usage from Linux `/proc` counters: cumulative tick counts, turned into rates by diffing
//! two readings. The parsers are pure so they can be tested on captured text.

use std::time::Instant;

/// Clock ticks per second of the `/proc` CPU counters (`sysconf(_SC_CLK_TCK)`). The kernel ABI
/// fixes `USER_HZ` at 100 on every Linux architecture voxdeck targets (x86_64, aarch64), so it
/// is a constant rather than a libc call.
pub const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Cumulative system-wide CPU time from the first line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemTicks {
    /// All time accounted (user..steal; guest time is already inside user/nice).
    pub total: u64,
    /// `total` less idle and iowait.
    pub busy: u64,
    /// Number of per-CPU lines (`cpu0`, `cpu1`, ...): the online cores.
    pub cores: u32,
}

/// Parses `/proc/stat`: the aggregate `cpu` line and the count of `cpuN` lines.
pub fn parse_proc_stat(text: &str) -> Option<SystemTicks> {
    let mut lines = text.lines();
    let first = lines.next()?;
    let mut fields = first.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let values: Vec<u64> = fields.take(8).map(str::parse).collect::<Result<_, _>>().ok()?;
    if values.len() < 4 {
        return None;
    }
    let total: u64 = values.iter().sum();
    let idle = values[3] + values.get(4).copied().unwrap_or(0);
    let cores = lines
        .take_while(|l| l.starts_with("cpu"))
        .filter(|l| l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    Some(SystemTicks {
        total,
        busy: total.saturating_sub(idle),
        cores: u32::try_from(cores).unwrap_or(u32::MAX),
    })
}

/// Parses `/proc/<pid>/stat` (or a thread's): utime + stime (fields 14 and 15), in clock ticks.
/// The command name (field 2) may hold spaces and parentheses, so fields are counted after the
/// last `)`.
pub fn parse_task_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    // After ')' the first field is field 3 (state): utime is field 14, index 11.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Parses `/proc/<pid>/schedstat`: nanoseconds spent on a CPU (the first field).
pub fn parse_schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// CPU time consumed by the calling thread so far, in seconds.
///
/// Reads `/proc/thread-self/schedstat` (nanosecond resolution) and falls back on
/// `/proc/thread-self/stat` (utime + stime at [`CLOCK_TICKS_PER_SEC`], 10 ms resolution) on
/// kernels built without scheduler statistics. `None` off Linux.
pub fn thread_cpu_seconds() -> Option<f64> {
    if let Some(ns) = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|t| parse_schedstat_ns(&t))
    {
        return Some(ns as f64 / 1e9);
    }
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    Some(parse_task_stat_ticks(&stat)? as f64 / CLOCK_TICKS_PER_SEC)
}

/// Process and system CPU percentages since the previous call.
#[derive(Debug, Default)]
pub struct CpuMeter {
    prev_process: Option<(Instant, u64)>,
    prev_system: Option<SystemTicks>,
}

/// One reading of [`CpuMeter`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuReading {
    /// % of one core; `None` on the first reading or when `/proc/self/stat` is unreadable.
    pub process_pct: Option<f64>,
    /// % of all cores, 0..=100; `None` on the first reading or when `/proc/stat` is unreadable.
    pub system_pct: Option<f64>,
    /// Online cores; `None` when `/proc/stat` is unreadable.
    pub cores: Option<u32>,
}

impl CpuMeter {
    /// Reads the counters and returns the rates since the last call.
    pub fn read(&mut self) -> CpuReading {
        let now = Instant::now();
        let process =
            std::fs::read_to_string("/proc/self/stat").ok().and_then(|t| parse_task_stat_ticks(&t));
        let system = std::fs::read_to_string("/proc/stat").ok().and_then(|t| parse_proc_stat(&t));
        self.update(now, process, system)
    }

    /// The arithmetic of [`CpuMeter::read`], separated from the file reads for tests.
    fn update(
        &mut self,
        now: Instant,
        process: Option<u64>,
        system: Option<SystemTicks>,
    ) -> CpuReading {
        let process_pct = match (self.prev_process, process) {
            (Some((then, before)), Some(ticks)) => {
                let wall = now.duration_since(then).as_secs_f64();
                (wall > 0.0).then(|| {
                    ticks.saturating_sub(before) as f64 / CLOCK_TICKS_PER_SEC / wall * 100.0
                })
            }
            _ => None,
        };
        let system_pct = match (self.prev_system, system) {
            (Some(before), Some(after)) => {
                let total = after.total.saturating_sub(before.total);
                let busy = after.busy.saturating_sub(before.busy);
                (total > 0).then(|| (busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0))
            }
            _ => None,
        };
        // A failed read keeps the old baseline, so the next good one spans the gap.
        if let Some(ticks) = process {
            self.prev_process = Some((now, ticks));
        }
        if system.is_some() {
            self.prev_system = system;
        }
        CpuReading { process_pct, system_pct, cores: system.map(|s| s.cores) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const PROC_STAT: &str = "\
cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335297 28879 573553 13397364 2743 0 3347 0 22893 0
cpu2 3688271 101244 985233 10200124 4117 0 2215 0 64563 0
cpu3 3715305 127607 953877 9887703 3693 0 1758 0 64239 0
intr 199292716 25 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0
ctxt 304297485
btime 1700000000
processes 1118521
procs_running 2
procs_blocked 0
softirq 63286393 2 25207022 95 1050870 0 0 3040451 17744780 0 16243173
";

    #[test]
    fn parses_proc_stat() {
        let s = parse_proc_stat(PROC_STAT).expect("valid /proc/stat");
        // user nice system idle iowait softirq (irq and steal are 0).
        let total = 10_132_153 + 290_696 + 3_084_719 + 46_828_483 + 16_683 + 25_195;
        assert_eq!(s.total, total);
        assert_eq!(s.busy, total - 46_828_483 - 16_683);
        assert_eq!(s.cores, 4);
    }

    #[test]
    fn parses_old_kernel_proc_stat_with_four_fields() {
        let s = parse_proc_stat("cpu 10 0 5 85\ncpu0 10 0 5 85\n").expect("4-field line");
        assert_eq!((s.total, s.busy, s.cores), (100, 15, 1));
    }

    #[test]
    fn rejects_garbage_proc_stat() {
        assert_eq!(parse_proc_stat(""), None);
        assert_eq!(parse_proc_stat("intr 1 2 3\n"), None);
        assert_eq!(parse_proc_stat("cpu a b c d\n"), None);
    }

    #[test]
    fn parses_task_stat_with_odd_comm() {
        // comm "(my) app )x" holds spaces and both parentheses; utime 1234, stime 56.
        let text = "4242 ((my) app )x) S 1 4242 4242 0 -1 4194560 5530 0 0 0 1234 56 0 0 20 0 \
                    7 0 123456 1234567890 12345 18446744073709551615 1 1 0 0 0 0 0 4096 17475 \
                    0 0 0 17 3 0 0 0 0 0\n";
        assert_eq!(parse_task_stat_ticks(text), Some(1290));
        let plain = "1 (systemd) S 0 1 1 0 -1 4194560 52 0 0 0 77 21 0 0 20 0 1 0 5 0 0\n";
        assert_eq!(parse_task_stat_ticks(plain), Some(98));
        assert_eq!(parse_task_stat_ticks("1 (x) S 0 1"), None);
        assert_eq!(parse_task_stat_ticks("no parenthesis"), None);
    }

    #[test]
    fn parses_schedstat() {
        assert_eq!(parse_schedstat_ns("2510487 106094 93\n"), Some(2_510_487));
        assert_eq!(parse_schedstat_ns(""), None);
    }

    #[test]
    fn meter_turns_ticks_into_rates() {
        let mut meter = CpuMeter::default();
        let t0 = Instant::now();
        let sys = |total, busy| Some(SystemTicks { total, busy, cores: 4 });
        let first = meter.update(t0, Some(1000), sys(10_000, 2_000));
        assert_eq!((first.process_pct, first.system_pct, first.cores), (None, None, Some(4)));
        // 150 ticks = 1.5 s of CPU over 1 s of wall: 150 % of one core; 100 of 400 ticks busy.
        let second = meter.update(t0 + Duration::from_secs(1), Some(1150), sys(10_400, 2_100));
        let pct = second.process_pct.expect("second reading has a rate");
        assert!((pct - 150.0).abs() < 1e-9, "{pct}");
        assert_eq!(second.system_pct, Some(25.0));
        // A failed read yields None and keeps the baseline.
        let gap = meter.update(t0 + Duration::from_secs(2), None, None);
        assert_eq!((gap.process_pct, gap.system_pct), (None, None));
        let after = meter.update(t0 + Duration::from_secs(3), Some(1350), sys(10_800, 2_500));
        let pct = after.process_pct.expect("rate across the gap");
        assert!((pct - 100.0).abs() < 1e-9, "{pct}");
        assert_eq!(after.system_pct, Some(100.0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu_seconds().expect("readable on Linux");
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = thread_cpu_seconds().expect("readable on Linux");
        assert!(after > before, "{before} -> {after}");
    }
}
