#!/usr/bin/env bash
# ds4 --dump-logprobs (PROTOCOL §F.1): the JSON layout, greedy selection, log-softmax values, and
# agreement with --dump-logits over the same rendered prompt (--dump-tokens --chat).
set -eu
BIN=$1; WORK=$2
mkdir -p "$WORK"
model="$WORK/tiny.gguf"
[ -f "$model" ] || "$BIN/ds4-convert" --synthetic --preset tiny --recipe q8 --seed 3 --out "$model" -q
args=(-m "$model" --numerics exact --nothink -sys "" -p "hello world")
"$BIN/ds4" "${args[@]}" -n 5 --logprobs-top-k 7 --dump-logprobs "$WORK/lp.json" 2>/dev/null
ids=$("$BIN/ds4" "${args[@]}" --dump-tokens --chat | head -1 | tr ' ' ',')
"$BIN/ds4" -m "$model" --numerics exact --tokens "$ids" --dump-logits "$WORK/prompt.f32" 2>/dev/null

python3 - "$WORK/lp.json" "$WORK/prompt.f32" "$ids" <<'PY'
import array, json, math, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
ids = [int(x) for x in sys.argv[3].split(',')]
assert text.startswith('{\n  "source":"ds4",\n  "prompt_tokens":'), text[:80]
assert d["source"] == "ds4" and d["top_k"] == 7 and d["prompt_tokens"] == len(ids), d
steps = d["steps"]
assert 1 <= len(steps) <= 5 and [s["step"] for s in steps] == list(range(len(steps)))
for s in steps:
    top = s["top_logprobs"]
    assert len(top) == 7
    assert s["selected"]["id"] == top[0]["token"]["id"], "greedy picks the top logit"
    logits = [t["logit"] for t in top]
    assert logits == sorted(logits, reverse=True)
    shift = [t["logprob"] - t["logit"] for t in top]   # = -logsumexp, the same for every entry
    assert max(shift) - min(shift) < 1e-5 and all(t["logprob"] < 0 for t in top)
    for t in top:
        tok = t["token"]
        assert isinstance(tok["bytes"], list) and all(0 <= b < 256 for b in tok["bytes"])
# Step 0 is the last prompt position of a plain logit dump.
a = array.array('f'); a.frombytes(open(sys.argv[2], 'rb').read())
vocab = len(a) // len(ids)
row = a[(len(ids) - 1) * vocab:]
lse = max(row) + math.log(sum(math.exp(x - max(row)) for x in row))
best = sorted(range(vocab), key=lambda i: (-row[i], i))[:7]
top0 = steps[0]["top_logprobs"]
assert [t["token"]["id"] for t in top0] == best, ([t["token"]["id"] for t in top0], best)
for t in top0:
    i = t["token"]["id"]
    assert abs(t["logit"] - row[i]) < 1e-4, (t["logit"], row[i])
    assert abs(t["logprob"] - (row[i] - lse)) < 1e-4, (t["logprob"], row[i] - lse)
print(f"ok: {len(steps)} steps, step 0 matches --dump-logits (lse {lse:.6f})")
PY

# Bad input: one clear line each.
expect_error() {
  local want=$1; shift
  if out=$("$BIN/ds4" "$@" 2>&1); then echo "FAIL: expected an error for: $*"; exit 1; fi
  echo "$out" | grep -q -- "$want" || { echo "FAIL: '$want' not in: $out"; exit 1; }
}
expect_error "outside 1..128" -m "$model" -p hi --dump-logprobs "$WORK/x.json" --logprobs-top-k 200
expect_error "needs -p or --prompt-file" -m "$model" --dump-logprobs "$WORK/x.json"
expect_error "cannot write" -m "$model" -p hi -n 1 --dump-logprobs /nonexistent-dir/x.json
echo "ok: errors"
