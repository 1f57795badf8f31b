#!/usr/bin/env bash
# tauri-driver, the WebDriver server the desktop app's end-to-end tests talk to: it starts
# voxdeck-app under WebKitGTK's WebKitWebDriver (Debian's webkit2gtk-driver, from deps.sh).
#
#   driver=$(bash .ci/tauri-driver.sh)      # stdout: the binary's path, and nothing else
#   "$driver" --port 4444 --native-driver /usr/bin/WebKitWebDriver
#
# Installed from crates.io with cargo into $cache/tools, outside the clone, only when missing
# (under a minute on 2 cores); a present binary costs nothing. Progress goes to stderr.
set -euo pipefail

version="^2"   # 2.x: crates.io's 3.0 pre-releases pair with Tauri 3
cache="${VOXDECK_CACHE:-$HOME/.cache/voxdeck}"
root="$cache/tools"
bin="$root/bin/tauri-driver"

say() { echo "tauri-driver.sh: $*" >&2; }

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$root"
# One installer at a time (two test runs sharing a cache).
exec 9>"$cache/.tauri-driver.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

if ! command -v cargo >/dev/null; then
  say "error: cargo not found; install Rust (https://rustup.rs)"
  exit 1
fi

start=$(date +%s)
say "installing tauri-driver $version into $root"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Its own target directory (cargo install's default, a temporary one): not the workspace's.
if ! env -u CARGO_TARGET_DIR cargo install tauri-driver --version "$version" --locked --root "$root" >"$log" 2>&1; then
  say "failed: cargo install tauri-driver --version $version"
  tail -n 60 "$log" >&2
  exit 1
fi
[ -x "$bin" ] || { say "error: $bin missing after cargo install"; exit 1; }
say "installed in $(( $(date +%s) - start )) s"

if ! command -v WebKitWebDriver >/dev/null; then
  say "warning: WebKitWebDriver not found: install webkit2gtk-driver (bash .ci/deps.sh)"
fi
echo "$bin"
