#!/usr/bin/env bash
# The aarch64 (Jetson) build of the desktop app `voxdeck-app` (Tauri 2 on WebKitGTK 4.1),
# cross-compiled on an x86-64 Debian 12 host with Debian's cross toolchain.
#
# Why a separate arm64 sysroot, when .ci/arm64.sh gets by with multiarch (libasound2-dev:arm64
# etc. installed next to the amd64 system): libwebkit2gtk-4.1-dev:arm64 cannot be installed
# that way (its gobject-introspection:arm64 wants python3:arm64, which conflicts with the host's
# python3). So the arm64 libraries the app links are downloaded by a private apt (its own lists
# and an empty dpkg status, architecture arm64 only: the host's dpkg database is never touched)
# and unpacked with `dpkg -x` into ${VOXDECK_CACHE}/arm64-sysroot. A stamp records the package
# list and the recipe: a changed list rebuilds it, an unchanged one is reused as it is.
#
# Traps this script avoids:
# - Absolute symlinks in the packages (libfoo.so -> /lib/aarch64-linux-gnu/libfoo.so.1) would
#   point out of the sysroot at the host's files: they are rewritten as relative links.
# - pkg-config is pointed at the sysroot for the aarch64 target only (target-suffixed variables,
#   which pkg-config-rs and system-deps honour); build scripts for the host keep the host's.
# - `--sysroot` is given to the final link of voxdeck-app only (`cargo rustc -- -C link-arg`),
#   not through RUSTFLAGS, which would recompile every crate for the target.
#
# Costs, measured on this 2-core machine while another arm64 build ran beside it: the sysroot
# 33-94 s cold (502 packages, 273 MB downloaded, 0.9 GB unpacked), nothing warm (stamp check);
# the app 37 min cold (23 CPU-minutes: Tauri/GTK/WebKit crates and its own llama.cpp build),
# seconds warm; the --screenshot run 25 s. Too long for a cold CI run, so it runs by hand (see
# the README's "On a Jetson"); .ci/deb.sh packages its result when it is there.
# Usage: bash .ci/arm64-app.sh                   (root or sudo for the apt packages of the host)
#        bash .ci/arm64-app.sh --sysroot         (only make the sysroot and print its path)
#        bash .ci/arm64-app.sh --screenshot F.png (also start the app under qemu in Xvfb and save
#                                                  its window once the UI has rendered)
# The app lands in ${CARGO_TARGET_DIR:-target}-arm64-app/aarch64-unknown-linux-gnu/release/voxdeck-app.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
mode="${1:-}"
screenshot=""
case "$mode" in
  "" | --sysroot) ;;
  --screenshot) screenshot=$(realpath -m "${2:?--screenshot needs the PNG file to write}") ;;
  *) echo "arm64-app: unknown option $mode (--sysroot, --screenshot FILE.png)" >&2; exit 2 ;;
esac
source .ci/apt.sh
cache="${VOXDECK_CACHE:-$HOME/.cache/voxdeck}"
root="$cache/arm64-sysroot"
mirror="${VOXDECK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${VOXDECK_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"

# The host's tools: the cross toolchain (the same one .ci/arm64.sh uses), what fetches and checks
# qemu (arm64-env.sh: the same qemu 10 as the smoke run), and apt's keyring for the private apt.
host_packages=(crossbuild-essential-arm64 curl xz-utils gpgv debian-archive-keyring pkgconf file)
apt_install "${host_packages[@]}"

# What the app links for aarch64, as -dev packages (their dependency closure comes with them):
# Tauri's WebKitGTK/GTK stack, and voxdeck-core's ALSA, eSpeak NG and D-Bus (keyring).
# libc6-dev: crt1.o and libc.so for the link with --sysroot.
sysroot_packages=(libc6-dev libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev
  libgtk-3-dev libasound2-dev libespeak-ng-dev libdbus-1-dev)
# Bump when the recipe below changes in a way that needs a new sysroot.
recipe=2
stamp_text="recipe $recipe; bookworm arm64; ${sysroot_packages[*]}"

make_sysroot() {
  local apt_dir="$cache/arm64-sysroot-apt" new="$root.new" start
  start=$(date +%s)
  rm -rf "$new" "$apt_dir"
  mkdir -p "$apt_dir"/{sources.list.d,state/lists/partial,cache/archives/partial} "$new"
  : > "$apt_dir/state/status"
  : > "$apt_dir/sources.list"
  cat > "$apt_dir/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Architectures: arm64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Architectures: arm64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # A private apt: its own sources, lists, cache and an empty dpkg status, arm64 only; no lock
  # on the host's dpkg (nothing is installed, only downloaded).
  local apt=(apt-get -q
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
    -o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/state/status"
    -o "Dir::Cache=$apt_dir/cache" -o "APT::Architecture=arm64" -o "APT::Architectures=arm64"
    -o "Debug::NoLocking=1" -o "APT::Install-Recommends=0" -o "APT::Sandbox::User=root")
  "${apt[@]}" update
  "${apt[@]}" install -y --download-only "${sysroot_packages[@]}"
  local debs=("$apt_dir"/cache/archives/*.deb)
  echo "arm64 sysroot: ${#debs[@]} packages, $(du -sh "$apt_dir/cache/archives" | cut -f1) downloaded"
  for deb in "${debs[@]}"; do
    case "$deb" in *_arm64.deb | *_all.deb) ;; *) echo "arm64 sysroot: not an arm64 package: $deb" >&2; exit 1 ;; esac
    dpkg -x "$deb" "$new"
  done
  # Absolute symlinks would resolve on the host (for the linker and for qemu): make them relative.
  local link dest
  while IFS= read -r -d '' link; do
    dest=$(readlink "$link")
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$new$dest")" "$link"
  done < <(find "$new" -type l -lname '/*' -print0)
  # The loader's search path, for a run under qemu (-L sysroot): libc-bin's ld.so.conf is not in
  # the closure.
  mkdir -p "$new/etc/ld.so.conf.d"
  [ -e "$new/etc/ld.so.conf" ] || echo 'include /etc/ld.so.conf.d/*.conf' > "$new/etc/ld.so.conf"
  # Not needed to link or run the app: documentation, translations, introspection data, Python,
  # and the native arm64 GCC (the cross GCC brings its own): 1.1 GB down to 0.9 GB.
  rm -rf "$new"/usr/share/{doc,man,info,locale,lintian,gir-1.0} "$new"/usr/lib/python3* \
    "$new"/usr/lib/gcc "$new"/usr/libexec/gcc
  echo "$stamp_text" > "$new/.voxdeck-sysroot"
  rm -rf "$root" "$apt_dir"
  mv "$new" "$root"
  echo "arm64 sysroot: made in $(( $(date +%s) - start )) s, $(du -sh "$root" | cut -f1) in $root"
}

if [ "$(cat "$root/.voxdeck-sysroot" 2>/dev/null)" != "$stamp_text" ]; then
  make_sysroot
else
  echo "arm64 sysroot: cached in $root"
fi
if [ "$mode" = "--sysroot" ]; then
  echo "$root"
  exit 0
fi

rustup target list --installed | grep -qx "$target" || rustup target add "$target"

# The UI is embedded at compile time from tauri.conf.json's build.frontendDist (ui/app, no build).
[ -f ui/app/index.html ] || { echo "arm64-app: ui/app/index.html is missing: the UI the app embeds" >&2; exit 1; }

# The cross build: the compilers, the Jetson's CPU flags and the linker of .ci/arm64-env.sh, in a
# target directory of its own beside .ci/arm64.sh's. Sharing one made each script rebuild the
# other's crates (measured: 2 to 3.5 minutes a turn): the pkg-config variables below differ, so
# alsa-sys and libdbus-sys rerun and everything above them recompiles.
source .ci/arm64-env.sh
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR-app"
jetson_compilers
# The app's own: pkg-config finds the aarch64 libraries in the sysroot and prefixes their -I/-L
# paths with it.
export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu="$root/usr/lib/aarch64-linux-gnu/pkgconfig:$root/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR_aarch64_unknown_linux_gnu="$root"
start=$(date +%s)
# --sysroot for the final link only: the linker then resolves every library, and the libraries
# those need, in the sysroot, never on the host.
cargo rustc --release --target "$target" -p voxdeck-app --bin voxdeck-app -- -C "link-arg=--sysroot=$root"
echo "arm64-app: built in $(( $(date +%s) - start )) s"
app=$(realpath "$CARGO_TARGET_DIR/$target/release/voxdeck-app")
kind=$(file -b "$app")
echo "$app: $(sed "s/, BuildID[^,]*//" <<<"$kind")"
[[ "$kind" == *"ARM aarch64"* ]] || { echo "arm64-app: $app is not an aarch64 program: $kind" >&2; exit 1; }

# It loads: every library it needs is found (in the sysroot) and it runs as far as --version.
qemu=$(qemu_aarch64)
"$qemu" -L "$root" "$app" --version
[ -n "$screenshot" ] || { echo "arm64-app: passed"; exit 0; }

# The window, under emulation: the app in Xvfb, in a bubblewrap namespace whose / is the sysroot
# (read-only), so every path it opens is the arm64 one. WebKit starts its network and web
# processes by path, and this kernel has no binfmt_misc entry for aarch64: each is replaced (bind
# mount) by a script, run by the host's static busybox, that execs it under qemu. Measured on 2
# busy cores: the UI is drawn 16 s after start, settled at 20-25 s.
gui_packages=(bubblewrap xvfb x11-apps netpbm busybox-static)
apt_install "${gui_packages[@]}"
mkdir -p "$root"/{dev,proc,sys,tmp,run} "$(dirname "$screenshot")"
gui=$(mktemp -d)
xvfb_pid="" app_pid=""
# shellcheck disable=SC2329 # called by the trap
stop_gui() {
  [ -z "$app_pid" ] || kill "$app_pid" 2>/dev/null || true
  [ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$gui"
}
trap stop_gui EXIT
webkit=/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1
binds=()
for p in WebKitNetworkProcess WebKitWebProcess WebKitGPUProcess; do
  printf '#!/tmp/x86/busybox sh\nexec /tmp/x86/qemu /tmp/x86/%s "$@"\n' "$p" > "$gui/$p"
  chmod +x "$gui/$p"
  binds+=(--ro-bind "$root$webkit/$p" "/tmp/x86/$p" --ro-bind "$gui/$p" "$webkit/$p")
done
# Xvfb picks a free display itself (-displayfd), so parallel runs do not collide.
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$gui/display" 2>"$gui/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 1 50); do [ -s "$gui/display" ] && break; sleep 0.2; done
display=":$(cat "$gui/display")"
start=$(date +%s)
# --unshare-pid and --die-with-parent: stopping bwrap stops everything that runs inside.
bwrap --unshare-pid --die-with-parent --ro-bind "$root" / --dev /dev --tmpfs /dev/shm --proc /proc \
  --tmpfs /tmp --ro-bind /tmp/.X11-unix /tmp/.X11-unix --dir /tmp/home --dir /tmp/run \
  --ro-bind /bin/busybox /tmp/x86/busybox --ro-bind "$qemu" /tmp/x86/qemu \
  "${binds[@]}" --ro-bind "$app" /tmp/x86/voxdeck-app \
  --setenv DISPLAY "$display" --setenv HOME /tmp/home --setenv XDG_RUNTIME_DIR /tmp/run \
  --setenv WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS 1 --setenv NO_AT_BRIDGE 1 \
  /tmp/x86/qemu /tmp/x86/voxdeck-app --no-load >"$gui/app.log" 2>&1 &
app_pid=$!
# Drawn: the screen holds the UI's text and colours (hundreds of colours, not an empty window's
# handful), and has settled: two shots 5 s apart are the same, so the script's first round trip
# through the app (status, settings) is on it too. Up to 5 minutes under emulation.
colours=0 previous="" settled=""
while (( $(date +%s) - start < 300 )); do
  sleep 5
  if ! kill -0 "$app_pid" 2>/dev/null; then
    echo "arm64-app: the app stopped under qemu before its window was drawn:" >&2
    tail -20 "$gui/app.log" >&2
    exit 1
  fi
  xwd -root -display "$display" -silent | xwdtopnm 2>/dev/null | pnmtopng > "$gui/shot.png"
  colours=$(pngtopnm "$gui/shot.png" | ppmhist -noheader | wc -l)
  current=$(md5sum < "$gui/shot.png")
  if (( colours >= 200 )) && [ "$current" = "$previous" ]; then
    settled=1
    break
  fi
  previous=$current
done
if [ -z "$settled" ]; then
  echo "arm64-app: the window was not drawn and settled in 5 minutes under qemu ($colours colours on screen)" >&2
  tail -20 "$gui/app.log" >&2
  exit 1
fi
cp "$gui/shot.png" "$screenshot"
echo "arm64-app: window drawn under qemu in $(( $(date +%s) - start )) s ($colours colours): $screenshot"
echo "arm64-app: passed"
