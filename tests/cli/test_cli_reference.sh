#!/usr/bin/env bash
# Issue-level check of the user path: ds4-convert --hf <transformers tiny dir> --recipe f32, then
# ds4 --numerics exact --tokens ... --dump-logits, compared with the committed reference logits
# (logits_ds4ref.f32 at all positions, transformers' at the trusted ones) within 1e-3.
set -eu
BIN=$1; SRC=$2; WORK=$3
mkdir -p "$WORK"
for dir in "$SRC"/tests/reference/fixtures/*/; do
  name=$(basename "$dir")
  gguf="$WORK/$name-f32.gguf"
  "$BIN/ds4-convert" --hf "$dir" --out "$gguf" --recipe f32 -q
  tokens=$(tr -d ' \n' < "$dir/tokens.txt")
  for chunk in 64 1; do
    out="$WORK/$name-chunk$chunk.f32"
    "$BIN/ds4" --model "$gguf" --numerics exact --tokens "$tokens" --dump-logits "$out" --prefill-chunk "$chunk" --ctx 4096 2>/dev/null
    python3 - "$out" "$dir" "$name chunk $chunk" <<'PY'
import array, sys, os
out, d, label = sys.argv[1], sys.argv[2], sys.argv[3]
def load(p):
    a = array.array('f'); a.frombytes(open(p, 'rb').read()); return a
got = load(out)
lo, hi = map(int, open(os.path.join(d, 'trusted.txt')).read().split()[:2])
n = len(open(os.path.join(d, 'tokens.txt')).read().replace(' ', '').strip().split(','))
vocab = len(got) // n
assert len(got) == n * vocab, f"{label}: {len(got)} logits for {n} tokens"
worst = 0.0
for ref, rng in (('logits_ds4ref.f32', (0, n)), ('logits_full.f32', (lo, hi)), ('logits_cached.f32', (lo, hi))):
    r = load(os.path.join(d, ref))
    assert len(r) == len(got), f"{label}: {ref} has {len(r)} values, ours {len(got)}"
    m = max(abs(got[i] - r[i]) for i in range(rng[0] * vocab, rng[1] * vocab))
    print(f"{label}: max |dlogit| vs {ref} = {m:.3g}")
    worst = max(worst, m)
sys.exit(0 if worst < 1e-3 else 1)
PY
  done
done
