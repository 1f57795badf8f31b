//! The app's one Tauri command, `handle`: the UI sends the control protocol's tagged
//! [`Command`] whole, as `voxdeck serve`'s WebSocket does
//! (`invoke("handle", { command: { cmd: "set_mode", mode: "local" } })`), and gets the
//! [`Reply`], or the failure in words. One command means one name to list: here, in build.rs
//! (which generates its `allow-handle` permission) and in `capabilities/default.json`.

use tauri::{AppHandle, Runtime, State};
use voxdeck_core::control::{Command, Controller, Reply};
use voxdeck_core::errors::error_chain;

use crate::shortcut;

/// Runs `command` on a blocking thread (the controller blocks). Saved settings register a
/// changed global shortcut at once.
#[tauri::command]
pub async fn handle<R: Runtime>(
    app: AppHandle<R>,
    controller: State<'_, Controller>,
    command: Command,
) -> Result<Reply, String> {
    let accelerator = match &command {
        Command::SetSettings { settings } => Some(settings.global_shortcut.clone()),
        _ => None,
    };
    let controller = controller.inner().clone();
    let reply = tauri::async_runtime::spawn_blocking(move || controller.handle(command))
        .await
        .map_err(|e| format!("the command's thread failed: {e}"))?
        .map_err(|e| error_chain(&e))?;
    // Only settings that were saved (not refused field by field) change the shortcut.
    if let (Some(accelerator), Reply::Saved { .. }) = (accelerator, &reply) {
        shortcut::replace(&app, &accelerator);
    }
    Ok(reply)
}

/// The invoke handler: [`handle`], nothing else.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![handle]
}

#[cfg(test)]
mod tests {
    /// The window is granted exactly the app's one command and the event channel.
    #[test]
    fn the_capability_grants_exactly_the_command() {
        let text = include_str!("../capabilities/default.json");
        let capability: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(capability["windows"], serde_json::json!(["main"]));
        let mut granted: Vec<&str> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().expect("plain permission names"))
            .collect();
        granted.sort_unstable();
        assert_eq!(
            granted,
            [
                "allow-handle",
                "core:event:allow-listen",
                "core:event:allow-unlisten"
            ]
        );
    }
}
