// Fake plugins for the negotiation tests, built twice:
//   FAKE_ABI_MAJOR_PLUS_ONE  libds4-backend-test-abi-major.so: reports ABI major + 1 and refuses
//   FAKE_MISSING_OP          libds4-backend-test-missing-op.so: a complete table that does not
//                            claim the Tier-0 op TOPK
// Every function is a stub: the loader must refuse these before calling any of them.
#include <cstring>

#include "ds4/backend.h"

#ifndef FAKE_ABI_MAJOR_PLUS_ONE
namespace {

uint32_t stub_count(void*) { return 1; }
ds4_status* stub_info(void*, uint32_t, ds4_device_info*) { return nullptr; }
ds4_status* stub_open(void*, uint32_t, const ds4_option*, uint32_t, ds4_device**) { return nullptr; }
void stub_close(ds4_device*) {}
int stub_supported(ds4_device*, const ds4_node*) { return 0; }
ds4_status* stub_alloc(ds4_device*, uint64_t, uint32_t, ds4_buffer**) { return nullptr; }
void stub_free(ds4_buffer*) {}
ds4_status* stub_write(ds4_buffer*, uint64_t, const void*, uint64_t) { return nullptr; }
ds4_status* stub_read(ds4_buffer*, uint64_t, void*, uint64_t) { return nullptr; }
ds4_status* stub_plan(ds4_device*, const ds4_graph*, ds4_plan**) { return nullptr; }
ds4_status* stub_submit(ds4_plan*) { return nullptr; }
void stub_destroy(ds4_plan*) {}
ds4_status* stub_sync(ds4_device*) { return nullptr; }

const uint32_t kClaimed[] = {
#define DS4_OP(ID, NAME, TIER, PARAMS) ID,
#include "ds4/ops.def"
#undef DS4_OP
};

uint32_t g_claimed[sizeof(kClaimed) / sizeof(kClaimed[0])];

}  // namespace
#endif

extern "C" {

DS4_PLUGIN_EXPORT int32_t ds4_plugin_score(void) { return 1; }

DS4_PLUGIN_EXPORT ds4_status* ds4_plugin_init(const ds4_host_api* host, ds4_plugin* out) {
#ifdef FAKE_ABI_MAJOR_PLUS_ONE
    out->abi_major = DS4_ABI_MAJOR + 1;
    out->abi_minor = 0;
    return host->status_new(DS4_ERR_ABI_MISMATCH, "built for a newer ABI");
#else
    ds4_plugin t{};
    t.struct_size = sizeof(t);
    t.abi_major = DS4_ABI_MAJOR;
    t.abi_minor = DS4_ABI_MINOR;
    t.name = "test-missing-op";
    t.version = "0";
    uint32_t n = 0;
    for (uint32_t op : kClaimed)
        if (op != DS4_OP_TOPK) g_claimed[n++] = op;
    t.claimed_ops = g_claimed;
    t.n_claimed_ops = n;
    t.device_count = stub_count;
    t.device_info = stub_info;
    t.device_open = stub_open;
    t.device_close = stub_close;
    t.node_supported = stub_supported;
    t.buffer_alloc = stub_alloc;
    t.buffer_free = stub_free;
    t.buffer_write = stub_write;
    t.buffer_read = stub_read;
    t.plan_create = stub_plan;
    t.plan_submit = stub_submit;
    t.plan_destroy = stub_destroy;
    t.synchronize = stub_sync;
    std::memcpy(out, &t, out->struct_size < sizeof(t) ? out->struct_size : sizeof(t));
    return nullptr;
#endif
}

}  // extern "C"
