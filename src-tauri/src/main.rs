//! voxdeck's desktop control panel: a Tauri 2 window around voxdeck-core's [`Controller`].
//! The UI (ui/app, embedded at build time) sends protocol commands through one Tauri command
//! (`handle`) and listens to one event channel; everything else happens in the engine.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod args;
mod commands;
mod events;
mod shortcut;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use tauri::Manager as _;
use voxdeck_core::Config;
use voxdeck_core::control::{Controller, ControllerOptions};
use voxdeck_core::paths::{self, ConfigLocation};

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    software_rendering_without_gpu();
    voxdeck_core::logging::init("info");
    let args = args::Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voxdeck-app: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Without a GPU render node (a headless box, Xvfb, a VM), WebKitGTK's accelerated compositing
/// runs OpenGL in software (llvmpipe): measured on 2 cores, the web process then took 64 % of a
/// core during answers and generation fell to 0.68x of headless; with compositing off, 15 % and
/// 0.92x. A user's own setting of the variable wins.
#[cfg(target_os = "linux")]
fn software_rendering_without_gpu() {
    const VAR: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let has_render_node = std::fs::read_dir("/dev/dri")
        .map(|dir| dir.flatten().any(|e| e.file_name().to_string_lossy().starts_with("renderD")))
        .unwrap_or(false);
    if !has_render_node {
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var(VAR, "1") };
    }
}

fn run(args: args::Args) -> anyhow::Result<()> {
    let args = args
        .absolutized()
        .context("cannot resolve the paths given on the command line")?;
    // Its message names the file, the line and the field, and its cause: shown as it is.
    let config = Config::load(args.config.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let shortcut = config.ui.global_shortcut.clone();
    // Settings are saved where they were read from; None: the XDG default.
    let config_path = match paths::config_file(args.config.as_deref()) {
        ConfigLocation::Explicit(path) => Some(std::path::absolute(&path).unwrap_or(path)),
        ConfigLocation::Default(_) | ConfigLocation::None => None,
    };
    let controller = Controller::start(ControllerOptions {
        config,
        config_path,
        input: args.input,
        output: args.output,
        load_on_start: !args.no_load,
        data_dir: None,
    });

    let app = tauri::Builder::default()
        .plugin(shortcut::plugin())
        .manage(controller.clone())
        .invoke_handler(commands::handler())
        .setup(move |app| {
            events::forward(app.handle().clone(), app.state::<Controller>().inner())?;
            shortcut::init(app.handle(), &shortcut);
            #[cfg(unix)]
            quit_on_signal(app.handle().clone());
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("cannot start the window")?;

    app.run(move |_app, event| {
        if let tauri::RunEvent::Exit = event {
            controller.shutdown();
        }
    });
    Ok(())
}

/// Ctrl+C or SIGTERM closes the app as the window's close button does, so the controller
/// shuts down (models unloaded, the answer being written finished) before the process ends.
#[cfg(unix)]
fn quit_on_signal(app: tauri::AppHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    tauri::async_runtime::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::warn!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received: closing");
        app.exit(0);
    });
}
