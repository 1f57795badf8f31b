//! Waiting for a child process with a deadline (std has no timed wait).

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Polls `child` until it exits or `timeout` passes; `None` on timeout (the child still runs:
/// the caller decides whether to kill it).
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => return None,
        }
    }
}
