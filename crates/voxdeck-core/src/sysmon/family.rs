//! The processes that make up voxdeck: this one and the workers it started (the Whisper
//! worker). GPU memory is held per process (each has its own CUDA context), so "what voxdeck
//! uses" is a sum over all of them.
//!
//! A process-wide registry rather than a handle passed down: the worker is started deep in the
//! pipeline and the sampler lives on the monitor's thread, and which children this process has
//! is a fact about the process, not about any one engine.

use std::sync::Mutex;

/// A process of voxdeck's and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub pid: u32,
    /// "engine" (this process) or the worker's role ("stt").
    pub role: &'static str,
}

static WORKERS: Mutex<Vec<Member>> = Mutex::new(Vec::new());

/// A worker's place in the family; dropping it (the worker stopped) takes it out.
#[derive(Debug)]
pub struct Registration {
    pid: u32,
}

/// Adds a worker process.
pub fn register(pid: u32, role: &'static str) -> Registration {
    let mut workers = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    workers.retain(|m| m.pid != pid);
    workers.push(Member { pid, role });
    Registration { pid }
}

impl Drop for Registration {
    fn drop(&mut self) {
        WORKERS.lock().unwrap_or_else(|e| e.into_inner()).retain(|m| m.pid != self.pid);
    }
}

/// This process first, then the workers it has running.
pub fn members() -> Vec<Member> {
    let mut all = vec![Member { pid: std::process::id(), role: "engine" }];
    all.extend(WORKERS.lock().unwrap_or_else(|e| e.into_inner()).iter().copied());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_join_and_leave() {
        let me = std::process::id();
        let fake = u32::MAX - 7;
        let registration = register(fake, "stt");
        let with = members();
        assert_eq!(with[0], Member { pid: me, role: "engine" });
        assert!(with.contains(&Member { pid: fake, role: "stt" }));
        drop(registration);
        assert!(!members().iter().any(|m| m.pid == fake));
    }
}
