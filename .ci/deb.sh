#!/usr/bin/env bash
# Debian packages of voxdeck for amd64 and arm64, and their test:
#
#   bash .ci/deb.sh          # run as root (debootstrap, chroot, mount); after
#                            # `cargo build --release --workspace --bins`
#
# 1. Builds, with cargo-deb (from crates.io, cached like tauri-driver) from the release
#    binaries already built (--no-build), two packages per architecture into $out/<arch>/:
#      voxdeck      voxdeck, voxdeck-stt, the served UI, a systemd user unit (no WebKitGTK:
#                   a headless Jetson installs only this one)
#      voxdeck-app  the desktop app, its menu entry and icons; depends on voxdeck (= version)
#    Their metadata is [package.metadata.deb] in crates/voxdeck-cli/Cargo.toml and
#    src-tauri/Cargo.toml. Depends are declared there, not computed: dpkg-shlibdeps cannot see
#    the arm64 WebKitGTK (not installable beside the amd64 one); this script checks instead that
#    each package names every library package dpkg-shlibdeps finds where it can run.
# 2. amd64: installs both packages with apt into a clean Debian 12 root (debootstrap minbase,
#    cached as a tarball, so a warm run only unpacks it; apt's downloads cached too), then, as a
#    normal user in a chroot: voxdeck --version, models list, say (Piper, the test set bound
#    read-only), transcribe (voxdeck-stt), serve answering with the installed UI, voxdeck-app
#    --version, ldd of every binary; systemd-analyze verify of the user unit.
# 3. arm64: dpkg-deb --info/--contents, the binaries are aarch64, the Depends are the declared
#    ones. The voxdeck-app package is built only when an arm64 voxdeck-app binary exists.
#
# Environment: CARGO_TARGET_DIR (binaries in $CARGO_TARGET_DIR/release), VOXDECK_MODELS (the
# test set), VOXDECK_CACHE, VOXDECK_DEB_OUT (default $CARGO_TARGET_DIR/debian),
# VOXDECK_ARM64_BIN_DIR (default ${CARGO_TARGET_DIR}-arm64/aarch64-unknown-linux-gnu/release),
# VOXDECK_ARM64_APP_BIN (default ${CARGO_TARGET_DIR}-arm64-app/aarch64-unknown-linux-gnu/release/voxdeck-app,
# which .ci/arm64-app.sh builds),
# VOXDECK_DEB_SKIP_CHROOT=1 (build and inspect only), VOXDECK_DEB_ARM64=0 (amd64 only),
# VOXDECK_DEB_TMPFS=auto|1|0 (the test root in memory: auto when over 4 GiB are available),
# VOXDECK_DEB_SUITE=bookworm|jammy (the clean root: Debian 12, or Ubuntu 22.04 as on JetPack 6),
# VOXDECK_DEB_DEPS=1 (first run .ci/deps.sh in the clean root: the build packages install there).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s)

cache="${VOXDECK_CACHE:-$HOME/.cache/voxdeck}"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
out="${VOXDECK_DEB_OUT:-$target/debian}"
arm64_bin="${VOXDECK_ARM64_BIN_DIR:-$target-arm64/aarch64-unknown-linux-gnu/release}"
arm64_app="${VOXDECK_ARM64_APP_BIN:-$target-arm64-app/aarch64-unknown-linux-gnu/release/voxdeck-app}"
models="${VOXDECK_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/voxdeck/models}"
# The served UI's source. Also named in crates/voxdeck-cli/Cargo.toml's assets (cargo-deb
# cannot take it from the environment): change both together.
ui_dir=ui/app
cargo_deb_version="^3.8"
# The clean root: Debian 12 (CI), or Ubuntu 22.04 (JetPack 6's base; amd64, the same packages
# as on the Jetson's arm64) with VOXDECK_DEB_SUITE=jammy.
suite="${VOXDECK_DEB_SUITE:-bookworm}"
case "$suite" in
  bookworm) mirror=http://deb.debian.org/debian bootstrap_opts=() ;;
  # Debian has no Ubuntu keyring to check the archive's signature with: this root is a test
  # fixture, thrown away after the run, never an installation.
  jammy) mirror=http://archive.ubuntu.com/ubuntu bootstrap_opts=(--no-check-gpg --components=main,universe) ;;
  *) echo "deb.sh: FAILED: VOXDECK_DEB_SUITE=$suite: bookworm or jammy" >&2; exit 1 ;;
esac
deb_cache="$cache/deb"
root_tar="$deb_cache/$suite-minbase-amd64.tar.gz"
apt_archives="$deb_cache/apt-archives"

say() { echo "deb.sh: $*" >&2; }
die() { echo "deb.sh: FAILED: $*" >&2; exit 1; }
step() { echo "deb.sh: == $* ($(( $(date +%s) - start )) s)" >&2; }

# The install test needs root (debootstrap, chroot, mount): through sudo, with the paths above.
if [ "$(id -u)" -ne 0 ] && [ "${VOXDECK_DEB_SKIP_CHROOT:-0}" != 1 ]; then
  command -v sudo >/dev/null || die "run as root: debootstrap, chroot and mount need it"
  exec sudo --preserve-env env VOXDECK_CACHE="$cache" CARGO_TARGET_DIR="$target" VOXDECK_DEB_OUT="$out" \
    VOXDECK_ARM64_BIN_DIR="$arm64_bin" VOXDECK_ARM64_APP_BIN="$arm64_app" VOXDECK_MODELS="$models" \
    PATH="$PATH" bash "$0" "$@"
fi
for tool in dpkg-deb dpkg-shlibdeps file python3 curl; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg-dev file python3 curl)"
done

# --- tools ------------------------------------------------------------------------------------
# cargo-deb in $cache/tools/cargo-deb, installed once (about 5 minutes on 2 cores).
cargo_deb="$cache/tools/cargo-deb/bin/cargo-deb"
if [ ! -x "$cargo_deb" ]; then
  mkdir -p "$cache/tools"
  exec 9>"$cache/.cargo-deb.lock"
  flock 9
  if [ ! -x "$cargo_deb" ]; then
    command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs)"
    step "installing cargo-deb $cargo_deb_version into $cache/tools/cargo-deb"
    log=$(mktemp)
    # Its own temporary target directory (cargo install's default), not the workspace's.
    if ! env -u CARGO_TARGET_DIR cargo install cargo-deb --version "$cargo_deb_version" --locked \
        --root "$cache/tools/cargo-deb" >"$log" 2>&1; then
      tail -n 60 "$log" >&2
      rm -f "$log"
      die "cargo install cargo-deb --version $cargo_deb_version"
    fi
    rm -f "$log"
    [ -x "$cargo_deb" ] || die "$cargo_deb missing after cargo install"
  fi
  exec 9>&-
fi
if [ "${VOXDECK_DEB_SKIP_CHROOT:-0}" != 1 ] && ! command -v debootstrap >/dev/null; then
  step "installing debootstrap"
  source .ci/apt.sh
  apt_install debootstrap >/dev/null || die "apt-get install debootstrap"
fi

# --- helpers ----------------------------------------------------------------------------------
# Package names in a Depends field, without versions or alternatives' extras.
dep_names() { tr ',|' '\n\n' | sed -E 's/\(.*\)//; s/:any//; s/^[[:space:]]+|[[:space:]]+$//g' | sed '/^$/d' | sort -u; }

# check_depends DEB ARCH MULTIARCH: every library package dpkg-shlibdeps finds for the package's
# binaries is in its declared Depends. Needs the target architecture's libraries installed (for
# arm64: the multiarch :arm64 ones); where they are not, says so and skips.
check_depends() {
  local deb=$1 arch=$2 multiarch=$3 dir shl declared missing
  dir=$(mktemp -d)
  dpkg-deb -x "$deb" "$dir/pkg"
  mkdir -p "$dir/debian"
  printf 'Source: x\n\nPackage: x\nArchitecture: any\n' >"$dir/debian/control"
  if ! shl=$(cd "$dir" && DEB_HOST_ARCH=$arch DEB_HOST_MULTIARCH=$multiarch \
      dpkg-shlibdeps -O pkg/usr/bin/* 2>"$dir/err"); then
    say "note: dpkg-shlibdeps cannot resolve $(basename "$deb")'s libraries here ($(grep -m1 error "$dir/err" || true)); declared Depends not cross-checked"
    rm -rf "$dir"
    return 0
  fi
  declared=$(dpkg-deb -f "$deb" Depends | dep_names)
  missing=$(comm -23 <(echo "${shl#shlibs:Depends=}" | dep_names) <(echo "$declared"))
  rm -rf "$dir"
  [ -z "$missing" ] || die "$(basename "$deb") links libraries from packages its Depends lack: $(echo $missing); add them to [package.metadata.deb] depends"
  say "$(basename "$deb"): Depends cover dpkg-shlibdeps' ${shl#shlibs:Depends=}"
}

# build_deb CRATE OUTDIR [TARGET]: cargo-deb on binaries already built. --fast: xz at a low
# level, 4x faster (7 s instead of 30 s a package) for a package 17% larger (8.3 MB instead of
# 7.1); VOXDECK_DEB_FAST=0 for the smallest packages (a release).
build_deb() {
  local crate=$1 dir=$2 triple=${3:-} args log
  args=(-p "$crate" --no-build -o "$dir")
  [ "${VOXDECK_DEB_FAST:-1}" = 0 ] || args+=(--fast)
  [ -z "$triple" ] || args+=(--target "$triple")
  log=$(mktemp)
  if ! "$cargo_deb" "${args[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "cargo-deb ${args[*]}"
  fi
  rm -f "$log"
}

# check_app_depends_version DIR: voxdeck-app depends on the voxdeck it was built with.
check_app_version() {
  local dir=$1 arch=$2 ver
  ver=$(dpkg-deb -f "$dir/voxdeck_"*"_$arch.deb" Version)
  dpkg-deb -f "$dir/voxdeck-app_"*"_$arch.deb" Depends | grep -qF "voxdeck (= $ver)" ||
    die "voxdeck-app's Depends do not name voxdeck (= $ver): update it in src-tauri/Cargo.toml ([package.metadata.deb] depends)"
}

# --- 1. the packages ----------------------------------------------------------------------------
step "building the packages into $out"
[ -f "$ui_dir/index.html" ] || die "$ui_dir/index.html missing: the UI the voxdeck package installs (until ui/app is committed: npm --prefix ui ci && npm --prefix ui run build && cp -r ui/dist ui/app)"
for b in voxdeck voxdeck-stt voxdeck-app; do
  [ -x "$target/release/$b" ] || die "$target/release/$b missing: cargo build --release --workspace --bins first"
done
mkdir -p "$out/amd64" "$out/arm64"
rm -f "$out/amd64/"*.deb "$out/arm64/"*.deb

CARGO_TARGET_DIR="$target" build_deb voxdeck-cli "$out/amd64"
CARGO_TARGET_DIR="$target" build_deb voxdeck-app "$out/amd64"
check_app_version "$out/amd64" amd64
for deb in "$out/amd64/"*.deb; do check_depends "$deb" amd64 x86_64-linux-gnu; done

# arm64: cargo-deb wants the binaries under <target dir>/aarch64-unknown-linux-gnu/release and
# writes stripped copies beside them, so they are copied into a target dir of this script's
# own (the cross build's may be shared or read-only).
arm64=1
if [ "${VOXDECK_DEB_ARM64:-1}" = 0 ]; then
  arm64=0
  say "note: VOXDECK_DEB_ARM64=0: no arm64 packages"
elif [ ! -x "$arm64_bin/voxdeck" ] || [ ! -x "$arm64_bin/voxdeck-stt" ]; then
  die "no arm64 voxdeck/voxdeck-stt in $arm64_bin: bash .ci/arm64.sh first (or set VOXDECK_ARM64_BIN_DIR; VOXDECK_DEB_ARM64=0 for amd64 only)"
fi
if [ "$arm64" = 1 ]; then
arm64_stage="$target/deb-arm64"
mkdir -p "$arm64_stage/aarch64-unknown-linux-gnu/release"
cp -p "$arm64_bin/voxdeck" "$arm64_bin/voxdeck-stt" "$arm64_stage/aarch64-unknown-linux-gnu/release/"
CARGO_TARGET_DIR="$arm64_stage" build_deb voxdeck-cli "$out/arm64" aarch64-unknown-linux-gnu
if [ -x "$arm64_app" ]; then
  cp -p "$arm64_app" "$arm64_stage/aarch64-unknown-linux-gnu/release/voxdeck-app"
  CARGO_TARGET_DIR="$arm64_stage" build_deb voxdeck-app "$out/arm64" aarch64-unknown-linux-gnu
  check_app_version "$out/arm64" arm64
else
  rm -f "$arm64_stage/aarch64-unknown-linux-gnu/release/voxdeck-app"
  say "note: no arm64 voxdeck-app binary at $arm64_app: the arm64 voxdeck-app package is not built (set VOXDECK_ARM64_APP_BIN)"
fi
fi
ls -l "$out/amd64/"*.deb >&2
[ "$arm64" = 0 ] || ls -l "$out/arm64/"*.deb >&2

# --- 3. arm64: what is in the packages ------------------------------------------------------------
if [ "$arm64" = 1 ]; then
step "inspecting the arm64 packages"
for deb in "$out/arm64/"*.deb; do
  dpkg-deb --info "$deb"
  dpkg-deb --contents "$deb"
  [ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || die "$(basename "$deb"): Architecture is not arm64"
  name=$(dpkg-deb -f "$deb" Package)
  # The same declared Depends as the amd64 package (the names are the same on both).
  [ "$(dpkg-deb -f "$deb" Depends)" = "$(dpkg-deb -f "$out/amd64/${name}_"*"_amd64.deb" Depends)" ] ||
    die "$(basename "$deb"): Depends differ from the amd64 package's"
  dir=$(mktemp -d)
  dpkg-deb -x "$deb" "$dir"
  for bin in "$dir"/usr/bin/*; do
    kind=$(file -b "$bin")
    case "$kind" in
      *"ELF 64-bit"*"ARM aarch64"*) say "$(basename "$deb"): usr/bin/$(basename "$bin"): $kind" ;;
      *) rm -rf "$dir"; die "$(basename "$deb"): usr/bin/$(basename "$bin") is not an aarch64 executable: $kind" ;;
    esac
  done
  rm -rf "$dir"
  check_depends "$deb" arm64 aarch64-linux-gnu
done
deb_arm64=$(ls "$out/arm64/voxdeck_"*_arm64.deb)
for f in ./usr/bin/voxdeck ./usr/bin/voxdeck-stt ./usr/share/voxdeck/ui/index.html ./usr/lib/systemd/user/voxdeck.service; do
  dpkg-deb --contents "$deb_arm64" | awk '{print $NF}' | grep -qx "$f" || die "$(basename "$deb_arm64") lacks $f"
done
fi

if [ "${VOXDECK_DEB_SKIP_CHROOT:-0}" = 1 ]; then
  step "done (VOXDECK_DEB_SKIP_CHROOT=1: no install test)"
  exit 0
fi

# --- 2. amd64: install and run in a clean Debian 12 root ------------------------------------------
for f in en_US-joe-medium.onnx en_US-joe-medium.onnx.json ggml-tiny.en.bin; do
  [ -f "$models/$f" ] || die "$models/$f missing: the test set (voxdeck models fetch --test-set) with VOXDECK_MODELS=$models"
done
ls "$models"/libonnxruntime.so* >/dev/null 2>&1 || die "no ONNX Runtime library in $models: voxdeck models fetch --test-set"

mkdir -p "$deb_cache" "$apt_archives/partial"
if [ ! -f "$root_tar" ]; then
  step "debootstrap --variant=minbase $suite (cached in $root_tar)"
  exec 8>"$deb_cache/.debootstrap.lock"
  flock 8
  if [ ! -f "$root_tar" ]; then
    fresh=$(mktemp -d "$deb_cache/fresh.XXXXXX")
    log=$(mktemp)
    if ! debootstrap --variant=minbase "${bootstrap_opts[@]}" "$suite" "$fresh/root" "$mirror" >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      rm -f "$log"
      rm -rf --one-file-system "$fresh"
      die "debootstrap $suite from $mirror"
    fi
    rm -f "$log"
    # Packages in the tarball only; apt's downloads are cached apart ($apt_archives).
    rm -f "$fresh/root/var/cache/apt/archives/"*.deb
    tar -C "$fresh/root" -czf "$fresh/root.tar.gz" .
    mv "$fresh/root.tar.gz" "$root_tar"
    rm -rf --one-file-system "$fresh"
  fi
  exec 8>&-
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/voxdeck-debroot.XXXXXX")
mounts=()
tmpfs=0
serve_pid=""
cleanup() {
  local i ok=1
  # Nothing left running inside the root.
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  # Innermost first; a lazy unmount as the last resort, never rm -rf through a mount.
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
  done
  if findmnt -rn -o TARGET | grep -v "^$root\$" | grep -q "^$root/"; then
    ok=0
    echo "deb.sh: warning: still mounted under $root; not removed" >&2
  fi
  if [ "$ok" = 1 ] && [ "$tmpfs" = 1 ]; then
    umount "$root" || umount -l "$root" || true
  fi
  if findmnt -rn -o TARGET | grep -q "^$root"; then
    echo "deb.sh: warning: $root still mounted; not removed" >&2
  else
    rm -rf --one-file-system "$root"
  fi
  echo "deb.sh: chroot removed ($(( $(date +%s) - start )) s)" >&2
}
trap cleanup EXIT
# Interrupted or killed: exit, so that the EXIT trap unmounts.
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# The root in memory (about 1 GB once installed) where there is room: unpacking, dpkg and the
# removal afterwards are then not disk-bound (on disk they took 2.5 minutes of a warm run).
avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
if [ "${VOXDECK_DEB_TMPFS:-auto}" = 1 ] || { [ "${VOXDECK_DEB_TMPFS:-auto}" = auto ] && [ "${avail_kb:-0}" -gt $((4 * 1024 * 1024)) ]; }; then
  mount -t tmpfs -o "size=$([ "${VOXDECK_DEB_DEPS:-0}" = 1 ] && echo 8g || echo 3g),mode=0755" voxdeck-debroot "$root"
  tmpfs=1
fi
bind() { # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mounts+=("$2")
  [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"
}

step "unpacking the clean $suite root into $root"
tar -C "$root" -xzf "$root_tar"
mount -t proc proc "$root/proc"
mounts+=("$root/proc")
bind /dev "$root/dev"
bind "$apt_archives" "$root/var/cache/apt/archives"
bind "$models" "$root/opt/voxdeck-models" ro
cp /etc/resolv.conf "$root/etc/resolv.conf"
# dpkg without fsync: the root is thrown away after the test.
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/voxdeck-unsafe-io"
# No daemon started from the chroot by a package's maintainer scripts.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp "$out/amd64/"*.deb "$root/tmp/"
if [ "$suite" = jammy ]; then
  # What an installed Ubuntu has: updates and security fixes, universe (espeak-ng-data).
  printf 'deb %s %s main universe\n' "$mirror" jammy "$mirror" jammy-updates "$mirror" jammy-security \
    >"$root/etc/apt/sources.list"
fi

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# As a normal user, as it is used.
as_user_cmd=(chroot --userspec=vox:vox "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/home/vox LANG=C.UTF-8
  VOXDECK_MODELS=/opt/voxdeck-models)
as_user() { "${as_user_cmd[@]}" "$@"; }

step "apt-get install ./voxdeck_*.deb ./voxdeck-app_*.deb in the chroot"
log="$root/tmp/apt.log"
in_root apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update in the chroot ($mirror)"; }
if [ "${VOXDECK_DEB_DEPS:-0}" = 1 ]; then
  # The README's first step on this distribution: the build packages install (about 1 GB).
  mkdir -p "$root/tmp/ci" && cp .ci/deps.sh .ci/apt.sh "$root/tmp/ci/"
  in_root bash /tmp/ci/deps.sh >"$root/tmp/deps.log" 2>&1 || { tail -n 40 "$root/tmp/deps.log" >&2; die "bash .ci/deps.sh in a clean $suite root"; }
  cat "$root/tmp/deps.log" >&2
  say "bash .ci/deps.sh: passed in a clean $suite root"
fi
# Depends only: Recommends (alsa-utils, WebKitGTK's GStreamer plugins) are not what is tested
# and would double the download.
if ! in_root sh -c 'cd /tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ./voxdeck_*.deb ./voxdeck-app_*.deb' >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  die "apt-get install ./voxdeck_*.deb ./voxdeck-app_*.deb in a clean $suite root (apt's log above)"
fi
grep -E '^(Need to get|After this operation)' "$log" >&2 || true
in_root useradd -m -s /bin/sh vox

step "running the installed binaries in the chroot"
for b in voxdeck voxdeck-stt voxdeck-app; do
  libs=$(in_root ldd "/usr/bin/$b") || die "ldd /usr/bin/$b in the chroot"
  ! grep -q 'not found' <<<"$libs" || die "/usr/bin/$b is missing libraries in a clean root:
$(grep 'not found' <<<"$libs")"
done
say "ldd: voxdeck, voxdeck-stt and voxdeck-app find every library"
version=$(as_user voxdeck --version) || die "voxdeck --version"
[ "$version" = "voxdeck $(dpkg-deb -f "$out/amd64/voxdeck_"*_amd64.deb Version | sed 's/-[^-]*$//')" ] ||
  die "voxdeck --version says '$version'"
say "$version"
app_version=$(as_user voxdeck-app --version) || die "voxdeck-app --version"
say "$app_version"
list=$(as_user voxdeck models list) || die "voxdeck models list"
echo "$list"
for id in piper-en_us-joe-medium whisper-tiny.en; do
  grep -Eq "^$id .* installed\$" <<<"$list" || die "voxdeck models list does not show $id installed"
done
phrase="Set a timer for ten minutes."
as_user sh -c "cd /home/vox && voxdeck say '$phrase' -o x.wav" || die "voxdeck say ... -o x.wav"
wav="$root/home/vox/x.wav"
python3 - "$wav" <<'EOF' || die "voxdeck say wrote no real audio in $wav"
import array, math, sys, wave
with wave.open(sys.argv[1]) as w:
    frames, rate, width = w.getnframes(), w.getframerate(), w.getsampwidth()
    data = w.readframes(frames)
seconds = frames / rate
assert width == 2, f"{width * 8}-bit samples, expected 16"
samples = array.array("h", data)
rms = math.sqrt(sum(s * s for s in samples) / max(len(samples), 1))
print(f"deb.sh: x.wav: {seconds:.2f} s at {rate} Hz, RMS {rms:.0f}", file=sys.stderr)
assert seconds > 1.0, "shorter than a second"
assert rms > 100, "silence"
EOF
# voxdeck-stt (the Whisper worker) found beside voxdeck in /usr/bin.
text=$(as_user sh -c 'cd /home/vox && voxdeck transcribe x.wav') || die "voxdeck transcribe x.wav"
say "transcribe: $text"
grep -qi 'timer' <<<"$text" || die "voxdeck transcribe did not hear 'timer' in what say spoke: '$text'"

# serve finds the UI where the package put it (<exe>/../share/voxdeck/ui). The chroot shares
# this machine's network, so curl here reaches it.
serve_log="$root/tmp/serve.log"
# Started directly, not through the as_user function: `$!` is then voxdeck itself (chroot and env
# exec it), which the kill below and the cleanup reach; a function's subshell would leave it running.
"${as_user_cmd[@]}" voxdeck serve --no-load --bind 127.0.0.1:0 >"$serve_log" 2>&1 &
serve_pid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+/' "$serve_log" | head -n1 || true)
  [ -z "$url" ] && kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
page=$(curl -fsS --max-time 10 "$url" 2>&1) || page="curl: $page"
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
[ -n "$url" ] || die "voxdeck serve printed no URL: $(cat "$serve_log")"
grep -qi '<html' <<<"$page" || die "voxdeck serve did not serve the installed UI at $url: $(head -c 300 <<<"$page")"
say "serve: $url answers with the installed UI"

if command -v systemd-analyze >/dev/null; then
  # The installed unit, its ExecStart pointed at the chroot's binary (verify checks that it
  # exists; --root does not find user units). Any message is a failure.
  unit_dir=$(mktemp -d)
  sed "s#^ExecStart=/usr/bin/#ExecStart=$root/usr/bin/#" "$root/usr/lib/systemd/user/voxdeck.service" \
    >"$unit_dir/voxdeck.service"
  msgs=$(systemd-analyze verify --man=no "$unit_dir/voxdeck.service" 2>&1) || true
  rm -rf "$unit_dir"
  [ -z "$msgs" ] || die "systemd-analyze verify voxdeck.service: $msgs"
  say "systemd-analyze verify voxdeck.service: clean"
else
  say "note: systemd-analyze not found: the user unit is not verified"
fi

step "done: packages in $out, the amd64 ones install and run in a clean $suite root"
