#!/usr/bin/env bash
# ds4-bench on a GPU: writes a full-width synthetic model (4 layers, q2) and measures prefill
# and decode rates at context frontiers 4k, 8k, ..., 32k with the cuda config.
#
#   tests/bench/run_gpu_bench.sh [BIN_DIR]      # BIN_DIR holds ds4-convert and ds4-bench
#
# Results go to $OUT (or /tmp/ds4-bench-results): bench.csv, bench.svg, bench.log.
# Plugins are found next to the binaries (BIN_DIR/../lib/ds4) or through DS4_PLUGIN_PATH.
# Environment overrides (defaults in brackets):
#   BENCH_CONFIG  [configs/cuda.yaml]     BENCH_BACKEND  [from the config]
#   BENCH_PRESET  [full]                  BENCH_LAYERS   [4]        BENCH_RECIPE [q2]
#   BENCH_CTX_START [4096]                BENCH_CTX_MAX  [32768]    BENCH_STEP   [4096]
#   BENCH_GEN     [32]                    BENCH_BW_MIB   [1024]
#   BENCH_PEAK_GBS  nominal memory bandwidth for the roofline (e.g. 3350 on an H100 SXM) instead
#                 of the COPY probe, which measures the backend's COPY kernel more than the memory
#   BENCH_MAX_SECONDS [400]: ds4-bench starts no frontier it expects to end later (0: no limit),
#                 so convert + bench fit one 10-minute device command; CSV/SVG are rewritten
#                 after every frontier, so even a killed run keeps what it measured
#   BENCH_MODEL   [/tmp/ds4-bench-PRESET-LAYERSl-RECIPE.gguf; kept and reused between runs]
#   BENCH_REGEN=1 rewrites the model even when it exists
#   BENCH_ARGS    extra ds4-bench arguments (e.g. "--set prefill_chunk=1024")
#   BENCH_CONVERT_ARGS  extra ds4-convert arguments (e.g. "--fast-experts" for a tiny preset)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-${DS4_BIN:-$SRC/build/bin}}
PRESET=${BENCH_PRESET:-full}
LAYERS=${BENCH_LAYERS:-4}
RECIPE=${BENCH_RECIPE:-q2}
CONFIG=${BENCH_CONFIG:-$SRC/configs/cuda.yaml}
MODEL=${BENCH_MODEL:-/tmp/ds4-bench-$PRESET-${LAYERS}l-$RECIPE.gguf}
RESULTS=${OUT:-/tmp/ds4-bench-results}

for exe in ds4-convert ds4-bench; do
  [[ -x "$BIN/$exe" ]] || { echo "run_gpu_bench: $BIN/$exe not found (pass the directory holding it)" >&2; exit 1; }
done
mkdir -p "$RESULTS"
LOG=$RESULTS/bench.log
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }

say "== $(date -u +%FT%TZ) $(hostname)"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$LOG" || true
fi
say "cpu: $(nproc) threads; $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //')"

if [[ ! -s "$MODEL" || "${BENCH_REGEN:-0}" == 1 ]]; then
  say "== ds4-convert --synthetic --preset $PRESET --layers $LAYERS --recipe $RECIPE -> $MODEL"
  t0=$(now_ms)
  # The progress line redraws with \r several times a second: keep one in 25 in the log.
  "$BIN/ds4-convert" --synthetic --preset "$PRESET" --layers "$LAYERS" --recipe "$RECIPE" --seed 1 \
      ${BENCH_CONVERT_ARGS:-} --out "$MODEL" 2>&1 | tr '\r' '\n' | awk '!/^\[/ || n++ % 25 == 0' | tee -a "$LOG"
  say "convert: $(since "$t0") s, $(du -h "$MODEL" | cut -f1)"
else
  say "== reusing $MODEL ($(du -h "$MODEL" | cut -f1); BENCH_REGEN=1 rewrites it)"
fi

args=(-m "$MODEL" --config "$CONFIG"
      --ctx-start "${BENCH_CTX_START:-4096}" --ctx-max "${BENCH_CTX_MAX:-32768}" --step-incr "${BENCH_STEP:-4096}"
      --gen-tokens "${BENCH_GEN:-32}" --bw-mib "${BENCH_BW_MIB:-1024}" --max-seconds "${BENCH_MAX_SECONDS:-400}"
      --csv "$RESULTS/bench.csv" --svg "$RESULTS/bench.svg")
[[ -n "${BENCH_BACKEND:-}" ]] && args+=(--backend "$BENCH_BACKEND")
[[ -n "${BENCH_PEAK_GBS:-}" ]] && args+=(--peak-gbs "$BENCH_PEAK_GBS")
# shellcheck disable=SC2206  # BENCH_ARGS is split on purpose
[[ -n "${BENCH_ARGS:-}" ]] && args+=($BENCH_ARGS)
say "== ds4-bench ${args[*]}"
t0=$(now_ms)
"$BIN/ds4-bench" "${args[@]}" 2>&1 | tee -a "$LOG"
say "bench: $(since "$t0") s"
say "== results in $RESULTS"
