//! The global push-to-talk shortcut (`ui.global_shortcut`): held down anywhere on the desktop,
//! it talks; released, it stops. Registration can fail (taken by another program, no X11
//! server that allows grabs, Wayland): that is a warning, never a reason not to start.

use std::sync::Mutex;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutEvent, ShortcutState};
use voxdeck_core::control::{Command, Controller};
use voxdeck_core::sync::lock;

/// The accelerator registered now, if any, and whether push-to-talk is held.
#[derive(Default)]
struct Registered {
    accelerator: Mutex<Option<String>>,
    held: Mutex<bool>,
}

/// The plugin, with the handler that turns key down/up into press/release.
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri_plugin_global_shortcut::Builder::new()
        .with_handler(on_shortcut)
        .build()
}

/// Registers `accelerator` (empty: none). Call once in setup.
pub fn init<R: Runtime>(app: &AppHandle<R>, accelerator: &str) {
    app.manage(Registered::default());
    if accelerator.trim().is_empty() {
        tracing::info!("no global push-to-talk shortcut");
    }
    replace(app, accelerator);
}

/// Unregisters the current shortcut and registers `accelerator` instead (if it changed).
pub fn replace<R: Runtime>(app: &AppHandle<R>, accelerator: &str) {
    let Some(registered) = app.try_state::<Registered>() else {
        return;
    };
    let accelerator = accelerator.trim();
    let mut current = lock(&registered.accelerator);
    if current.as_deref().unwrap_or("") == accelerator {
        return;
    }
    if let Some(old) = current.take()
        && let Err(e) = app.global_shortcut().unregister(old.as_str())
    {
        tracing::warn!("cannot unregister the push-to-talk shortcut {old}: {e}");
    }
    if accelerator.is_empty() {
        tracing::info!("no global push-to-talk shortcut");
        return;
    }
    match app.global_shortcut().register(accelerator) {
        Ok(()) => {
            tracing::info!("global push-to-talk shortcut: {accelerator}");
            *current = Some(accelerator.to_owned());
        }
        Err(e) => tracing::warn!(
            "cannot register the global push-to-talk shortcut {accelerator:?} ({e}); \
             push-to-talk works from the window only"
        ),
    }
}

fn on_shortcut<R: Runtime>(app: &AppHandle<R>, _shortcut: &Shortcut, event: ShortcutEvent) {
    let Some(registered) = app.try_state::<Registered>() else {
        return;
    };
    let command = {
        let mut held = lock(&registered.held);
        match event.state() {
            // Key repeat while held sends more presses: one turn per hold.
            ShortcutState::Pressed if !*held => {
                *held = true;
                Command::Press
            }
            ShortcutState::Released if *held => {
                *held = false;
                Command::Release
            }
            _ => return,
        }
    };
    let controller = app.state::<Controller>().inner().clone();
    // The handler runs on the event loop: the blocking call goes elsewhere.
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(e) = controller.handle(command.clone()) {
            tracing::warn!("push-to-talk {command:?}: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::Shortcut;

    /// The config loader and the panel check `ui.global_shortcut` with voxdeck-core's rule; it
    /// must take exactly what this plugin's parser takes.
    #[test]
    fn core_shortcut_rule_agrees_with_the_plugin() {
        let samples = [
            "CommandOrControl+Shift+Space", "Ctrl+Q", "alt+f12", "Super+KeyA", "Shift+Digit5", "Ctrl + Shift + P",
            "F24", "Space", "Ctrl+Numpad0", "Cmd+ArrowUp", "Ctrl+`", "Banana+Q", "Ctrl+Shift", "Ctrl+Q+W", "Ctrl++",
            "Q+Ctrl", "F25", "F0", "F01", "Ctrl", " Space", "KeyAA", "Num10", "Shift+NumpadAdd", "MediaPlayPause",
            "Ctrl+Esc", "ctrl+shift+a", "Option+Comma",
        ];
        for s in samples {
            let plugin = Shortcut::from_str(s).is_ok();
            let core = voxdeck_core::shortcut::check(s).is_ok();
            assert_eq!(core, plugin, "{s:?}: core says {core}, the plugin says {plugin}");
        }
    }
}
