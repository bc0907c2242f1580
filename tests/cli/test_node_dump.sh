#!/usr/bin/env bash
# DS4_DUMP_NODES (plugins/common/node_dump.h) and tests/gpu/compare_dumps.py on cpu-ref: two runs
# of the same prompt dump identical node outputs (one file per graph node, named by index and
# op, holding the packed first output); DS4_DUMP_SUBMIT picks a later submit; a changed output
# is reported by node, op and element.
set -eu
BIN=$1; SRC=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
model="$WORK/tiny.gguf"
"$BIN/ds4-convert" --synthetic --preset tiny --recipe q2 --seed 5 --out "$model" -q
run() {  # run DIR [SUBMIT]
  mkdir -p "$1"
  DS4_DUMP_NODES="$1" DS4_DUMP_SUBMIT="${2:-0}" "$BIN/ds4" -m "$model" --numerics official --ctx 256 \
    --tokens 11,48,85,122,159 --dump-logits "$WORK/logits.f32" > /dev/null 2>&1
}
run "$WORK/a"; run "$WORK/b"
n=$(ls "$WORK/a" | wc -l)
[ "$n" -gt 50 ] || { echo "FAIL: only $n node dumps"; exit 1; }
ls "$WORK/a" | head -1 | grep -qx 'n0000_get_rows.bin' || { echo "FAIL: first dump is $(ls "$WORK/a" | head -1)"; exit 1; }
# The embedding gather of 5 tokens of a 256-wide model: 5·256 floats.
[ "$(stat -c %s "$WORK/a/n0000_get_rows.bin")" = $((5 * 256 * 4)) ] || { echo "FAIL: get_rows dump size"; exit 1; }
out=$(python3 "$SRC/tests/gpu/compare_dumps.py" "$WORK/a" "$WORK/b")
echo "$out" | grep -q "^$n of $n node outputs bit-identical, 0 differ$" || { echo "FAIL: $out"; exit 1; }
# A flipped bit in one output is found and named.
last=$(ls "$WORK/b" | tail -1)
python3 - "$WORK/b/$last" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[4] ^= 0x01; open(p, "wb").write(bytes(b))
PY
out=$(python3 "$SRC/tests/gpu/compare_dumps.py" "$WORK/a" "$WORK/b")
echo "$out" | grep -q "^$last: 1 of [0-9]* elements differ" || { echo "FAIL: flipped bit not reported: $out"; exit 1; }
echo "$out" | grep -q ", 1 differ$" || { echo "FAIL: $out"; exit 1; }
# A submit index that never comes: nothing is written.
run "$WORK/c" 99
[ -z "$(ls "$WORK/c")" ] || { echo "FAIL: submit 99 dumped"; exit 1; }
echo "ok: $n node dumps, identical runs compare equal, a flipped bit is reported"
