#!/usr/bin/env bash
# The GPU check, in two halves, for a GPU machine lent for a few minutes with no Rust toolchain
# and no network, and at most 64 MiB carried to it:
#
#   bash .ci/gpu-check.sh pack   here (no GPU needed): `voxdeck` built with CUDA for the H100
#        alone (.ci/cuda-build.sh with VOXDECK_CUDA_ARCHS=90-real: machine code, no PTX, and
#        uncompressed fatbins, which xz packs 3 times smaller than nvcc's own compression), the
#        Whisper worker as built for this CPU, models small enough to travel
#        (.ci/gpu-check-models.py: a random-weight Llama GGUF, Whisper tiny.en at q4_0), a spoken
#        question, espeak-ng's English data and the shared libraries the binaries link that such
#        a machine may lack, in gpu-check/pack.tar.xz (ignored by git; refused over 64 MiB).
#   bash .ci/gpu-check.sh run    there: unpacks to a temporary directory, finds CUDA 13's
#        runtime and cuBLAS (the Python environment's nvidia/cu13/lib, or LD_LIBRARY_PATH), and
#        writes gpu-check/report.md (and $OUT/ when set): `voxdeck bench` with every layer
#        offloaded and with none, `talk` turns with Whisper on the GPU and on the CPU, and VRAM
#        per process as voxdeck reads it (NVML) beside `nvidia-smi --query-compute-apps`.
#        About 2 minutes. Without a GPU it still runs (everything on the CPU) and says so.
#
# VOXDECK_GPU_CHECK_BIN=DIR packs the voxdeck and voxdeck-stt in DIR instead of building: with
# a CPU build, `run` can be tried on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir="$repo/gpu-check"
limit_mib=64

pack() {
  local cache="${VOXDECK_CACHE:-$HOME/.cache/voxdeck}"
  local models="${VOXDECK_MODELS:-$cache/models}"
  [ -f "$models/ggml-tiny.en.bin" ] || { echo "gpu-check: no Whisper tiny.en in $models (voxdeck models fetch --test-set)" >&2; exit 1; }
  # This machine's own build: the CPU Whisper worker, and a voxdeck that starts here (the CUDA
  # one needs the driver) to voice the question.
  local bin native
  native="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release"
  cargo build --release -p voxdeck-cli -p voxdeck-stt --bins
  if [ -n "${VOXDECK_GPU_CHECK_BIN:-}" ]; then
    bin=$(realpath "$VOXDECK_GPU_CHECK_BIN")   # binaries built already (a CPU build: to try `run` here)
  else
    # Machine code for the H100 only, and fatbins left for xz to compress. Whisper stays on the
    # CPU: whisper.cpp's CUDA backend would add about 20 MiB more than the 64 allow with the
    # models (both CUDA binaries for 87 and 90 are 149 MiB packed).
    export VOXDECK_CUDA_ARCHS="${VOXDECK_CUDA_ARCHS:-90-real}" GGML_CUDA_COMPRESSION_MODE=none VOXDECK_CUDA_STT=0
    bash .ci/cuda-build.sh
    source .ci/cuda-env.sh
    bin="$(cuda_target_dir)/release"
    cp "$native/voxdeck-stt" "$bin/voxdeck-stt"
  fi
  local venv="$cache/tools/gguf-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -c 'import gguf, numpy' 2>/dev/null || "$venv/bin/pip" install -q "gguf>=0.17" numpy

  local stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/bin" "$stage/lib" "$stage/models"
  {
    echo "- Packed: $(date -u '+%Y-%m-%d %H:%M UTC') from $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- voxdeck: $(ldd "$bin/voxdeck" | grep -q 'libcublas' && echo "CUDA, capabilities ${VOXDECK_CUDA_ARCHS:-?}" || echo 'CPU build')"
    echo "- voxdeck-stt: $(ldd "$bin/voxdeck-stt" | grep -q 'libcublas' && echo 'CUDA' || echo 'CPU build (Whisper on the CPU)')"
  } > "$stage/manifest.md"
  strip -o "$stage/bin/voxdeck" "$bin/voxdeck"
  strip -o "$stage/bin/voxdeck-stt" "$bin/voxdeck-stt"
  # Shared libraries beyond glibc, the C++ runtime and CUDA's own (those are on a CUDA
  # machine): ALSA, espeak-ng, D-Bus and what they pull in.
  ldd "$stage/bin/voxdeck" "$stage/bin/voxdeck-stt" | awk '/=> \// {print $1, $3}' | sort -u |
    while read -r name path; do
      case "$name" in
        libc.so*|libm.so*|libpthread*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda.so*|libcudart*|libcublas*) ;;
        *) cp -L "$path" "$stage/lib/$name" ;;
      esac
    done
  "$venv/bin/python" .ci/gpu-check-models.py llm "$stage/models/gpu-check-random.gguf" "${VOXDECK_GPU_CHECK_LAYERS:-4}"
  "$venv/bin/python" .ci/gpu-check-models.py whisper "$models/ggml-tiny.en.bin" "$stage/models/ggml-tiny.en-q4_0.bin" q4_0
  # English only from espeak-ng's data: the phoneme tables, the English dictionary and voices.
  local espeak=/usr/lib/x86_64-linux-gnu/espeak-ng-data
  mkdir -p "$stage/espeak/espeak-ng-data/lang"
  cp "$espeak"/{phontab,phonindex,phondata,intonations,en_dict} "$stage/espeak/espeak-ng-data/"
  cp -r "$espeak/lang/gmw" "$stage/espeak/espeak-ng-data/lang/"
  ESPEAK_DATA_PATH="$stage/espeak" "$native/voxdeck" say --engine espeak -o "$stage/models/question.wav" \
    "What is the capital of France?" >/dev/null

  # Only the pack travels: no report or logs of an earlier run.
  rm -rf "$dir" && mkdir -p "$dir"
  tar -C "$stage" -cf - . | xz -T0 -9 > "$dir/pack.tar.xz"
  local mib
  mib=$(( $(stat -c %s "$dir/pack.tar.xz") / 1048576 ))
  echo "gpu-check: $dir/pack.tar.xz is $mib MiB (limit $limit_mib); contents:"
  tar -tvJf "$dir/pack.tar.xz" | awk '$3 > 500000 {printf "  %6.1f MiB  %s\n", $3/1048576, $6}'
  [ "$mib" -lt "$limit_mib" ] || { echo "gpu-check: the pack is over $limit_mib MiB" >&2; exit 1; }
}

run() {
  [ -f "$dir/pack.tar.xz" ] || { echo "gpu-check: no $dir/pack.tar.xz: run 'pack' first (and carry gpu-check/)" >&2; exit 1; }
  local work
  work=$(mktemp -d)
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$dir/pack.tar.xz" "$work"
  local cuda_lib
  cuda_lib=$(python3 - <<'PY'
import glob, os, site, sys
dirs = site.getsitepackages() + [site.getusersitepackages()]
for d in dirs + os.environ.get("LD_LIBRARY_PATH", "").split(":"):
    for hit in glob.glob(os.path.join(d, "**", "libcublas.so.13"), recursive=True) if d else []:
        print(os.path.dirname(hit)); sys.exit(0)
PY
  ) || true
  export LD_LIBRARY_PATH="${cuda_lib:+$cuda_lib:}$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export ESPEAK_DATA_PATH="$work/espeak" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"
  export VOXDECK_MODELS="$work/models"
  local llm="$work/models/gpu-check-random.gguf"
  local report="$dir/report.md" raw="$dir/raw"
  rm -rf "$raw" && mkdir -p "$raw"
  local gpu="none"
  command -v nvidia-smi >/dev/null && gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo none)
  {
    echo "# voxdeck GPU check"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(uname -m), $(nproc) cores"
    echo "- GPU: $gpu"
    echo "- CUDA libraries: ${cuda_lib:-not found (the CUDA binaries need libcudart.so.13 and libcublas.so.13)}"
    echo "- Device code: $(command -v cuobjdump >/dev/null && cuobjdump --list-elf "$work/bin/voxdeck" | grep -oE 'sm_[0-9]+' | sort -u | tr '\n' ' ')"
    cat "$work/manifest.md"
    echo "- Models: random-weight Llama GGUF ($(du -m "$work/models/gpu-check-random.gguf" | cut -f1) MB), Whisper tiny.en q4_0"
  } > "$report"
  if ! "$work/bin/voxdeck" --version >/dev/null 2>"$raw/start.log"; then
    { echo; echo "**voxdeck does not start here:**"; echo '```'; cat "$raw/start.log"; echo '```'; } >> "$report"
    cat "$report"; copy_out; exit 1
  fi

  # Two configs: everything on the GPU, and nothing.
  local c
  for c in gpu cpu; do
    mkdir -p "$work/config/$c/voxdeck"
    cat > "$work/config/$c/voxdeck/config.toml" <<EOF
models_dir = "$work/models"
[llm]
model = "$work/models/gpu-check-random.gguf"
gpu_layers = $([ $c = gpu ] && echo '"all"' || echo 0)
n_ctx = 2048
[stt]
model = "$work/models/ggml-tiny.en-q4_0.bin"
worker = "$work/bin/voxdeck-stt"
gpu = $([ $c = gpu ] && echo true || echo false)
[tts]
engine = "espeak"
[pipeline]
history = false
EOF
  done

  # nvidia-smi's view of the compute processes, every 200 ms while voxdeck runs.
  local smi_pid=""
  if command -v nvidia-smi >/dev/null; then
    ( while true; do
        nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null | sed "s/^/$(date +%s.%N) /"
        sleep 0.2
      done ) > "$raw/nvidia-smi.log" &
    smi_pid=$!
  fi
  for c in gpu cpu; do
    timeout 150 "$work/bin/voxdeck" bench --config "$work/config/$c/voxdeck/config.toml" -m "$llm" --runs 3 --out "$raw/bench-$c" \
      > "$raw/bench-$c.log" 2>&1 || echo "bench ($c) failed: $(tail -3 "$raw/bench-$c.log")" >> "$report"
    timeout 90 "$work/bin/voxdeck" talk --config "$work/config/$c/voxdeck/config.toml" -m "$llm" --input "$work/models/question.wav" \
      --output "$raw/answer-$c.wav" --json --max-tokens 24 > "$raw/talk-$c.json" 2> "$raw/talk-$c.log" ||
      echo "talk ($c) failed: $(tail -3 "$raw/talk-$c.log")" >> "$report"
  done
  [ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null
  python3 - "$raw" >> "$report" <<'PY'
import json, os, sys
raw = sys.argv[1]
def load(path, last_line=False):
    """A JSON file, or the last line of a JSON-lines file (talk --json); None when absent or broken."""
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1] if last_line else text) if text else None
    except (OSError, ValueError, IndexError):
        return None
mib = lambda b: f"{b / 1048576:.0f} MiB" if b is not None else "n/a"
print("\n## Offload (voxdeck bench, 3 runs, median)\n")
print("| | layers on GPU | generation tok/s | prompt tok/s | first token | memory (source) | llama.cpp's GPU buffers |")
print("|---|---|---:|---:|---:|---|---:|")
bench = {}
for c in ("gpu", "cpu"):
    b = load(os.path.join(raw, f"bench-{c}", "bench.json"))
    m = b["models"][0] if b and b.get("models") else None
    bench[c] = m
    if m:
        print(f"| {'all layers' if c == 'gpu' else 'none'} | {m['gpu_layers']}/{m['total_layers']} | {m['gen_tok_s']:.1f} | "
              f"{m['prompt_tok_s']:.0f} | {m['ttft_s'] * 1000:.0f} ms | {mib(m['memory_bytes'])} {m['memory_kind'].upper()} "
              f"({m.get('memory_source', '?')}) | {mib(m.get('gpu_buffers_bytes'))} |")
    else:
        print(f"| {c} | failed | | | | | |")
if bench.get("gpu") and bench.get("cpu") and bench["cpu"]["gen_tok_s"] > 0:
    g, c = bench["gpu"], bench["cpu"]
    if g["gpu_layers"] == 0:
        print("\nNothing was offloaded (no GPU, or a build without CUDA): both rows ran on the CPU.")
    else:
        print(f"\nOffload speed-up: generation x{g['gen_tok_s'] / c['gen_tok_s']:.1f}, "
              f"prompt x{g['prompt_tok_s'] / max(c['prompt_tok_s'], 1e-9):.1f}.")

# nvidia-smi samples: the last reading of each pid while that run was alive.
smi = {}
try:
    for line in open(os.path.join(raw, "nvidia-smi.log")):
        parts = line.replace(",", " ").split()
        if len(parts) == 3 and parts[1].isdigit():
            smi[int(parts[1])] = int(parts[2]) * 1048576
except OSError:
    pass
print("\n## A talk turn: VRAM per process, voxdeck (NVML at the turn's end) and nvidia-smi\n")
print("| Whisper on | process | pid | voxdeck reads | nvidia-smi reads | difference | STT ms | first audio ms | LLM layers | Whisper device |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
worker_vram = None
for c in ("gpu", "cpu"):
    r = load(os.path.join(raw, f"talk-{c}.json"), last_line=True)
    if not r:
        print(f"| {c} | failed | | | | | | | | |")
        continue
    g = r.get("gpu") or {}
    reading = g.get("reading") or {}
    procs = reading.get("processes") or [{"role": "-", "pid": 0, "memory_bytes": None}]
    layers = f"{g.get('llm_layers')}/{g.get('llm_total_layers')}"
    for p in procs:
        ours, theirs = p["memory_bytes"], smi.get(p["pid"])
        diff = mib(abs(ours - theirs)) if ours is not None and theirs is not None else "n/a"
        if c == "gpu" and p["role"] == "stt":
            worker_vram = ours
        print(f"| {c.upper()} | {p['role']} | {p['pid']} | {mib(ours)} | {mib(theirs)} | {diff} | "
              f"{r.get('stt_ms') or 0:.0f} | {r.get('first_audio_ms') or 0:.0f} | {layers} | {g.get('stt_device') or 'CPU'} |")
    if reading:
        print(f"\n{c.upper()} run: source {reading.get('process_memory_source')}; GPU load {reading.get('utilization_pct')} %, "
              f"clock {reading.get('clock_mhz')} MHz, memory clock {reading.get('memory_clock_mhz')} MHz\n")
if worker_vram:
    print(f"The Whisper worker's second CUDA context with tiny.en q4_0 on the GPU: {mib(worker_vram)} of VRAM "
          f"(the memory check reserves 400 MiB per context plus Whisper's own need).")
PY
  echo >> "$report"
  echo "Logs and JSON: $raw" >> "$report"
  cat "$report"
  copy_out
}

# The report and the raw JSON where the GPU machine's tool collects files.
copy_out() {
  [ -n "${OUT:-}" ] || return 0
  cp "$dir/report.md" "$OUT/" 2>/dev/null || true
  tar -C "$dir" -czf "$OUT/raw.tar.gz" raw 2>/dev/null || true
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bash .ci/gpu-check.sh pack|run" >&2; exit 2 ;;
esac
