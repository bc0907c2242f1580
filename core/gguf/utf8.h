// Internal: strict UTF-8 validation and message-safe quoting of names from a file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ds4::gguf::detail {

// Byte index of the first invalid UTF-8 sequence (overlong forms, surrogates, code points
// above U+10FFFF and truncated sequences are invalid), or npos when `s` is valid.
size_t find_invalid_utf8(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return find_invalid_utf8(s) == std::string_view::npos; }

// 'text' for error messages: control characters and invalid bytes become \xNN and long
// strings are cut to `max_chars` with "...", so a hostile name cannot break the one-line
// message format.
std::string quote(std::string_view s, size_t max_chars = 120);

}  // namespace ds4::gguf::detail
