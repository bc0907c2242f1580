// Pre-tokenizer pieces (PROTOCOL §A.4, regex semantics) on the cases the spec discusses.
#include <gtest/gtest.h>

#include "text_test_util.h"

namespace ds4::text {
namespace {

std::vector<std::string> pieces(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view p : testing::mini_tokenizer().pre_tokenize(s)) out.emplace_back(p);
  return out;
}
using V = std::vector<std::string>;

TEST(PreTokenizer, DigitsInRunsOfThree) {
  EXPECT_EQ(pieces("12345"), (V{"123", "45"}));
  EXPECT_EQ(pieces("a1234b"), (V{"a", "123", "4", "b"}));
  EXPECT_EQ(pieces(" 2048"), (V{" ", "204", "8"}));
  // \p{N} is every number, not only ASCII digits: Arabic-Indic, superscripts, fractions.
  EXPECT_EQ(pieces("\xD9\xA3\xD9\xA4\xD9\xA5\xD9\xA6"), (V{"\xD9\xA3\xD9\xA4\xD9\xA5", "\xD9\xA6"}));
  EXPECT_EQ(pieces("x\xC2\xB2"), (V{"x", "\xC2\xB2"}));
}

TEST(PreTokenizer, CjkRunsAreIsolated) {
  EXPECT_EQ(pieces("  \xE4\xB8\xAD\xE6\x96\x87"), (V{"  ", "\xE4\xB8\xAD\xE6\x96\x87"}));  // "  中文"
  EXPECT_EQ(pieces("a\xE4\xB8\xAD"), (V{"a", "\xE4\xB8\xAD"}));
  // カ・カ: the step-2 run is split again by step 3 (・ is punctuation).
  EXPECT_EQ(pieces("\xE3\x82\xAB\xE3\x83\xBB\xE3\x82\xAB"),
            (V{"\xE3\x82\xAB", "\xE3\x83\xBB", "\xE3\x82\xAB"}));
}

TEST(PreTokenizer, WordsPunctuationAndWhitespace) {
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("    int"), (V{"   ", " int"}));
  EXPECT_EQ(pieces("x;\n"), (V{"x", ";\n"}));
  EXPECT_EQ(pieces(" (\n"), (V{" (\n"}));
  EXPECT_EQ(pieces("it's .com_calls"), (V{"it", "'s", " .", "com", "_calls"}));
  EXPECT_EQ(pieces("a\r\n\r\n  b"), (V{"a", "\r\n\r\n", " ", " b"}));
  EXPECT_EQ(pieces("end   "), (V{"end", "   "}));
  EXPECT_EQ(pieces("\t\tfoo"), (V{"\t", "\tfoo"}));
  EXPECT_EQ(pieces("a \n b"), (V{"a", " \n", " b"}));
}

TEST(PreTokenizer, UnicodeWhitespaceAndMarks) {
  // NBSP is \s (not a letter): "\u00a0\u00a0foo" -> "\u00a0", "\u00a0foo".
  EXPECT_EQ(pieces("\xC2\xA0\xC2\xA0" "foo"), (V{"\xC2\xA0", "\xC2\xA0" "foo"}));
  // A combining mark after a letter stays in the word; a lone one is a word by itself.
  EXPECT_EQ(pieces("e\xCC\x81 x"), (V{"e\xCC\x81", " x"}));
  EXPECT_EQ(pieces("!\xCC\x81"), (V{"!", "\xCC\x81"}));
  // Control characters that match nothing are one gap piece; one before a letter is its prefix.
  EXPECT_EQ(pieces(std::string("\x01\x02" "abc")), (V{"\x01", "\x02" "abc"}));
  EXPECT_EQ(pieces(std::string("\x01\x02\x03")), (V{"\x01\x02\x03"}));
}

TEST(PreTokenizer, InvalidUtf8IsOneOtherCharPerByte) {
  EXPECT_EQ(pieces("\xFF\xFE"), (V{"\xFF\xFE"}));
  EXPECT_EQ(pieces("\xFF" "abc"), (V{"\xFF" "abc"}));
  EXPECT_EQ(pieces("ab\xE4\xB8"), (V{"ab", "\xE4\xB8"}));
}

TEST(PreTokenizer, PiecesCoverInputExactly) {
  const std::string s = "Mixed: x=1234; \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80\t\r\n  end";
  std::string joined;
  for (const auto& p : pieces(s)) joined += p;
  EXPECT_EQ(joined, s);
}

}  // namespace
}  // namespace ds4::text
