// Streaming detokenizer: never emits a partial UTF-8 sequence.
#include <gtest/gtest.h>

#include "text/tokenizer.h"
#include "text_test_util.h"

namespace ds4::text {
namespace {

TEST(Utf8Stream, HoldsIncompleteSequences) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push_bytes("ab\xE4"), "ab");
  EXPECT_EQ(d.pending(), 1u);
  EXPECT_EQ(d.push_bytes("\xBD"), "");
  EXPECT_EQ(d.push_bytes("\xA0!"), "\xE4\xBD\xA0!");
  EXPECT_EQ(d.push_bytes("\xF0\x9F"), "");
  EXPECT_EQ(d.push_bytes("\x98"), "");
  EXPECT_EQ(d.push_bytes("\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.flush(), "");
}

TEST(Utf8Stream, InvalidBytesBecomeReplacementChars) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push_bytes("\xFFx"), "\xEF\xBF\xBDx");
  EXPECT_EQ(d.push_bytes("\xE4"), "");
  EXPECT_EQ(d.push_bytes("y"), "\xEF\xBF\xBDy");      // broken sequence
  EXPECT_EQ(d.push_bytes("\xED\xA0"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: never valid
  EXPECT_EQ(d.push_bytes("\xC3"), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");  // held tail at end of stream
  EXPECT_EQ(d.pending(), 0u);
}

TEST(Utf8Stream, TokenByTokenEqualsWholeDecode) {
  const Tokenizer& tok = testing::mini_tokenizer();
  const std::string text = "caff\xC3\xA8 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80\xF0\x9F\x9A\x80 ok";
  const auto ids = tok.encode(text);
  Utf8StreamDecoder d(&tok);
  std::string out;
  for (int32_t id : ids) {
    const std::string chunk = d.push_token(id);
    // Each chunk is complete UTF-8 on its own.
    Utf8StreamDecoder check;
    EXPECT_EQ(check.push_bytes(chunk), chunk);
    EXPECT_EQ(check.pending(), 0u);
    out += chunk;
  }
  out += d.flush();
  EXPECT_EQ(out, text);
}

}  // namespace
}  // namespace ds4::text
