// Tokenizer throughput benchmark (not a ctest test). Uses the exported real vocabulary:
//   bench_tokenizer [<vocab_v4.json>] [MiB]
// Builds ~1 MiB of mixed prose + code + CJK deterministically and times encode() on one core.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "text/tokenizer.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(DS4_BINARY_DIR) + "/tokenizer-parity/vocab_v4.json";
  const double mib = argc > 2 ? std::atof(argv[2]) : 1.0;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "bench_tokenizer: cannot open %s (run scripts/tokenizer-parity/install.sh)\n",
                 path.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json j = nlohmann::json::parse(ss.str());
  auto tokens = j["tokens"].get<std::vector<std::string>>();
  auto merges = j["merges"].get<std::vector<std::string>>();
  const auto t0b = std::chrono::steady_clock::now();
  ds4::text::Tokenizer tok(std::move(tokens), std::move(merges));
  const auto t1 = std::chrono::steady_clock::now();

  const char* parts[] = {
      "The quick brown fox jumps over the lazy dog while the inference engine streams tokens. ",
      "Rispondi in italiano: chi era Ada Lovelace? Fu una matematica inglese, nata nel 1815.\n",
      "static int add(int a, int b) {\n    return a + b; // sum\n}\n\n",
      "for (size_t i = 0; i < n; ++i) { out[i] = in[i] * 0.5f + bias[i]; }\n",
      "def main(argv):\n\tprint(f\"{len(argv)=}\")\n\treturn 0\n",
      "\xE4\xBA\xBA\xE5\xB7\xA5\xE6\x99\xBA\xE8\x83\xBD\xE6\x98\xAF\xE6\x9C\xAA\xE6\x9D\xA5\xE3\x80\x82 ",
      "Numbers 1234567890 and    spaces\t\ttabs \xF0\x9F\x98\x80 emoji.\r\n",
  };
  std::string text;
  unsigned x = 12345;
  while (text.size() < static_cast<size_t>(mib * 1024 * 1024)) {
    x = x * 1103515245u + 12345u;
    text += parts[(x >> 16) % (sizeof parts / sizeof parts[0])];
    text += std::to_string(x % 1000);  // keeps the text from being one repeated block
    text += ' ';
  }
  const auto t2 = std::chrono::steady_clock::now();
  const auto ids = tok.encode(text);
  const auto t3 = std::chrono::steady_clock::now();
  const double json_s = std::chrono::duration<double>(t0b - t0).count();
  const double load_s = std::chrono::duration<double>(t1 - t0b).count();
  const double enc_s = std::chrono::duration<double>(t3 - t2).count();
  std::printf("json parse %.3f s; Tokenizer construction %.3f s\n", json_s, load_s);
  std::printf("mixed text: encode %.2f MiB -> %zu tokens in %.3f s (%.2f MiB/s)\n", 
              text.size() / 1048576.0, ids.size(), enc_s, text.size() / 1048576.0 / enc_s);
  // Hostile shapes: one giant word, one whitespace run, random bytes (invalid UTF-8).
  const std::string giant(1 << 20, 'a'), spaces(1 << 20, ' ');
  std::string random_bytes(1 << 20, '\0');
  for (char& c : random_bytes) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  for (const auto& [name, s] : {std::pair<const char*, const std::string*>{"1 MiB 'a'", &giant},
                                {"1 MiB spaces", &spaces},
                                {"1 MiB random bytes", &random_bytes}}) {
    const auto a = std::chrono::steady_clock::now();
    const auto v = tok.encode(*s);
    const auto b = std::chrono::steady_clock::now();
    std::printf("%s: %zu tokens in %.3f s%s\n", name, v.size(),
                std::chrono::duration<double>(b - a).count(),
                tok.decode(v) == *s ? "" : " (ROUND TRIP FAILED)");
  }
  return tok.decode(ids) == text ? 0 : 2;
}
