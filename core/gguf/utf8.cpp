#include "utf8.h"

#include <cstdint>
#include <cstdio>

namespace ds4::gguf::detail {

size_t find_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const uint8_t c = p[i];
        if (c < 0x80) { ++i; continue; }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return i;  // stray continuation byte or 0xF8..0xFF
        if (n - i < len) return i;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        // Shortest form only; no UTF-16 surrogates; Unicode ends at U+10FFFF.
        static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
        i += len;
    }
    return std::string_view::npos;
}

std::string quote(std::string_view s, size_t max_chars) {
    std::string out = "'";
    const size_t bad = find_invalid_utf8(s);
    size_t shown = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<uint8_t>(s[i]);
        const bool starts_char = c < 0x80 || (c & 0xC0) == 0xC0;
        if (shown >= max_chars && starts_char) { out += "..."; break; }
        // Past the first invalid byte we cannot trust sequence boundaries: escape all non-ASCII.
        const bool escape = c < 0x20 || c == 0x7F || (c >= 0x80 && bad != std::string_view::npos && i >= bad);
        if (escape) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else if (c == '\'' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(c);
        }
        if (starts_char) ++shown;  // count characters, not continuation bytes
    }
    out += "'";
    return out;
}

}  // namespace ds4::gguf::detail
