// Deterministic tokenizer parity corpus (>= 2,000 strings): code in several languages,
// English/Italian prose, CJK, emoji, digit runs, whitespace runs, tabs, CRLF, NBSP and odd
// Unicode. A seeded PRNG makes every run produce the same strings.
//
// Deliberately excluded (see docs/tokenizer.md): U+0085 and U+FEFF, which JavaScript's \s and
// Oniguruma's \s (the real HF tokenizer) classify differently; lone surrogates (not UTF-8);
// characters assigned after Unicode 15 (our table's version); added-token strings like
// <｜User｜> (the reference would split them out, ds4's plain encode never does).

function mulberry32(seed) {
  return function () {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CODE = [
  `#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 0; i < argc; ++i) {\n        printf("%d: %s\\n", i, argv[i]);\n    }\n    return 0;\n}\n`,
  `static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }`,
  `template <typename T>\nstd::vector<T> take(const std::vector<T>& v, size_t n) {\n\treturn {v.begin(), v.begin() + std::min(n, v.size())};\n}`,
  `def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n`,
  `class Foo(Base):\r\n    def __init__(self, *args, **kwargs):\r\n        super().__init__(*args, **kwargs)\r\n        self._cache = {}\r\n`,
  `const add = (a, b) => a + b;\nexport default async function main() {\n  const res = await fetch("/api/v1/items?limit=10&offset=20");\n  console.log(res.status === 200 ? "ok" : "fail");\n}`,
  `fn main() {\n    let v: Vec<u64> = (1..=10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}`,
  `package main\n\nimport "fmt"\n\nfunc main() {\n\tch := make(chan int, 3)\n\tgo func() { ch <- 42 }()\n\tfmt.Println(<-ch)\n}`,
  `public static void main(String[] args) throws IOException {\n        Map<String, List<Integer>> m = new HashMap<>();\n    }`,
  `#!/bin/sh\nset -eu\nfor f in *.c; do gcc -O2 -Wall "$f" -o "\${f%.c}" && echo "built $f"; done 2>&1 | tee log.txt\n`,
  `SELECT u.id, COUNT(*) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.created_at >= '2024-01-01' GROUP BY u.id HAVING n > 3;`,
  `{"name": "ds4", "version": "0.1.0", "deps": {"a": "^1.2.3", "b": [1, 2.5, -3e10, true, null]}}`,
  `<!DOCTYPE html>\n<html lang="it">\n<head><meta charset="utf-8"><title>Prova</title></head>\n<body><p class="x">Ciao &amp; benvenuto</p></body>\n</html>`,
  `    if (x != NULL && y->next != NULL) {\n        y = y->next; // skip\n    }\n`,
  `\tmov eax, [ebp+8]\n\tadd eax, 0x1F\n\tret\n`,
  `x = [i**2 for i in range(100) if i % 3 == 0]  # squares\nprint(f"{len(x)=}, {sum(x)=:,}")`,
  `#define MAX(a,b) ((a)>(b)?(a):(b))\n#ifdef __cplusplus\nextern "C" {\n#endif`,
  `let re = /^(?:[a-z0-9!#$%&'*+/=?^_\`{|}~-]+)@example\\.com$/i;`,
  `matrix := [][]float64{{1.0, 2.0}, {3.0, 4.0}}\n// TODO(ds4): handle NaN`,
  `$ git log --oneline -n 3\na1b2c3d Fix off-by-one in ring buffer\n9f8e7d6 Add CUDA kernels\n`,
  `int main(void) { return 0; }`,
  `return snprintf(buf, sizeof(buf), "%d", value`,
  `std::cout << "x = " << x << std::endl;;;`,
  `a->b; c.d(); e::f<g>(h);`,
  `  }\n}\n\n\n// end of file\n`,
];

const EN = ("the quick brown fox jumps over lazy dog model inference engine token cache server " +
  "request response stream memory layer attention expert router weight tensor kernel " +
  "bandwidth latency throughput context window prompt answer question number reasoning " +
  "don't it's we're they'll I'm you've shouldn't O'Brien e-mail state-of-the-art").split(" ");
const IT = ("il la lo gli le un una che perché però città è più già così caffè università " +
  "risposta domanda modello memoria velocità qualità perciò Ada Lovelace fu matematica " +
  "inglese nata Londra nel l'uomo dell'anno all'inizio c'è quest'anno Roma Milano").split(" ");
const CJK = [
  "你好", "推理", "答案", "中文", "毕老师", "人工智能是未来的发展方向。", "我喜欢学习编程，尤其是C++和Python！",
  "東京都", "こんにちは世界", "カタカナ・テスト", "ひらがなとカタカナ", "ラーメン", "日本語の文章です。",
  "한국어 문장입니다", "안녕하세요", "龘龍", "㐀㐁", "𠀀𠀁", "〇一二三", "「引用」", "（括号）",
  "ｆｕｌｌｗｉｄｔｈ", "１２３４５", "ゝゞヽヾ", "ー", "゛゜",
];
const EMOJI = [
  "😀", "🚀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇮🇹", "🇯🇵", "❤️", "✔︎", "☃", "🤖🤖🤖", "🎉 party",
  "1️⃣", "#️⃣", "🧑‍💻", "👩🏻‍🔬", "🙈🙉🙊", "©", "®", "™",
];
const ODD = [
  "e\u0301", "\u0301start", " \u0301", "a\u0300\u0301\u0302", "x\u20dd", "!\u0301", "1\u0301",
  "\u200d", "a\u200db", "a\u200cb", "\u200b", "zero\u200bwidth", "\u00ad", "soft\u00adhyphen",
  "\u2060", "\u202e", "\u2066x\u2069", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
  "Привет, мир!", "Γειά σου Κόσμε", "Ωμέγα", "ñandú", "Ærøskøbing", "straße", "ǅ", "ﬁ", "ℌ", "𝔘𝔫𝔦",
  "𐍈", "∑∫∂√∞≠≤≥", "→←↑↓", "€£¥₹₿", "°C", "±", "½¼¾", "²³¹", "Ⅻ", "ⅷ", "٣٤٥", "۱۲۳", "१२३", "๑๒",
  "\u00a0", "\u2009", "\u202f", "\u205f", "\u3000", "\u2028", "\u2029", "\u1680", "\u2002\u2003",
  "\x00", "\x01\x02", "\x07", "\x1b[31mred\x1b[0m", "\x7f", "\ufffd", "\ue000", "\uf8ff",
  "\u{10ffff}", "\u{1f000}", "\u2603", "\u00b7", "\u2026", "\u2014", "\u2013", "«»", "‹›", "„“”",
  "‘’", "¿¡", "§¶", "†‡", "•", "‰", "′″",
];
const WS = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", " \n",
  "\n ", " \t ", "\v", "\f", "\u00a0", "\u00a0\u00a0", "\u3000", "\u2009", " \u00a0 ", "\t\n\t"];
const PUNCT = [".", ",", ";", ":", "!", "?", "...", "--", "->", "=>", "::", "()", "[]", "{}",
  "\"", "'", "`", "(", ")", "<", ">", "</", "/>", "&&", "||", "#", "@", "$", "%", "^", "*",
  "_", "~", "|", "\\", "+=", "==", "!=", "'s", ".com", "_calls", "»", "。", "，", "！", "？"];
const DIGITS = "0123456789";

export function buildCorpus() {
  const rnd = mulberry32(0x0d54_2026);
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const int = (n) => Math.floor(rnd() * n);
  const digits = (n) => Array.from({ length: n }, () => DIGITS[int(10)]).join("");
  const out = [];
  const seen = new Set();
  const add = (s) => {
    if (s.length === 0 || seen.has(s)) return;
    seen.add(s);
    out.push(s);
  };

  // 1. Fixed cases: PROTOCOL §A.4/§A.8/§I edge strings and each pool entry alone.
  [
    "Hello", "Hello world", "Hello! 毕老师！1 + 1 = 2 ĠÑĤÐ²ÑĬÑĢ", "  中文", "\u00a0\u00a0foo",
    "    int", "x;\n", ">;\n", " (\n", "<think>", "</think>", "<tool_result>/tmp</tool_result>",
    "Answer with only the number: 2048 divided by 128 is", "2048", "12345678901234567890",
    "a  b", "a   \n  b", "end   ", "   ", "\n\n\n", "\r\n\r\n  x", "\t\tfoo", "foo\t\t",
    "｜DSML｜", "<｜DSML｜tool_calls>", "Ada Lovelace", "café", "naïve", "über",
  ].forEach(add);
  for (const pool of [CODE, EN, IT, CJK, EMOJI, ODD, WS, PUNCT]) pool.forEach(add);

  // 2. Code: whole snippets, lines, and snippets with re-indentation / CRLF.
  for (const c of CODE) {
    c.split("\n").forEach(add);
    add(c.replace(/\n/g, "\r\n"));
    add(c.replace(/ {4}/g, "\t"));
    add(c.replace(/ {4}/g, "  "));
  }
  // 3. Prose sentences (English, Italian, mixed) with punctuation and numbers.
  for (let i = 0; i < 500; ++i) {
    const lang = i % 3 === 0 ? EN : i % 3 === 1 ? IT : rnd() < 0.5 ? EN : IT;
    const words = Array.from({ length: 1 + int(18) }, () => pick(lang));
    let s = words.map((w, k) => (k && rnd() < 0.1 ? pick(PUNCT) + " " : "") + w).join(" ");
    if (rnd() < 0.3) s = s[0].toUpperCase() + s.slice(1);
    if (rnd() < 0.4) s += pick([".", "!", "?", "...", ":", ";\n", ".\n\n"]);
    if (rnd() < 0.2) s += " " + digits(1 + int(8));
    add(s);
  }
  // 4. CJK mixed with Latin, digits and whitespace (including the §A.4 divergences).
  for (let i = 0; i < 250; ++i) {
    const parts = Array.from({ length: 1 + int(5) }, () =>
      pick([pick(CJK), pick(CJK), pick(EN), digits(1 + int(5)), pick(WS), pick(PUNCT)]));
    add(parts.join(rnd() < 0.5 ? "" : pick(WS)));
  }
  // 5. Emoji in text.
  for (let i = 0; i < 120; ++i) {
    add([pick(EN), pick(EMOJI), pick(WS), pick(EMOJI) + pick(EMOJI), pick(IT)]
      .slice(0, 2 + int(4)).join(rnd() < 0.5 ? " " : ""));
  }
  // 6. Digit runs of every length with separators and non-ASCII numbers.
  for (let n = 1; n <= 40; ++n) add(digits(n));
  for (let i = 0; i < 150; ++i) {
    const sep = pick(["", " ", ",", ".", "-", "/", ":", "e", "x", "\u00a0", "_", "٫"]);
    add(Array.from({ length: 1 + int(5) }, () => digits(1 + int(7))).join(sep) +
        pick(["", "%", " km", "€", "th", "°", "½", "²"]));
  }
  // 7. Whitespace runs before every kind of next character.
  const nexts = ["foo", "Foo", "(", ".", "中", "1", "é", "\u0301", "😀", "\u00a0", "", "\n", "_x"];
  for (const w of WS) {
    for (const n of nexts) {
      add(w + n);
      add("x" + w + n);
      add(w + w + n);
    }
  }
  for (let i = 0; i < 150; ++i) {
    add(Array.from({ length: 1 + int(6) }, () => pick(WS)).join("") + pick(nexts) +
        Array.from({ length: int(4) }, () => pick(WS)).join(""));
  }
  // 8. Odd Unicode mixed with letters, punctuation and whitespace.
  for (let i = 0; i < 300; ++i) {
    add(Array.from({ length: 1 + int(6) }, () =>
      pick([pick(ODD), pick(ODD), pick(EN), pick(PUNCT), pick(WS), pick(CJK), digits(1 + int(3))]))
      .join(""));
  }
  // 9. Random soup of single characters from all pools (short and medium strings).
  const chars = [...new Set([...CODE.join(""), ...EN.join(" "), ...IT.join(" "),
    ...CJK.join(""), ...EMOJI.join(""), ...ODD.join(""), ...WS.join(""), ...PUNCT.join("")])];
  for (let i = 0; i < 400; ++i) {
    add(Array.from({ length: 1 + int(i < 200 ? 8 : 60) }, () => pick(chars)).join(""));
  }
  // 10. Long pieces (exercise the O(n log n) merge path and long runs).
  add("a".repeat(3000));
  add("ab".repeat(700));
  add(" ".repeat(500) + "x");
  add("\n".repeat(200));
  add("=".repeat(300) + "\n");
  add("supercalifragilisticexpialidocious".repeat(20));
  add("precipitevolissimevolmente ".repeat(30));
  add("中".repeat(400));
  add("😀".repeat(100));
  add(digits(999));
  add(CODE.join("\n\n"));
  return out;
}
