# Sourced by .ci/cuda-build.sh and .ci/gpu-check.sh: a CUDA toolkit to compile llama.cpp's and
# whisper.cpp's CUDA backends with, on a machine with no GPU and no driver.
#
# VOXDECK_CUDA_ROOT names a full toolkit (/usr/local/cuda, JetPack's). Without it, CUDA 13's
# compiler, headers, runtime and cuBLAS come from PyPI (NVIDIA's wheels unpack into one
# `nvidia/cu13/` tree), cached in $cache/cuda13. Pinned to 13.0: a binary built with 13.0 runs
# on any 13.x runtime and on any driver for CUDA 13, the GPU machine's included.
#
# The wheels lack three things a full toolkit has, so the tree gets them here:
# - `lib64` and unversioned `lib*.so` links (CMake's FindCUDAToolkit and `-l` look for them);
# - `lib/stubs/libcuda.so`: the driver API is linked against a stub and found at run time in
#   the driver's libcuda.so.1. Generated from cuda.h: every `cu*` entry point returns
#   CUDA_ERROR_STUB_LIBRARY (34), as NVIDIA's own stub does;
# - static cuBLAS and culibos: there are only shared cuBLAS libraries, so llama-cpp-sys-2's
#   `static=cublas_static` / `cublasLt_static` and whisper-rs-sys's `culibos` get empty archives
#   and the binaries link libcublas.so.13 / libcublasLt.so.13 instead (cuda_link_flags below).
#   They then need those at run time (LD_LIBRARY_PATH or the Python environment's nvidia/cu13/lib).
#
# Exports CUDA_PATH, CUDA_LIBRARY_PATH, CUDACXX, CUDAToolkit_ROOT, PATH, LIBRARY_PATH and CMAKE_CUDA_ARCHITECTURES
# (VOXDECK_CUDA_ARCHS, "87;90": Jetson Orin and H100). Expects $cache.

cuda_version=13.0
cuda_wheels=(nvidia-cuda-nvcc nvidia-nvvm nvidia-cuda-crt nvidia-cuda-runtime nvidia-cuda-cccl nvidia-cublas)

# Downloads and unpacks the PyPI toolkit once; prints its root.
cuda_from_pypi() {
  local dir="$cache/cuda13" wheel
  local root="$dir/root/nvidia/cu13"
  if [ ! -x "$root/bin/nvcc" ] || [ ! -f "$dir/root/.complete-$cuda_version" ]; then
    rm -rf "$dir/root" && mkdir -p "$dir/wheels" "$dir/root"
    local specs=()
    for wheel in "${cuda_wheels[@]}"; do specs+=("$wheel==$cuda_version.*"); done
    python3 -m pip download -q --no-deps -d "$dir/wheels" "${specs[@]}" >&2
    for wheel in "${cuda_wheels[@]}"; do
      # Wheel file names use underscores; take the newest 13.0 build of each.
      local file
      file=$(ls "$dir/wheels/${wheel//-/_}-$cuda_version."*.whl | sort -V | tail -1)
      python3 -m zipfile -e "$file" "$dir/root" >&2
    done
    chmod +x "$root"/bin/* "$root"/nvvm/bin/*
    touch "$dir/root/.complete-$cuda_version"
  fi
  cuda_complete_tree "$root"
  echo "$root"
}

# Adds the links, the driver stub and the empty static archives the wheels lack (idempotent).
cuda_complete_tree() {
  local root="$1" lib
  [ -e "$root/lib64" ] || ln -s lib "$root/lib64"
  for lib in cudart cublas cublasLt; do
    [ -e "$root/lib/lib$lib.so" ] || ln -s "lib$lib.so.13" "$root/lib/lib$lib.so"
  done
  mkdir -p "$root/lib/stubs"
  if [ ! -f "$root/lib/stubs/libcuda.so" ]; then
    # The real entry point names, after cuda.h's `#define cuFoo cuFoo_v2` macros.
    gcc -E -P -I"$root/include" -x c "$root/include/cuda.h" \
      | grep -oE 'CUresult[[:space:]]+(CUDAAPI[[:space:]]+)?cu[A-Za-z0-9_]+[[:space:]]*\(' \
      | grep -oE 'cu[A-Za-z0-9_]+[[:space:]]*\($' | tr -d '( ' | sort -u \
      | sed 's/.*/int &(void) { return 34; }/' > "$root/lib/stubs/libcuda-stub.c"
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/stubs/libcuda.so" "$root/lib/stubs/libcuda-stub.c"
  fi
  for lib in cublas_static cublasLt_static culibos; do
    [ -f "$root/lib/stubs/lib$lib.a" ] || ar rc "$root/lib/stubs/lib$lib.a"
  done
}

# Where a CUDA build goes, beside the native target directory: one per set of capabilities,
# since CMake keeps the first configure's (`target-cuda` for the default "87;90",
# `target-cuda-90` for "90").
cuda_target_dir() {
  local archs="${VOXDECK_CUDA_ARCHS:-87;90}" base
  base=$(realpath -m "${CARGO_TARGET_DIR:-target}")
  if [ "$archs" = "87;90" ]; then echo "$base-cuda"; else echo "$base-cuda-${archs//;/-}"; fi
}

# The toolkit's root: VOXDECK_CUDA_ROOT, else the PyPI one.
cuda_root() {
  if [ -n "${VOXDECK_CUDA_ROOT:-}" ]; then
    [ -x "$VOXDECK_CUDA_ROOT/bin/nvcc" ] || { echo "cuda: no bin/nvcc under VOXDECK_CUDA_ROOT=$VOXDECK_CUDA_ROOT" >&2; return 1; }
    echo "$VOXDECK_CUDA_ROOT"
  else
    cuda_from_pypi
  fi
}

# Exports the build environment for the toolkit at $1.
cuda_env() {
  local root="$1"
  export CUDA_PATH="$root" CUDAToolkit_ROOT="$root" CUDACXX="$root/bin/nvcc"
  # Where llama-cpp-sys-2 (find_cuda_helper) looks for lib64/ and lib64/stubs/ on Linux; it
  # ignores CUDA_PATH there.
  export CUDA_LIBRARY_PATH="$root"
  export PATH="$root/bin:$PATH"
  export LIBRARY_PATH="$root/lib/stubs:$root/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export CMAKE_CUDA_ARCHITECTURES="${VOXDECK_CUDA_ARCHS:-87;90}"
  # nvcc compiles several architectures of one file in parallel (CUDA 11.5+).
  export NVCC_APPEND_FLAGS="${NVCC_APPEND_FLAGS:---threads 2}"
  # Only the PyPI tree has empty static cuBLAS archives: link the shared libraries after them.
  if [ ! -f "$root/lib64/libcublas_static.a" ] && [ -f "$root/lib/stubs/libcublas_static.a" ]; then
    cuda_link_flags="-C link-arg=-L$root/lib -C link-arg=-lcublas -C link-arg=-lcublasLt"
  else
    cuda_link_flags=""
  fi
}
