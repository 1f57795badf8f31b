//! One background job of a kind at a time (the model benchmark, the latency benchmark): its
//! status, set and published under one lock so front ends see them in order, and the running
//! job's cancel switch. The jobs differ in what they run and report, not in how they start,
//! stop and say so.

use std::sync::{Arc, Mutex};

use super::protocol::PanelEvent;
use super::publisher::Publisher;
use crate::llm::CancelToken;
use crate::sync::lock;

/// Why a job did not start.
#[derive(Debug, thiserror::Error)]
pub enum JobSlotError {
    #[error("a benchmark is already running")]
    AlreadyRunning,
    #[error("cannot start the benchmark thread: {0}")]
    Thread(std::io::Error),
}

/// A job's status as the panel sees it.
pub(super) trait JobStatus: Clone + Send + 'static {
    /// Nothing has run yet.
    fn idle() -> Self;
    /// The job could not run, in words.
    fn failed(message: String) -> Self;
    /// The event that carries it to the front ends.
    fn event(self) -> PanelEvent;
    /// Marks a running status as cancelling; false when it is not running.
    fn set_cancelling(&mut self) -> bool;
}

/// The slot of one kind of job.
pub(super) struct JobSlot<S> {
    status: Mutex<Option<S>>,
    cancel: Mutex<Option<CancelToken>>,
    publisher: Publisher,
}

impl<S: JobStatus> JobSlot<S> {
    pub(super) fn new(publisher: Publisher) -> Arc<JobSlot<S>> {
        Arc::new(JobSlot { status: Mutex::new(None), cancel: Mutex::new(None), publisher })
    }

    pub(super) fn status(&self) -> S {
        lock(&self.status).clone().unwrap_or_else(S::idle)
    }

    /// Sets the status and tells the front ends.
    pub(super) fn publish(&self, status: S) {
        let mut current = lock(&self.status);
        *current = Some(status.clone());
        self.publisher.panel(status.event());
    }

    /// Claims the slot, says `starting`, and runs `work` on a thread named `name`. `work` reports
    /// progress through its callback and returns the last word, which is published as the slot
    /// is freed (under one lock: a front end that sees it can start again, and a new run's first
    /// report cannot come before it). `AlreadyRunning` while a job of this kind runs.
    pub(super) fn spawn(
        self: &Arc<Self>,
        name: &str,
        starting: S,
        work: impl FnOnce(&CancelToken, &dyn Fn(S)) -> S + Send + 'static,
    ) -> Result<(), JobSlotError> {
        let cancel = CancelToken::new();
        {
            let mut running = lock(&self.cancel);
            if running.is_some() {
                return Err(JobSlotError::AlreadyRunning);
            }
            *running = Some(cancel.clone());
        }
        self.publish(starting);
        let slot = self.clone();
        let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
            let last = work(&cancel, &|status| slot.publish(status));
            let mut running = lock(&slot.cancel);
            running.take();
            slot.publish(last);
            drop(running);
        });
        spawned.map(drop).map_err(|e| {
            lock(&self.cancel).take();
            self.publish(S::failed(e.to_string()));
            JobSlotError::Thread(e)
        })
    }

    /// Asks the running job to stop at its next safe point; the front ends see "cancelling" now
    /// and the job's own last word once it has stopped. Nothing running: nothing to do.
    pub(super) fn cancel(&self) {
        let Some(cancel) = lock(&self.cancel).clone() else { return };
        cancel.cancel();
        let mut status = lock(&self.status);
        if let Some(current) = status.as_mut()
            && current.set_cancelling()
        {
            self.publisher.panel(current.clone().event());
        }
    }
}
