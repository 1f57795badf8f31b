//! The one event channel: every [`Outgoing`] message of the controller goes to the window as
//! the `voxdeck:event` event, in order, from a thread of its own.

use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;
use voxdeck_core::control::{Controller, Outgoing};

/// The event name the UI listens to.
pub const EVENT: &str = "voxdeck:event";

/// Starts forwarding; the thread ends when the controller's channel closes (at shutdown).
pub fn forward<R: Runtime>(app: AppHandle<R>, controller: &Controller) -> std::io::Result<()> {
    let mut rx = controller.subscribe();
    std::thread::Builder::new()
        .name("voxdeck-events".into())
        .spawn(move || {
            loop {
                match rx.blocking_recv() {
                    Ok(message) => emit(&app, &message),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!("the UI fell behind: {missed} events dropped");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            tracing::debug!("event channel closed");
        })?;
    Ok(())
}

fn emit<R: Runtime>(app: &AppHandle<R>, message: &Outgoing) {
    if let Err(e) = app.emit(EVENT, message) {
        tracing::warn!("cannot send an event to the window: {e}");
    }
}
