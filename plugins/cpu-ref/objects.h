// cpu-ref's definitions of the opaque ABI objects (ds4_device, ds4_buffer, ds4_plan) and the
// plugin-wide state. Internal to the plugin: the host only ever sees the pointers.
#pragma once
#include "../common/node_dump.h"
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "ds4/backend.h"
#include "kernel.h"

namespace ds4::cpuref {

struct OpEntry;

// Host services captured at init (status_new, log). Set once by ds4_plugin_init.
const ds4_host_api* host();
// Creates a host status object (never NULL) from a code and message.
ds4_status* make_status(ds4_status_code code, const std::string& message);
inline ds4_status* make_status(const KernelStatus& s) { return s.ok() ? nullptr : make_status(s.code, s.message); }

// Fault injection (device option inject_fault): the N-th call of `site` reports DEVICE_LOST
// and poisons the device. N = 0 means no fault.
enum class FaultSite { None, Submit, Synchronize };
struct FaultPlan {
    FaultSite site = FaultSite::None;
    uint64_t nth = 0;
};

}  // namespace ds4::cpuref

// One opened "cpu" device: the worker pool and the fault state.
struct ds4_device {
    std::unique_ptr<ds4::cpuref::ThreadPool> pool;
    ds4::cpuref::FaultPlan fault;
    uint64_t n_submits = 0;
    uint64_t n_syncs = 0;
    bool lost = false;  // once set, every fallible call returns DEVICE_LOST
    ds4::plugin_debug::NodeDump dump;  // DS4_DUMP_NODES (plugins/common/node_dump.h)
};

// Host memory: owned (64-byte aligned, zero-initialized) or a wrapped host pointer.
struct ds4_buffer {
    ds4_device* dev = nullptr;
    uint8_t* data = nullptr;
    uint64_t size = 0;
    enum class Kind { Heap, Mapped, Wrapped } kind = Kind::Heap;
};

// A validated, self-contained copy of a graph: nodes point into the plan's own tensors and
// params, so the host may free its graph after plan_create.
struct ds4_plan {
    ds4_device* dev = nullptr;
    std::deque<ds4_tensor> tensors;
    std::deque<std::vector<uint8_t>> params;
    std::vector<ds4_node> nodes;
    std::vector<const ds4::cpuref::OpEntry*> ops;  // one per node
};
