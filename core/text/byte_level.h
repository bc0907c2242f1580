// GPT-2 byte-level alphabet (PROTOCOL.md §A.5): every byte maps to one printable code point.
// Internal to ds4_text.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ds4::text::detail {

// Code point that stands for byte b in vocabulary strings.
uint32_t byte_to_cp(uint8_t b);
// UTF-8 encoding of byte_to_cp(b) (1 or 2 bytes), precomputed.
const std::string& byte_to_utf8(uint8_t b);
// Inverse: the byte for a code point of the alphabet, or -1 if the code point is not in it.
int cp_to_byte(uint32_t cp);

void append_utf8(std::string& out, uint32_t cp);

}  // namespace ds4::text::detail
