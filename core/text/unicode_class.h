// Code-point classes for the DeepSeek pre-tokenizer regex (PROTOCOL.md §A.4) and a strict
// UTF-8 reader. Internal to ds4_text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ds4::text::detail {

// The only distinctions the regex makes. kSpace is Oniguruma's Unicode \s (9..D, 85, Zs, Zl, Zp)
// and takes precedence over the general category.
enum class CpClass : uint8_t {
  kOther = 0,  // Cc (non-space), Cf, Co, Cs, Cn, and invalid UTF-8 bytes
  kLetter = 1,
  kMark = 2,
  kNumber = 3,
  kPunct = 4,
  kSymbol = 5,
  kSpace = 6,
};

CpClass cp_class(uint32_t cp);

// Marker code point for a byte that is not part of valid UTF-8: above U+10FFFF so it can never
// collide with a real character; cp_class() says kOther.
inline constexpr uint32_t kInvalidByteCp = 0x110000;

// Decode the code point starting at s[pos]. Strict (no overlongs, surrogates or > U+10FFFF):
// an invalid or truncated sequence yields {kInvalidByteCp, 1}, i.e. one lone byte.
struct DecodedCp {
  uint32_t cp;
  uint32_t len;
};
DecodedCp decode_utf8(std::string_view s, size_t pos);

// Length of the longest prefix of s[pos..] that is a valid but incomplete UTF-8 sequence
// reaching the end of s (0 if none). Used by the streaming decoder to hold back bytes.
size_t incomplete_utf8_tail(std::string_view s);

}  // namespace ds4::text::detail
