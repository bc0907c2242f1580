// GGUF v3 writer. Collect metadata and tensors, then write() once:
//   header | metadata KVs | tensor infos | pad to alignment | tensor data (each aligned)
// Tensor bytes can come from memory or be streamed by a callback at write time, so
// multi-GB models are written without holding them in RAM.
//
// Guarantees: write(path) writes "<path>.tmp", fsyncs it and renames it over `path`; on any
// failure (I/O error, a stream producing the wrong number of bytes, an exception from a
// callback) the temporary is removed and `path` is left untouched. Everything the reader
// validates is also validated when adding (keys/names UTF-8 and unique, known tensor type,
// 1..4 dims, ne[0] multiple of the block size, byte count), so a written file always opens.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_value.h"

namespace ds4::gguf {

struct KeyValue;

// Receives a streamed tensor's bytes, in order. Writing more than the tensor's size throws.
class ByteSink {
public:
    virtual ~ByteSink() = default;
    virtual void write(const void* data, size_t n) = 0;
};

// Produces all bytes of one tensor into the sink (called once, during Writer::write).
using TensorStream = std::function<void(ByteSink& sink)>;
// Called after each chunk written: bytes written so far, total file size.
using Progress = std::function<void(uint64_t written, uint64_t total)>;

class Writer {
public:
    Writer();
    ~Writer();
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) noexcept;

    // ---- metadata (file order = call order; duplicate keys throw Error) -------------
    void add_u8(std::string_view key, uint8_t v);
    void add_i8(std::string_view key, int8_t v);
    void add_u16(std::string_view key, uint16_t v);
    void add_i16(std::string_view key, int16_t v);
    void add_u32(std::string_view key, uint32_t v);  // "general.alignment" also sets the alignment
    void add_i32(std::string_view key, int32_t v);
    void add_u64(std::string_view key, uint64_t v);
    void add_i64(std::string_view key, int64_t v);
    void add_f32(std::string_view key, float v);
    void add_f64(std::string_view key, double v);
    void add_bool(std::string_view key, bool v);
    void add_string(std::string_view key, std::string_view v);

    // Array of numbers/bools: `count` packed little-endian elements of type `elem`.
    void add_array(std::string_view key, ValueType elem, const void* data, uint64_t count);
    template <class T> void add_array(std::string_view key, std::span<const T> v) {
        if constexpr (std::is_same_v<T, bool>) {
            std::vector<uint8_t> b(v.begin(), v.end());
            add_array(key, ValueType::BOOL, b.data(), b.size());
        } else {
            add_array(key, value_type_of<T>(), v.data(), v.size());
        }
    }
    template <class T> void add_array(std::string_view key, const std::vector<T>& v) {
        if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> has no data()
            std::vector<uint8_t> b(v.begin(), v.end());
            add_array(key, ValueType::BOOL, b.data(), b.size());
        } else {
            add_array<T>(key, std::span<const T>(v.data(), v.size()));
        }
    }
    void add_string_array(std::string_view key, std::span<const std::string_view> v);
    void add_string_array(std::string_view key, const std::vector<std::string>& v);

    // Copies a reader entry verbatim (any type), e.g. to carry tokenizer arrays over.
    void copy_kv(const KeyValue& kv);

    // ---- tensors (data order = call order) -------------------------------------------
    // `bytes` must stay valid until write() returns and hold exactly the tensor's size.
    void add_tensor(std::string_view name, uint32_t type, const std::vector<int64_t>& ne,
                    std::span<const uint8_t> bytes);
    // Owned copy of the bytes.
    void add_tensor(std::string_view name, uint32_t type, const std::vector<int64_t>& ne,
                    std::vector<uint8_t> bytes);
    // Bytes produced at write time; the stream must write exactly the tensor's size.
    void add_tensor(std::string_view name, uint32_t type, const std::vector<int64_t>& ne,
                    TensorStream stream);

    uint32_t alignment() const;
    uint64_t n_tensors() const;
    uint64_t n_kv() const;
    // Exact size of the file write() will produce.
    uint64_t total_size() const;

    // Writes the file atomically (see top). Throws Error naming the path and the cause.
    void write(const std::string& path, const Progress& progress = {}) const;
    // Same bytes in memory (tests, fuzz corpora). Streams are invoked.
    std::vector<uint8_t> write_to_memory() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ds4::gguf
