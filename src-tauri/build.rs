//! tauri-build: embeds tauri.conf.json, checks the capabilities and generates the
//! `allow-handle` permission for the app's one command (`commands::handle`). A command missing
//! from this list cannot be granted, and so cannot be called from the window.

fn main() {
    // The UI is embedded at compile time, as it is in the source tree (ui/app: plain ES modules,
    // no build step): an edited or added file there must rebuild the app.
    println!("cargo:rerun-if-changed=../ui/app");
    let manifest = tauri_build::AppManifest::new().commands(&["handle"]);
    if let Err(e) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)) {
        panic!("tauri-build failed: {e:#}");
    }
}
