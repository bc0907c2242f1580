#!/usr/bin/env bash
# Runs on the GPU machine from the repo root: the op conformance suite and the GPU submit tests
# on the cuda plugin, the model tests (reference logits, invariants) through DS4_TEST_PLUGIN,
# official-numerics logits vs cpu-ref on synthetic models, the full-width q2 benchmark, a
# per-node profile of its prefill and decode plans, and the host CPU's matvec benchmark;
# GPU_STEPS="official bench" runs a subset. Logs go to $OUT (or /tmp/gpu-out).
# Usage: tests/gpu/run.sh CARRY_DIR
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
STEPS=" ${GPU_STEPS:-conformance submit reference invariants official dump sanitize bench profile kernels gpumatvec cpubench} "
step() {
  local key=$1 title=$2; shift 2
  [[ "$STEPS" == *" $key "* ]] || return 0
  echo "== $title"; "$@" 2>&1 | tee -a "$O/log.txt" | tail -n 25; [ "${PIPESTATUS[0]}" = 0 ] || status=1
}
step conformance "conformance (cuda vs references and cpu-ref)" env DS4_CONFORMANCE_PLUGIN="$CUDA_SO" DS4_CONFORMANCE_BITWISE=1 \
  DS4_CONFORMANCE_REFERENCE="$CPU_SO" "$C/bin/test_ops_conformance" --gtest_brief=1
step submit "gpu submit / graphs / DEVICE_LOST" env DS4_GPU_PLUGIN="$CUDA_SO" "$C/bin/test_gpu_submit" --gtest_brief=1
step reference "reference logits on cuda (exact numerics)" env DS4_TEST_PLUGIN="$CUDA_SO" "$C/bin/test_reference_logits" --gtest_brief=1
step invariants "model invariants on cuda" env DS4_TEST_PLUGIN="$CUDA_SO" "$C/bin/test_model" --gtest_brief=1 \
  --gtest_filter='*Invariants*:Session.TinyModelDecodesFiniteLogits'
# Official numerics: cuda vs cpu-ref logits over 200 positions of the synthetic tiny model in
# several recipes, required bit-identical (the transformers fixtures' 32-wide indexers cannot run official numerics).
official() {
  local rc=0
  tokens=$(python3 -c 'print(",".join(str((i * 37 + 11) % 380) for i in range(200)))')
  for recipe in f16 q8 q2; do
    g="/tmp/tiny-$recipe.gguf"; "$C/bin/ds4-convert" --synthetic --preset tiny --recipe $recipe --seed 5 --out "$g" -q >/dev/null
    for be in cuda cpu-ref; do
      "$C/bin/ds4" -m "$g" --backend $be --numerics official --tokens "$tokens" --dump-logits "/tmp/tiny-$recipe-$be.f32" --ctx 4096 || return 1
    done
    python3 - "/tmp/tiny-$recipe-cuda.f32" "/tmp/tiny-$recipe-cpu-ref.f32" "tiny $recipe" <<'PY'
import array, sys
a = array.array('f'); a.frombytes(open(sys.argv[1], 'rb').read())
b = array.array('f'); b.frombytes(open(sys.argv[2], 'rb').read())
m = max(abs(x - y) for x, y in zip(a, b))
same = sum(1 for x, y in zip(a, b) if x == y)
V = 384
first = next((i // V for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
print(f"{sys.argv[3]}: official numerics, cuda vs cpu-ref: max |dlogit| {m:.3g}, "
      f"{same} of {len(a)} logits bit-identical, first differing position {first}")
# The GPU backend reproduces cpu-ref's arithmetic step for step: any difference is a bug.
sys.exit(0 if len(a) == len(b) and same == len(a) else 1)
PY
    [ $? = 0 ] || rc=1
  done
  return $rc
}
step official "official numerics: cuda vs cpu-ref" official
# The first graph nodes whose outputs differ between cuda and cpu-ref (official numerics, the
# first submit of a 16-token prompt), per recipe: DS4_DUMP_NODES, compare_dumps.py.
dump() {
  local recipe be
  for recipe in q8 q2; do
    for be in cuda cpu-ref; do
      rm -rf "/tmp/dump-$recipe-$be"; mkdir -p "/tmp/dump-$recipe-$be"
      DS4_DUMP_NODES="/tmp/dump-$recipe-$be" "$C/bin/ds4" -m "/tmp/tiny-$recipe.gguf" --backend $be --numerics official \
        --tokens 11,48,85,122,159,196,233,270,307,344,1,38,75,112,149,186 --dump-logits /dev/null --ctx 4096 \
        > /dev/null 2>&1 || return 1
    done
    echo "-- $recipe"
    python3 tests/gpu/compare_dumps.py "/tmp/dump-$recipe-cuda" "/tmp/dump-$recipe-cpu-ref" 6 || return 1
  done
}
step dump "first differing nodes, cuda vs cpu-ref" dump
# compute-sanitizer memcheck (out-of-bounds and misaligned accesses, leaks of device errors)
# over the small conformance cases of every kernel family and a tiny-model prefill + decode.
sanitize() {
  local cs=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
  [ -x "$cs" ] || { echo "compute-sanitizer not found: skipped"; return 0; }
  env DS4_CONFORMANCE_PLUGIN="$CUDA_SO" DS4_CONFORMANCE_REFERENCE="$CPU_SO" DS4_GPU_GRAPHS=0 \
    "$cs" --tool memcheck --error-exitcode 9 --print-limit 20 "$C/bin/test_ops_conformance" --gtest_brief=1 \
    --gtest_filter='GetRows.EveryWeightType:Matmul.OddShapes*:MatmulId.EveryWeightTypeSmall:MatmulId.ManyPairsPrefill:Unary.EveryKind:SumRows.OddAndLongRows:RmsNorm.*:Softmax.*:HcPre.TinyShapes:MoeRouter.*Tiny:MoeFfn.EveryWeightTypeTiny:Tier1Compressor.TinyShapes:Tier1IndexerTopk.TinyShapes:Tier1Attention.TinyShapes:QuantSim.*:RopeTail.*' \
    2>&1 | tail -n 8 || return 1
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  DS4_GPU_GRAPHS=0 "$cs" --tool memcheck --error-exitcode 9 --print-limit 20 "$C/bin/ds4" -m /tmp/tiny-q2.gguf --backend cuda \
    --numerics official --ctx 512 -p "hello there, how are you today?" -n 8 --temp 0 \
    2>&1 | grep -E "ERROR SUMMARY|Invalid|out of bounds" | head -n 8
  return "${PIPESTATUS[0]}"
}
step sanitize "compute-sanitizer memcheck" sanitize
# The roofline against the GPU's nominal HBM bandwidth when it is known (the COPY probe
# measures the COPY kernel): H100 SXM 3350 GB/s, H200 4800 GB/s.
if [ -z "${BENCH_PEAK_GBS:-}" ]; then
  case "$(cat "$O/device.txt")" in
    *H100*HBM3*) export BENCH_PEAK_GBS=3350 ;;
    *H200*) export BENCH_PEAK_GBS=4800 ;;
  esac
fi
step bench "benchmark (full-width q2)" env OUT="$O" tests/bench/run_gpu_bench.sh "$C/bin"
# Where a prefill chunk and a decode step spend their time (eager launches with an event per
# node and after every kernel launch: absolute times are a little above the graph-replayed bench).
profile() {
  local model=${BENCH_MODEL:-/tmp/ds4-bench-full-4l-q2.gguf}
  [ -s "$model" ] || { echo "profile: $model missing (run the bench step first)"; return 1; }
  DS4_GPU_PROFILE=2 "$C/bin/ds4-bench" -m "$model" --config configs/cuda.yaml --ctx-start 4096 --ctx-max 4096 \
    --gen-tokens 8 > "$O/profile-bench.txt" 2> "$O/profile.txt" || return 1
  grep -v "^loading" "$O/profile.txt" | head -n 150
}
step profile "per-node profile (4-layer q2, 4k)" profile
# Per-kernel decode time with Nsight Systems when the machine has it: two traced runs that
# differ only in the number of decoded tokens (1 and 65), the difference is 64 decode steps.
kernels() {
  command -v nsys > /dev/null || { echo "nsys not installed: skipped"; return 0; }
  local model=${BENCH_MODEL:-/tmp/ds4-bench-full-4l-q2.gguf} g
  for g in 1 65; do
    nsys profile -o "/tmp/ds4-k$g" --force-overwrite true --trace=cuda --cuda-graph-trace=node \
      "$C/bin/ds4-bench" -m "$model" --config configs/cuda.yaml --ctx-start 512 --ctx-max 512 --gen-tokens $g \
      > /dev/null 2>&1 || return 1
    nsys stats --report cuda_gpu_kern_sum --format csv --output "$O/kern$g" "/tmp/ds4-k$g.nsys-rep" > /dev/null 2>&1 || return 1
  done
  python3 - "$O/kern1_cuda_gpu_kern_sum.csv" "$O/kern65_cuda_gpu_kern_sum.csv" <<'PY'
import csv, sys
def load(p):
    rows = list(csv.DictReader(open(p)))
    return {r["Name"][:90]: (float(r["Total Time (ns)"]), int(r["Instances"])) for r in rows}
a, b = load(sys.argv[1]), load(sys.argv[2])
diff = sorted(((b[k][0] - a.get(k, (0, 0))[0]) / 64e3, (b[k][1] - a.get(k, (0, 0))[1]) / 64, k) for k in b)
total = sum(d for d, _, _ in diff)
print(f"decode kernels: {total:.1f} us per token")
for us, n, k in reversed(diff[-30:]):
    print(f"{us:9.1f} us/token {n:6.1f} launches  {k}")
PY
}
step kernels "per-kernel decode time (nsys)" kernels
step gpumatvec "GPU matvec micro-benchmark" "$C/bin/ds4-bench-gpu-matvec" --iters 5
step cpubench "host CPU matvec benchmark (issue 2)" "$C/bin/ds4-bench-matvec" --plugin "$CPU_SO" --threads "$(nproc)" --mib 512
echo "== overall: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
