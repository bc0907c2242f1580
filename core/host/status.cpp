#include "host/status.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>

namespace ds4::host {
namespace {

// Returned when even the status object cannot be allocated; never freed.
ds4_status g_oom_status{DS4_ERR_OUT_OF_MEMORY, "out of memory (while reporting an error)"};

std::mutex g_log_mutex;

void host_log(ds4_log_level level, const char* plugin_name, const char* message) {
    static const char* names[] = {"debug", "info", "warn", "error"};
    if (level == DS4_LOG_DEBUG && !std::getenv("DS4_DEBUG")) return;
    std::lock_guard<std::mutex> lock(g_log_mutex);
    std::fprintf(stderr, "ds4[%s] %s: %s\n", plugin_name ? plugin_name : "?",
                 names[level <= DS4_LOG_ERROR ? level : DS4_LOG_ERROR], message ? message : "");
}

ds4_host_api make_host_api() {
    ds4_host_api api{};
    api.struct_size = sizeof(ds4_host_api);
    api.abi_major = DS4_ABI_MAJOR;
    api.abi_minor = DS4_ABI_MINOR;
    api.status_new = &status_new;
    api.log = &host_log;
    return api;
}

}  // namespace

const ds4_host_api* host_api() {
    static const ds4_host_api api = make_host_api();
    return &api;
}

ds4_status* status_new(ds4_status_code code, const char* message) {
    ds4_status* s = new (std::nothrow) ds4_status;
    if (!s) return &g_oom_status;
    try {
        s->code = code;
        s->message = message ? message : "";
    } catch (...) {
        delete s;
        return &g_oom_status;
    }
    return s;
}

void status_free(ds4_status* status) {
    if (status && status != &g_oom_status) delete status;
}

const char* status_code_name(ds4_status_code code) {
    switch (code) {
    case DS4_OK: return "ok";
    case DS4_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DS4_ERR_OUT_OF_MEMORY: return "out of memory";
    case DS4_ERR_UNSUPPORTED: return "unsupported";
    case DS4_ERR_DEVICE_LOST: return "device lost";
    case DS4_ERR_INTERNAL: return "internal error";
    case DS4_ERR_ABI_MISMATCH: return "ABI mismatch";
    }
    return "unknown status";
}

void check(ds4_status* status, const std::string& what) {
    if (!status) return;
    ds4_status_code code = status->code;
    std::string msg = what + ": " + status_code_name(code) + ": " + status->message;
    status_free(status);
    if (code == DS4_OK) return;
    throw Error(msg, code);
}

}  // namespace ds4::host
