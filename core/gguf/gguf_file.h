// GGUF v3 reader. A File maps the whole file read-only (mmap, MAP_PRIVATE) and validates
// the header, every metadata entry and the whole tensor directory when it is opened, so
// the rest of the program can trust names, shapes, offsets and sizes.
//
// Error style: File::open / File::open_memory and every getter throw ds4::gguf::Error whose
// message is one line starting with the file name and naming the field that is wrong.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/gguf_value.h"

namespace ds4::gguf {

constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;

// One tensor of the directory. Unused dimensions of ne are 1.
struct TensorInfo {
    std::string_view name;       // view into the file
    uint32_t type = 0;           // ds4_type id (api/ds4/types.h); only known types are accepted
    uint32_t n_dims = 0;         // 1..4
    std::array<int64_t, kMaxDims> ne{1, 1, 1, 1};  // ne[0] = innermost (row length)
    int64_t n_elements = 0;
    uint64_t offset = 0;         // absolute file offset of the data (aligned)
    uint64_t size = 0;           // bytes = n_elements / block_elems * block_bytes
    const uint8_t* data = nullptr;  // into the mapping; valid while the File lives

    std::span<const uint8_t> bytes() const { return {data, static_cast<size_t>(size)}; }
    // Bytes of one row (ne[0] elements).
    uint64_t row_bytes() const;
};

class File {
public:
    // Maps and validates `path`. Throws Error.
    static File open(const std::string& path);
    // Parses a caller-owned buffer (fuzzing, tests). The buffer must outlive the File;
    // `name` prefixes error messages.
    static File open_memory(const uint8_t* data, size_t size, std::string name);

    File(File&&) noexcept;
    File& operator=(File&&) noexcept;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File();

    const std::string& name() const { return name_; }
    uint32_t version() const { return version_; }
    uint64_t file_size() const { return size_; }
    const uint8_t* base() const { return base_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // start of the tensor data section

    // ---- metadata -------------------------------------------------------------------
    const std::vector<KeyValue>& metadata() const { return kvs_; }  // file order
    const KeyValue* find(std::string_view key) const;               // nullptr when absent
    bool has(std::string_view key) const { return find(key) != nullptr; }
    // Throws Error "<file>: missing required key '<key>'" when absent.
    const Value& value(std::string_view key) const;

    // Typed getters. Missing key or a type outside the accepted set throws Error naming the
    // key, the expected and the found type.
    uint32_t get_u32(std::string_view key) const;         // UINT32
    int32_t get_i32(std::string_view key) const;          // INT32
    uint64_t get_u64(std::string_view key) const;         // UINT64 or UINT32 (DS4 rule)
    float get_f32(std::string_view key) const;            // FLOAT32, FLOAT64, UINT32, INT32 (DS4 rule)
    bool get_bool(std::string_view key) const;            // BOOL
    std::string_view get_string(std::string_view key) const;  // STRING
    const Array& get_array(std::string_view key) const;   // ARRAY of any element type
    // ARRAY whose element type is `elem`; throws naming the key and both types otherwise.
    const Array& get_array(std::string_view key, ValueType elem) const;

    // Same with a fallback when the key is absent (a present key of the wrong type still throws).
    uint32_t get_u32_or(std::string_view key, uint32_t fallback) const;
    uint64_t get_u64_or(std::string_view key, uint64_t fallback) const;
    float get_f32_or(std::string_view key, float fallback) const;
    bool get_bool_or(std::string_view key, bool fallback) const;
    std::string_view get_string_or(std::string_view key, std::string_view fallback) const;

    // ---- tensors --------------------------------------------------------------------
    const std::vector<TensorInfo>& tensors() const { return tensors_; }  // file order
    const TensorInfo* find_tensor(std::string_view name) const;          // nullptr when absent
    // Throws Error "<file>: missing tensor '<name>'" when absent.
    const TensorInfo& tensor(std::string_view name) const;

private:
    File() = default;
    friend class Parser;
    void release() noexcept;

    std::string name_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    void* map_ = nullptr;  // non-null when this File owns an mmap of map_size_ bytes
    size_t map_size_ = 0;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kvs_;
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace ds4::gguf
