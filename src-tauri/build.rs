//! tauri-build: embeds tauri.conf.json, checks the capabilities and generates the
//! `allow-handle` permission for the app's one command (`commands::handle`). A command missing
//! from this list cannot be granted, and so cannot be called from the window.

fn main() {
    // The UI is embedded at compile time: a rebuilt ui/dist (npm --prefix ui run build) must
    // rebuild the app, new files included.
    println!("cargo:rerun-if-changed=../ui/dist");
    let manifest = tauri_build::AppManifest::new().commands(&["handle"]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build failed: {e:#}");
    }
}
