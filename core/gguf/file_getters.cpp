// Metadata and tensor lookup with typed getters (including the lenient DS4 numeric rules).
#include "ds4/types.h"
#include "gguf/gguf_file.h"
#include "utf8.h"

namespace ds4::gguf {

namespace {
[[noreturn]] void wrong_type(const File& f, std::string_view key, const char* expected, const Value& v) {
    std::string found = value_type_name(v.type());
    if (v.is_array()) found += " of " + value_type_name(v.array().type());
    throw Error(f.name() + ": key " + detail::quote(key) + ": expected " + expected + ", found " + found);
}
}  // namespace

uint64_t TensorInfo::row_bytes() const {
    const int64_t be = ds4_type_block_elems(type);
    return be > 0 ? static_cast<uint64_t>(ne[0] / be * ds4_type_block_bytes(type)) : 0;
}

const KeyValue* File::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

const Value& File::value(std::string_view key) const {
    const KeyValue* kv = find(key);
    if (!kv) throw Error(name_ + ": missing required key " + detail::quote(key));
    return kv->value;
}

uint32_t File::get_u32(std::string_view key) const {
    const Value& v = value(key);
    if (v.type() != ValueType::UINT32) wrong_type(*this, key, "UINT32", v);
    return v.get<uint32_t>();
}

int32_t File::get_i32(std::string_view key) const {
    const Value& v = value(key);
    if (v.type() != ValueType::INT32) wrong_type(*this, key, "INT32", v);
    return v.get<int32_t>();
}

uint64_t File::get_u64(std::string_view key) const {
    const Value& v = value(key);
    switch (v.type()) {
    case ValueType::UINT64: return v.get<uint64_t>();
    case ValueType::UINT32: return v.get<uint32_t>();
    default: wrong_type(*this, key, "UINT64 or UINT32", v);
    }
}

float File::get_f32(std::string_view key) const {
    const Value& v = value(key);
    switch (v.type()) {
    case ValueType::FLOAT32: return v.get<float>();
    case ValueType::FLOAT64: return static_cast<float>(v.get<double>());
    case ValueType::UINT32: return static_cast<float>(v.get<uint32_t>());
    case ValueType::INT32: return static_cast<float>(v.get<int32_t>());
    default: wrong_type(*this, key, "FLOAT32, FLOAT64, UINT32 or INT32", v);
    }
}

bool File::get_bool(std::string_view key) const {
    const Value& v = value(key);
    if (v.type() != ValueType::BOOL) wrong_type(*this, key, "BOOL", v);
    return v.get<bool>();
}

std::string_view File::get_string(std::string_view key) const {
    const Value& v = value(key);
    if (v.type() != ValueType::STRING) wrong_type(*this, key, "STRING", v);
    return v.string();
}

const Array& File::get_array(std::string_view key) const {
    const Value& v = value(key);
    if (!v.is_array()) wrong_type(*this, key, "ARRAY", v);
    return v.array();
}

const Array& File::get_array(std::string_view key, ValueType elem) const {
    const Value& v = value(key);
    const std::string expected = "ARRAY of " + value_type_name(elem);
    if (!v.is_array() || v.array().type() != elem) wrong_type(*this, key, expected.c_str(), v);
    return v.array();
}

uint32_t File::get_u32_or(std::string_view key, uint32_t fallback) const {
    return has(key) ? get_u32(key) : fallback;
}
uint64_t File::get_u64_or(std::string_view key, uint64_t fallback) const {
    return has(key) ? get_u64(key) : fallback;
}
float File::get_f32_or(std::string_view key, float fallback) const {
    return has(key) ? get_f32(key) : fallback;
}
bool File::get_bool_or(std::string_view key, bool fallback) const {
    return has(key) ? get_bool(key) : fallback;
}
std::string_view File::get_string_or(std::string_view key, std::string_view fallback) const {
    return has(key) ? get_string(key) : fallback;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::tensor(std::string_view name) const {
    const TensorInfo* t = find_tensor(name);
    if (!t) throw Error(name_ + ": missing tensor " + detail::quote(name));
    return *t;
}

}  // namespace ds4::gguf
