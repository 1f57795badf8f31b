//! The background thread that samples at a fixed rate and hands each snapshot to a callback.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cpu::thread_cpu_seconds;
use super::{Sampler, SystemSnapshot};

/// Samples on its own thread at a fixed rate; stops and joins on [`Monitor::stop`] or drop.
/// The thread waits on a channel between samples, so stopping is immediate.
pub struct Monitor {
    /// Dropping it wakes the thread and ends it.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    cpu_ns: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
}

impl Monitor {
    /// Starts sampling `hz` times a second with [`Sampler::new`] (the GPU is probed on the new
    /// thread, so this returns at once). The first snapshot is taken immediately.
    pub fn spawn(
        hz: f64,
        on_sample: impl FnMut(SystemSnapshot) + Send + 'static,
    ) -> io::Result<Monitor> {
        Monitor::spawn_with(hz, Sampler::new, on_sample)
    }

    /// [`Monitor::spawn`] with the sampler built by `make_sampler` on the sampling thread.
    /// Errors: `hz` not a positive finite rate (`InvalidInput`), or the thread cannot start.
    pub fn spawn_with(
        hz: f64,
        make_sampler: impl FnOnce() -> Sampler + Send + 'static,
        mut on_sample: impl FnMut(SystemSnapshot) + Send + 'static,
    ) -> io::Result<Monitor> {
        let period = period(hz)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let cpu_ns = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let (cpu_out, samples_out) = (Arc::clone(&cpu_ns), Arc::clone(&samples));
        let thread =
            std::thread::Builder::new().name("voxdeck-sysmon".to_owned()).spawn(move || {
                let mut sampler = make_sampler();
                // The one-time GPU probe is left out: the figure is the steady-state cost.
                let baseline = thread_cpu_seconds();
                let mut next = Instant::now();
                loop {
                    on_sample(sampler.sample());
                    samples_out.fetch_add(1, Ordering::Relaxed);
                    if let (Some(base), Some(now)) = (baseline, thread_cpu_seconds()) {
                        cpu_out.store(((now - base).max(0.0) * 1e9) as u64, Ordering::Relaxed);
                    }
                    next += period;
                    let now = Instant::now();
                    if next < now {
                        // Fell behind (suspend, slow callback): restart the schedule, no burst.
                        next = now + period;
                    }
                    match stopped.recv_timeout(next - now) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                tracing::debug!("system monitor stopped");
            })?;
        tracing::debug!("system monitor sampling at {hz} Hz");
        Ok(Monitor { stop: Some(stop), thread: Some(thread), cpu_ns, samples })
    }

    /// CPU time the sampling thread has used since its sampler was built, in seconds: the
    /// sampling, this measurement and the callback. Divide by elapsed wall time for the share
    /// of one core.
    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_ns.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// Snapshots delivered so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for it (the current sample, if any, finishes first).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        drop(self.stop.take());
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Dropped from inside the callback: joining itself would fail; the loop ends anyway.
        if thread.thread().id() == std::thread::current().id() {
            return;
        }
        if thread.join().is_err() {
            tracing::warn!("system monitor thread panicked");
        }
    }
}

/// The sampling period for `hz`; `InvalidInput` unless it is a positive finite rate.
fn period(hz: f64) -> io::Result<Duration> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidInput, format!("metrics rate {hz} Hz"));
    if !(hz.is_finite() && hz > 0.0) {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(1.0 / hz).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;

    fn quiet_monitor(hz: f64) -> (Monitor, Receiver<SystemSnapshot>) {
        let (tx, rx) = mpsc::channel();
        let monitor = Monitor::spawn_with(
            hz,
            || Sampler::with_gpu(None),
            move |s| {
                let _ = tx.send(s);
            },
        )
        .expect("monitor starts");
        (monitor, rx)
    }

    #[test]
    fn rejects_bad_rates() {
        for hz in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-320] {
            let err = Monitor::spawn(hz, |_| {}).err().expect("bad rate refused");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{hz}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn samples_at_4_hz_cheaply() {
        let start = Instant::now();
        let (monitor, rx) = quiet_monitor(4.0);
        // From the first sample (the thread is running), 2.1 s: 8 more samples at 4 Hz, the
        // reading half a period from the next one.
        while monitor.samples() == 0 {
            assert!(start.elapsed() < Duration::from_secs(5), "no first sample in 5 s");
            std::thread::sleep(Duration::from_millis(1));
        }
        let (first_at, first) = (Instant::now(), monitor.samples());
        std::thread::sleep(Duration::from_millis(2100));
        let cpu = monitor.cpu_seconds();
        let count = monitor.samples();
        let span = first_at.elapsed().as_secs_f64();
        let elapsed = start.elapsed().as_secs_f64();
        monitor.stop();
        let snapshots: Vec<_> = rx.try_iter().collect();
        eprintln!(
            "sysmon at 4 Hz: {count} samples, {cpu:.6} CPU s in {elapsed:.2} s \
             ({:.4} % of one core)",
            cpu / elapsed * 100.0
        );
        // The rate itself: a sampler at 2 or 8 Hz gives 4 or 16 here.
        let expected = (span * 4.0).floor() as u64;
        let taken = count - first;
        assert!(
            (expected - 1..=expected + 1).contains(&taken),
            "{taken} samples in {span:.2} s at 4 Hz, {expected} expected"
        );
        assert_eq!(snapshots.len() as u64, count);
        assert!(snapshots.iter().skip(1).all(|s| s.system_cpu_pct.is_some()));
        // Catches a busy loop, not noise: the real figure is a small fraction of 1 %.
        assert!(cpu < 0.5 * elapsed, "sampler used {cpu} CPU s in {elapsed} s");
    }

    #[test]
    fn stop_wakes_the_thread_at_once() {
        // One sample every 10 s: a sleeping loop would hold stop() for up to 10 s.
        let (monitor, rx) = quiet_monitor(0.1);
        rx.recv_timeout(Duration::from_secs(5)).expect("first sample is immediate");
        let start = Instant::now();
        monitor.stop();
        assert!(start.elapsed() < Duration::from_secs(1), "stop took {:?}", start.elapsed());
    }
}
