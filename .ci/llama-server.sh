#!/usr/bin/env bash
# The loopback OpenAI-compatible server the cloud-engine tests talk to: llama-cpp-python's
# server (`python -m llama_cpp.server`), in a venv outside the clone.
#
#   py=$(bash .ci/llama-server.sh)      # stdout: the venv's python, and nothing else
#   "$py" -m llama_cpp.server --model M.gguf --host 127.0.0.1 --port 8080
#
# Idempotent: a ready venv costs one import check (about a second). Otherwise it installs
# llama-cpp-python[server]==$version from the wheel cached in $cache/wheels, building that wheel
# first from the PyPI source package when it is missing (it compiles its own llama.cpp: about
# 4 minutes on 2 cores), and the server's dependencies (fastapi, uvicorn, ...) from PyPI.
# Progress goes to stderr; pip runs quietly and its log is shown only when it fails.
set -euo pipefail

version=0.3.36
cache="${VOXDECK_CACHE:-$HOME/.cache/voxdeck}"
wheels="$cache/wheels"
venv="$cache/llama-server-venv"
py="$venv/bin/python"
stamp="$venv/.llama-cpp-python-$version"
# The wheel is built for this machine's CPU (GGML_NATIVE), as the CI cache is per machine.
cmake_args="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_OPENMP=OFF"

say() { echo "llama-server.sh: $*" >&2; }

ready() {
  [ -x "$py" ] && [ -f "$stamp" ] && "$py" -c 'import llama_cpp.server.app' >/dev/null 2>&1
}

# Runs a command with its output in a log; on failure shows the log's tail and fails.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    say "failed: $*"
    tail -n 60 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

if ready; then
  echo "$py"
  exit 0
fi

mkdir -p "$cache" "$wheels"
# One installer at a time (two test runs sharing a cache).
exec 9>"$cache/.llama-server.lock"
flock 9
if ready; then
  echo "$py"
  exit 0
fi

start=$(date +%s)
if [ ! -x "$py" ]; then
  say "creating $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    say "error: 'python3 -m venv' failed: install Debian's python3-venv (bash .ci/deps.sh)"
    exit 1
  fi
fi

wheel() { compgen -G "$wheels/llama_cpp_python-$version-*.whl" | head -n 1; }

if [ -z "$(wheel)" ]; then
  say "building the llama-cpp-python $version wheel from source (about 4 minutes on 2 cores)"
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  quiet "$py" -m pip download -q --no-deps --no-binary :all: -d "$build/src" "llama-cpp-python==$version"
  quiet env CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$py" -m pip wheel -q --no-deps -w "$build/wheel" "$build"/src/llama_cpp_python-*.tar.gz
  # Into the cache only once complete.
  mv "$build"/wheel/llama_cpp_python-"$version"-*.whl "$wheels/"
  say "wheel built in $(( $(date +%s) - start )) s"
fi

whl=$(wheel)
say "installing llama-cpp-python[server]==$version from $whl"
# The cached wheel itself (PyPI has only the source package); the server extra's dependencies
# (fastapi, uvicorn, sse-starlette, starlette-context, pydantic-settings, ...) from PyPI.
quiet "$py" -m pip install -q --find-links "$wheels" "$whl[server]"
"$py" -c 'import llama_cpp.server.app' || { say "error: llama_cpp.server does not import"; exit 1; }
touch "$stamp"
say "ready in $(( $(date +%s) - start )) s"
echo "$py"
