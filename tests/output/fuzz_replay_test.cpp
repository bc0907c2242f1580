// Replay driver for fuzz_output_parser.cpp: the committed seed corpus (tests/output/corpus)
// plus a few thousand deterministic mutations of it, run under ctest without libFuzzer.
// A violated invariant aborts with the offending input on stderr.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> load_corpus() {
  std::vector<std::string> seeds;
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(DS4_OUTPUT_CORPUS_DIR)) {
    if (entry.is_regular_file()) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());  // deterministic order
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return seeds;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

// Fragments that steer mutations towards the parser's interesting states.
const char* const kFragments[] = {
    "<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>", "<｜DSML｜invoke name=\"f\">", "</｜DSML｜invoke>",
    "<｜DSML｜parameter name=\"p\" string=\"true\">", "<｜DSML｜parameter name=\"q\" string=\"false\">",
    "</｜DSML｜parameter>", "<tool_calls>", "</tool_calls>", "<invoke name=\"g\">", "</invoke>",
    "<parameter name=\"n\">", "</parameter>", "<DSML｜tool_calls>", "</think>", "<think>", "&amp;",
    "&lt;", "&", "<", "\n\n", "\"", "\\", "STOP", "</END>", "日", "🎉", "\xC3", "\xE6\x97",
};

}  // namespace

TEST(OutputFuzzReplay, SeedCorpus) {
  std::vector<std::string> seeds = load_corpus();
  ASSERT_GE(seeds.size(), 8u) << "corpus missing in " << DS4_OUTPUT_CORPUS_DIR;
  for (const std::string& s : seeds) {
    for (int opt = 0; opt < 10; ++opt) {
      std::string input = s;
      if (input.size() >= 2) input[0] = static_cast<char>(opt + 16 * (opt % 3));
      run(input);
    }
  }
}

TEST(OutputFuzzReplay, DeterministicMutations) {
  std::vector<std::string> seeds = load_corpus();
  ASSERT_FALSE(seeds.empty());
  uint64_t state = 0x243F6A8885A308D3ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  constexpr int kMutations = 3000;
  for (int i = 0; i < kMutations; ++i) {
    std::string input = seeds[next() % seeds.size()];
    if (input.size() < 2) input = "\0\0";
    int edits = 1 + next() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t body = input.size() - 2;
      size_t at = 2 + (body ? next() % (body + 1) : 0);
      switch (next() % 5) {
        case 0:  // flip a byte
          if (at < input.size()) input[at] = static_cast<char>(next());
          break;
        case 1:  // delete a range
          if (at < input.size()) input.erase(at, 1 + next() % 16);
          break;
        case 2:  // insert a fragment
          input.insert(at, kFragments[next() % std::size(kFragments)]);
          break;
        case 3:  // truncate
          input.resize(at);
          break;
        default:  // new options / chunking seed
          input[0] = static_cast<char>(next());
          input[1] = static_cast<char>(next());
      }
    }
    run(input);
  }
}
