//! tauri-build: embeds tauri.conf.json, checks the capabilities and generates an `allow-<name>`
//! permission for each of the app's own commands (src/command_list.rs). A command missing from
//! that list cannot be granted, and so cannot be called from the window.

include!("src/command_list.rs");

fn main() {
    // The UI is embedded at compile time: a rebuilt ui/dist (npm --prefix ui run build) must
    // rebuild the app, new files included.
    println!("cargo:rerun-if-changed=../ui/dist");
    println!("cargo:rerun-if-changed=src/command_list.rs");
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build failed: {e:#}");
    }
}
