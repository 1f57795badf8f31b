//! The worker's tie to the engine that started it: once the engine is gone, nothing the worker
//! computes can be delivered, so it stops.
//!
//! Between requests, stdin closing ends the request loop. This covers the rest, from a watch
//! thread that wakes every [`POLL`]:
//! - the parent is no longer the process that started the worker (`getppid` changed: the
//!   engine died and the worker was re-parented): exit at once, mid-decode or not;
//! - stdin hung up (the engine closed it, or died): the decode in progress is abandoned through
//!   whisper.cpp's abort callback ([`abandoned`]), answered as such, and the request loop reads
//!   the end. whisper.cpp only looks at the callback between encoder and decoder passes (after
//!   the log-mel of the whole request), so if the worker is still running [`GRACE`] later it
//!   exits from here.
//!
//! Not `PR_SET_PDEATHSIG`: Linux sends that signal when the *thread* that spawned the worker
//! ends, and the panel spawns it from a loader thread that ends once the models are loaded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::logging::{LEVEL_INFO, LEVEL_WARN, log};

/// How often the watch thread looks.
const POLL: Duration = Duration::from_millis(100);
/// How long after stdin hung up the worker may take to finish by itself.
const GRACE: Duration = Duration::from_secs(1);

/// Set once stdin hung up: the decode in progress, and any after it, is abandoned.
static ABANDONED: AtomicBool = AtomicBool::new(false);

/// Whether the engine hung up, so the decode in progress should stop.
pub(crate) fn abandoned() -> bool {
    ABANDONED.load(Ordering::Relaxed)
}

/// whisper.cpp's abort callback: true once the engine hung up.
pub(crate) unsafe extern "C" fn abort_if_abandoned(_user_data: *mut std::ffi::c_void) -> bool {
    abandoned()
}

/// Starts watching the parent and stdin. The parent is the one at start-up; if the engine
/// (whose pid it passes in [`voxdeck_stt::PARENT_PID_ENV`]) died before that was read, the
/// worker exits here. (A parent other than the engine that is alive is a wrapper script that
/// did not `exec` the worker: it is watched instead.)
pub(crate) fn watch() {
    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = unsafe { libc::getppid() };
    let engine = std::env::var(voxdeck_stt::PARENT_PID_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<libc::pid_t>().ok());
    if let Some(engine) = engine.filter(|&pid| pid != parent && !alive(pid)) {
        orphaned(engine, parent);
    }
    let spawned = std::thread::Builder::new()
        .name("lifeline".into())
        .spawn(move || watch_loop(parent));
    if let Err(e) = spawned {
        log!(LEVEL_WARN, "cannot start the lifeline thread ({e}); an orphaned worker may linger");
    }
}

/// Whether process `pid` exists.
fn alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn watch_loop(parent: libc::pid_t) {
    let mut hung_up: Option<Instant> = None;
    loop {
        match hung_up {
            Some(at) if at.elapsed() >= GRACE => {
                log!(LEVEL_INFO, "stdin hung up {GRACE:?} ago and the decode is still running; exiting");
                exit_now(0);
            }
            Some(_) => std::thread::sleep(POLL),
            None if stdin_hung_up(POLL) => {
                log!(LEVEL_INFO, "stdin hung up; abandoning any decode in progress");
                ABANDONED.store(true, Ordering::Relaxed);
                hung_up = Some(Instant::now());
            }
            None => {}
        }
        // SAFETY: as above.
        let now = unsafe { libc::getppid() };
        if now != parent {
            orphaned(parent, now);
        }
    }
}

/// Waits up to `timeout` for stdin to hang up (all its writers closed); false when it did not.
fn stdin_hung_up(timeout: Duration) -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        // No events asked for: only the hang-up and error conditions, which poll always reports,
        // so pending request bytes do not wake it.
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the length of the call.
    let n = unsafe { libc::poll(&mut fd, 1, timeout.as_millis() as libc::c_int) };
    if n <= 0 {
        if n < 0 {
            // EINTR: look again next time, after the timeout's worth of sleep.
            std::thread::sleep(timeout);
        }
        return false;
    }
    fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// The engine that started this worker is gone: exit now.
fn orphaned(parent: libc::pid_t, now: libc::pid_t) -> ! {
    log!(
        LEVEL_WARN,
        "the engine that started this worker (pid {parent}) is gone (parent now {now}); exiting"
    );
    exit_now(1)
}

/// Ends the process at once, without running destructors: the main thread may be inside
/// whisper.cpp. Nothing is lost: stdout goes to an engine that stopped listening, and stderr
/// is unbuffered.
fn exit_now(code: libc::c_int) -> ! {
    // SAFETY: _exit has no preconditions; it does not return.
    unsafe { libc::_exit(code) }
}
