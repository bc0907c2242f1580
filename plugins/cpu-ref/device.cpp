// The "cpu" device: options, device info, buffers and fault injection.
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "device.h"
#include "objects.h"

namespace ds4::cpuref {
namespace {

// Above this size buffers come from anonymous mmap: zero pages for free (no memset of
// gigabytes of weights) and page alignment (>= the promised 64 bytes).
constexpr uint64_t kMmapThreshold = 1ull << 20;
// No machine has this much memory; refuse before asking the allocator (also keeps
// size + alignment arithmetic far from overflow).
constexpr uint64_t kMaxBufferBytes = 1ull << 52;
constexpr size_t kAlign = 64;

// A "<key>: <n> kB" line of /proc/meminfo, in bytes; 0 if absent.
uint64_t meminfo_bytes(const char* key) {
    FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    uint64_t result = 0;
    size_t klen = std::strlen(key);
    while (std::fgets(line, sizeof(line), f)) {
        if (std::strncmp(line, key, klen) == 0 && line[klen] == ':') {
            result = std::strtoull(line + klen + 1, nullptr, 10) * 1024;
            break;
        }
    }
    std::fclose(f);
    return result;
}

bool parse_u64(const char* s, uint64_t* out) {
    if (!s || !*s) return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return false;
    *out = v;
    return true;
}

ds4_status* lost_status(const char* call) {
    return make_status(DS4_ERR_DEVICE_LOST, std::string(call) + ": device lost (injected fault); close and reopen it");
}

}  // namespace

uint32_t device_count(void*) { return 1; }

ds4_status* device_info(void*, uint32_t index, ds4_device_info* out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_info: out is NULL");
    if (index != 0) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_info: no device " + std::to_string(index));
    ds4_device_info info{};
    info.struct_size = sizeof(info);
    info.unified_memory = 1;
    info.name = "cpu";
    info.memory_total = meminfo_bytes("MemTotal");
    info.memory_free = meminfo_bytes("MemAvailable");
    // Write only what the host's struct has room for.
    uint32_t n = out->struct_size < sizeof(info) ? out->struct_size : static_cast<uint32_t>(sizeof(info));
    if (n < sizeof(uint32_t)) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_info: struct_size too small");
    info.struct_size = n;
    std::memcpy(out, &info, n);
    return nullptr;
}

ds4_status* parse_fault(const char* value, FaultPlan* out) {
    std::string v = value ? value : "";
    auto colon = v.find(':');
    std::string site = v.substr(0, colon);
    uint64_t nth = 0;
    if (colon == std::string::npos || !parse_u64(v.c_str() + colon + 1, &nth) || nth == 0)
        return make_status(DS4_ERR_INVALID_ARGUMENT,
                           "option inject_fault: '" + v + "' is not <submit|synchronize>:<N> with N >= 1");
    if (site == "submit") out->site = FaultSite::Submit;
    else if (site == "synchronize" || site == "sync") out->site = FaultSite::Synchronize;
    else return make_status(DS4_ERR_INVALID_ARGUMENT, "option inject_fault: unknown site '" + site +
                                                          "' (expects submit or synchronize)");
    out->nth = nth;
    return nullptr;
}

ds4_status* device_open(void*, uint32_t index, const ds4_option* options, uint32_t n_options, ds4_device** out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_open: out is NULL");
    *out = nullptr;
    if (index != 0) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_open: no device " + std::to_string(index));
    if (n_options && !options) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_open: options is NULL");
    unsigned hw = std::thread::hardware_concurrency();
    uint64_t threads = hw ? hw : 1;
    FaultPlan fault;
    for (uint32_t i = 0; i < n_options; ++i) {
        const char* key = options[i].key ? options[i].key : "";
        const char* value = options[i].value ? options[i].value : "";
        if (std::strcmp(key, "threads") == 0) {
            if (!parse_u64(value, &threads) || threads < 1 || threads > 1024)
                return make_status(DS4_ERR_INVALID_ARGUMENT,
                                   std::string("option threads: '") + value + "' is not an integer in 1..1024");
        } else if (std::strcmp(key, "inject_fault") == 0) {
            if (ds4_status* st = parse_fault(value, &fault)) return st;
        } else {
            return make_status(DS4_ERR_INVALID_ARGUMENT, std::string("unknown device option '") + key +
                                                             "' (cpu-ref knows: threads, inject_fault)");
        }
    }
    try {
        auto dev = std::make_unique<ds4_device>();
        dev->pool = std::make_unique<ThreadPool>(static_cast<int>(threads));
        dev->fault = fault;
        *out = dev.release();
    } catch (const std::bad_alloc&) {
        return make_status(DS4_ERR_OUT_OF_MEMORY, "device_open: out of memory");
    } catch (const std::exception& e) {
        return make_status(DS4_ERR_INTERNAL, std::string("device_open: ") + e.what());
    }
    return nullptr;
}

void device_close(ds4_device* dev) { delete dev; }

ds4_status* device_lost_check(const ds4_device* dev, const char* call) {
    return dev->lost ? lost_status(call) : nullptr;
}

ds4_status* fault_on(ds4_device* dev, FaultSite site, const char* call) {
    if (dev->lost) return lost_status(call);
    uint64_t count = site == FaultSite::Submit ? ++dev->n_submits : ++dev->n_syncs;
    if (dev->fault.site == site && count == dev->fault.nth) {
        dev->lost = true;
        return lost_status(call);
    }
    return nullptr;
}

ds4_status* synchronize(ds4_device* dev) {
    if (!dev) return make_status(DS4_ERR_INVALID_ARGUMENT, "synchronize: device is NULL");
    // Work runs synchronously inside plan_submit: only the fault state can fail here.
    return fault_on(dev, FaultSite::Synchronize, "synchronize");
}

ds4_status* buffer_alloc(ds4_device* dev, uint64_t size, uint32_t usage, ds4_buffer** out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_alloc: out is NULL");
    *out = nullptr;
    if (!dev) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_alloc: device is NULL");
    if (ds4_status* st = device_lost_check(dev, "buffer_alloc")) return st;
    auto oom = [&] {
        return make_status(DS4_ERR_OUT_OF_MEMORY, "buffer_alloc: cannot allocate " + std::to_string(size) + " bytes");
    };
    if (size > kMaxBufferBytes) return oom();
    ds4_buffer* buf = new (std::nothrow) ds4_buffer;
    if (!buf) return oom();
    buf->dev = dev;
    buf->size = size;
    uint64_t bytes = size ? size : 1;
    if (bytes >= kMmapThreshold) {
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            delete buf;
            return oom();
        }
        buf->data = static_cast<uint8_t*>(p);
        buf->kind = ds4_buffer::Kind::Mapped;
    } else {
        void* p = ::operator new(bytes, std::align_val_t(kAlign), std::nothrow);
        if (!p) {
            delete buf;
            return oom();
        }
        std::memset(p, 0, bytes);
        buf->data = static_cast<uint8_t*>(p);
        buf->kind = ds4_buffer::Kind::Heap;
    }
    *out = buf;
    return nullptr;
}

ds4_status* buffer_wrap_host(ds4_device* dev, void* ptr, uint64_t size, uint32_t usage, ds4_buffer** out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_wrap_host: out is NULL");
    *out = nullptr;
    if (!dev) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_wrap_host: device is NULL");
    if (ds4_status* st = device_lost_check(dev, "buffer_wrap_host")) return st;
    if (!ptr && size) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_wrap_host: pointer is NULL");
    ds4_buffer* buf = new (std::nothrow) ds4_buffer;
    if (!buf) return make_status(DS4_ERR_OUT_OF_MEMORY, "buffer_wrap_host: out of memory");
    buf->dev = dev;
    buf->data = static_cast<uint8_t*>(ptr);
    buf->size = size;
    buf->kind = ds4_buffer::Kind::Wrapped;
    *out = buf;
    return nullptr;
}

void buffer_free(ds4_buffer* buf) {
    if (!buf) return;
    switch (buf->kind) {
    case ds4_buffer::Kind::Mapped: munmap(buf->data, buf->size ? buf->size : 1); break;
    case ds4_buffer::Kind::Heap: ::operator delete(buf->data, std::align_val_t(kAlign)); break;
    case ds4_buffer::Kind::Wrapped: break;
    }
    delete buf;
}

namespace {
ds4_status* check_range(const ds4_buffer* buf, uint64_t offset, const void* p, uint64_t size, const char* call) {
    if (!buf) return make_status(DS4_ERR_INVALID_ARGUMENT, std::string(call) + ": buffer is NULL");
    if (ds4_status* st = device_lost_check(buf->dev, call)) return st;
    if (!p && size) return make_status(DS4_ERR_INVALID_ARGUMENT, std::string(call) + ": pointer is NULL");
    if (offset > buf->size || size > buf->size - offset)
        return make_status(DS4_ERR_INVALID_ARGUMENT, std::string(call) + ": range [" + std::to_string(offset) + ", +" +
                                                         std::to_string(size) + ") outside the buffer of " +
                                                         std::to_string(buf->size) + " bytes");
    return nullptr;
}
}  // namespace

ds4_status* buffer_write(ds4_buffer* buf, uint64_t offset, const void* src, uint64_t size) {
    if (ds4_status* st = check_range(buf, offset, src, size, "buffer_write")) return st;
    if (size) std::memmove(buf->data + offset, src, size);
    return nullptr;
}

ds4_status* buffer_read(ds4_buffer* buf, uint64_t offset, void* dst, uint64_t size) {
    if (ds4_status* st = check_range(buf, offset, dst, size, "buffer_read")) return st;
    if (size) std::memmove(dst, buf->data + offset, size);
    return nullptr;
}

}  // namespace ds4::cpuref
