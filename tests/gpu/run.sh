#!/usr/bin/env bash
# Runs on the GPU machine from the repo root: the op conformance suite and the GPU submit tests
# on the cuda plugin, the model tests (reference logits, invariants) through DS4_TEST_PLUGIN,
# official-numerics logits vs cpu-ref on every fixture, then (unless GPU_SKIP_BENCH=1) the
# full-width q2 benchmark. Logs go to $OUT (or /tmp/gpu-out). Usage: tests/gpu/run.sh CARRY_DIR
set -uo pipefail
C=$(cd "${1:-.gpucarry}" && pwd)
O=${OUT:-/tmp/gpu-out}; mkdir -p "$O"
export LD_LIBRARY_PATH="$C/lib:${LD_LIBRARY_PATH:-}"
CUDA_SO="$C/lib/ds4/libds4-backend-cuda.so"; CPU_SO="$C/lib/ds4/libds4-backend-cpu-ref.so"
# Compiled-in paths of the build machine: make them resolve here.
SRC=$(cat "$C/source_dir"); BLD=$(cat "$C/build_dir")
[ -e "$SRC" ] || { mkdir -p "$(dirname "$SRC")"; ln -s "$PWD" "$SRC"; }
mkdir -p "$BLD/tests/reference" "$BLD/tests/model" "$BLD/lib"; ln -sfn "$C/lib/ds4" "$BLD/lib/ds4"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$O/device.txt"
status=0
step() { echo "== $1"; shift; "$@" 2>&1 | tee -a "$O/log.txt" | tail -n 25; [ "${PIPESTATUS[0]}" = 0 ] || status=1; }
step "conformance (cuda vs references and cpu-ref)" env DS4_CONFORMANCE_PLUGIN="$CUDA_SO" \
  DS4_CONFORMANCE_REFERENCE="$CPU_SO" "$C/bin/test_ops_conformance" --gtest_brief=1
step "gpu submit / graphs / DEVICE_LOST" env DS4_GPU_PLUGIN="$CUDA_SO" "$C/bin/test_gpu_submit" --gtest_brief=1
step "reference logits on cuda (exact numerics)" env DS4_TEST_PLUGIN="$CUDA_SO" "$C/bin/test_reference_logits" --gtest_brief=1
step "model invariants on cuda" env DS4_TEST_PLUGIN="$CUDA_SO" "$C/bin/test_model" --gtest_brief=1 \
  --gtest_filter='Invariants*:Session.TinyModelDecodesFiniteLogits'
# Official numerics: cuda vs cpu-ref logits on every fixture (f32 and q8 recipes).
official() {
  for dir in tests/reference/fixtures/*/; do
    name=$(basename "$dir"); tokens=$(tr -d ' \n' < "$dir/tokens.txt")
    for recipe in f32 q8; do
      g="/tmp/$name-$recipe.gguf"; "$C/bin/ds4-convert" --hf "$dir" --out "$g" --recipe $recipe -q >/dev/null
      for be in cuda cpu-ref; do
        "$C/bin/ds4" -m "$g" --backend $be --numerics official --tokens "$tokens" --dump-logits "/tmp/$name-$recipe-$be.f32" --ctx 4096 2>/dev/null || return 1
      done
      python3 - "/tmp/$name-$recipe-cuda.f32" "/tmp/$name-$recipe-cpu-ref.f32" "$name $recipe" <<'PY' || return 1
import array, sys
a = array.array('f'); a.frombytes(open(sys.argv[1], 'rb').read())
b = array.array('f'); b.frombytes(open(sys.argv[2], 'rb').read())
m = max(abs(x - y) for x, y in zip(a, b))
print(f"{sys.argv[3]}: official numerics, cuda vs cpu-ref: max |dlogit| {m:.3g} over {len(a)} logits")
sys.exit(0 if len(a) == len(b) and m < 2e-2 else 1)
PY
    done
  done
}
step "official numerics: cuda vs cpu-ref" official
if [ "${GPU_SKIP_BENCH:-0}" != 1 ]; then
  step "benchmark (full-width q2)" env OUT="$O" tests/bench/run_gpu_bench.sh "$C/bin"
fi
echo "== overall: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
