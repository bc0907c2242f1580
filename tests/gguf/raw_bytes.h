// Test helper: hand-assembles GGUF bytes field by field, so tests can build files the
// Writer refuses to produce (wrong magic, bad counts, overlapping tensors...).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace ds4::gguf::testing {

struct RawBytes {
    std::vector<uint8_t> b;

    RawBytes& bytes(const void* p, size_t n) {
        const auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    RawBytes& u8(uint8_t v) { return bytes(&v, 1); }
    RawBytes& u32(uint32_t v) { return bytes(&v, 4); }
    RawBytes& u64(uint64_t v) { return bytes(&v, 8); }
    RawBytes& str(std::string_view s) { u64(s.size()); return bytes(s.data(), s.size()); }
    RawBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        bytes("GGUF", 4);
        u32(version);
        u64(n_tensors);
        return u64(n_kv);
    }
    RawBytes& kv_u32(std::string_view key, uint32_t v) { str(key); u32(4); return u32(v); }
    RawBytes& kv_str(std::string_view key, std::string_view v) { str(key); u32(8); return str(v); }
    // Tensor info with up to 4 dims.
    RawBytes& info(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name);
        u32(static_cast<uint32_t>(ne.size()));
        for (uint64_t n : ne) u64(n);
        u32(type);
        return u64(offset);
    }
    RawBytes& pad_to(size_t align) {
        while (b.size() % align) b.push_back(0);
        return *this;
    }
    RawBytes& zeros(size_t n) {
        b.insert(b.end(), n, 0);
        return *this;
    }
};

// Parses `b` and returns the error message ("" when it opened).
inline std::string open_error(const std::vector<uint8_t>& b, const char* name = "t.gguf") {
    try {
        File::open_memory(b.data(), b.size(), name);
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

}  // namespace ds4::gguf::testing
