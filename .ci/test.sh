#!/usr/bin/env bash
# The test command: installs the test models if missing, builds, and runs every test.
# Models go to $VOXDECK_MODELS (default $XDG_DATA_HOME/voxdeck/models).
set -euo pipefail
cd "$(dirname "$0")/.."

# The apt packages to build and test (idempotent: a second call only checks).
bash .ci/deps.sh --test

# The web UI needs no build (ui/app is served and embedded as it is); its JSDoc types are
# checked first (tsc --noEmit, checkJs) with its imports, so a type error fails the run early.
npm --prefix ui ci --no-audit --no-fund --loglevel=error
npm --prefix ui run check

cargo build --release --workspace --bins
target="${CARGO_TARGET_DIR:-target}"
"$target/release/voxdeck" models fetch --test-set

python3 -m unittest models/test_convert_ct2_whisper.py
# No crate's modules import each other in a cycle (read from the `use` lines).
python3 .ci/module_cycles.py crates/voxdeck-core/src crates/voxdeck-cli/src crates/voxdeck-stt/src src-tauri/src

# The cloud tests' OpenAI-compatible server (llama-cpp-python, in a venv in the cache).
llama_python=$(bash .ci/llama-server.sh)
export VOXDECK_LLAMA_SERVER_PYTHON="$llama_python"

# The desktop app's WebDriver server (tauri-driver, from crates.io, cached).
VOXDECK_TAURI_DRIVER=$(bash .ci/tauri-driver.sh)
export VOXDECK_TAURI_DRIVER
# Screenshots of the UI tests.
export VOXDECK_SCREENSHOTS="${VOXDECK_SCREENSHOTS:-$PWD/e2e-screenshots}"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --workspace 2>&1 | tee "$log" || status=$?
# The UI's TypeScript types are generated from the Rust protocol by the tests (ts-rs): the
# committed ones must be what the code generates.
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --exit-code --stat -- ui/bindings; then
  echo "error: ui/bindings is out of date with the Rust types: commit what cargo test generated" >&2
  status=1
fi
if [ -d "$VOXDECK_SCREENSHOTS" ]; then
  echo "UI screenshots:"
  ls -1 "$VOXDECK_SCREENSHOTS"/*.png 2>/dev/null | sed 's/^/  /'
fi
# One closing line for the whole run: cargo prints a result line per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
