#include "text/unicode_class.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace ds4::text::detail {
namespace {

// (first_code_point << 8) | class, sorted; generated from the Unicode Character Database.
constexpr uint32_t kRanges[] = {
#include "text/unicode_classes.inc"
};

// ASCII is by far the most frequent input: answer it from a flat table.
constexpr std::array<CpClass, 128> make_ascii_table() {
  std::array<CpClass, 128> t{};
  size_t r = 0;
  for (uint32_t cp = 0; cp < 128; ++cp) {
    while (r + 1 < std::size(kRanges) && (kRanges[r + 1] >> 8) <= cp) ++r;
    t[cp] = static_cast<CpClass>(kRanges[r] & 0xff);
  }
  return t;
}
constexpr std::array<CpClass, 128> kAscii = make_ascii_table();

}  // namespace

CpClass cp_class(uint32_t cp) {
  if (cp < 128) return kAscii[cp];
  if (cp > 0x10FFFF) return CpClass::kOther;
  // Last range whose start is <= cp.
  const uint32_t key = (cp << 8) | 0xff;
  const uint32_t* it = std::upper_bound(std::begin(kRanges), std::end(kRanges), key);
  return static_cast<CpClass>(*(it - 1) & 0xff);
}

DecodedCp decode_utf8(std::string_view s, size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return {b0, 1};
  size_t need;
  uint32_t cp, min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1; cp = b0 & 0x1F; min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2; cp = b0 & 0x0F; min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3; cp = b0 & 0x07; min = 0x10000;
  } else {
    return {kInvalidByteCp, 1};
  }
  if (s.size() - pos <= need) return {kInvalidByteCp, 1};
  for (size_t i = 1; i <= need; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return {kInvalidByteCp, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalidByteCp, 1};
  return {cp, static_cast<uint32_t>(need + 1)};
}

size_t incomplete_utf8_tail(std::string_view s) {
  // A lead byte at most 3 bytes from the end whose sequence would extend past the end, with
  // only continuation bytes after it, and whose bytes so far can still be valid.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto b = static_cast<unsigned char>(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead
    size_t need;
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b >= 0xE0 && b <= 0xEF) need = 3;
    else if (b >= 0xF0 && b <= 0xF4) need = 4;
    else return 0;
    if (back >= need) return 0;  // complete (or over-long run): nothing to hold
    // Second-byte restrictions that make the prefix impossible (overlong, surrogate, > 10FFFF).
    if (back >= 2) {
      const auto b1 = static_cast<unsigned char>(s[n - back + 1]);
      if (b == 0xE0 && b1 < 0xA0) return 0;
      if (b == 0xED && b1 > 0x9F) return 0;
      if (b == 0xF0 && b1 < 0x90) return 0;
      if (b == 0xF4 && b1 > 0x8F) return 0;
    }
    return back;
  }
  return 0;
}

}  // namespace ds4::text::detail
