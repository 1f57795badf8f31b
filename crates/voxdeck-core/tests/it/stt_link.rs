//! whisper.cpp and llama.cpp each bring their own ggml; linked into one binary they clash. The
//! shipped `voxdeck` binary must hold no whisper.cpp, and the `voxdeck-stt` worker no llama.cpp.
//!
//! Scans the built binaries (`cargo build --release --workspace --bins`) for the functions'
//! names, which their symbol tables carry.

use std::path::PathBuf;

/// `target/<profile>`: this test runs from `target/<profile>/deps`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    deps.parent().unwrap().to_owned()
}

fn binary(name: &str) -> Vec<u8> {
    let path = target_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); build the binaries first: `cargo build --release --workspace --bins`",
            path.display()
        )
    })
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    let first = needle[0];
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == first)
        .any(|(i, _)| haystack[i..].starts_with(needle))
}

#[test]
fn voxdeck_links_no_whisper_and_the_worker_no_llama() {
    // Both binaries are read into memory: not beside a test that reads the RSS.
    let _heavy = crate::heavy();
    let voxdeck = binary("voxdeck");
    let worker = binary("voxdeck-stt");
    for symbol in ["whisper_full_with_state", "whisper_init_from_file_with_params_no_state"] {
        assert!(
            contains(&worker, symbol),
            "voxdeck-stt should contain {symbol} (is the scan working?)"
        );
        assert!(
            !contains(&voxdeck, symbol),
            "voxdeck must not link whisper.cpp, but contains {symbol}"
        );
    }
    for symbol in ["llama_decode", "llama_model_load_from_file"] {
        assert!(
            contains(&voxdeck, symbol),
            "voxdeck should contain {symbol} (is the scan working?)"
        );
        assert!(
            !contains(&worker, symbol),
            "voxdeck-stt must not link llama.cpp, but contains {symbol}"
        );
    }
}
