// Value types, scalar/array accessors and previews.
#include <bit>
#include <cinttypes>
#include <cstdio>

#include "gguf/gguf_value.h"
#include "utf8.h"

static_assert(std::endian::native == std::endian::little,
              "ds4::gguf reads little-endian GGUF in place and needs a little-endian host");

namespace ds4::gguf {

std::string value_type_name(ValueType t) {
    switch (t) {
    case ValueType::UINT8: return "UINT8";
    case ValueType::INT8: return "INT8";
    case ValueType::UINT16: return "UINT16";
    case ValueType::INT16: return "INT16";
    case ValueType::UINT32: return "UINT32";
    case ValueType::INT32: return "INT32";
    case ValueType::FLOAT32: return "FLOAT32";
    case ValueType::BOOL: return "BOOL";
    case ValueType::STRING: return "STRING";
    case ValueType::ARRAY: return "ARRAY";
    case ValueType::UINT64: return "UINT64";
    case ValueType::INT64: return "INT64";
    case ValueType::FLOAT64: return "FLOAT64";
    }
    return "type#" + std::to_string(static_cast<uint32_t>(t));
}

size_t value_type_size(ValueType t) {
    switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    default: return 0;
    }
}

bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::FLOAT64); }

namespace {

bool is_integer(ValueType t) {
    switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
    case ValueType::BOOL: return true;
    default: return false;
    }
}

// Decodes one scalar of type t from little-endian bytes. Integers land in `i` (UINT64 above
// INT64_MAX sets `too_big`), floats in `f`.
struct Scalar {
    int64_t i = 0;
    double f = 0;
    bool is_float = false;
    bool too_big = false;
};

Scalar decode(ValueType t, const void* p) {
    Scalar s;
    auto load = [&](auto v) { std::memcpy(&v, p, sizeof v); return v; };
    switch (t) {
    case ValueType::UINT8: s.i = load(uint8_t{}); break;
    case ValueType::BOOL: s.i = load(uint8_t{}); break;
    case ValueType::INT8: s.i = load(int8_t{}); break;
    case ValueType::UINT16: s.i = load(uint16_t{}); break;
    case ValueType::INT16: s.i = load(int16_t{}); break;
    case ValueType::UINT32: s.i = load(uint32_t{}); break;
    case ValueType::INT32: s.i = load(int32_t{}); break;
    case ValueType::INT64: s.i = load(int64_t{}); break;
    case ValueType::UINT64: {
        const uint64_t u = load(uint64_t{});
        s.too_big = u > static_cast<uint64_t>(INT64_MAX);
        s.i = static_cast<int64_t>(u);
        s.f = static_cast<double>(u);
        return s;
    }
    case ValueType::FLOAT32: s.f = load(float{}); s.is_float = true; return s;
    case ValueType::FLOAT64: s.f = load(double{}); s.is_float = true; return s;
    default: break;
    }
    s.f = static_cast<double>(s.i);
    return s;
}

std::string format_scalar(ValueType t, const void* p) {
    const Scalar s = decode(t, p);
    char buf[64];
    if (t == ValueType::BOOL) return s.i ? "true" : "false";
    if (s.is_float) std::snprintf(buf, sizeof buf, "%.9g", s.f);
    else if (t == ValueType::UINT64) {
        uint64_t u;
        std::memcpy(&u, p, 8);
        std::snprintf(buf, sizeof buf, "%" PRIu64, u);
    } else std::snprintf(buf, sizeof buf, "%" PRId64, s.i);
    return buf;
}

[[noreturn]] void misuse(std::string_view key, const std::string& what) {
    throw Error("key " + detail::quote(key) + ": " + what);
}

}  // namespace

// ---- Array ----------------------------------------------------------------------------

void Array::check_element(uint64_t i, ValueType want) const {
    if (want != type_)
        misuse(key_, "array element type is " + value_type_name(type_) + ", not " + value_type_name(want));
    if (i >= count_)
        misuse(key_, "array index " + std::to_string(i) + " out of range (size " + std::to_string(count_) + ")");
}

std::string_view Array::string(uint64_t i) const {
    check_element(i, ValueType::STRING);
    return strings_[i];
}

const std::vector<std::string_view>& Array::strings() const {
    if (type_ != ValueType::STRING)
        misuse(key_, "array element type is " + value_type_name(type_) + ", not STRING");
    return strings_;
}

int64_t Array::as_int(uint64_t i) const {
    if (!is_integer(type_)) misuse(key_, "array of " + value_type_name(type_) + " is not an integer array");
    check_element(i, type_);
    const Scalar s = decode(type_, raw_ + i * value_type_size(type_));
    if (s.too_big) misuse(key_, "array element " + std::to_string(i) + " does not fit in int64");
    return s.i;
}

double Array::as_double(uint64_t i) const {
    if (type_ == ValueType::STRING || type_ == ValueType::BOOL)
        misuse(key_, "array of " + value_type_name(type_) + " is not numeric");
    check_element(i, type_);
    return decode(type_, raw_ + i * value_type_size(type_)).f;
}

std::span<const uint8_t> Array::raw() const {
    if (type_ == ValueType::STRING || raw_ == nullptr) return {};
    return {raw_, static_cast<size_t>(count_ * value_type_size(type_))};
}

// ---- Value ----------------------------------------------------------------------------

void Value::check_scalar(ValueType want) const {
    if (want != type_) misuse(key_, "value is " + value_type_name(type_) + ", not " + value_type_name(want));
}

std::string_view Value::string() const {
    check_scalar(ValueType::STRING);
    return str_;
}

const Array& Value::array() const {
    check_scalar(ValueType::ARRAY);
    return array_;
}

int64_t Value::as_int() const {
    if (!is_integer(type_)) misuse(key_, "value is " + value_type_name(type_) + ", not an integer");
    const Scalar s = decode(type_, &bits_);
    if (s.too_big) misuse(key_, "value does not fit in int64");
    return s.i;
}

double Value::as_double() const {
    if (type_ == ValueType::STRING || type_ == ValueType::ARRAY || type_ == ValueType::BOOL)
        misuse(key_, "value is " + value_type_name(type_) + ", not a number");
    return decode(type_, &bits_).f;
}

std::string Value::preview(size_t max_chars) const {
    if (max_chars < 8) max_chars = 8;
    if (type_ == ValueType::STRING) return detail::quote(str_, max_chars);
    if (type_ != ValueType::ARRAY) return format_scalar(type_, &bits_);

    std::string out = "[" + value_type_name(array_.type_) + " x " + std::to_string(array_.count_) + ":";
    for (uint64_t i = 0; i < array_.count_; ++i) {
        std::string item = array_.type_ == ValueType::STRING
                               ? detail::quote(array_.strings_[i], 24)
                               : format_scalar(array_.type_, array_.raw_ + i * value_type_size(array_.type_));
        if (out.size() + item.size() + 2 > max_chars) { out += " ..."; break; }
        out += (i ? ", " : " ") + item;
    }
    return out + "]";
}

}  // namespace ds4::gguf
