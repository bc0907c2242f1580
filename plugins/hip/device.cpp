// GPU devices: probing, options, device info, buffers, synchronization and fault injection.
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "device.h"
#include "objects.h"
#include "quant/quant.h"

namespace ds4::gpu {
namespace {

constexpr uint32_t kMaxDevices = 64;

bool parse_u64(const char* s, uint64_t* out) {
    if (!s || !*s || s[0] == '-') return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

std::string gpu_error(gpuError_t e) { return gpuGetErrorString(e); }

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
    else
        return make_status(DS4_ERR_INVALID_ARGUMENT,
                           "option inject_fault: unknown site '" + site + "' (expects submit or synchronize)");
    out->nth = nth;
    return nullptr;
}

bool parse_switch(const char* value, bool* out) {
    const std::string v = value ? value : "";
    if (v == "1" || v == "on" || v == "true" || v == "yes") *out = true;
    else if (v == "0" || v == "off" || v == "false" || v == "no") *out = false;
    else return false;
    return true;
}

}  // namespace

uint32_t probe_device_count() {
    int n = 0;
    // Without libcuda (no driver) the static runtime returns an error here instead of failing
    // to load: that is the "cannot run on this machine" answer.
    if (gpuGetDeviceCount(&n) != gpuSuccess || n <= 0) {
        (void)gpuGetLastError();
        return 0;
    }
    return static_cast<uint32_t>(n) < kMaxDevices ? static_cast<uint32_t>(n) : kMaxDevices;
}

uint32_t device_count(void*) { return probe_device_count(); }

ds4_status* device_info(void*, uint32_t index, ds4_device_info* out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_info: out is NULL");
    if (index >= probe_device_count())
        return make_status(DS4_ERR_INVALID_ARGUMENT, "device_info: no device " + std::to_string(index));
    // Names must stay valid for the plugin's lifetime.
    static std::string names[kMaxDevices];
    gpuDeviceProp prop{};
    if (gpuError_t e = gpuGetDeviceProperties(&prop, static_cast<int>(index)); e != gpuSuccess)
        return make_status(DS4_ERR_INTERNAL, "device_info: " + gpu_error(e));
    if (names[index].empty()) names[index] = prop.name;
    ds4_device_info info{};
    info.struct_size = sizeof(info);
    info.unified_memory = 0;
    info.name = names[index].c_str();
    info.memory_total = prop.totalGlobalMem;
    size_t free_b = 0, total_b = 0;
    if (gpuSetDevice(static_cast<int>(index)) == gpuSuccess && gpuMemGetInfo(&free_b, &total_b) == gpuSuccess)
        info.memory_free = free_b;
    (void)gpuGetLastError();
    uint32_t n = out->struct_size < sizeof(info) ? out->struct_size : static_cast<uint32_t>(sizeof(info));
    if (n < sizeof(uint32_t)) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_info: struct_size too small");
    info.struct_size = n;
    std::memcpy(out, &info, n);
    return nullptr;
}

ds4_status* device_open(void*, uint32_t index, const ds4_option* options, uint32_t n_options, ds4_device** out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_open: out is NULL");
    *out = nullptr;
    if (index >= probe_device_count())
        return make_status(DS4_ERR_INVALID_ARGUMENT, "device_open: no device " + std::to_string(index));
    if (n_options && !options) return make_status(DS4_ERR_INVALID_ARGUMENT, "device_open: options is NULL");
    FaultPlan fault;
    // Graph capture is on unless the environment or the option turns it off (debugging).
    bool graphs = true;
    if (const char* env = std::getenv("DS4_GPU_GRAPHS"); env && *env && !parse_switch(env, &graphs))
        return make_status(DS4_ERR_INVALID_ARGUMENT, std::string("DS4_GPU_GRAPHS='") + env + "' is not 0 or 1");
    int profile = 0;  // 0 off, 1 per node, 2 per node and per kernel
    auto parse_level = [](const char* v, int* out) {
        if (std::strcmp(v, "0") != 0 && std::strcmp(v, "1") != 0 && std::strcmp(v, "2") != 0) return false;
        *out = v[0] - '0';
        return true;
    };
    if (const char* env = std::getenv("DS4_GPU_PROFILE"); env && *env && !parse_level(env, &profile))
        return make_status(DS4_ERR_INVALID_ARGUMENT, std::string("DS4_GPU_PROFILE='") + env + "' is not 0, 1 or 2");
    for (uint32_t i = 0; i < n_options; ++i) {
        const char* key = options[i].key ? options[i].key : "";
        const char* value = options[i].value ? options[i].value : "";
        if (std::strcmp(key, "inject_fault") == 0) {
            if (ds4_status* st = parse_fault(value, &fault)) return st;
        } else if (std::strcmp(key, "graphs") == 0) {
            if (!parse_switch(value, &graphs))
                return make_status(DS4_ERR_INVALID_ARGUMENT, std::string("option graphs: '") + value + "' is not 0 or 1");
        } else if (std::strcmp(key, "profile") == 0) {
            if (!parse_level(value, &profile))
                return make_status(DS4_ERR_INVALID_ARGUMENT, std::string("option profile: '") + value + "' is not 0, 1 or 2");
        } else if (std::strcmp(key, "threads") == 0) {
            // Accepted for config compatibility with cpu-ref: GPU work does not use host threads.
        } else {
            return make_status(DS4_ERR_INVALID_ARGUMENT, std::string("unknown device option '") + key +
                                                             "' (knows: inject_fault, graphs, profile, threads)");
        }
    }
    auto dev = std::unique_ptr<ds4_device>(new (std::nothrow) ds4_device);
    if (!dev) return make_status(DS4_ERR_OUT_OF_MEMORY, "device_open: out of memory");
    dev->index = static_cast<int>(index);
    dev->fault = fault;
    dev->graphs = graphs && !profile;
    if (profile) dev->profile = std::make_unique<Profile>(profile);
    auto fail = [&](const char* what, gpuError_t e) {
        (void)gpuGetLastError();
        device_close(dev.release());
        return make_status(e == gpuErrorMemoryAllocation ? DS4_ERR_OUT_OF_MEMORY : DS4_ERR_INTERNAL,
                           std::string("device_open: ") + what + ": " + gpu_error(e));
    };
    if (gpuError_t e = gpuSetDevice(dev->index); e != gpuSuccess) return fail("set device", e);
    if (gpuError_t e = gpuStreamCreateWithFlags(&dev->stream, gpuStreamNonBlocking); e != gpuSuccess)
        return fail("stream", e);
    if (gpuError_t e = gpuMalloc(reinterpret_cast<void**>(&dev->err), sizeof(DeviceError)); e != gpuSuccess)
        return fail("error word", e);
    // Every copy and fill goes through the device stream: it is non-blocking, so work on the
    // legacy default stream (gpuMemset, gpuMemcpy) would not be ordered with it.
    if (gpuError_t e = gpuMemsetAsync(dev->err, 0, sizeof(DeviceError), dev->stream); e != gpuSuccess)
        return fail("error word", e);
    // Pinned, so the copy back can be part of a captured graph.
    if (gpuError_t e = gpuHostAlloc(reinterpret_cast<void**>(&dev->err_host), sizeof(DeviceError)); e != gpuSuccess)
        return fail("error word", e);
    std::memset(dev->err_host, 0, sizeof(DeviceError));
    // The IQ2_XXS tables are facts of the format; the device gets ds4::quant's copies.
    if (gpuError_t e = gpuMalloc(reinterpret_cast<void**>(&dev->iq2_grid), sizeof(quant::kIq2xxsGrid)); e != gpuSuccess)
        return fail("tables", e);
    if (gpuError_t e = gpuMalloc(reinterpret_cast<void**>(&dev->iq2_signs), sizeof(quant::kIq2xsSigns)); e != gpuSuccess)
        return fail("tables", e);
    if (gpuError_t e = gpuMemcpyAsync(dev->iq2_grid, quant::kIq2xxsGrid, sizeof(quant::kIq2xxsGrid),
                                      gpuMemcpyHostToDevice, dev->stream);
        e != gpuSuccess)
        return fail("tables", e);
    if (gpuError_t e = gpuMemcpyAsync(dev->iq2_signs, quant::kIq2xsSigns, sizeof(quant::kIq2xsSigns),
                                      gpuMemcpyHostToDevice, dev->stream);
        e != gpuSuccess)
        return fail("tables", e);
    if (gpuError_t e = gpuStreamSynchronize(dev->stream); e != gpuSuccess) return fail("tables", e);
    *out = dev.release();
    return nullptr;
}

void device_close(ds4_device* dev) {
    if (!dev) return;
    gpuSetDevice(dev->index);
    if (dev->stream) gpuStreamSynchronize(dev->stream);
    if (dev->profile) {
        std::fputs(dev->profile->report().c_str(), stderr);
        dev->profile.reset();
    }
    if (dev->err) gpuFree(dev->err);
    if (dev->err_host) gpuFreeHost(dev->err_host);
    if (dev->iq2_grid) gpuFree(dev->iq2_grid);
    if (dev->iq2_signs) gpuFree(dev->iq2_signs);
    if (dev->stream) gpuStreamDestroy(dev->stream);
    (void)gpuGetLastError();
    delete dev;
}

void shutdown(void*) {}

ds4_status* device_lost_check(const ds4_device* dev, const char* call) {
    if (!dev->lost) return nullptr;
    return make_status(DS4_ERR_DEVICE_LOST, std::string(call) + ": device lost (" + dev->lost_reason +
                                                "); close and reopen it");
}

ds4_status* mark_lost(ds4_device* dev, const char* call, gpuError_t err) {
    dev->lost = true;
    dev->lost_reason = gpu_error(err);
    return device_lost_check(dev, call);
}

bool fault_due(ds4_device* dev, FaultSite site) {
    const uint64_t count = site == FaultSite::Submit ? ++dev->n_submits : ++dev->n_syncs;
    return dev->fault.site == site && count == dev->fault.nth;
}

ds4_status* wait_stream(ds4_device* dev, const char* call, bool inject) {
    gpuError_t e = gpuSuccess;
    if (inject) e = launch_trap(dev->stream);
    // Kernel faults are sticky asynchronous errors: they surface here.
    if (e == gpuSuccess) e = gpuStreamSynchronize(dev->stream);
    if (e == gpuSuccess && inject) {
        // The trap did not fault (it always should): still honour the option.
        dev->lost = true;
        dev->lost_reason = "injected fault (the trap kernel did not fault)";
        return device_lost_check(dev, call);
    }
    if (e != gpuSuccess) {
        if (!inject) return mark_lost(dev, call, e);
        dev->lost = true;
        dev->lost_reason = gpu_error(e) + ", a fault injected by inject_fault=" +
                           (dev->fault.site == FaultSite::Submit ? "submit:" : "synchronize:") +
                           std::to_string(dev->fault.nth);
        return device_lost_check(dev, call);
    }
    return nullptr;
}

ds4_status* synchronize(ds4_device* dev) {
    if (!dev) return make_status(DS4_ERR_INVALID_ARGUMENT, "synchronize: device is NULL");
    if (ds4_status* st = device_lost_check(dev, "synchronize")) return st;
    const bool inject = fault_due(dev, FaultSite::Synchronize);
    gpuSetDevice(dev->index);
    return wait_stream(dev, "synchronize", inject);
}

ds4_status* buffer_alloc(ds4_device* dev, uint64_t size, uint32_t, ds4_buffer** out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_alloc: out is NULL");
    *out = nullptr;
    if (!dev) return make_status(DS4_ERR_INVALID_ARGUMENT, "buffer_alloc: device is NULL");
    if (ds4_status* st = device_lost_check(dev, "buffer_alloc")) return st;
    auto oom = [&](const std::string& why) {
        return make_status(DS4_ERR_OUT_OF_MEMORY, "buffer_alloc: cannot allocate " + std::to_string(size) + " bytes" + why);
    };
    if (size > (1ull << 50)) return oom(" (larger than any device)");
    auto buf = std::unique_ptr<ds4_buffer>(new (std::nothrow) ds4_buffer);
    if (!buf) return oom("");
    gpuSetDevice(dev->index);
    void* p = nullptr;
    if (gpuError_t e = gpuMalloc(&p, size ? size : 1); e != gpuSuccess) {
        (void)gpuGetLastError();  // an allocation failure is not sticky: clear it
        return oom(": " + gpu_error(e));
    }
    // Zero-filled like cpu-ref's buffers (state buffers start at zero), on the device stream:
    // a fill on the legacy default stream is not ordered with the (non-blocking) device stream,
    // and could land after the caller's first buffer_write.
    gpuError_t e = gpuMemsetAsync(p, 0, size ? size : 1, dev->stream);
    if (e == gpuSuccess) e = gpuStreamSynchronize(dev->stream);
    if (e != gpuSuccess) {
        gpuFree(p);
        return mark_lost(dev, "buffer_alloc", e);
    }
    buf->dev = dev;
    buf->data = static_cast<uint8_t*>(p);
    buf->size = size;
    *out = buf.release();
    return nullptr;
}

void buffer_free(ds4_buffer* buf) {
    if (!buf) return;
    gpuSetDevice(buf->dev->index);
    // Work still queued may read the buffer: finish it first.
    gpuStreamSynchronize(buf->dev->stream);
    gpuFree(buf->data);
    (void)gpuGetLastError();
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

// Copies are ordered after queued work on the device stream and complete before returning
// (the host may reuse or read its memory right away).
ds4_status* buffer_write(ds4_buffer* buf, uint64_t offset, const void* src, uint64_t size) {
    if (ds4_status* st = check_range(buf, offset, src, size, "buffer_write")) return st;
    if (!size) return nullptr;
    gpuSetDevice(buf->dev->index);
    gpuError_t e = gpuMemcpyAsync(buf->data + offset, src, size, gpuMemcpyHostToDevice, buf->dev->stream);
    if (e == gpuSuccess) e = gpuStreamSynchronize(buf->dev->stream);
    if (e != gpuSuccess) return mark_lost(buf->dev, "buffer_write", e);
    return nullptr;
}

ds4_status* buffer_read(ds4_buffer* buf, uint64_t offset, void* dst, uint64_t size) {
    if (ds4_status* st = check_range(buf, offset, dst, size, "buffer_read")) return st;
    if (!size) return nullptr;
    gpuSetDevice(buf->dev->index);
    gpuError_t e = gpuMemcpyAsync(dst, buf->data + offset, size, gpuMemcpyDeviceToHost, buf->dev->stream);
    if (e == gpuSuccess) e = gpuStreamSynchronize(buf->dev->stream);
    if (e != gpuSuccess) return mark_lost(buf->dev, "buffer_read", e);
    return nullptr;
}

}  // namespace ds4::gpu
