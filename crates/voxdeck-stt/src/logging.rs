//! The worker's log: lines on stderr at `VOXDECK_STT_LOG`'s level (stdout is the protocol's),
//! with whisper.cpp's and ggml's own log routed through the same levels.

use std::ffi::{CStr, c_char, c_uint, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) const LEVEL_ERROR: u32 = 1;
pub(crate) const LEVEL_WARN: u32 = 2;
pub(crate) const LEVEL_INFO: u32 = 3;
pub(crate) const LEVEL_DEBUG: u32 = 4;

pub(crate) static LOG_LEVEL: AtomicU32 = AtomicU32::new(LEVEL_WARN);
/// Level of the line whisper.cpp is in the middle of (it logs `CONT` pieces).
static WHISPER_LINE_LEVEL: AtomicU32 = AtomicU32::new(LEVEL_INFO);
/// whisper.cpp's partial line, and its last warnings and errors (for load-error messages).
static WHISPER_LOG: Mutex<(String, Vec<String>)> = Mutex::new((String::new(), Vec::new()));
/// The GPU device whisper.cpp said it uses (`whisper_backend_init_gpu: using CUDA0 backend`).
static WHISPER_GPU: Mutex<Option<String>> = Mutex::new(None);

/// `log!(LEVEL_INFO, "...")`: a line on stderr when `VOXDECK_STT_LOG` enables the level. A
/// stderr that cannot be written (the engine died) loses the line rather than panicking.
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $level <= $crate::logging::LOG_LEVEL.load(std::sync::atomic::Ordering::Relaxed) {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "voxdeck-stt: {}", format_args!($($arg)*));
        }
    };
}

pub(crate) use log;

/// Reads `VOXDECK_STT_LOG` and routes whisper.cpp's own log through [`whisper_log_callback`].
pub(crate) fn init_logging() {
    let level = match std::env::var("VOXDECK_STT_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" => LEVEL_ERROR,
        "info" => LEVEL_INFO,
        "debug" | "trace" => LEVEL_DEBUG,
        _ => LEVEL_WARN,
    };
    LOG_LEVEL.store(level, Ordering::Relaxed);
    // SAFETY: the callback neither panics nor unwinds (poisoned locks are recovered, and all
    // formatting is infallible), and it needs no user data.
    unsafe { whisper_rs::set_log_callback(Some(whisper_log_callback), std::ptr::null_mut()) };
}

/// whisper.cpp's and ggml's log sink: complete lines go to stderr when their level is enabled;
/// warnings and errors are also kept for error messages.
unsafe extern "C" fn whisper_log_callback(level: c_uint, text: *const c_char, _user_data: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: whisper.cpp passes a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let ours = match level {
        1 => LEVEL_DEBUG,
        2 => LEVEL_INFO,
        3 => LEVEL_WARN,
        4 => LEVEL_ERROR,
        5 => WHISPER_LINE_LEVEL.load(Ordering::Relaxed), // continuation of the current line
        _ => LEVEL_INFO,
    };
    WHISPER_LINE_LEVEL.store(ours, Ordering::Relaxed);
    let mut guard = WHISPER_LOG.lock().unwrap_or_else(|e| e.into_inner());
    let (partial, recent) = &mut *guard;
    partial.push_str(&text);
    while let Some(end) = partial.find('\n') {
        let line: String = partial.drain(..=end).collect();
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(device) = gpu_backend(line) {
            *WHISPER_GPU.lock().unwrap_or_else(|e| e.into_inner()) = Some(device.to_owned());
        }
        if ours <= LEVEL_WARN {
            if recent.len() >= 8 {
                recent.remove(0);
            }
            recent.push(line.to_owned());
        }
        if ours <= LOG_LEVEL.load(Ordering::Relaxed) {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "whisper.cpp: {line}");
        }
    }
}

/// The device in whisper.cpp's "whisper_backend_init_gpu: using CUDA0 backend" line; the CPU
/// backend's own line does not count.
fn gpu_backend(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("whisper_backend_init_gpu: using ")?;
    rest.strip_suffix(" backend").filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case("cpu"))
}

/// The GPU device whisper.cpp reported since the last call, if any.
pub(crate) fn take_whisper_gpu() -> Option<String> {
    WHISPER_GPU.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// whisper.cpp's warnings and errors since the last call.
pub(crate) fn take_whisper_messages() -> Vec<String> {
    let mut guard = WHISPER_LOG.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut guard.1)
}

#[cfg(test)]
mod tests {
    use super::gpu_backend;

    #[test]
    fn reads_the_gpu_backend_line() {
        assert_eq!(gpu_backend("whisper_backend_init_gpu: using CUDA0 backend"), Some("CUDA0"));
        assert_eq!(gpu_backend("whisper_backend_init_gpu: no GPU found"), None);
        assert_eq!(gpu_backend("whisper_backend_init: using CPU backend"), None);
    }
}
