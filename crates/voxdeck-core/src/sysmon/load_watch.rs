//! How many cores the rest of the machine is keeping busy, watched in the background, so an
//! engine can ask for only the threads it will actually get.
//!
//! Why: ggml's threads meet at a barrier after every operation and spin while they wait. When
//! one of them shares a core with another busy process it is descheduled for a whole time
//! slice, and every barrier waits for it: Whisper with two threads on a 2-core machine whose
//! other core is busy took many times longer than with one. Asking for the spare cores only
//! keeps a loaded machine slower, not stalled.
//!
//! The watch samples `/proc/stat` and the watched engine's own processes four times a second
//! and keeps the last two seconds: recent enough to see a load that just started, long enough
//! to average over the 10 ms tick. It runs only while its owner (the speech-to-text engine)
//! lives.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::cpu::{SystemTicks, parse_proc_stat, parse_task_stat_ticks};
use crate::sync::lock;

/// Time between samples.
const PERIOD: Duration = Duration::from_millis(250);
/// Samples kept: the window averaged over is `(KEPT - 1) * PERIOD`, 2 s.
const KEPT: usize = 9;

/// One reading: the machine's counters and the ticks of the processes not to count.
#[derive(Debug, Clone, Copy)]
struct Sample {
    system: SystemTicks,
    excluded: u64,
}

#[derive(Default)]
struct Inner {
    samples: Mutex<VecDeque<Sample>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// A background sampler of other processes' CPU use; stops when dropped.
pub struct LoadWatch {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LoadWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadWatch").field("busy_cores", &self.busy_cores()).finish()
    }
}

impl LoadWatch {
    /// Starts watching; `excluded` names the processes whose own work is not load (the engine
    /// asking, whose threads are the ones being planned), read at every sample since a worker
    /// may restart under a new pid.
    pub fn spawn(excluded: impl Fn() -> Vec<u32> + Send + 'static) -> std::io::Result<LoadWatch> {
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        let thread = std::thread::Builder::new().name("voxdeck-load-watch".into()).spawn(move || {
            loop {
                if let Some(sample) = read_sample(&excluded()) {
                    let mut samples = lock(&shared.samples);
                    if samples.len() == KEPT {
                        samples.pop_front();
                    }
                    samples.push_back(sample);
                }
                let stop = lock(&shared.stop);
                let (stop, _) = shared.wake.wait_timeout(stop, PERIOD).unwrap_or_else(|e| e.into_inner());
                if *stop {
                    return;
                }
            }
        })?;
        Ok(LoadWatch { inner, thread: Some(thread) })
    }

    /// Cores kept busy by everything but the excluded processes over the last two seconds (1.0
    /// = one whole core); `None` until two samples exist or where `/proc` is unreadable.
    pub fn busy_cores(&self) -> Option<f64> {
        let samples = lock(&self.inner.samples);
        let (first, last) = (samples.front()?, samples.back()?);
        busy_between(first, last)
    }

    /// Online cores, as `/proc/stat` lists them.
    pub fn cores(&self) -> Option<u32> {
        lock(&self.inner.samples).back().map(|s| s.system.cores)
    }

    /// How many of `max` threads to run now: see [`threads_for`].
    pub fn threads(&self, max: u32) -> u32 {
        match (self.cores(), self.busy_cores()) {
            (Some(cores), Some(busy)) => threads_for(max, cores, busy),
            _ => max.max(1),
        }
    }
}

impl Drop for LoadWatch {
    fn drop(&mut self) {
        *lock(&self.inner.stop) = true;
        self.inner.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Threads to ask for when `busy` of `cores` cores are taken by others: the spare cores,
/// rounded down unless nearly whole (a core 80 % free counts), at least 1 and at most `max`.
pub fn threads_for(max: u32, cores: u32, busy: f64) -> u32 {
    let spare = (f64::from(cores) - busy.max(0.0)).max(0.0);
    let n = (spare + 0.2).floor() as u32;
    n.clamp(1, max.max(1))
}

fn busy_between(first: &Sample, last: &Sample) -> Option<f64> {
    let total = last.system.total.checked_sub(first.system.total)?;
    if total == 0 || last.system.cores == 0 {
        return None;
    }
    let busy = last.system.busy.saturating_sub(first.system.busy);
    // A restarted worker's counters start again from 0: count nothing of it then.
    let excluded = last.excluded.saturating_sub(first.excluded).min(busy);
    // `total` counts every core's ticks: one core's worth is total / cores.
    let per_core = total as f64 / f64::from(last.system.cores);
    Some((busy - excluded) as f64 / per_core)
}

fn read_sample(excluded: &[u32]) -> Option<Sample> {
    let system = parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)?;
    let excluded = excluded
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|text| parse_task_stat_ticks(&text))
        .sum();
    Some(Sample { system, excluded })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    #[test]
    fn threads_follow_the_spare_cores() {
        assert_eq!(threads_for(2, 2, 0.05), 2, "a quiet 2-core machine");
        assert_eq!(threads_for(2, 2, 1.0), 1, "one core taken");
        assert_eq!(threads_for(2, 2, 0.5), 1, "half a core taken still collides");
        assert_eq!(threads_for(2, 2, 2.0), 1, "never fewer than one");
        assert_eq!(threads_for(4, 8, 1.1), 4, "at most max");
        assert_eq!(threads_for(7, 8, 2.9), 5);
        assert_eq!(threads_for(0, 2, 0.0), 1);
    }

    #[test]
    fn busy_is_counted_in_cores_without_the_excluded() {
        let at = |total, busy, excluded| Sample { system: SystemTicks { total, busy, cores: 2 }, excluded };
        // 2 s on 2 cores = 400 ticks; 300 busy, 100 of them the excluded worker's: 1 core.
        assert_eq!(busy_between(&at(1000, 100, 50), &at(1400, 400, 150)), Some(1.0));
        // The worker restarted (its counter went back): nothing is excluded.
        assert_eq!(busy_between(&at(1000, 100, 500), &at(1400, 300, 10)), Some(1.0));
        assert_eq!(busy_between(&at(1000, 100, 0), &at(1000, 100, 0)), None);
    }

    #[test]
    fn a_spinning_thread_is_seen_as_a_busy_core() {
        let watch = LoadWatch::spawn(Vec::new).expect("starts");
        let stop = Arc::new(AtomicBool::new(false));
        let spin = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut busy = None;
        // The whole window must have seen the spinner: 2.25 s of samples.
        std::thread::sleep(PERIOD * KEPT as u32);
        while Instant::now() < deadline {
            busy = watch.busy_cores();
            if busy.is_some_and(|b| b > 0.8) {
                break;
            }
            std::thread::sleep(PERIOD);
        }
        let cores = watch.cores().expect("cores");
        let threads = watch.threads(cores);
        stop.store(true, Ordering::Relaxed);
        let _ = spin.join();
        let busy = busy.expect("a reading");
        assert!(busy > 0.8, "a spinning thread keeps a core busy: {busy:.2}");
        assert!(threads < cores || cores == 1, "{threads} threads asked for with a core taken of {cores}");
    }
}
