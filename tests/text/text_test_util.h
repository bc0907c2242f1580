// Helpers shared by the ds4_text tests: loading the committed mini vocabulary fixture and the
// npm-exported parity data.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace ds4::text::testing {

struct FixtureCase {
  std::string text;
  std::vector<int32_t> ids;
};

struct MiniVocab {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
  std::vector<FixtureCase> cases;
};

inline std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  }
  return out;
}

// tests/fixtures/text/mini_vocab.txt (format in scripts/tokenizer-parity/make_fixture.mjs).
// Unlisted ids get unique placeholder strings so that ids keep their real values.
inline MiniVocab load_mini_vocab() {
  const std::string path = std::string(DS4_SOURCE_DIR) + "/tests/fixtures/text/mini_vocab.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  MiniVocab v;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("vocab_size ", 0) == 0) {
      const size_t n = std::stoul(line.substr(11));
      v.tokens.resize(n);
      for (size_t i = 0; i < n; ++i) v.tokens[i] = "<unused_" + std::to_string(i) + ">";
    } else if (line.rfind("token ", 0) == 0) {
      const size_t tab = line.find('\t');
      v.tokens.at(std::stoul(line.substr(6, tab - 6))) = line.substr(tab + 1);
    } else if (line.rfind("merge ", 0) == 0) {
      v.merges.push_back(line.substr(6));
    } else if (line.rfind("case ", 0) == 0) {
      const size_t tab = line.find('\t');
      FixtureCase c;
      c.text = unhex(line.substr(5, tab - 5));
      std::istringstream ids(line.substr(tab + 1));
      for (int32_t id; ids >> id;) c.ids.push_back(id);
      v.cases.push_back(std::move(c));
    }
  }
  return v;
}

// One shared instance per test binary (construction takes ~100 ms).
inline const Tokenizer& mini_tokenizer() {
  static const Tokenizer tok = [] {
    MiniVocab v = load_mini_vocab();
    return Tokenizer(std::move(v.tokens), std::move(v.merges));
  }();
  return tok;
}

// Directory written by scripts/tokenizer-parity/install.sh <build dir>.
inline std::string parity_dir() {
  if (const char* env = std::getenv("DS4_TOKENIZER_PARITY_DIR")) return env;
  return std::string(DS4_BINARY_DIR) + "/tokenizer-parity";
}

// The official test vectors (shared/data/test-vectors beside the repository).
inline std::string test_vectors_dir() {
  if (const char* env = std::getenv("DS4_TEST_VECTORS_DIR")) return env;
  // The committed copy first (CI has no ../shared), then the spec checkout beside the repo.
  for (const char* rel : {"/tests/fixtures/test-vectors", "/../shared/data/test-vectors", "/shared/data/test-vectors"}) {
    const std::string p = std::string(DS4_SOURCE_DIR) + rel;
    if (std::filesystem::exists(p + "/manifest.json")) return p;
  }
  return {};
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ds4::text::testing
