//! The session's events on their way to front ends: fed to the live charts, answer text
//! merged to at most 20 updates a second, finished turns shown to the mode toggle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use super::chart_feed::ChartFeed;
use super::mode_toggle::ModeToggle;
use super::publisher::Publisher;
use crate::pipeline::Event;
use crate::pipeline::events::StreamWaiter;

/// Longest wait before answer text reaches front ends. A local model makes 30-200 tokens a
/// second; forwarding each one makes a webview re-render that often and takes a core from
/// the model on a small machine. 20 updates a second still reads as streaming.
const DELTA_INTERVAL: Duration = Duration::from_millis(50);

/// Feeds the session's events to the charts and on to every front end, until the session's
/// stream closes. Answer pieces are merged for up to [`DELTA_INTERVAL`]; everything else goes at
/// once, in order (pending text first). A finished turn that says something new about the cloud
/// republishes the mode toggle.
pub(super) fn spawn(
    mut events: broadcast::Receiver<Event>,
    publisher: Publisher,
    charts: Arc<ChartFeed>,
    toggle: Arc<ModeToggle>,
) {
    let spawned = std::thread::Builder::new().name("voxdeck-forward".into()).spawn(move || {
        let waiter = match StreamWaiter::new() {
            Ok(waiter) => waiter,
            Err(e) => {
                warn!("cannot start the event forwarder: {e}");
                return;
            }
        };
        let mut merger = DeltaMerger::default();
        loop {
            let received = match merger.due_at() {
                // Text is held: wait for the next event only until it is due.
                Some(due) => match waiter.recv_until(&mut events, due) {
                    Some(received) => received,
                    None => {
                        if let Some(merged) = merger.take() {
                            publisher.engine(merged);
                        }
                        continue;
                    }
                },
                None => events.blocking_recv(),
            };
            match received {
                Ok(event) => {
                    charts.feed(&event);
                    let event = match merger.offer(event) {
                        Offer::Held => continue,
                        Offer::Due(merged) => {
                            publisher.engine(merged);
                            continue;
                        }
                        Offer::Other { pending, event } => {
                            if let Some(merged) = pending {
                                publisher.engine(merged);
                            }
                            event
                        }
                    };
                    let cloud_news = match &event {
                        Event::TurnComplete { record } => toggle.observe(record),
                        // Switched by voice ("think harder"): the panel's toggle follows.
                        Event::ModeChanged { mode } => {
                            toggle.set(*mode);
                            true
                        }
                        _ => false,
                    };
                    publisher.engine(event);
                    if cloud_news {
                        toggle.publish();
                    }
                }
                Err(RecvError::Lagged(n)) => warn!("the panel fell {n} events behind"),
                Err(RecvError::Closed) => {
                    if let Some(merged) = merger.take() {
                        publisher.engine(merged);
                    }
                    return;
                }
            }
        }
    });
    if let Err(e) = spawned {
        warn!("cannot start the event forwarder: {e}");
    }
}

/// Answer pieces of one turn merged into one [`Event::AnswerDelta`] (text joined, the latest
/// token count and time). An answer's first piece is never held, so the time to the first
/// token shows as it happens.
#[derive(Default)]
struct DeltaMerger {
    pending: Option<Event>,
    since: Option<Instant>,
    /// The turn whose first piece went out.
    started: Option<u64>,
}

enum Offer {
    /// Merged; not due yet.
    Held,
    /// Merged and due: send this.
    Due(Event),
    /// Not held: send `pending` first, then `event`.
    Other { pending: Option<Event>, event: Event },
}

impl DeltaMerger {
    fn offer(&mut self, event: Event) -> Offer {
        let Event::AnswerDelta { turn, text, tokens, elapsed_ms } = event else {
            return Offer::Other { pending: self.take(), event };
        };
        if self.started != Some(turn) {
            self.started = Some(turn);
            let pending = self.take();
            return Offer::Other { pending, event: Event::AnswerDelta { turn, text, tokens, elapsed_ms } };
        }
        match &mut self.pending {
            Some(Event::AnswerDelta { text: held, tokens: n, elapsed_ms: e, .. }) => {
                held.push_str(&text);
                *n = tokens;
                *e = elapsed_ms;
            }
            _ => {
                self.pending = Some(Event::AnswerDelta { turn, text, tokens, elapsed_ms });
                self.since = Some(Instant::now());
            }
        }
        if self.due_at().is_some_and(|due| Instant::now() >= due) {
            self.take().map_or(Offer::Held, Offer::Due)
        } else {
            Offer::Held
        }
    }

    /// When the held text is due; `None` when nothing is held.
    fn due_at(&self) -> Option<Instant> {
        self.since.map(|t| t + DELTA_INTERVAL)
    }

    fn take(&mut self) -> Option<Event> {
        self.since = None;
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(turn: u64, text: &str, tokens: u32) -> Event {
        Event::AnswerDelta { turn, text: text.into(), tokens, elapsed_ms: f64::from(tokens) }
    }

    #[test]
    fn answer_pieces_are_merged_in_order_and_the_first_goes_at_once() {
        let mut m = DeltaMerger::default();
        assert!(matches!(m.offer(delta(1, "The", 1)), Offer::Other { pending: None, .. }), "first piece at once");
        assert!(matches!(m.offer(delta(1, " capital", 2)), Offer::Held));
        assert!(matches!(m.offer(delta(1, " is", 3)), Offer::Held));
        // Anything else flushes the held text first, keeping the order.
        let Offer::Other { pending: Some(Event::AnswerDelta { text, tokens, elapsed_ms, .. }), event } =
            m.offer(Event::Spoken { turn: 1, index: 0, text: "x".into() })
        else {
            panic!("the held text comes first")
        };
        assert_eq!((text.as_str(), tokens, elapsed_ms), (" capital is", 3, 3.0));
        assert!(matches!(event, Event::Spoken { .. }));
        // After the interval, a piece is due with everything held before it.
        assert!(matches!(m.offer(delta(1, " Paris", 4)), Offer::Held));
        std::thread::sleep(DELTA_INTERVAL);
        let Offer::Due(Event::AnswerDelta { text, tokens, .. }) = m.offer(delta(1, ".", 5)) else { panic!("due") };
        assert_eq!((text.as_str(), tokens), (" Paris.", 5));
        // A new turn's first piece is not held either.
        assert!(matches!(m.offer(delta(2, "Yes", 1)), Offer::Other { pending: None, .. }));
    }
}
