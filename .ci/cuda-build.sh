#!/usr/bin/env bash
# The CUDA build of `voxdeck` (llama.cpp's CUDA backend) and `voxdeck-stt` (whisper.cpp's),
# compiled on a machine without a GPU: CUDA 13 from PyPI (.ci/cuda-env.sh) unless
# VOXDECK_CUDA_ROOT names a toolkit, for compute capabilities VOXDECK_CUDA_ARCHS ("87;90": Jetson
# Orin, H100; "90-real": H100 machine code only, no PTX). Checks that each binary carries device
# code for every capability asked for. VOXDECK_CUDA_STT=0 builds `voxdeck` alone.
#
# Not in CI: on 2 cores the two ggml CUDA backends take far longer than CI's cold budget allows
# (the time is in the README). Run it by hand after touching code behind the `cuda` feature.
# The build goes to ${CARGO_TARGET_DIR}-cuda (-cuda-90-real for VOXDECK_CUDA_ARCHS=90-real,
# and so on); a warm rerun only relinks.
#
# A Jetson builds natively with JetPack's own CUDA 12 instead (README, "On a Jetson").
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${VOXDECK_CACHE:-$HOME/.cache/voxdeck}"
source .ci/cuda-env.sh
root=$(cuda_root)
cuda_env "$root"
CARGO_TARGET_DIR=$(cuda_target_dir)
export CARGO_TARGET_DIR
export RUSTFLAGS="${RUSTFLAGS:-} $cuda_link_flags"
echo "cuda: $("$CUDACXX" --version | tail -1), capabilities $CMAKE_CUDA_ARCHITECTURES, into $CARGO_TARGET_DIR"

exes=(voxdeck voxdeck-stt)
packages=(-p voxdeck-cli -p voxdeck-stt --features voxdeck-cli/cuda,voxdeck-stt/cuda)
if [ "${VOXDECK_CUDA_STT:-1}" = 0 ]; then
  exes=(voxdeck)
  packages=(-p voxdeck-cli --features voxdeck-cli/cuda)
fi
start=$(date +%s)
cargo build --release --bins "${packages[@]}"
echo "cuda: built in $(( $(date +%s) - start )) s"

bin=$(realpath "$CARGO_TARGET_DIR/release")
# Device code per binary: the ELF cubins in its fatbinary, one per capability (cuobjdump, also
# from PyPI; it only reads).
cuobjdump="$root/bin/cuobjdump"
if [ ! -x "$cuobjdump" ]; then
  python3 -m pip download -q --no-deps -d "$cache/cuda13/wheels" "nvidia-cuda-cuobjdump==13.2.*" >&2
  python3 -m zipfile -e "$(ls "$cache"/cuda13/wheels/nvidia_cuda_cuobjdump-*.whl | sort -V | tail -1)" "$cache/cuda13/root"
  chmod +x "$cuobjdump"
fi
for exe in "${exes[@]}"; do
  sms=$("$cuobjdump" --list-elf "$bin/$exe" | grep -oE 'sm_[0-9]+a?' | sort -u | tr '\n' ' ')
  kernels=$("$cuobjdump" --list-elf "$bin/$exe" | wc -l)
  echo "cuda: $exe: $(du -m "$bin/$exe" | cut -f1) MiB, $kernels cubins for ${sms% }; links $(ldd "$bin/$exe" 2>/dev/null | grep -oE 'lib(cuda|cudart|cublas|cublasLt)\.so[.0-9]*' | sort -u | tr '\n' ' ')"
  for arch in ${CMAKE_CUDA_ARCHITECTURES//;/ }; do
    arch=${arch%%-*}
    grep -qw "sm_$arch" <<<"$sms" || { echo "cuda: $exe has no device code for sm_$arch" >&2; exit 1; }
  done
done
