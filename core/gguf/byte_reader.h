// Internal: a bounds-checked little-endian cursor over the file bytes. Every read checks
// the remaining length first, so a truncated or hostile file can only produce an Error.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ds4::gguf::detail {

class ByteReader {
public:
    ByteReader(const uint8_t* base, uint64_t size, const std::string& file_name)
        : base_(base), size_(size), file_(file_name) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }
    const uint8_t* here() const { return base_ + pos_; }

    // What is being parsed ("key 'general.name'", "tensor 'output.weight'"); prefixes errors.
    void set_context(std::string ctx) { context_ = std::move(ctx); }

    uint32_t u32(const char* field) { uint32_t v; std::memcpy(&v, take(4, field), 4); return v; }
    uint64_t u64(const char* field) { uint64_t v; std::memcpy(&v, take(8, field), 8); return v; }
    // `n` bytes; throws "truncated" naming `field` when fewer remain.
    const uint8_t* take(uint64_t n, const char* field);
    // u64 length + bytes, checked for a length that fits and for valid UTF-8.
    std::string_view string(const char* field);

    // "<file>: <context>: <msg>"
    [[noreturn]] void fail(const std::string& msg) const;

private:
    const uint8_t* base_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string& file_;
    std::string context_;
};

}  // namespace ds4::gguf::detail
