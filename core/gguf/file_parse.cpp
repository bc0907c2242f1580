// Parsing and validating a GGUF v3 image: header, metadata, tensor directory, data layout.
// Every count read from the file is checked against the bytes that remain BEFORE anything
// is allocated for it, so a hostile header cannot make us reserve gigabytes.
#include <algorithm>
#include <bit>
#include <cstring>
#include <cstdio>

#include "byte_reader.h"
#include "ds4/types.h"
#include "gguf/gguf_file.h"
#include "utf8.h"

namespace ds4::gguf {

namespace {

// Smallest encodings, used to reject impossible counts up front.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;                  // key len, 1-byte key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name len+1, n_dims, ne[0], type, offset
constexpr uint64_t kMaxReserve = 1u << 16;  // cap for reserve(); vectors grow with real data beyond it

std::string hex_bytes(const uint8_t* p, size_t n) {
    std::string s;
    char buf[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, i ? " %02X" : "%02X", p[i]);
        s += buf;
    }
    return s;
}

std::string printable(const uint8_t* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (p[i] >= 0x20 && p[i] < 0x7F) ? static_cast<char>(p[i]) : '.';
    return s;
}

}  // namespace

class Parser {
public:
    explicit Parser(File& f) : f_(f), in_(f.base_, f.size_, f.name_) {}

    void run() {
        parse_header();
        for (uint64_t i = 0; i < n_kv_; ++i) parse_kv(i);
        in_.set_context("");
        apply_alignment();
        check_tensor_count();
        for (uint64_t i = 0; i < n_tensors_; ++i) parse_tensor_info(i);
        in_.set_context("");
        place_tensor_data();
    }

private:
    void parse_header() {
        if (f_.size_ < 4)
            in_.fail("file too small (" + std::to_string(f_.size_) + " bytes) to be a GGUF file");
        const uint8_t* magic = in_.take(4, "magic");
        if (std::memcmp(magic, "GGUF", 4) != 0)
            in_.fail("not a GGUF file: magic is \"" + printable(magic, 4) + "\" (" + hex_bytes(magic, 4) +
                     "), expected \"GGUF\"");
        const uint32_t version = in_.u32("version");
        if (version != kVersion) {
            const uint32_t swapped = __builtin_bswap32(version);
            if (swapped == kVersion || (swapped >= 1 && swapped <= 3 && version > 0xFFFF))
                in_.fail("big-endian GGUF file (version field reads " + std::to_string(version) +
                         ", which is " + std::to_string(swapped) +
                         " byte-swapped); only little-endian GGUF is supported");
            in_.fail("unsupported GGUF version " + std::to_string(version) + " (expected " +
                     std::to_string(kVersion) + ")");
        }
        f_.version_ = version;
        n_tensors_ = in_.u64("n_tensors");
        n_kv_ = in_.u64("n_kv");
        if (n_kv_ > in_.remaining() / kMinKvBytes)
            in_.fail("header: n_kv = " + std::to_string(n_kv_) + " is impossible: only " +
                     std::to_string(in_.remaining()) + " bytes follow the header (each entry needs at least " +
                     std::to_string(kMinKvBytes) + ")");
        check_tensor_count();
        f_.kvs_.reserve(static_cast<size_t>(std::min<uint64_t>(n_kv_, kMaxReserve)));
    }

    void check_tensor_count() {
        if (n_tensors_ > in_.remaining() / kMinTensorInfoBytes)
            in_.fail("header: n_tensors = " + std::to_string(n_tensors_) + " is impossible: only " +
                     std::to_string(in_.remaining()) + " bytes remain at offset " + std::to_string(in_.pos()) +
                     " (each tensor info needs at least " + std::to_string(kMinTensorInfoBytes) + ")");
    }

    void parse_kv(uint64_t index) {
        in_.set_context("metadata entry " + std::to_string(index));
        const std::string_view key = in_.string("key");
        if (key.empty()) in_.fail("empty key");
        in_.set_context("key " + detail::quote(key));
        if (f_.kv_index_.count(key)) in_.fail("duplicate key");

        const uint32_t type_id = in_.u32("value type");
        if (!is_known_value_type(type_id)) in_.fail("unknown value type " + std::to_string(type_id));

        KeyValue kv;
        kv.key = key;
        kv.value.key_ = key;
        kv.value.type_ = static_cast<ValueType>(type_id);
        const uint8_t* begin = in_.here();
        parse_value(kv.value);
        kv.encoded = {begin, static_cast<size_t>(in_.here() - begin)};
        f_.kv_index_.emplace(key, f_.kvs_.size());
        f_.kvs_.push_back(std::move(kv));
    }

    void parse_value(Value& v) {
        switch (v.type_) {
        case ValueType::STRING: v.str_ = in_.string("string value"); return;
        case ValueType::ARRAY: parse_array(v.array_, v.key_); return;
        default: break;
        }
        const size_t n = value_type_size(v.type_);
        std::memcpy(&v.bits_, in_.take(n, "value"), n);
        if (v.type_ == ValueType::BOOL && v.bits_ > 1)
            in_.fail("BOOL value " + std::to_string(v.bits_) + " is neither 0 nor 1");
    }

    void parse_array(Array& a, std::string_view key) {
        a.key_ = key;
        const uint32_t elem = in_.u32("array element type");
        if (!is_known_value_type(elem)) in_.fail("unknown array element type " + std::to_string(elem));
        a.type_ = static_cast<ValueType>(elem);
        if (a.type_ == ValueType::ARRAY) in_.fail("arrays of arrays are not supported");
        const uint64_t at = in_.pos();
        a.count_ = in_.u64("array count");
        const uint64_t min_elem = a.type_ == ValueType::STRING ? 8 : value_type_size(a.type_);
        if (a.count_ > in_.remaining() / min_elem)
            in_.fail("array count " + std::to_string(a.count_) + " (" + value_type_name(a.type_) + ") at offset " +
                     std::to_string(at) + " is impossible: only " + std::to_string(in_.remaining()) +
                     " bytes left in the file");
        if (a.type_ == ValueType::STRING) {
            a.strings_.reserve(static_cast<size_t>(std::min<uint64_t>(a.count_, kMaxReserve)));
            for (uint64_t i = 0; i < a.count_; ++i) a.strings_.push_back(in_.string("array string element"));
            return;
        }
        a.raw_ = in_.take(a.count_ * min_elem, "array elements");
        if (a.type_ == ValueType::BOOL)
            for (uint64_t i = 0; i < a.count_; ++i)
                if (a.raw_[i] > 1)
                    in_.fail("BOOL array element " + std::to_string(i) + " = " + std::to_string(a.raw_[i]) +
                             " is neither 0 nor 1");
    }

    void apply_alignment() {
        const KeyValue* kv = f_.find("general.alignment");
        if (!kv) return;
        in_.set_context("key 'general.alignment'");
        if (kv->value.type() != ValueType::UINT32)
            in_.fail("expected UINT32, found " + value_type_name(kv->value.type()));
        const uint32_t a = kv->value.get<uint32_t>();
        if (a == 0 || !std::has_single_bit(a)) in_.fail("alignment " + std::to_string(a) + " is not a power of two");
        f_.alignment_ = a;
        in_.set_context("");
    }

    void parse_tensor_info(uint64_t index) {
        in_.set_context("tensor info " + std::to_string(index));
        TensorInfo t;
        t.name = in_.string("tensor name");
        if (t.name.empty()) in_.fail("empty tensor name");
        in_.set_context("tensor " + detail::quote(t.name));
        if (f_.tensor_index_.count(t.name)) in_.fail("duplicate tensor name");

        t.n_dims = in_.u32("n_dims");
        if (t.n_dims == 0 || t.n_dims > kMaxDims)
            in_.fail("n_dims = " + std::to_string(t.n_dims) + " (must be 1.." + std::to_string(kMaxDims) + ")");
        uint64_t elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            const uint64_t ne = in_.u64("ne");
            if (ne == 0) in_.fail("ne[" + std::to_string(d) + "] = 0 (dimensions must be >= 1)");
            if (ne > static_cast<uint64_t>(INT64_MAX) / elements)
                in_.fail("element count overflows: ne[" + std::to_string(d) + "] = " + std::to_string(ne) +
                         " after " + std::to_string(elements) + " elements");
            elements *= ne;
            t.ne[d] = static_cast<int64_t>(ne);
        }
        t.n_elements = static_cast<int64_t>(elements);

        t.type = in_.u32("tensor type");
        const int64_t block_elems = ds4_type_block_elems(t.type);
        const int64_t block_bytes = ds4_type_block_bytes(t.type);
        if (block_elems <= 0) in_.fail("unsupported tensor type id " + std::to_string(t.type));
        if (t.ne[0] % block_elems != 0)
            in_.fail("ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of the " + ds4_type_name(t.type) +
                     " block size " + std::to_string(block_elems));
        const uint64_t blocks = elements / static_cast<uint64_t>(block_elems);
        if (blocks > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(block_bytes))
            in_.fail("byte size overflows (" + std::to_string(elements) + " elements of " + ds4_type_name(t.type) + ")");
        t.size = blocks * static_cast<uint64_t>(block_bytes);

        // Relative for now; place_tensor_data() makes it absolute once the data start is known.
        t.offset = in_.u64("tensor offset");
        if (t.offset % f_.alignment_ != 0)
            in_.fail("offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                     std::to_string(f_.alignment_));
        f_.tensor_index_.emplace(t.name, f_.tensors_.size());
        f_.tensors_.push_back(t);
    }

    void place_tensor_data() {
        const uint64_t end_of_infos = in_.pos();
        const uint64_t a = f_.alignment_;
        if (end_of_infos > UINT64_MAX - (a - 1)) in_.fail("data section start overflows");
        f_.data_offset_ = (end_of_infos + a - 1) / a * a;

        for (TensorInfo& t : f_.tensors_) {
            const uint64_t rel = t.offset;
            const bool overflow = rel > UINT64_MAX - f_.data_offset_ || f_.data_offset_ + rel > UINT64_MAX - t.size;
            if (overflow || f_.data_offset_ + rel + t.size > f_.size_) {
                in_.set_context("tensor " + detail::quote(t.name));
                in_.fail("data [offset " + (overflow ? std::to_string(rel) + " (relative)" : std::to_string(f_.data_offset_ + rel)) +
                         ", size " + std::to_string(t.size) + "] extends past end of file (size " +
                         std::to_string(f_.size_) + ")");
            }
            t.offset = f_.data_offset_ + rel;
            t.data = f_.base_ + t.offset;
        }

        // Overlap check in offset order (the directory order need not be the data order).
        std::vector<const TensorInfo*> by_offset;
        by_offset.reserve(f_.tensors_.size());
        for (const TensorInfo& t : f_.tensors_) by_offset.push_back(&t);
        std::sort(by_offset.begin(), by_offset.end(),
                  [](const TensorInfo* x, const TensorInfo* y) { return x->offset < y->offset; });
        for (size_t i = 1; i < by_offset.size(); ++i) {
            const TensorInfo& p = *by_offset[i - 1];
            const TensorInfo& c = *by_offset[i];
            if (p.offset + p.size > c.offset)
                in_.fail("tensors " + detail::quote(p.name) + " [offset " + std::to_string(p.offset) + ", size " +
                         std::to_string(p.size) + "] and " + detail::quote(c.name) + " [offset " +
                         std::to_string(c.offset) + ", size " + std::to_string(c.size) + "] overlap");
        }
    }

    File& f_;
    detail::ByteReader in_;
    uint64_t n_tensors_ = 0;
    uint64_t n_kv_ = 0;
};

void parse_file(File& f) { Parser(f).run(); }

}  // namespace ds4::gguf
