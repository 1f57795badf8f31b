#!/usr/bin/env bash
# The test command: installs the test models if missing, builds, and runs every test.
# Models go to $VOXDECK_MODELS (default $XDG_DATA_HOME/voxdeck/models).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace --bins
target="${CARGO_TARGET_DIR:-target}"
"$target/release/voxdeck" models fetch --test-set
cargo test --release --workspace
