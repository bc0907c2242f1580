// Device, buffer and plan functions of the GPU plugin's function table (ds4_plugin).
#pragma once
#include "ds4/backend.h"
#include "objects.h"

namespace ds4::gpu {

// Number of usable GPUs; 0 when the driver is missing or reports none (never crashes:
// cudart is linked statically and only returns an error code then).
uint32_t probe_device_count();

uint32_t device_count(void* self);
ds4_status* device_info(void* self, uint32_t index, ds4_device_info* out);
ds4_status* device_open(void* self, uint32_t index, const ds4_option* options, uint32_t n_options, ds4_device** out);
void device_close(ds4_device* dev);
int node_supported(ds4_device* dev, const ds4_node* node);
ds4_status* buffer_alloc(ds4_device* dev, uint64_t size, uint32_t usage, ds4_buffer** out);
void buffer_free(ds4_buffer* buf);
ds4_status* buffer_write(ds4_buffer* buf, uint64_t offset, const void* src, uint64_t size);
ds4_status* buffer_read(ds4_buffer* buf, uint64_t offset, void* dst, uint64_t size);
ds4_status* plan_create(ds4_device* dev, const ds4_graph* graph, ds4_plan** out);
ds4_status* plan_submit(ds4_plan* plan);
void plan_destroy(ds4_plan* plan);
ds4_status* synchronize(ds4_device* dev);
void shutdown(void* self);

// Fault bookkeeping shared by plan_submit and synchronize.
ds4_status* device_lost_check(const ds4_device* dev, const char* call);
// Counts a call of `site`; true when inject_fault asks this call to fault.
bool fault_due(ds4_device* dev, FaultSite site);
// Waits for the device stream (after enqueuing the trap kernel when `inject`); an asynchronous
// error marks the device lost and returns DEVICE_LOST.
ds4_status* wait_stream(ds4_device* dev, const char* call, bool inject);
// Marks the device lost after an asynchronous GPU error and returns DEVICE_LOST.
ds4_status* mark_lost(ds4_device* dev, const char* call, gpuError_t err);

}  // namespace ds4::gpu
