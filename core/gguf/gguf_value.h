// GGUF metadata values as the reader exposes them: value type ids, the error type,
// scalar values and arrays. Everything here is a view into the mapped file; nothing is
// copied (a string array keeps one string_view per element, never the bytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ds4::gguf {

// Every failure of the reader, the writer and the typed getters throws this. The message is
// one line that starts with the file name and names the field, e.g.
//   "model.gguf: tensor 'blk.3.attn_kv.weight': data [offset 123, size 456] extends past end
//    of file (size 400)".
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// GGUF metadata value type ids (fixed by the format).
enum class ValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

// "UINT32", "STRING", ...; "type#N" for an id outside the table.
std::string value_type_name(ValueType t);
// Encoded size of one scalar of this type; 0 for STRING, ARRAY and unknown ids.
size_t value_type_size(ValueType t);
bool is_known_value_type(uint32_t id);

// The ValueType that stores a C++ scalar (uint8_t -> UINT8, ..., bool -> BOOL, double -> FLOAT64).
template <class T> constexpr ValueType value_type_of() {
    if constexpr (std::is_same_v<T, bool>) return ValueType::BOOL;
    else if constexpr (std::is_same_v<T, uint8_t>) return ValueType::UINT8;
    else if constexpr (std::is_same_v<T, int8_t>) return ValueType::INT8;
    else if constexpr (std::is_same_v<T, uint16_t>) return ValueType::UINT16;
    else if constexpr (std::is_same_v<T, int16_t>) return ValueType::INT16;
    else if constexpr (std::is_same_v<T, uint32_t>) return ValueType::UINT32;
    else if constexpr (std::is_same_v<T, int32_t>) return ValueType::INT32;
    else if constexpr (std::is_same_v<T, uint64_t>) return ValueType::UINT64;
    else if constexpr (std::is_same_v<T, int64_t>) return ValueType::INT64;
    else if constexpr (std::is_same_v<T, float>) return ValueType::FLOAT32;
    else if constexpr (std::is_same_v<T, double>) return ValueType::FLOAT64;
    else static_assert(sizeof(T) == 0, "not a GGUF scalar type");
}

// An ARRAY value: element type + count. Numeric/bool elements stay packed in the file;
// STRING elements are indexed once at open time (one string_view each, into the file).
// Arrays of arrays are rejected by the reader (ds4 never uses them).
class Array {
public:
    ValueType type() const { return type_; }  // element type
    uint64_t size() const { return count_; }
    bool empty() const { return count_ == 0; }

    // STRING arrays only (throws Error otherwise).
    std::string_view string(uint64_t i) const;
    const std::vector<std::string_view>& strings() const;

    // Exact element type: T must match type() (e.g. uint32_t for UINT32); throws Error otherwise.
    template <class T> T get(uint64_t i) const {
        check_element(i, value_type_of<T>());
        T v;
        std::memcpy(&v, raw_ + i * sizeof(T), sizeof(T));  // file is little-endian, so is the host
        return v;
    }
    template <class T> std::vector<T> to_vector() const {
        std::vector<T> out(count_);
        for (uint64_t i = 0; i < count_; ++i) out[i] = get<T>(i);
        return out;
    }
    // Lenient accessors: any integer/bool element type (as_int; UINT64 above INT64_MAX throws),
    // any numeric element type (as_double).
    int64_t as_int(uint64_t i) const;
    double as_double(uint64_t i) const;

    // Packed little-endian element bytes (empty for STRING arrays).
    std::span<const uint8_t> raw() const;

private:
    friend class Parser;
    friend class Value;
    void check_element(uint64_t i, ValueType want) const;
    std::string_view key_;  // for error messages
    ValueType type_ = ValueType::UINT8;
    uint64_t count_ = 0;
    const uint8_t* raw_ = nullptr;  // first element (numeric) / nullptr (STRING)
    std::vector<std::string_view> strings_;
};

// A scalar, string or array value.
class Value {
public:
    ValueType type() const { return type_; }
    bool is_array() const { return type_ == ValueType::ARRAY; }

    // Exact scalar type (throws Error when T does not match type()).
    template <class T> T get() const {
        check_scalar(value_type_of<T>());
        T v;
        std::memcpy(&v, &bits_, sizeof(T));
        return v;
    }
    std::string_view string() const;  // STRING only
    const Array& array() const;       // ARRAY only

    // Lenient: any integer/bool type (as_int), any numeric type (as_double).
    int64_t as_int() const;
    double as_double() const;

    // Short human preview: 42, 1.5, true, 'text', [UINT32 x 43: 0, 0, 4, ...].
    std::string preview(size_t max_chars = 80) const;

private:
    friend class Parser;
    void check_scalar(ValueType want) const;
    std::string_view key_;
    ValueType type_ = ValueType::UINT8;
    uint64_t bits_ = 0;  // scalar bytes, little-endian, zero-extended
    std::string_view str_;
    Array array_;
};

// One metadata entry, in file order.
struct KeyValue {
    std::string_view key;
    Value value;
    // The encoded value (after the u32 type id) exactly as stored, for copying into a Writer.
    std::span<const uint8_t> encoded;
};

}  // namespace ds4::gguf
