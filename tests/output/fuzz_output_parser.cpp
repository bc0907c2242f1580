// libFuzzer target for the output parser (DSML, think tags, stop sequences).
//
// Input layout: byte 0 picks the option set (testing::option_set) and the end cause,
// byte 1 seeds the chunking, the rest is the model text. For each input the parser must
// not crash, and the events must not depend on the chunking (byte by byte, and a few
// pseudo-random chunkings), see testing::check_chunking. Without tools and stop
// sequences, no byte may be lost: reasoning + "</think>" + content == text.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "parser_invariants.h"

using namespace ds4::output;

static void fail(const std::string& what, const std::string& text) {
  std::fprintf(stderr, "output parser invariant violated: %s\ninput (%zu bytes): %s\n", what.c_str(),
               text.size(), text.c_str());
  std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Options opt = testing::option_set(data[0] % testing::option_set_count());
  const EndCause cause = (data[0] / 16) % 3 == 0 ? EndCause::Eos
                         : (data[0] / 16) % 3 == 1 ? EndCause::Length
                                                   : EndCause::Error;
  uint64_t state = 0x9E3779B97F4A7C15ull * (data[1] + 1);
  std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<std::vector<size_t>> chunkings;
  std::vector<size_t> bytewise;
  for (size_t i = 1; i < text.size(); ++i) bytewise.push_back(i);
  chunkings.push_back(std::move(bytewise));
  for (int round = 0; round < 3; ++round) {
    std::vector<size_t> cuts;
    size_t at = 0;
    while (true) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      at += 1 + state % (round == 0 ? 4 : 24);
      if (at >= text.size()) break;
      cuts.push_back(at);
    }
    chunkings.push_back(std::move(cuts));
  }
  for (const std::vector<size_t>& cuts : chunkings) {
    std::string err = testing::check_chunking(text, opt, cuts, cause);
    if (!err.empty()) fail(err, text);
  }

  ParseResult r = parse_complete(text, opt, cause);
  if (opt.stop.empty() && !opt.tools) {
    std::string expected = text;
    std::string got;
    if (opt.raw || !opt.thinking) {
      got = r.content;
    } else {
      if (expected.rfind("<think>", 0) == 0) expected.erase(0, 7);
      got = r.reasoning + (r.reasoning_closed ? "</think>" : "") + r.content;
    }
    if (got != expected) fail("text lost or changed without tools", text);
  }
  if (!opt.tools && !r.tool_calls.empty()) fail("tool calls without tools", text);
  if (r.finish_reason == FinishReason::None) fail("no finish reason", text);
  return 0;
}
