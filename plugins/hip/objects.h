// The GPU plugin's definitions of the opaque ABI objects (ds4_device, ds4_buffer, ds4_plan).
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "ds4/backend.h"
#include "kernel.h"
#include "profile.h"
#include "../common/node_dump.h"

namespace ds4::gpu {

struct OpEntry;

const ds4_host_api* host();
ds4_status* make_status(ds4_status_code code, const std::string& message);
inline ds4_status* make_status(const KernelStatus& s) { return s.ok() ? nullptr : make_status(s.code, s.message); }

// Fault injection (device option inject_fault, as cpu-ref): the N-th call of `site` launches a
// kernel that traps, so the device really faults and the call reports DEVICE_LOST from the
// runtime's own error (after a real fault the context is unusable until the process ends).
enum class FaultSite { None, Submit, Synchronize };
struct FaultPlan {
    FaultSite site = FaultSite::None;
    uint64_t nth = 0;
};

// How a plan runs: not yet submitted, replaying its captured graph, or launching its kernels
// one by one (graphs disabled, or the capture failed).
enum class GraphState { Untried, Captured, Eager };

}  // namespace ds4::gpu

// One opened GPU: its index, a non-blocking stream all plans run on, the error word.
struct ds4_device {
    int index = 0;
    gpuStream_t stream = nullptr;
    ds4::gpu::DeviceError* err = nullptr;       // device memory
    ds4::gpu::DeviceError* err_host = nullptr;  // pinned host copy, written at the end of each submit
    bool graphs = true;                         // capture plans into graphs (option graphs=0 / DS4_GPU_GRAPHS=0)
    std::unique_ptr<ds4::gpu::Profile> profile;  // per-node timing (option profile=1 / DS4_GPU_PROFILE=1)
    ds4::plugin_debug::NodeDump dump;            // DS4_DUMP_NODES (plugins/common/node_dump.h)
    uint64_t* iq2_grid = nullptr;               // device copies of the IQ2_XXS tables
    uint8_t* iq2_signs = nullptr;
    ds4::gpu::FaultPlan fault;
    uint64_t n_submits = 0;
    uint64_t n_syncs = 0;
    bool lost = false;  // once set, every fallible call returns DEVICE_LOST
    std::string lost_reason;
};

// Device memory from gpuMalloc (zero-initialized, like cpu-ref's buffers).
struct ds4_buffer {
    ds4_device* dev = nullptr;
    uint8_t* data = nullptr;
    uint64_t size = 0;
};

// A validated, self-contained copy of a graph plus the device scratch its nodes need, and the
// executable graph captured from its kernel sequence at the first submit.
struct ds4_plan {
    ds4_device* dev = nullptr;
    std::deque<ds4_tensor> tensors;
    std::deque<std::vector<uint8_t>> params;
    std::vector<ds4_node> nodes;
    std::vector<const ds4::gpu::OpEntry*> ops;
    float* scratch = nullptr;
    uint64_t scratch_bytes = 0;
    ds4::gpu::GraphState graph_state = ds4::gpu::GraphState::Untried;
    gpuGraphExec_t exec = nullptr;
};
