#include "byte_reader.h"

#include "gguf/gguf_value.h"
#include "utf8.h"

namespace ds4::gguf::detail {

void ByteReader::fail(const std::string& msg) const {
    std::string m = file_ + ": ";
    if (!context_.empty()) m += context_ + ": ";
    throw Error(m + msg);
}

const uint8_t* ByteReader::take(uint64_t n, const char* field) {
    if (n > remaining())
        fail(std::string("truncated: ") + field + " needs " + std::to_string(n) + " bytes at offset " +
             std::to_string(pos_) + " but the file ends at " + std::to_string(size_));
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
}

std::string_view ByteReader::string(const char* field) {
    const uint64_t at = pos_;
    const uint64_t len = u64(field);
    if (len > remaining())
        fail(std::string(field) + ": string length " + std::to_string(len) + " at offset " + std::to_string(at) +
             " exceeds the " + std::to_string(remaining()) + " bytes left in the file");
    std::string_view s(reinterpret_cast<const char*>(take(len, field)), static_cast<size_t>(len));
    const size_t bad = find_invalid_utf8(s);
    if (bad != std::string_view::npos)
        fail(std::string(field) + " " + quote(s) + " is not valid UTF-8 (bad byte at offset " +
             std::to_string(at + 8 + bad) + ")");
    return s;
}

}  // namespace ds4::gguf::detail
