#!/usr/bin/env bash
# Smoke test of ds4-bench and tests/bench/run_gpu_bench.sh on cpu-ref with the tiny synthetic
# model and small frontiers: the CSV has the right rows and columns and positive rates, the SVG
# is written, bad flags give one clear line. Also: fast synthetic experts do not depend on the
# thread count.
#   test_bench_smoke.sh BIN_DIR WORK_DIR
set -u
BIN=$1; WORK=$2
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# Fast experts: same bytes with 1 and 2 threads; different from the quantized default.
for t in 1 2; do
  "$BIN/ds4-convert" --synthetic --preset tiny --layers 3 --recipe q2 --fast-experts --threads $t -q \
      --out "$WORK/fast$t.gguf" 2> "$WORK/convert$t.err" || bad "ds4-convert --fast-experts --threads $t: $(cat "$WORK/convert$t.err")"
done
if cmp -s "$WORK/fast1.gguf" "$WORK/fast2.gguf"; then ok "fast experts independent of --threads"; else bad "fast experts differ between 1 and 2 threads"; fi

# The whole GPU script, pointed at cpu-ref and the tiny model.
OUT=$WORK/out BENCH_MODEL=$WORK/tiny.gguf BENCH_PRESET=tiny BENCH_LAYERS=6 BENCH_RECIPE=q8 \
  BENCH_CONVERT_ARGS=--fast-experts BENCH_CONFIG=$SRC/configs/cpu-ref.yaml \
  BENCH_CTX_START=64 BENCH_CTX_MAX=192 BENCH_STEP=64 BENCH_GEN=4 BENCH_BW_MIB=16 \
  "$SRC/tests/bench/run_gpu_bench.sh" "$BIN" > "$WORK/script.out" 2>&1
rc=$?
if [[ $rc -ne 0 ]]; then bad "run_gpu_bench.sh exited $rc:"; cat "$WORK/script.out"; fi

csv=$WORK/out/bench.csv
if [[ -f "$csv" ]]; then
  want_header="frontier,prefill_tps,decode_tps,kv_bytes"
  [[ "$(head -1 "$csv")" == "$want_header" ]] && ok "csv header" || bad "csv header: $(head -1 "$csv")"
  frontiers=$(tail -n +2 "$csv" | cut -d, -f1 | tr '\n' ' ')
  [[ "$frontiers" == "64 128 192 " ]] && ok "csv frontiers" || bad "csv frontiers: '$frontiers'"
  if awk -F, 'NR > 1 { if (NF != 4 || !($2 > 0) || !($3 > 0) || !($4 > 0) || $4 + 0 < prev) exit 1; prev = $4 + 0 }' "$csv"; then
    ok "csv rates positive, kv_bytes growing"
  else
    bad "csv values:"; cat "$csv"
  fi
else
  bad "no $csv"
fi
svg=$WORK/out/bench.svg
if [[ -f "$svg" ]] && head -c 200 "$svg" | grep -q '<svg' && tail -1 "$svg" | grep -q '</svg>' &&
   [[ $(grep -c '<polyline' "$svg") -eq 2 ]]; then ok "svg"; else bad "svg missing or malformed"; fi
for want in "weights read per decoded token" "GB/s" "of roofline" "session: ctx"; do
  grep -q "$want" "$WORK/script.out" && ok "log has '$want'" || bad "log lacks '$want'"
done

# Bad flags: exactly one line, naming the problem, nonzero exit.
expect_error() {  # expect_error <expected substring> <ds4-bench args...>
  local want=$1; shift
  local out rc
  out=$("$BIN/ds4-bench" "$@" 2>&1); rc=$?
  local lines; lines=$(printf '%s\n' "$out" | wc -l)
  if [[ $rc -ne 0 && $lines -eq 1 && "$out" == *"ds4-bench: error: "* && "$out" == *"$want"* ]]; then
    ok "error for $*"
  else
    bad "ds4-bench $*: rc $rc, wanted one line with '$want', got: $out"
  fi
}
M=$WORK/tiny.gguf
expect_error "--ctx-start must be at least 1" -m "$M" --ctx-start 0
expect_error "--ctx-max (128) must be at least --ctx-start (256)" -m "$M" --ctx-start 256 --ctx-max 128
expect_error "--gen-tokens must be at least 1" -m "$M" --gen-tokens 0
expect_error "--ctx-start" -m "$M" --ctx-start many
expect_error "--bogus" -m "$M" --bogus
expect_error "no model given" --ctx-start 64
expect_error "/nonexistent.gguf" -m /nonexistent.gguf
expect_error "backend 'nosuch' not found" -m "$M" --backend nosuch
expect_error "unknown key 'contxt'" -m "$M" --set contxt=5
expect_error "--peak-gbs must be 0" -m "$M" --peak-gbs -3

# A nominal bandwidth replaces the COPY probe: roofline = bandwidth / bytes per token.
out=$("$BIN/ds4-bench" -m "$M" --ctx-start 32 --ctx-max 32 --gen-tokens 2 --peak-gbs 100 2>/dev/null)
line=$(printf '%s\n' "$out" | grep '^memory bandwidth (--peak-gbs): 100.0 GB/s -> weight roofline ')
if [[ -n "$line" ]] && ! printf '%s\n' "$out" | grep -q "COPY of"; then ok "--peak-gbs replaces the COPY probe"; else bad "--peak-gbs: $out"; fi
exit $fail
