//! One Tauri command per control-protocol [`Command`], with the protocol's names and argument
//! names, so the UI calls `invoke("set_mode", { mode: "local" })` whichever front end it runs
//! in. Each runs the blocking `Controller::handle` on a blocking thread and answers the
//! [`Reply`], or the failure in words.
//!
//! The list here, `command_list.rs` (read by build.rs) and `capabilities/default.json` name the
//! same commands.

use tauri::{AppHandle, Runtime, State};
use voxdeck_core::config::Mode;
use voxdeck_core::control::{Command, Controller, ExportFormat, Reply, Settings};

use crate::shortcut;

type Answer = Result<Reply, String>;

/// Runs one command on a blocking thread.
async fn run(controller: &Controller, command: Command) -> Answer {
    let controller = controller.clone();
    let name = command_name(&command);
    tauri::async_runtime::spawn_blocking(move || controller.handle(command))
        .await
        .map_err(|e| format!("{name}: the command's thread failed: {e}"))?
        .map_err(|e| e.to_string())
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Press => "press",
        Command::Release => "release",
        Command::SetMode { .. } => "set_mode",
        Command::LoadModels => "load_models",
        Command::UnloadModels => "unload_models",
        Command::RunBench { .. } => "run_bench",
        Command::ExportBench { .. } => "export_bench",
        Command::GetSettings => "get_settings",
        Command::SetSettings { .. } => "set_settings",
        Command::SetCloudKey { .. } => "set_cloud_key",
        Command::ForgetCloudKey => "forget_cloud_key",
        Command::CheckCloud => "check_cloud",
        Command::FetchModel { .. } => "fetch_model",
        Command::Status => "status",
    }
}

#[tauri::command]
pub async fn press(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::Press).await
}

#[tauri::command]
pub async fn release(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::Release).await
}

#[tauri::command]
pub async fn set_mode(controller: State<'_, Controller>, mode: Mode) -> Answer {
    run(&controller, Command::SetMode { mode }).await
}

#[tauri::command]
pub async fn load_models(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::LoadModels).await
}

#[tauri::command]
pub async fn unload_models(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::UnloadModels).await
}

#[tauri::command]
pub async fn run_bench(controller: State<'_, Controller>, runs: Option<u32>) -> Answer {
    run(&controller, Command::RunBench { runs }).await
}

#[tauri::command]
pub async fn export_bench(controller: State<'_, Controller>, format: ExportFormat) -> Answer {
    run(&controller, Command::ExportBench { format }).await
}

#[tauri::command]
pub async fn get_settings(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::GetSettings).await
}

/// Saves the settings; a changed global shortcut is registered again at once.
#[tauri::command]
pub async fn set_settings<R: Runtime>(
    app: AppHandle<R>,
    controller: State<'_, Controller>,
    settings: Settings,
) -> Answer {
    let accelerator = settings.global_shortcut.clone();
    let reply = run(&controller, Command::SetSettings { settings }).await?;
    shortcut::replace(&app, &accelerator);
    Ok(reply)
}

#[tauri::command]
pub async fn set_cloud_key(controller: State<'_, Controller>, key: String) -> Answer {
    run(&controller, Command::SetCloudKey { key }).await
}

#[tauri::command]
pub async fn forget_cloud_key(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::ForgetCloudKey).await
}

#[tauri::command]
pub async fn check_cloud(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::CheckCloud).await
}

#[tauri::command]
pub async fn fetch_model(controller: State<'_, Controller>, id: String) -> Answer {
    run(&controller, Command::FetchModel { id }).await
}

#[tauri::command]
pub async fn status(controller: State<'_, Controller>) -> Answer {
    run(&controller, Command::Status).await
}

/// The invoke handler with every command above.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        press,
        release,
        set_mode,
        load_models,
        unload_models,
        run_bench,
        export_bench,
        get_settings,
        set_settings,
        set_cloud_key,
        forget_cloud_key,
        check_cloud,
        fetch_model,
        status,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command_list::COMMANDS;

    #[test]
    fn the_command_names_are_the_protocols() {
        let unit = [
            Command::Press,
            Command::Release,
            Command::LoadModels,
            Command::UnloadModels,
            Command::GetSettings,
            Command::ForgetCloudKey,
            Command::CheckCloud,
            Command::Status,
        ];
        for command in unit {
            // serde's tag is the protocol's name for it.
            let tag = serde_json::to_value(&command).unwrap()["cmd"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(command_name(&command), tag);
            assert!(COMMANDS.contains(&tag.as_str()), "{tag} missing from command_list.rs");
        }
        assert_eq!(COMMANDS.len(), 14);
    }

    /// The window is granted exactly the app's commands and the event channel.
    #[test]
    fn the_capability_grants_exactly_the_commands() {
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
        let mut expected: Vec<String> = COMMANDS
            .iter()
            .map(|c| format!("allow-{}", c.replace('_', "-")))
            .collect();
        expected.extend(["core:event:allow-listen".into(), "core:event:allow-unlisten".into()]);
        expected.sort_unstable();
        assert_eq!(granted, expected);
    }
}
