#include "safetensors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "host/status.h"
#include "quant/quant.h"

namespace ds4::convert {
namespace {

struct DtypeInfo {
    const char* name;
    StDtype type;
    size_t size;
};

const DtypeInfo kDtypes[] = {
    {"F64", StDtype::F64, 8},         {"F32", StDtype::F32, 4},   {"F16", StDtype::F16, 2},
    {"BF16", StDtype::BF16, 2},       {"F8_E4M3", StDtype::F8_E4M3, 1}, {"F8_E8M0", StDtype::F8_E8M0, 1},
    {"I64", StDtype::I64, 8},         {"I32", StDtype::I32, 4},   {"I16", StDtype::I16, 2},
    {"I8", StDtype::I8, 1},           {"U8", StDtype::U8, 1},     {"BOOL", StDtype::BOOL, 1},
};

// Headers beyond this are not checkpoints (the format itself caps them at 100 MB).
constexpr uint64_t kMaxHeader = 100ull << 20;

}  // namespace

const char* dtype_name(StDtype t) {
    for (auto& d : kDtypes)
        if (d.type == t) return d.name;
    return "?";
}

size_t dtype_size(StDtype t) {
    for (auto& d : kDtypes)
        if (d.type == t) return d.size;
    return 0;
}

int64_t StTensor::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st{};
    if (fstat(fd, &st) != 0) {
        ::close(fd);
        throw Error(path + ": cannot stat");
    }
    map_size_ = static_cast<size_t>(st.st_size);
    if (map_size_ < 8) {
        ::close(fd);
        throw Error(path + ": not a safetensors file (" + std::to_string(map_size_) + " bytes)");
    }
    map_ = mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map_ == MAP_FAILED) {
        map_ = nullptr;
        throw Error(path + ": mmap failed");
    }
    const uint8_t* base = static_cast<const uint8_t*>(map_);
    uint64_t hlen = 0;
    std::memcpy(&hlen, base, 8);
    if (hlen > kMaxHeader || hlen > map_size_ - 8)
        throw Error(path + ": header length " + std::to_string(hlen) + " exceeds the file");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(base + 8, base + 8 + hlen);
    } catch (const std::exception& e) {
        throw Error(path + ": header is not valid JSON: " + e.what());
    }
    if (!header.is_object()) throw Error(path + ": header is not a JSON object");
    const uint64_t data_start = 8 + hlen;
    const uint64_t data_size = map_size_ - data_start;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const std::string where = path + ": tensor '" + it.key() + "'";
        const auto& v = it.value();
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            throw Error(where + ": needs dtype, shape and data_offsets");
        StTensor t;
        t.name = it.key();
        t.file = path;
        const std::string dt = v["dtype"].is_string() ? v["dtype"].get<std::string>() : "";
        const DtypeInfo* info = nullptr;
        for (auto& d : kDtypes)
            if (dt == d.name) info = &d;
        if (!info) throw Error(where + ": unsupported dtype '" + dt + "'");
        t.dtype = info->type;
        if (!v["shape"].is_array()) throw Error(where + ": shape is not an array");
        uint64_t numel = 1;
        for (auto& d : v["shape"]) {
            if (!d.is_number_unsigned()) throw Error(where + ": shape has a non-integer dimension");
            uint64_t x = d.get<uint64_t>();
            if (x != 0 && numel > (1ull << 50) / x) throw Error(where + ": shape too large");
            numel *= x;
            t.shape.push_back(static_cast<int64_t>(x));
        }
        const auto& off = v["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw Error(where + ": data_offsets must be [begin, end]");
        uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
        if (b > e || e > data_size)
            throw Error(where + ": data [" + std::to_string(b) + ", " + std::to_string(e) +
                        ") is outside the data section (" + std::to_string(data_size) + " bytes)");
        if (e - b != numel * info->size)
            throw Error(where + ": " + std::to_string(e - b) + " bytes for " + std::to_string(numel) + " " +
                        info->name + " elements");
        t.data = base + data_start + b;
        t.size = e - b;
        tensors_.push_back(std::move(t));
    }
}

SafetensorsFile::~SafetensorsFile() {
    if (map_) munmap(map_, map_size_);
}

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
    DIR* d = opendir(dir.c_str());
    if (!d) throw Error(dir + ": cannot open checkpoint directory");
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0) names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    if (names.empty()) throw Error(dir + ": no *.safetensors files");
    for (auto& n : names) {
        files_.push_back(std::make_unique<SafetensorsFile>(dir + "/" + n));
        for (auto& t : files_.back()->tensors()) {
            if (!by_name_.emplace(t.name, &t).second)
                throw Error(dir + ": tensor '" + t.name + "' appears in more than one shard");
        }
    }
}

const StTensor* Checkpoint::find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

const StTensor& Checkpoint::get(const std::string& name) const {
    const StTensor* t = find(name);
    if (!t) throw Error(dir_ + ": checkpoint has no tensor '" + name + "'");
    return *t;
}

std::vector<float> to_f32(const StTensor& t) {
    const int64_t n = t.numel();
    std::vector<float> out(static_cast<size_t>(n));
    const uint8_t* p = t.data;
    for (int64_t i = 0; i < n; ++i) {
        float v = 0;
        switch (t.dtype) {
        case StDtype::F64: { double x; std::memcpy(&x, p + 8 * i, 8); v = static_cast<float>(x); break; }
        case StDtype::F32: std::memcpy(&v, p + 4 * i, 4); break;
        case StDtype::F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); v = quant::f16_to_f32(h); break; }
        case StDtype::BF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); v = quant::bf16_to_f32(h); break; }
        case StDtype::F8_E4M3: v = quant::e4m3fn_to_f32(p[i]); break;
        case StDtype::F8_E8M0: v = quant::e8m0_to_f32(p[i]); break;
        case StDtype::I64: { int64_t x; std::memcpy(&x, p + 8 * i, 8); v = static_cast<float>(x); break; }
        case StDtype::I32: { int32_t x; std::memcpy(&x, p + 4 * i, 4); v = static_cast<float>(x); break; }
        case StDtype::I16: { int16_t x; std::memcpy(&x, p + 2 * i, 2); v = static_cast<float>(x); break; }
        case StDtype::I8: v = static_cast<float>(static_cast<int8_t>(p[i])); break;
        case StDtype::U8: case StDtype::BOOL: v = static_cast<float>(p[i]); break;
        }
        out[static_cast<size_t>(i)] = v;
    }
    return out;
}

}  // namespace ds4::convert
