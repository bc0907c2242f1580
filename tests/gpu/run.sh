#!/usr/bin/env bash
# Runs on the GPU machine from the repo root: the op conformance suite and the GPU submit tests
# on the cuda plugin, the model tests (reference logits, invariants) through DS4_TEST_PLUGIN,
# official-numerics logits vs cpu-ref on every fixture, then the
# full-width q2 benchmark; GPU_STEPS="official bench" runs a subset. Logs go to $OUT (or /tmp/gpu-out). Usage: tests/gpu/run.sh CARRY_DIR
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
# GPU_STEPS picks steps by key (default: all of them).
STEPS=" ${GPU_STEPS:-conformance submit reference invariants official bench} "
step() {
  local key=$1 title=$2; shift 2
  [[ "$STEPS" == *" $key "* ]] || return 0
  echo "== $title"; "$@" 2>&1 | tee -a "$O/log.txt" | tail -n 25; [ "${PIPESTATUS[0]}" = 0 ] || status=1
}
step conformance "conformance (cuda vs references and cpu-ref)" env DS4_CONFORMANCE_PLUGIN="$CUDA_SO" \
  DS4_CONFORMANCE_REFERENCE="$CPU_SO" "$C/bin/test_ops_conformance" --gtest_brief=1
step submit "gpu submit / graphs / DEVICE_LOST" env DS4_GPU_PLUGIN="$CUDA_SO" "$C/bin/test_gpu_submit" --gtest_brief=1
step reference "reference logits on cuda (exact numerics)" env DS4_TEST_PLUGIN="$CUDA_SO" "$C/bin/test_reference_logits" --gtest_brief=1
step invariants "model invariants on cuda" env DS4_TEST_PLUGIN="$CUDA_SO" "$C/bin/test_model" --gtest_brief=1 \
  --gtest_filter='*Invariants*:Session.TinyModelDecodesFiniteLogits'
# Official numerics: cuda vs cpu-ref logits over 200 positions of the synthetic tiny model in
# several recipes (the transformers fixtures' 32-wide indexers cannot run official numerics).
official() {
  tokens=$(python3 -c 'print(",".join(str((i * 37 + 11) % 380) for i in range(200)))')
  for recipe in f16 q8 q2; do
    g="/tmp/tiny-$recipe.gguf"; "$C/bin/ds4-convert" --synthetic --preset tiny --recipe $recipe --seed 5 --out "$g" -q >/dev/null
    for be in cuda cpu-ref; do
      "$C/bin/ds4" -m "$g" --backend $be --numerics official --tokens "$tokens" --dump-logits "/tmp/tiny-$recipe-$be.f32" --ctx 4096 || return 1
    done
    python3 - "/tmp/tiny-$recipe-cuda.f32" "/tmp/tiny-$recipe-cpu-ref.f32" "tiny $recipe" <<'PY' || return 1
import array, sys
a = array.array('f'); a.frombytes(open(sys.argv[1], 'rb').read())
b = array.array('f'); b.frombytes(open(sys.argv[2], 'rb').read())
m = max(abs(x - y) for x, y in zip(a, b))
print(f"{sys.argv[3]}: official numerics, cuda vs cpu-ref: max |dlogit| {m:.3g} over {len(a)} logits")
sys.exit(0 if len(a) == len(b) and m < 2e-2 else 1)
PY
  done
}
step official "official numerics: cuda vs cpu-ref" official
step bench "benchmark (full-width q2)" env OUT="$O" tests/bench/run_gpu_bench.sh "$C/bin"
echo "== overall: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
