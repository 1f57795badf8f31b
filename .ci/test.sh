#!/usr/bin/env bash
# The test command: installs the test models if missing, builds, and runs every test.
# Models go to $VOXDECK_MODELS (default $XDG_DATA_HOME/voxdeck/models).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace --bins
target="${CARGO_TARGET_DIR:-target}"
"$target/release/voxdeck" models fetch --test-set

python3 -m unittest models/test_convert_ct2_whisper.py

# The cloud tests' OpenAI-compatible server (llama-cpp-python, in a venv in the cache).
llama_python=$(bash .ci/llama-server.sh)
export VOXDECK_LLAMA_SERVER_PYTHON="$llama_python"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --workspace 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo prints a result line per test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
