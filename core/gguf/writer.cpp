// GGUF v3 writer: metadata is encoded as it is added; the tensor directory and data layout
// are computed at write time (so general.alignment may be added at any point).
#include <algorithm>
#include <bit>
#include <unordered_set>

#include "ds4/types.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "utf8.h"
#include "writer_output.h"

namespace ds4::gguf {

namespace {

[[noreturn]] void fail(const std::string& what, std::string_view name, const std::string& msg) {
    throw Error("gguf writer: " + what + " " + detail::quote(name) + ": " + msg);
}

void put_u32(std::vector<uint8_t>& b, uint32_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
}
void put_u64(std::vector<uint8_t>& b, uint64_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + 8);
}
void put_string(std::vector<uint8_t>& b, std::string_view s) {
    put_u64(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
}

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

constexpr size_t kChunk = 16u << 20;  // progress granularity for in-memory tensors

struct TensorEntry {
    std::string name;
    uint32_t type = 0;
    std::vector<int64_t> ne;
    uint64_t size = 0;
    std::span<const uint8_t> view;  // borrowed or pointing into `owned`
    std::vector<uint8_t> owned;
    TensorStream stream;
};

struct Layout {
    std::vector<uint8_t> head;  // header + KVs + tensor infos
    uint64_t data_offset = 0;
    std::vector<uint64_t> offsets;  // absolute, per tensor
    uint64_t total = 0;
};

// Counts bytes for progress and forwards them.
class ProgressOutput final : public detail::Output {
public:
    ProgressOutput(detail::Output& out, const Progress& progress, uint64_t total)
        : out_(out), progress_(progress), total_(total) {}
    void write(const void* data, size_t n) override {
        out_.write(data, n);
        written_ += n;
        if (progress_ && (written_ - reported_ >= kChunk || written_ == total_)) {
            reported_ = written_;
            progress_(written_, total_);
        }
    }
    uint64_t written() const { return written_; }
    void zeros(uint64_t n) {
        static const uint8_t z[256] = {};
        while (n > 0) {
            const size_t k = static_cast<size_t>(std::min<uint64_t>(n, sizeof z));
            write(z, k);
            n -= k;
        }
    }

private:
    detail::Output& out_;
    const Progress& progress_;
    uint64_t total_;
    uint64_t written_ = 0;
    uint64_t reported_ = 0;
};

class CheckedSink final : public ByteSink {
public:
    CheckedSink(ProgressOutput& out, const TensorEntry& t) : out_(out), t_(t) {}
    void write(const void* data, size_t n) override {
        if (n > t_.size - done_)
            fail("tensor", t_.name,
                 "stream wrote more than the tensor's " + std::to_string(t_.size) + " bytes");
        out_.write(data, n);
        done_ += n;
    }
    uint64_t done() const { return done_; }

private:
    ProgressOutput& out_;
    const TensorEntry& t_;
    uint64_t done_ = 0;
};

}  // namespace

struct Writer::Impl {
    std::vector<uint8_t> kv_bytes;
    uint64_t n_kv = 0;
    std::unordered_set<std::string> keys;
    uint32_t alignment = kDefaultAlignment;
    std::vector<TensorEntry> tensors;
    std::unordered_set<std::string> names;

    void check_name(const char* what, std::string_view name, const std::unordered_set<std::string>& seen) const {
        if (name.empty()) throw Error(std::string("gguf writer: empty ") + what + " name");
        if (!detail::is_valid_utf8(name)) fail(what, name, "not valid UTF-8");
        if (seen.count(std::string(name))) fail(what, name, std::string("duplicate ") + what);
    }

    // Appends key + type id; the caller appends the encoded value.
    void begin_kv(std::string_view key, ValueType type) {
        check_name("key", key, keys);
        keys.emplace(key);
        ++n_kv;
        put_string(kv_bytes, key);
        put_u32(kv_bytes, static_cast<uint32_t>(type));
    }

    void scalar(std::string_view key, ValueType type, const void* v) {
        if (key == "general.alignment") {
            if (type != ValueType::UINT32) fail("key", key, "must be UINT32, not " + value_type_name(type));
            uint32_t a;
            std::memcpy(&a, v, 4);
            if (a == 0 || !std::has_single_bit(a)) fail("key", key, "alignment " + std::to_string(a) + " is not a power of two");
            alignment = a;
        }
        if (type == ValueType::BOOL && *static_cast<const uint8_t*>(v) > 1) fail("key", key, "BOOL must be 0 or 1");
        begin_kv(key, type);
        const auto* p = static_cast<const uint8_t*>(v);
        kv_bytes.insert(kv_bytes.end(), p, p + value_type_size(type));
    }

    Layout layout() const {
        Layout l;
        l.head.reserve(24 + kv_bytes.size() + tensors.size() * 64);
        l.head.insert(l.head.end(), {'G', 'G', 'U', 'F'});
        put_u32(l.head, kVersion);
        put_u64(l.head, tensors.size());
        put_u64(l.head, n_kv);
        l.head.insert(l.head.end(), kv_bytes.begin(), kv_bytes.end());
        uint64_t rel = 0;
        std::vector<uint64_t> rels;
        for (const TensorEntry& t : tensors) {
            rel = round_up(rel, alignment);
            rels.push_back(rel);
            put_string(l.head, t.name);
            put_u32(l.head, static_cast<uint32_t>(t.ne.size()));
            for (int64_t n : t.ne) put_u64(l.head, static_cast<uint64_t>(n));
            put_u32(l.head, t.type);
            put_u64(l.head, rel);
            rel += t.size;
        }
        l.data_offset = round_up(l.head.size(), alignment);
        for (uint64_t r : rels) l.offsets.push_back(l.data_offset + r);
        l.total = tensors.empty() ? l.head.size() : l.data_offset + rel;
        return l;
    }

    void emit(detail::Output& raw, const Progress& progress) const {
        const Layout l = layout();
        ProgressOutput out(raw, progress, l.total);
        out.write(l.head.data(), l.head.size());
        for (size_t i = 0; i < tensors.size(); ++i) {
            const TensorEntry& t = tensors[i];
            out.zeros(l.offsets[i] - out.written());
            if (t.stream) {
                CheckedSink sink(out, t);
                t.stream(sink);
                if (sink.done() != t.size)
                    fail("tensor", t.name, "stream produced " + std::to_string(sink.done()) + " bytes, expected " +
                                               std::to_string(t.size));
            } else {
                for (size_t at = 0; at < t.view.size(); at += kChunk)
                    out.write(t.view.data() + at, std::min(kChunk, t.view.size() - at));
            }
        }
        if (progress && l.total == 0) progress(0, 0);
    }
};

Writer::Writer() : impl_(std::make_unique<Impl>()) {}
Writer::~Writer() = default;
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;

void Writer::add_u8(std::string_view k, uint8_t v) { impl_->scalar(k, ValueType::UINT8, &v); }
void Writer::add_i8(std::string_view k, int8_t v) { impl_->scalar(k, ValueType::INT8, &v); }
void Writer::add_u16(std::string_view k, uint16_t v) { impl_->scalar(k, ValueType::UINT16, &v); }
void Writer::add_i16(std::string_view k, int16_t v) { impl_->scalar(k, ValueType::INT16, &v); }
void Writer::add_u32(std::string_view k, uint32_t v) { impl_->scalar(k, ValueType::UINT32, &v); }
void Writer::add_i32(std::string_view k, int32_t v) { impl_->scalar(k, ValueType::INT32, &v); }
void Writer::add_u64(std::string_view k, uint64_t v) { impl_->scalar(k, ValueType::UINT64, &v); }
void Writer::add_i64(std::string_view k, int64_t v) { impl_->scalar(k, ValueType::INT64, &v); }
void Writer::add_f32(std::string_view k, float v) { impl_->scalar(k, ValueType::FLOAT32, &v); }
void Writer::add_f64(std::string_view k, double v) { impl_->scalar(k, ValueType::FLOAT64, &v); }
void Writer::add_bool(std::string_view k, bool v) {
    const uint8_t b = v ? 1 : 0;
    impl_->scalar(k, ValueType::BOOL, &b);
}

void Writer::add_string(std::string_view key, std::string_view v) {
    if (!detail::is_valid_utf8(v)) fail("key", key, "string value is not valid UTF-8");
    impl_->begin_kv(key, ValueType::STRING);
    put_string(impl_->kv_bytes, v);
}

void Writer::add_array(std::string_view key, ValueType elem, const void* data, uint64_t count) {
    const size_t es = value_type_size(elem);
    if (es == 0) fail("key", key, "add_array needs a numeric or BOOL element type, not " + value_type_name(elem));
    if (key == "general.alignment") fail("key", key, "must be UINT32, not an ARRAY");
    const auto* p = static_cast<const uint8_t*>(data);
    if (elem == ValueType::BOOL)
        for (uint64_t i = 0; i < count; ++i)
            if (p[i] > 1) fail("key", key, "BOOL array element " + std::to_string(i) + " is not 0 or 1");
    impl_->begin_kv(key, ValueType::ARRAY);
    put_u32(impl_->kv_bytes, static_cast<uint32_t>(elem));
    put_u64(impl_->kv_bytes, count);
    if (count) impl_->kv_bytes.insert(impl_->kv_bytes.end(), p, p + count * es);
}

void Writer::add_string_array(std::string_view key, std::span<const std::string_view> v) {
    for (size_t i = 0; i < v.size(); ++i)
        if (!detail::is_valid_utf8(v[i])) fail("key", key, "string element " + std::to_string(i) + " is not valid UTF-8");
    if (key == "general.alignment") fail("key", key, "must be UINT32, not an ARRAY");
    impl_->begin_kv(key, ValueType::ARRAY);
    put_u32(impl_->kv_bytes, static_cast<uint32_t>(ValueType::STRING));
    put_u64(impl_->kv_bytes, v.size());
    for (std::string_view s : v) put_string(impl_->kv_bytes, s);
}

void Writer::add_string_array(std::string_view key, const std::vector<std::string>& v) {
    std::vector<std::string_view> views(v.begin(), v.end());
    add_string_array(key, std::span<const std::string_view>(views));
}

void Writer::copy_kv(const KeyValue& kv) {
    if (kv.key == "general.alignment") {
        // Goes through the checked path so the writer's alignment follows it.
        if (kv.value.type() != ValueType::UINT32) fail("key", kv.key, "must be UINT32");
        add_u32(kv.key, kv.value.get<uint32_t>());
        return;
    }
    impl_->begin_kv(kv.key, kv.value.type());
    impl_->kv_bytes.insert(impl_->kv_bytes.end(), kv.encoded.begin(), kv.encoded.end());
}

namespace {
uint64_t checked_tensor_size(std::string_view name, uint32_t type, const std::vector<int64_t>& ne) {
    const int64_t be = ds4_type_block_elems(type);
    if (be <= 0) fail("tensor", name, "unsupported tensor type id " + std::to_string(type));
    if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims))
        fail("tensor", name, "n_dims = " + std::to_string(ne.size()) + " (must be 1..4)");
    uint64_t n = 1;
    for (size_t d = 0; d < ne.size(); ++d) {
        if (ne[d] <= 0) fail("tensor", name, "ne[" + std::to_string(d) + "] = " + std::to_string(ne[d]) + " (must be >= 1)");
        if (static_cast<uint64_t>(ne[d]) > static_cast<uint64_t>(INT64_MAX) / n) fail("tensor", name, "element count overflows");
        n *= static_cast<uint64_t>(ne[d]);
    }
    if (ne[0] % be != 0)
        fail("tensor", name, "ne[0] = " + std::to_string(ne[0]) + " is not a multiple of the " + ds4_type_name(type) +
                                 " block size " + std::to_string(be));
    const uint64_t blocks = n / static_cast<uint64_t>(be);
    const auto bb = static_cast<uint64_t>(ds4_type_block_bytes(type));
    if (blocks > static_cast<uint64_t>(INT64_MAX) / bb) fail("tensor", name, "byte size overflows");
    return blocks * bb;
}
}  // namespace

void Writer::add_tensor(std::string_view name, uint32_t type, const std::vector<int64_t>& ne,
                        std::span<const uint8_t> bytes) {
    impl_->check_name("tensor", name, impl_->names);
    const uint64_t size = checked_tensor_size(name, type, ne);
    if (bytes.size() != size)
        fail("tensor", name, std::to_string(bytes.size()) + " bytes given, expected " + std::to_string(size) + " for " +
                                 ds4_type_name(type));
    TensorEntry t;
    t.name = name;
    t.type = type;
    t.ne = ne;
    t.size = size;
    t.view = bytes;
    impl_->names.emplace(name);
    impl_->tensors.push_back(std::move(t));
}

void Writer::add_tensor(std::string_view name, uint32_t type, const std::vector<int64_t>& ne,
                        std::vector<uint8_t> bytes) {
    add_tensor(name, type, ne, std::span<const uint8_t>(bytes));
    TensorEntry& t = impl_->tensors.back();
    t.owned = std::move(bytes);  // vector move keeps the buffer, so the view stays valid
    t.view = t.owned;
}

void Writer::add_tensor(std::string_view name, uint32_t type, const std::vector<int64_t>& ne, TensorStream stream) {
    impl_->check_name("tensor", name, impl_->names);
    if (!stream) fail("tensor", name, "empty stream callback");
    TensorEntry t;
    t.name = name;
    t.type = type;
    t.ne = ne;
    t.size = checked_tensor_size(name, type, ne);
    t.stream = std::move(stream);
    impl_->names.emplace(name);
    impl_->tensors.push_back(std::move(t));
}

uint32_t Writer::alignment() const { return impl_->alignment; }
uint64_t Writer::n_tensors() const { return impl_->tensors.size(); }
uint64_t Writer::n_kv() const { return impl_->n_kv; }
uint64_t Writer::total_size() const { return impl_->layout().total; }

void Writer::write(const std::string& path, const Progress& progress) const {
    detail::AtomicFileOutput out(path);
    impl_->emit(out, progress);
    out.commit();
}

std::vector<uint8_t> Writer::write_to_memory() const {
    std::vector<uint8_t> bytes;
    detail::MemoryOutput out(bytes);
    impl_->emit(out, {});
    return bytes;
}

}  // namespace ds4::gguf
