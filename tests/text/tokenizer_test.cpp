// Tokenizer unit tests on the committed mini vocabulary (real ids, first 2500 real merges) and
// on hand-made vocabularies for BPE mechanics and error handling.
#include <gtest/gtest.h>

#include "text/tokenizer.h"
#include "text_test_util.h"

namespace ds4::text {
namespace {

using testing::mini_tokenizer;

TEST(Tokenizer, FixtureCasesMatchReferenceIds) {
  const testing::MiniVocab v = testing::load_mini_vocab();
  ASSERT_GE(v.cases.size(), 20u);
  for (const auto& c : v.cases) {
    EXPECT_EQ(mini_tokenizer().encode(c.text), c.ids) << "text: " << c.text;
  }
}

TEST(Tokenizer, SpecialIdsResolvedByString) {
  const SpecialIds& s = mini_tokenizer().specials();
  EXPECT_EQ(s.bos, 0);
  EXPECT_EQ(s.eos, 1);
  EXPECT_EQ(s.user, 128803);
  EXPECT_EQ(s.assistant, 128804);
  EXPECT_EQ(s.think_open, 128821);
  EXPECT_EQ(s.think_close, 128822);
  EXPECT_EQ(s.dsml, 128825);
  EXPECT_EQ(s.latest_reminder, 128828);
  EXPECT_EQ(mini_tokenizer().vocab_size(), 129280u);
  EXPECT_TRUE(mini_tokenizer().is_special(128825));
  EXPECT_FALSE(mini_tokenizer().is_special(128828));
  EXPECT_EQ(s.id(Special::kAssistant), 128804);
  EXPECT_EQ(special_string(Special::kDsml), "\xEF\xBD\x9C" "DSML\xEF\xBD\x9C");
}

TEST(Tokenizer, PlainEncodeNeverRecognisesSpecials) {
  const Tokenizer& tok = mini_tokenizer();
  for (int i = 0; i < kSpecialCount; ++i) {
    const std::string s = "x" + std::string(special_string(static_cast<Special>(i))) + "y";
    for (int32_t id : tok.encode(s)) EXPECT_FALSE(tok.is_special(id)) << s;
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
  }
  // §A.3: <think> through plain BPE is '<', 'think', '>' (V3 ids 30, 37947, 32 with full
  // merges); with the fixture's merge prefix it still starts with '<' and ends with '>'.
  const auto ids = tok.encode("<think>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 30);
  EXPECT_EQ(ids.back(), 32);
}

TEST(Tokenizer, EncodeWithSpecialsSplitsSpans) {
  const Tokenizer& tok = mini_tokenizer();
  const std::string text =
      "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C><\xEF\xBD\x9CUser"
      "\xEF\xBD\x9C>Hello<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C></think>";
  std::vector<int32_t> want = {0, 128803};
  for (int32_t id : tok.encode("Hello")) want.push_back(id);
  want.push_back(128804);
  want.push_back(128822);
  EXPECT_EQ(tok.encode_with_specials(text), want);
  // A special string split by other bytes is not a special; neither is a lone U+FF5C.
  EXPECT_EQ(tok.encode_with_specials("<thi nk>"), tok.encode("<thi nk>"));
  EXPECT_EQ(tok.encode_with_specials("\xEF\xBD\x9C"), tok.encode("\xEF\xBD\x9C"));
  EXPECT_TRUE(tok.encode_with_specials("").empty());
}

TEST(Tokenizer, DecodeRoundTripsAnyBytes) {
  const Tokenizer& tok = mini_tokenizer();
  const std::vector<std::string> samples = {
      "", "plain ascii", "caff\xC3\xA8", "\xE4\xBD\xA0\xE5\xA5\xBD", "\xF0\x9F\x98\x80",
      std::string("nul\0byte", 8), "\xFF\xFE invalid", "\xC3", "trunc \xE4\xBD", "\xED\xA0\x80",
      "\xC0\xAF overlong", "\xF4\x90\x80\x80", "\t\r\n\v\f", "\x80\x80\x80"};
  for (const auto& s : samples) EXPECT_EQ(tok.decode(tok.encode(s)), s) << s;
}

TEST(Tokenizer, DecodesSpecialsLiterally) {
  const Tokenizer& tok = mini_tokenizer();
  EXPECT_EQ(tok.token_bytes(1), special_string(Special::kEos));
  EXPECT_EQ(tok.token_bytes(128825), special_string(Special::kDsml));
  EXPECT_EQ(tok.token_bytes(128821), "<think>");
  EXPECT_EQ(tok.token_text(223), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(tok.token_bytes(223), " ");
  EXPECT_EQ(tok.token_bytes(-1), "");
  EXPECT_EQ(tok.token_text(1 << 30), "");
  const std::vector<int32_t> ids = {0, -5, 999999999, 128804};
  EXPECT_EQ(tok.decode(ids), std::string(special_string(Special::kBos)) +
                                 std::string(special_string(Special::kAssistant)));
  EXPECT_EQ(tok.find_token("<think>"), 128821);
  EXPECT_FALSE(tok.find_token("no such token").has_value());
}

// ---- hand-made vocabularies ------------------------------------------------------------------

std::vector<std::string> byte_alphabet_tokens() {
  std::vector<std::string> t;
  for (int b = 0, next = 0x100; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++);
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    t.push_back(s);
  }
  for (int i = 0; i < kSpecialCount; ++i) t.emplace_back(special_string(static_cast<Special>(i)));
  return t;
}

int32_t id_of(const Tokenizer& tok, const std::string& s) { return *tok.find_token(s); }

TEST(TokenizerBpe, LowestRankFirstLeftmostOnTies) {
  auto tokens = byte_alphabet_tokens();
  tokens.push_back("aa");
  tokens.push_back("aaaa");
  tokens.push_back("ab");
  Tokenizer tok(tokens, {"a a", "aa aa", "a b"});
  const int32_t a = id_of(tok, "a"), aa = id_of(tok, "aa"), aaaa = id_of(tok, "aaaa");
  EXPECT_EQ(tok.encode("aaa"), (std::vector<int32_t>{aa, a}));
  EXPECT_EQ(tok.encode("aaaaa"), (std::vector<int32_t>{aaaa, a}));
  // "aab": "a a" (rank 0) beats "a b" (rank 2) even though "a b" is further right.
  EXPECT_EQ(tok.encode("aab"), (std::vector<int32_t>{aa, id_of(tok, "b")}));
  // Long pieces take the heap path: 101 'a' -> 25 x "aaaa" + "a".
  std::vector<int32_t> want(25, aaaa);
  want.push_back(a);
  EXPECT_EQ(tok.encode(std::string(101, 'a')), want);
  // And the small and large paths agree on every length around the switch-over.
  for (size_t n = 1; n < 130; ++n) {
    const auto ids = tok.encode(std::string(n, 'a'));
    EXPECT_EQ(ids.size(), n / 4 + (n % 4) / 2 + (n % 2)) << n;
  }
}

TEST(TokenizerBpe, MergeResultOutsideVocabFallsBackToCharacters) {
  auto tokens = byte_alphabet_tokens();
  Tokenizer tok(tokens, {"x y"});  // "xy" is not a vocabulary string
  EXPECT_EQ(tok.encode("xy"), (std::vector<int32_t>{id_of(tok, "x"), id_of(tok, "y")}));
}

TEST(TokenizerErrors, MissingSpecialIsNamed) {
  auto tokens = byte_alphabet_tokens();
  tokens.erase(tokens.begin() + 256 + 2);  // <｜User｜>
  try {
    Tokenizer tok(tokens, {});
    FAIL() << "expected TokenizerError";
  } catch (const TokenizerError& e) {
    EXPECT_STREQ(e.what(), "required tokenizer token is missing: <\xEF\xBD\x9CUser\xEF\xBD\x9C>");
  }
}

TEST(TokenizerErrors, MissingByteTokenAndBadMerge) {
  auto tokens = byte_alphabet_tokens();
  tokens[0x41] = "not-A";
  EXPECT_THROW(
      {
        try {
          Tokenizer tok(tokens, {});
        } catch (const TokenizerError& e) {
          EXPECT_STREQ(e.what(), "tokenizer vocabulary lacks the byte token for byte 0x41");
          throw;
        }
      },
      TokenizerError);
  try {
    Tokenizer tok(byte_alphabet_tokens(), {"a b", "nospace"});
    FAIL() << "expected TokenizerError";
  } catch (const TokenizerError& e) {
    EXPECT_STREQ(e.what(), "tokenizer merge 1 is not \"<left> <right>\": \"nospace\"");
  }
  EXPECT_THROW(Tokenizer({}, {}), TokenizerError);
}

}  // namespace
}  // namespace ds4::text

namespace ds4::text {
namespace {

// Deterministic random bytes (mostly invalid UTF-8, long pieces, control runs): encoding must
// never fail and must round-trip exactly.
TEST(TokenizerRobustness, RandomBytesRoundTrip) {
  const Tokenizer& tok = testing::mini_tokenizer();
  uint32_t x = 2463534242u;
  for (int round = 0; round < 64; ++round) {
    std::string s(static_cast<size_t>(1 + round * 97), '\0');
    for (char& c : s) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      // Bias towards ASCII letters/spaces every other round to get long pieces.
      c = (round & 1) ? static_cast<char>("ab  \n\xC3\xA9"[x % 7]) : static_cast<char>(x);
    }
    EXPECT_EQ(tok.decode(tok.encode(s)), s) << "round " << round;
  }
}

}  // namespace
}  // namespace ds4::text
