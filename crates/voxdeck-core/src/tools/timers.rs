//! The timer thread: one per toolbox, asleep until the soonest timer is due or the timers
//! change. The store is the timer book (what is running and when it is due); this thread only
//! decides when to look at it, and `ring` (the toolbox's) ends what is due and says so.
//!
//! It sleeps on a condition variable, with no timeout while no timer runs; while one runs, at
//! most [`MAX_SLEEP`], so that a suspended machine or a changed clock delays a ring by at most
//! that much (a sleep is measured on the monotonic clock, a timer's due time on the wall clock).
//!
//! Toolboxes of one process on the same file (an engine swap overlaps two sessions) wake each
//! other on a change ([`Wake::changed_everywhere`]), so each sees timers the other set. That two
//! of them ring one timer is prevented by the store (`UPDATE .. WHERE state = 'running'`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use super::toolbox::ToolboxError;
use crate::turn_record::unix_ms_now;

/// The longest sleep while a timer runs.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// After a store error (a lock held too long by another process), the wait before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// What wakes the timer thread.
#[derive(Default)]
pub struct Wake {
    state: Mutex<WakeState>,
    cond: Condvar,
}

#[derive(Default)]
struct WakeState {
    changed: bool,
    stop: bool,
}

/// The wakes of the live toolboxes on each file.
static ON_FILE: Mutex<Vec<(PathBuf, Weak<Wake>)>> = Mutex::new(Vec::new());

impl Wake {
    /// A wake for a toolbox on `file` (`None`: in memory, not shared).
    pub fn new(file: Option<&Path>) -> Arc<Wake> {
        let wake = Arc::new(Wake::default());
        if let Some(file) = file {
            let mut all = lock(&ON_FILE);
            all.retain(|(_, w)| w.strong_count() > 0);
            all.push((canonical(file), Arc::downgrade(&wake)));
        }
        wake
    }

    /// The timers changed: look again.
    pub fn changed(&self) {
        lock(&self.state).changed = true;
        self.cond.notify_all();
    }

    /// The timers in `file` changed: wakes this thread and every other on the same file.
    pub fn changed_everywhere(&self, file: Option<&Path>) {
        self.changed();
        let Some(file) = file else { return };
        let file = canonical(file);
        let others: Vec<Arc<Wake>> =
            lock(&ON_FILE).iter().filter(|(f, _)| *f == file).filter_map(|(_, w)| w.upgrade()).collect();
        for other in others.iter().filter(|w| !std::ptr::eq(w.as_ref(), self)) {
            other.changed();
        }
    }

    fn stop(&self) {
        lock(&self.state).stop = true;
        self.cond.notify_all();
    }
}

/// The running thread; dropping it stops and joins it.
pub struct TimerThread {
    wake: Arc<Wake>,
    handle: Option<JoinHandle<()>>,
}

impl TimerThread {
    /// Starts the thread. `ring(now_ms)` ends and announces the timers due by `now_ms` and
    /// returns when the next one is due.
    pub fn spawn<F>(wake: Arc<Wake>, mut ring: F) -> std::io::Result<TimerThread>
    where
        F: FnMut(i64) -> Result<Option<i64>, ToolboxError> + Send + 'static,
    {
        let thread_wake = wake.clone();
        let handle = std::thread::Builder::new().name("voxdeck-timers".into()).spawn(move || {
            let wake = thread_wake;
            loop {
                let sleep = match ring(unix_ms_now()) {
                    Ok(None) => None,
                    Ok(Some(due)) => {
                        let ms = u64::try_from(due.saturating_sub(unix_ms_now())).unwrap_or(0);
                        Some(Duration::from_millis(ms).min(MAX_SLEEP))
                    }
                    Err(e) => {
                        tracing::warn!("timers: {e}; trying again in {} s", RETRY.as_secs());
                        Some(RETRY)
                    }
                };
                let mut state = lock(&wake.state);
                // A change since `ring` looked, or a due time already past: look again now.
                if !state.changed && !state.stop && sleep != Some(Duration::ZERO) {
                    state = match sleep {
                        None => wake.cond.wait(state).unwrap_or_else(PoisonError::into_inner),
                        Some(d) => wake.cond.wait_timeout(state, d).unwrap_or_else(PoisonError::into_inner).0,
                    };
                }
                if state.stop {
                    return;
                }
                state.changed = false;
            }
        })?;
        Ok(TimerThread { wake, handle: Some(handle) })
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.wake.stop();
        if let Some(handle) = self.handle.take() {
            // The last owner may be the thread itself (an event handler that held the toolbox).
            if handle.thread().id() != std::thread::current().id() && handle.join().is_err() {
                tracing::warn!("timers: the timer thread panicked");
            }
        }
    }
}

fn canonical(file: &Path) -> PathBuf {
    std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;

    #[test]
    fn sleeps_until_due_wakes_on_change_and_stops_promptly() {
        let due = Arc::new(Mutex::new(Some(unix_ms_now() + 150)));
        let rings = Arc::new(AtomicUsize::new(0));
        let wake = Wake::new(None);
        let (d, r) = (due.clone(), rings.clone());
        let thread = TimerThread::spawn(wake.clone(), move |now| {
            let mut due = lock(&d);
            if due.is_some_and(|t| t <= now) {
                r.fetch_add(1, Ordering::SeqCst);
                *due = None;
            }
            Ok(*due)
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(rings.load(Ordering::SeqCst), 1, "rang once, at its time");
        // No timer: it sleeps without a timeout until told of a change.
        *lock(&due) = Some(unix_ms_now() + 50);
        wake.changed();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(rings.load(Ordering::SeqCst), 2);
        *lock(&due) = Some(unix_ms_now() + 3_600_000);
        wake.changed();
        let t = Instant::now();
        drop(thread);
        assert!(t.elapsed() < Duration::from_secs(1), "dropping stops the thread promptly");
    }
}
