#!/usr/bin/env bash
# Packs what the GPU machine needs into one folder (default .gpucarry/, git-ignored): the GPU
# image has nvcc and the driver but not our host dependencies (yaml-cpp, libedit, gtest...), so
# binaries are built here and carried. Usage: tests/gpu/pack.sh [BUILD_DIR] [OUT_DIR]
# then on the device: tests/gpu/run.sh OUT_DIR (see docs/benchmarks.md, "GPU backend").
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-cuda}; OUT=${2:-.gpucarry}
grep -qx "/$OUT/" .git/info/exclude 2>/dev/null || echo "/$OUT/" >> .git/info/exclude
bins=(ds4 ds4-convert ds4-bench ds4-bench-matvec ds4-bench-gpu-matvec test_ops_conformance test_gpu_submit test_model
      test_reference_logits)
ninja -C "$BUILD" "${bins[@]}" ds4-backend-cuda ds4-backend-cpu-ref >/dev/null
rm -rf "$OUT"; mkdir -p "$OUT/bin" "$OUT/lib/ds4"
for b in "${bins[@]}"; do strip -o "$OUT/bin/$b" "$BUILD/bin/$b"; done
for p in cuda cpu-ref; do strip -o "$OUT/lib/ds4/libds4-backend-$p.so" "$BUILD/lib/ds4/libds4-backend-$p.so"; done
# Non-system shared libraries the binaries link (the GPU image is a plain Ubuntu/Debian + CUDA).
for b in "$OUT"/bin/*; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
  grep -E "yaml-cpp|libedit|libbsd|libmd|libgtest|libgmock|libfmt" | while read -r so; do cp -L "$so" "$OUT/lib/"; done
# The test binaries have the source and build paths of this machine compiled in.
echo "$(cd "$BUILD" && pwd)" > "$OUT/build_dir"; echo "$PWD" > "$OUT/source_dir"
du -sh "$OUT"
