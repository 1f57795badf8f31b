//! Jetson fallback when the GPU load file is not visible (e.g. a container without that part of
//! sysfs): run NVIDIA's `tegrastats` and keep its latest line, as jtop does.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use super::family::Member;
use super::{GpuProbe, GpuSnapshot};

/// The figures voxdeck takes from one tegrastats line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TegrastatsLine {
    pub ram_used_bytes: Option<u64>,
    pub ram_total_bytes: Option<u64>,
    /// `GR3D_FREQ`, the GPU load in percent.
    pub gpu_pct: Option<f64>,
    /// The GPU clock after `@`, MHz (the first one where Orin prints one per GPC).
    pub gpu_mhz: Option<u32>,
}

/// Parses one line, e.g. (Orin, JetPack 5/6):
///
/// ```text
/// RAM 3410/15388MB (lfb 2x4MB) SWAP 0/7694MB (cached 0MB) CPU [2%@729,...] GR3D_FREQ 45%@[305,305]
/// ```
///
/// Older releases print `GR3D_FREQ 0%@76` or `GR3D_FREQ 0%`. `None` when neither RAM nor
/// GR3D_FREQ is present.
pub fn parse_tegrastats_line(line: &str) -> Option<TegrastatsLine> {
    let mut out = TegrastatsLine::default();
    let mut tokens = line.split_whitespace();
    while let Some(token) = tokens.next() {
        match token {
            "RAM" => {
                if let Some((used, total)) = tokens.next().and_then(parse_used_total) {
                    out.ram_used_bytes = Some(used);
                    out.ram_total_bytes = Some(total);
                }
            }
            "GR3D_FREQ" => {
                let value = tokens.next().unwrap_or_default();
                let (pct, clock) = value.split_once('@').unwrap_or((value, ""));
                out.gpu_pct = pct.strip_suffix('%').unwrap_or(pct).parse::<f64>().ok();
                out.gpu_mhz = clock.trim_start_matches('[').split([',', ']']).next().and_then(|c| c.parse().ok());
            }
            _ => {}
        }
    }
    (out.ram_total_bytes.is_some() || out.gpu_pct.is_some()).then_some(out)
}

/// `3410/15388MB` → bytes (units kB, MB or GB; both numbers share the unit).
fn parse_used_total(token: &str) -> Option<(u64, u64)> {
    let split = token.find(|c: char| c.is_ascii_alphabetic())?;
    let (numbers, unit) = token.split_at(split);
    let scale: u64 = match unit {
        "kB" | "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    let (used, total) = numbers.split_once('/')?;
    Some((used.parse::<u64>().ok()? * scale, total.parse::<u64>().ok()? * scale))
}

/// A running `tegrastats`, whose latest line a reader thread keeps.
pub struct TegrastatsProbe {
    name: String,
    child: Child,
    latest: Arc<Mutex<Option<TegrastatsLine>>>,
}

impl TegrastatsProbe {
    /// Starts `tegrastats --interval <interval_ms>`; `None` (logged at debug level) when it
    /// cannot be started, e.g. it is not installed.
    pub fn spawn(interval_ms: u32) -> Option<TegrastatsProbe> {
        let mut child = match Command::new("tegrastats")
            .args(["--interval", &interval_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                tracing::debug!("tegrastats unavailable: {e}");
                return None;
            }
        };
        let stdout = child.stdout.take()?;
        let latest = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&latest);
        // Detached: it ends at EOF, and joining could hang if tegrastats left a child holding
        // the pipe.
        let reader =
            std::thread::Builder::new().name("voxdeck-tegrastats".to_owned()).spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(parsed) = parse_tegrastats_line(&line) {
                        *sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(parsed);
                    }
                }
            });
        if let Err(e) = reader {
            tracing::debug!("tegrastats reader thread: {e}");
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        let name = super::jetson::jetson_model(std::path::Path::new("/"));
        tracing::debug!("tegrastats GPU probe on {name}");
        Some(TegrastatsProbe { name, child, latest })
    }
}

impl GpuProbe for TegrastatsProbe {
    fn name(&self) -> &str {
        &self.name
    }

    /// The latest line; `None` until tegrastats has printed one (or after it died).
    fn sample(&mut self, _members: &[Member]) -> Option<GpuSnapshot> {
        let line = (*self.latest.lock().unwrap_or_else(PoisonError::into_inner))?;
        Some(GpuSnapshot {
            name: self.name.clone(),
            source: "tegrastats".to_owned(),
            memory_used_bytes: line.ram_used_bytes,
            memory_total_bytes: line.ram_total_bytes,
            utilization_pct: line.gpu_pct,
            clock_mhz: line.gpu_mhz,
            unified_memory: true,
            ..GpuSnapshot::default()
        })
    }
}

impl Drop for TegrastatsProbe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_orin_line() {
        let line = "12-01-2024 10:00:00 RAM 3410/15388MB (lfb 2x4MB) SWAP 0/7694MB (cached 0MB) \
                    CPU [2%@729,0%@729,1%@729,0%@729,off,off,off,off] EMC_FREQ 0%@2133 \
                    GR3D_FREQ 45%@[305,305] VIC_FREQ 729 APE 174 CPU@47.5C soc2@46.1C \
                    VDD_IN 5167mW/5167mW VDD_CPU_GPU_CV 516mW/516mW VDD_SOC 1499mW/1499mW";
        let parsed = parse_tegrastats_line(line).expect("Orin line parses");
        assert_eq!(parsed.ram_used_bytes, Some(3410 << 20));
        assert_eq!(parsed.ram_total_bytes, Some(15388 << 20));
        assert_eq!(parsed.gpu_pct, Some(45.0));
        assert_eq!(parsed.gpu_mhz, Some(305));
    }

    #[test]
    fn parses_older_formats() {
        let nano = "RAM 2215/3964MB (lfb 1x2MB) SWAP 0/1982MB (cached 0MB) IRAM 0/252kB(lfb 252kB) \
                    CPU [5%@102,3%@102,0%@102,0%@102] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25";
        let parsed = parse_tegrastats_line(nano).expect("Nano line parses");
        assert_eq!(parsed.ram_total_bytes, Some(3964 << 20));
        assert_eq!((parsed.gpu_pct, parsed.gpu_mhz), (Some(0.0), Some(76)));
        let bare = parse_tegrastats_line("GR3D_FREQ 12%").expect("bare GR3D");
        assert_eq!((bare.gpu_pct, bare.ram_total_bytes), (Some(12.0), None));
        assert_eq!(parse_tegrastats_line("tegrastats: command not found"), None);
        assert_eq!(parse_tegrastats_line("RAM garbage"), None);
    }

    #[test]
    fn missing_tegrastats_is_no_probe() {
        // A probe exactly when `tegrastats` can be run from PATH (a Jetson has it; a desktop
        // or CI machine does not).
        use std::os::unix::fs::PermissionsExt;
        let installed = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| {
                std::fs::metadata(dir.join("tegrastats"))
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
        });
        let probe = TegrastatsProbe::spawn(500);
        assert_eq!(probe.is_some(), installed, "tegrastats on PATH: {installed}");
    }
}
