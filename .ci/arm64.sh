#!/usr/bin/env bash
# The aarch64 (Jetson Orin) build of `voxdeck` and `voxdeck-stt`, cross-compiled with Debian's
# toolchain for the Orin's CPU (.ci/arm64-env.sh), and a smoke run of the binaries under
# qemu-user on the test set: models list and fetch, ask, say (Piper), transcribe, a talk turn
# (Whisper, the LLM and Piper in one turn) and a one-run bench.
#
# Traps this script avoids:
# - qemu's library prefix is `/` (the arm64 multiarch libc6:arm64), not /usr/aarch64-linux-gnu:
#   the cross toolchain's own glibc (2.36-8cross1) mixed with the multiarch libraries hangs every
#   program at its first pthread_create.
# - The kernel here may have no binfmt_misc entry for aarch64, so the engine cannot exec the arm64
#   worker directly: `stt.worker` points at a wrapper that runs it under qemu.
# - bookworm's qemu 7.2 crashes in ONNX Runtime's aarch64 library; qemu 10 comes from Debian 13.
#
# Usage: bash .ci/arm64.sh   (root or sudo; the native test set in $VOXDECK_MODELS, as .ci/test.sh
# leaves it). VOXDECK_ARM64_SMOKE selects the smoke run:
#   full   (default) every step;
#   quick  (CI) without the standalone transcribe: the talk turn runs Whisper on the same file;
#          after a cold cross build (about 9.5 minutes on 2 cores), only list, fetch, ask and say,
#          so that a cold CI run stays under its 45 minutes (the talk turn and the bench take
#          about 4 more under qemu); the next, warm run does them;
#   build  no smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
source .ci/apt.sh
source .ci/arm64-env.sh

# Debian's cross toolchain and the arm64 libraries the binaries link (multiarch).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
  $sudo apt-get update -qq
fi
packages=(crossbuild-essential-arm64 curl xz-utils gpgv debian-archive-keyring file
  libasound2-dev:arm64 libespeak-ng-dev:arm64 libdbus-1-dev:arm64 libstdc++6:arm64 libgomp1:arm64)
apt_install "${packages[@]}"
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

# The cross build, in its own target directory next to the native one.
jetson_compilers
smoke="${VOXDECK_ARM64_SMOKE:-full}"
if [ "$smoke" = quick ] && [ ! -x "$CARGO_TARGET_DIR/$target/release/voxdeck" ]; then
  smoke=short
fi
start=$(date +%s)
cargo build --release --target "$target" -p voxdeck-cli -p voxdeck-stt --bins
echo "arm64: built in $(( $(date +%s) - start )) s"
bin=$(realpath "$CARGO_TARGET_DIR/$target/release")
file "$bin/voxdeck" "$bin/voxdeck-stt" | sed 's/, BuildID.*//'
# The Jetson's instructions are really there: ggml's int8 dot-product kernels (sdot), which an
# armv8-a build has none of; and no glibc newer than JetPack 6's (Ubuntu 22.04: 2.35), so the
# binaries built against Debian 12's 2.36 still load there.
for exe in voxdeck voxdeck-stt; do
  sdot=$(aarch64-linux-gnu-objdump -d --no-show-raw-insn "$bin/$exe" | grep -c $'\tsdot' || true)
  glibc=$(aarch64-linux-gnu-objdump -T "$bin/$exe" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  echo "arm64: $exe has $sdot sdot instructions ($jetson_arch) and needs $glibc"
  [ "$sdot" -gt 0 ] || { echo "arm64: no dot-product instructions in $exe: ggml was not built for $jetson_arch" >&2; exit 1; }
  printf '%s\n' "${glibc#GLIBC_}" 2.35 | sort -CV || { echo "arm64: $exe needs $glibc, newer than Ubuntu 22.04's 2.35 (JetPack 6)" >&2; exit 1; }
done
[ "$smoke" = build ] && exit 0
echo "arm64: smoke run: $smoke"

# The smoke run, in a scratch home; the native test set's model files are shared.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
qemu=("$(qemu_aarch64)" -L /)
"${qemu[0]}" --version | head -1
cat > "$work/voxdeck-stt" <<EOF
#!/bin/sh
exec ${qemu[*]} $bin/voxdeck-stt "\$@"
EOF
chmod +x "$work/voxdeck-stt"
mkdir -p "$work/voxdeck"
# Everything runs 20 to 50 times slower under qemu (Whisper's encoder: about 90 s for 2 s of
# speech), hence the patient worker timeout. Temperature 0: the checks below read the answer.
# The bench measures the same things on shorter texts (its default pp512 and 100-token answers
# take over 10 minutes here).
cat > "$work/voxdeck/config.toml" <<EOF
[stt]
worker = "$work/voxdeck-stt"
timeout_s = 900.0
[llm]
temperature = 0.0
# The tool section (about 330 tokens) would add minutes of prefill under qemu; the tools are
# checked on x86, the build's loop here.
[tools]
offer_to_llm = false
[bench]
prompt_tokens = 16
response_tokens = [10, 20]
verdict_tokens = 20
EOF
export XDG_CONFIG_HOME="$work" XDG_DATA_HOME="$work/data"
vox() { "${qemu[@]}" "$bin/voxdeck" "$@"; }
# Runs a step, timed; the figures are sanity checks of emulation, not speed claims.
step() {
  local name=$1 t0
  shift
  t0=$(date +%s)
  "$@"
  echo "arm64: $name took $(( $(date +%s) - t0 )) s" >&2
}
check() { python3 -c "$1" "${@:2}"; }

# The arm64 models directory: the native one's portable models, and ONNX Runtime's aarch64
# library, which the arm64 binary fetches itself (same file name as the x86-64 one, so not in
# the shared directory). pip runs natively and is asked for the aarch64 wheel by platform tag.
shared="${VOXDECK_MODELS:?VOXDECK_MODELS must name the test set directory}"
export VOXDECK_MODELS="${CARGO_TARGET_DIR}-models"
mkdir -p "$VOXDECK_MODELS"
for f in SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf ggml-tiny.en.bin en_US-joe-medium.onnx en_US-joe-medium.onnx.json; do
  ln -sf "$shared/$f" "$VOXDECK_MODELS/$f"
done
vox --version
step "models fetch" vox models fetch --test-set
file -L "$VOXDECK_MODELS/libonnxruntime.so.1.32.0" | grep -q 'ARM aarch64' || { echo "arm64: the ONNX Runtime fetched is not aarch64" >&2; exit 1; }
vox models list | tee "$work/list.txt"
grep -q 'smollm2-135m-instruct-q4_1' "$work/list.txt"

llm=smollm2-135m-instruct-q4_1
step ask vox ask --model "$llm" --max-tokens 20 --json "What is the capital of France?" > "$work/ask.json"
check 'import json,sys; a=json.load(open(sys.argv[1])); print("arm64 ask:", repr(a["answer"]), "%.1f tok/s under qemu" % a["gen_tok_s"]); assert "paris" in a["answer"].lower()' "$work/ask.json"

# Piper on ONNX Runtime's aarch64 library speaks the question the next steps hear.
step "say (piper)" vox say --engine piper "What is the capital of France?" -o "$work/q.wav"
check 'import sys,wave; w=wave.open(sys.argv[1]); d=w.getnframes()/w.getframerate(); print("arm64 say: %.2f s at %d Hz" % (d, w.getframerate())); assert d > 1.0' "$work/q.wav"

if [ "$smoke" = short ]; then
  echo "arm64: smoke run passed (short: the build was cold; talk and bench run when it is warm)"
  exit 0
fi
if [ "$smoke" = full ]; then
  step transcribe vox transcribe --model whisper-tiny.en --json "$work/q.wav" > "$work/t.json"
  check 'import json,sys; t=json.load(open(sys.argv[1]))["text"]; print("arm64 transcribe:", repr(t)); assert "france" in t.lower()' "$work/t.json"
fi

# One push-to-talk turn from a file: Whisper (the worker, under qemu), the LLM, Piper.
step talk vox talk --model "$llm" --mode local --max-tokens 24 --input "$work/q.wav" --output "$work/a.wav" --json > "$work/talk.json"
check 'import json,sys
r=json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("arm64 talk:", r["outcome"], repr(r["transcript"]), "->", repr(r["answer"]))
at = lambda k: r[k] - r["release_ms"]
print("arm64 talk, from release (ms): transcript %.0f, first token %.0f, first audio %.0f" % (at("transcript_ms"), at("first_token_ms"), at("first_audio_ms")))
assert r["outcome"] == "answered" and "france" in r["transcript"].lower() and r["answer"].strip()' "$work/talk.json"
check 'import sys,wave; w=wave.open(sys.argv[1]); d=w.getnframes()/w.getframerate(); print("arm64 talk answer: %.2f s of audio" % d); assert d > 0.5' "$work/a.wav"

step "bench (1 run)" vox bench --model "$llm" --runs 1 --out "$work/bench" > "$work/bench.txt"
check 'import json,sys
b=json.load(open(sys.argv[1])); m=b["models"][0]
print("arm64 bench (%s): %.1f tok/s, prompt %.1f tok/s, first token %.1f s, 20 tokens in %.1f s, %s" % (b["host"]["os"], m["gen_tok_s"], m["prompt_tok_s"], m["ttft_s"], m["response_s"]["20"], m["verdict"]))
assert b["host"]["os"].endswith("aarch64") and len(m["runs"]) == 1 and m["gen_tok_s"] > 0' "$work/bench/bench.json"
echo "arm64: smoke run passed"
