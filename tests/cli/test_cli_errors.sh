#!/usr/bin/env bash
# CLI smoke tests: the user-facing one-line errors of the ds4 binary.
set -u
BIN=$1; SRC=$2
fail=0
expect() {  # expect <description> <expected substring> <command...>
  local desc=$1 want=$2; shift 2
  local out; out=$("$@" 2>&1); local rc=$?
  if [[ "$out" != *"$want"* ]]; then echo "FAIL: $desc: wanted '$want', got: $out"; fail=1; else echo "ok: $desc"; fi
}
expect "list backends shows cpu-ref" "cpu-ref" "$BIN/ds4" --list-backends
expect "list shows ABI" "abi:     1.0" "$BIN/ds4" --list-backends
expect "unknown config key" "unknown key 'backend.nmae'" "$BIN/ds4" --config "$SRC/tests/cli/data/bad-key.yaml" --print-config
expect "missing backend" "backend 'nosuch' not found" "$BIN/ds4" --backend nosuch -m /dev/null --tokens 1 --dump-logits /tmp/x.f32
expect "bad --set" "--set unknown key 'contxt'" "$BIN/ds4" --set contxt=1 --print-config
expect "inspect missing file" "ds4: error:" "$BIN/ds4" --inspect /nonexistent.gguf
exit $fail
