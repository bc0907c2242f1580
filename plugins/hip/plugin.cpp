// The two exported entry points of libds4-backend-cuda.so (libds4-backend-hip.so with hipcc)
// and the function table.
#include <cstddef>
#include <cstring>
#include <string>

#include "device.h"
#include "objects.h"
#include "ops/registry.h"

#define DS4_GPU_VERSION "0.1.0"

namespace ds4::gpu {
namespace {
const ds4_host_api* g_host = nullptr;
}  // namespace

const ds4_host_api* host() { return g_host; }

ds4_status* make_status(ds4_status_code code, const std::string& message) {
    if (!g_host || !g_host->status_new) return nullptr;
    return g_host->status_new(code, (std::string(DS4_GPU_BACKEND_NAME ": ") + message).c_str());
}

}  // namespace ds4::gpu

extern "C" {

// 0 without a usable GPU (no driver, no device): "cannot run here". A GPU beats cpu-ref (1).
DS4_PLUGIN_EXPORT int32_t ds4_plugin_score(void) { return ds4::gpu::probe_device_count() > 0 ? 100 : 0; }

DS4_PLUGIN_EXPORT ds4_status* ds4_plugin_init(const ds4_host_api* host, ds4_plugin* out) {
    using namespace ds4::gpu;
    const char* name = DS4_GPU_BACKEND_NAME;
    if (!out || out->struct_size < offsetof(ds4_plugin, reserved)) {
        return host && host->status_new
                   ? host->status_new(DS4_ERR_INVALID_ARGUMENT, (std::string(name) + ": plugin table too small").c_str())
                   : nullptr;
    }
    out->abi_major = DS4_ABI_MAJOR;
    out->abi_minor = DS4_ABI_MINOR;
    if (!host || !host->status_new) return nullptr;
    if (host->abi_major != DS4_ABI_MAJOR) {
        return host->status_new(DS4_ERR_ABI_MISMATCH,
                                (std::string(name) + " is built for ABI " + std::to_string(DS4_ABI_MAJOR) + "." +
                                 std::to_string(DS4_ABI_MINOR) + ", host has ABI " + std::to_string(host->abi_major) +
                                 "." + std::to_string(host->abi_minor))
                                    .c_str());
    }
    g_host = host;

    ds4_plugin t{};
    t.struct_size = sizeof(ds4_plugin);
    t.abi_major = DS4_ABI_MAJOR;
    t.abi_minor = DS4_ABI_MINOR;
    t.name = name;
    t.version = DS4_GPU_VERSION;
    t.self = nullptr;
    t.claimed_ops = claimed_ops(&t.n_claimed_ops);
    t.device_count = device_count;
    t.device_info = device_info;
    t.device_open = device_open;
    t.device_close = device_close;
    t.node_supported = node_supported;
    t.buffer_alloc = buffer_alloc;
    t.buffer_wrap_host = nullptr;  // device memory is not host memory; the host copies
    t.buffer_free = buffer_free;
    t.buffer_write = buffer_write;
    t.buffer_read = buffer_read;
    t.plan_create = plan_create;
    t.plan_submit = plan_submit;
    t.plan_destroy = plan_destroy;
    t.synchronize = synchronize;
    t.shutdown = shutdown;
    uint32_t n = out->struct_size < sizeof(t) ? out->struct_size : static_cast<uint32_t>(sizeof(t));
    t.struct_size = n;
    std::memcpy(out, &t, n);
    return nullptr;
}

}  // extern "C"
