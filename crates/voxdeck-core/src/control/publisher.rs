//! The one stream front ends follow: [`Outlet`] owns it (the controller keeps it; dropping it
//! closes the stream), [`Publisher`]s send on it from every component and background thread.

use tokio::sync::broadcast;

use super::protocol::{Outgoing, PanelEvent};
use crate::pipeline::Event;

/// The stream's owning end.
pub(super) struct Outlet {
    tx: broadcast::Sender<Outgoing>,
}

impl Outlet {
    /// A stream that buffers `capacity` messages per subscriber; one that falls further behind
    /// loses the oldest.
    pub(super) fn new(capacity: usize) -> Outlet {
        let (tx, _) = broadcast::channel(capacity);
        Outlet { tx }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.tx.subscribe()
    }

    pub(super) fn publisher(&self) -> Publisher {
        Publisher { tx: self.tx.downgrade() }
    }
}

/// Sends to every front end. Cheap to clone. It holds the stream weakly, so a background job
/// that outlives the controller neither keeps the stream open nor sends to it.
#[derive(Clone)]
pub(super) struct Publisher {
    tx: broadcast::WeakSender<Outgoing>,
}

impl Publisher {
    pub(super) fn panel(&self, event: PanelEvent) {
        self.send(Outgoing::Panel(event));
    }

    pub(super) fn engine(&self, event: Event) {
        self.send(Outgoing::Engine(event));
    }

    /// Sends to the current subscribers (none is fine).
    fn send(&self, message: Outgoing) {
        if let Some(tx) = self.tx.upgrade() {
            let _ = tx.send(message);
        }
    }
}
