//! The ALSA test environment shared by the tests that use the real cpal/ALSA path: a
//! generated `asound.conf` (from `fixtures/audio/asound.conf.in`) whose `default` device
//! captures a generated raw file and plays into a FIFO that a [`PacedReader`] drains at a chosen
//! pace. `ALSA_CONFIG_PATH` is process-wide, so this binary sets it once, before touching ALSA.

use std::f32::consts::PI;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The capture slave format (see the template): S16_LE, 44.1 kHz, stereo.
pub const IN_RATE: u32 = 44_100;
/// The playback slave format: S16_LE, 44.1 kHz, stereo.
pub const OUT_RATE: u32 = 44_100;
/// Bytes per second of either (S16, stereo).
pub const BYTES_PER_S: f64 = 44_100.0 * 4.0;
/// The infile: 1.5 s of 440 Hz then 1.5 s of 1 kHz; left at 0.6, right at 0.2 (mono mean 0.4).
pub const IN_SECONDS: f32 = 3.0;
pub const SWITCH_S: f32 = 1.5;

pub struct Env {
    dir: PathBuf,
}

pub static ENV: OnceLock<Env> = OnceLock::new();
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Writes the ALSA config, the infile and the FIFOs, and sets `ALSA_CONFIG_PATH`, once, before
/// anything touches ALSA; returns the lock that runs the tests one at a time.
pub fn setup() -> (MutexGuard<'static, ()>, &'static Path) {
    let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let env = ENV.get_or_init(|| {
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let system = ["/usr/share/alsa/alsa.conf", "/usr/local/share/alsa/alsa.conf"]
            .iter()
            .find(|p| Path::new(p).exists())
            .map(|p| format!("<{p}>"))
            .unwrap_or_else(|| "pcm.null { type null }".to_owned());
        let conf = include_str!("../fixtures/audio/asound.conf.in")
            .replace("@SYSTEM_INCLUDE@", &system)
            .replace("@DIR@", dir.to_str().unwrap());
        let conf_path = dir.join("asound.conf");
        std::fs::write(&conf_path, conf).unwrap();
        std::fs::write(dir.join("in.raw"), infile_bytes()).unwrap();
        mkfifo(&dir.join("in_pace.fifo"));
        mkfifo(&dir.join("out.fifo"));
        // SAFETY: set once, under the lock, before any test of this binary uses ALSA; nothing
        // else in this process reads the environment concurrently.
        unsafe { std::env::set_var("ALSA_CONFIG_PATH", &conf_path) };
        Env { dir }
    });
    (guard, &env.dir)
}

pub const DIR_PREFIX: &str = "voxdeck-alsa-test-";

/// Removes the directories of earlier runs (named after their process, which is gone).
pub fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

pub fn infile_bytes() -> Vec<u8> {
    let n = (IN_RATE as f32 * IN_SECONDS) as usize;
    let mut out = Vec::with_capacity(n * 4);
    for i in 0..n {
        let t = i as f32 / IN_RATE as f32;
        let f = if t < SWITCH_S { 440.0 } else { 1000.0 };
        let s = (2.0 * PI * f * t).sin();
        for amp in [0.6, 0.2] {
            out.extend_from_slice(&((s * amp * 32767.0).round() as i16).to_le_bytes());
        }
    }
    out
}

mod c {
    unsafe extern "C" {
        pub fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
        pub fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    }
}

pub fn mkfifo(path: &Path) {
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { c::mkfifo(cpath.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Reads a FIFO at `bytes_per_s` until its writer closes it, keeping what it read.
pub struct PacedReader {
    pub data: Arc<Mutex<Vec<u8>>>,
    pub opened: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Set for readers that run until dropped ([`PacedReader::spawn_tight`]).
    stop: Option<Arc<AtomicBool>>,
}

impl Drop for PacedReader {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl PacedReader {
    pub fn spawn(path: &Path, bytes_per_s: f64) -> PacedReader {
        let data = Arc::new(Mutex::new(Vec::new()));
        let opened = Arc::new(AtomicBool::new(false));
        let (data2, opened2, path) = (data.clone(), opened.clone(), path.to_owned());
        let thread = std::thread::spawn(move || {
            // Blocks until ALSA's file plugin opens the FIFO for writing.
            let mut f = File::open(&path).unwrap();
            opened2.store(true, Ordering::SeqCst);
            shrink_pipe(&f);
            let t0 = Instant::now();
            let mut buf = [0u8; 1024];
            let mut total = 0usize;
            loop {
                let n = match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => panic!("reading {}: {e}", path.display()),
                };
                data2.lock().unwrap().extend_from_slice(&buf[..n]);
                total += n;
                let due = t0 + Duration::from_secs_f64(total as f64 / bytes_per_s);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        });
        PacedReader {
            data,
            opened,
            thread: Some(thread),
            stop: None,
        }
    }

    /// Like [`PacedReader::spawn`], but the pipe is made small before the writer opens it, so
    /// no more than about 23 ms of audio sits between the device and the reader (with `spawn`
    /// the writer can fill the default 64 KiB, 370 ms, before the pipe is shrunk). The FIFO is
    /// opened read-write, so it never sees end-of-file: the reader runs until dropped.
    pub fn spawn_tight(path: &Path, bytes_per_s: f64) -> PacedReader {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
            .unwrap();
        shrink_pipe(&f);
        let data = Arc::new(Mutex::new(Vec::new()));
        let opened = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (data2, stop2) = (data.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut t0 = None;
            let mut buf = [0u8; 1024];
            let mut total = 0usize;
            while !stop2.load(Ordering::SeqCst) {
                let n = match f.read(&mut buf) {
                    Ok(n) if n > 0 => n,
                    Ok(_) => 0,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                    Err(e) => panic!("reading the FIFO: {e}"),
                };
                if n == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let start = *t0.get_or_insert_with(Instant::now);
                data2.lock().unwrap().extend_from_slice(&buf[..n]);
                total += n;
                let due = start + Duration::from_secs_f64(total as f64 / bytes_per_s);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        });
        PacedReader { data, opened, thread: Some(thread), stop: Some(stop) }
    }

    /// The left channel of the S16_LE stereo read so far, as f32.
    pub fn samples(&self) -> Vec<f32> {
        left_channel(&self.data.lock().unwrap())
    }

    /// Samples (of the left channel) read so far.
    pub fn len(&self) -> usize {
        self.data.lock().unwrap().len() / 4
    }

    /// Waits for the writer to close the FIFO.
    pub fn finish(mut self) -> Vec<f32> {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.samples()
    }
}

/// A small pipe buffer makes the pace tight (64 KiB is 2 s of the playback format). Best effort.
pub fn shrink_pipe(f: &File) {
    use std::os::fd::AsRawFd;
    const F_SETPIPE_SZ: i32 = 1031;
    // SAFETY: fcntl on an open descriptor we own; failure is harmless.
    unsafe { c::fcntl(f.as_raw_fd(), F_SETPIPE_SZ, 4096) };
}

pub fn left_channel(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}


/// Frequency from zero crossings.
pub fn frequency(x: &[f32], rate: u32) -> f32 {
    let crossings = x.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    crossings as f32 / 2.0 / (x.len() as f32 / rate as f32)
}

pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Index range of the samples louder than `threshold` (first to last).
pub fn loud_span(x: &[f32], threshold: f32) -> Option<(usize, usize)> {
    let first = x.iter().position(|s| s.abs() > threshold)?;
    let last = x.iter().rposition(|s| s.abs() > threshold)?;
    Some((first, last + 1))
}

pub fn sine(freq: f32, rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
    (0..(rate as f32 * seconds) as usize)
        .map(|i| amp * (2.0 * PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// Pace for the capture FIFO: 4x real time.
pub const CAPTURE_PACE: f64 = 4.0 * BYTES_PER_S;
