// Internal kernel interface of the GPU plugin: how one op implementation sees a node.
//
// Every op has a host-side check (ops/checks.cpp, shapes/types, no side effects, backs
// node_supported and plan_create) and a launcher run_<op> (ops/<family>.cu) that enqueues its
// kernels on the device stream. Launchers never synchronize: data-dependent errors (an index
// out of range) are recorded by the kernels in a small device error word that plan_submit
// reads back once at the end of the plan.
#pragma once
#include <cstdint>
#include <string>

#include "ds4/backend.h"
#include "portability.h"

namespace ds4::gpu {

struct KernelStatus {
    ds4_status_code code = DS4_OK;
    std::string message;
    bool ok() const { return code == DS4_OK; }
    static KernelStatus invalid(std::string m) { return {DS4_ERR_INVALID_ARGUMENT, std::move(m)}; }
    static KernelStatus unsupported(std::string m) { return {DS4_ERR_UNSUPPORTED, std::move(m)}; }
};

// Device error word written by kernels that find bad data: the first writer wins
// (atomicCAS on `code`), so the report is deterministic for a single bad index.
struct DeviceError {
    int32_t code;      // 0 = none, else one of the kErr* below
    int32_t node;      // node index
    int32_t value;     // the offending index value
    int32_t position;  // where it was found
};
enum : int32_t { kErrNone = 0, kErrRowIndex = 1, kErrExpertId = 2, kErrColumnIndex = 3, kErrSetRowIndex = 4 };

struct KernelContext {
    gpuStream_t stream;
    DeviceError* err;     // device pointer
    int32_t node;         // index of the node being launched
    float* scratch;       // device scratch (activation rows of matmuls), plan-owned
    uint64_t scratch_bytes;
    const uint64_t* iq2_grid;  // device copies of the IQ2_XXS tables (ds4::quant's)
    const uint8_t* iq2_signs;
};

// A tensor as kernels see it: a device address and the ABI's ne/nb.
struct DTensor {
    uint8_t* data;
    int64_t ne[4];
    int64_t nb[4];
    uint32_t type;
};

// Device address of element 0 (buffer base + offset) and the kernel view of a tensor.
DTensor dtensor(const ds4_tensor* t);

inline int64_t n_rows(const ds4_tensor* t) { return t->ne[1] * t->ne[2] * t->ne[3]; }
inline int64_t n_elems(const ds4_tensor* t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

// Reads params of type P from a node (shorter structs from an older host are zero-extended).
template <class P>
bool read_params(const ds4_node& node, P* out) {
    *out = P{};
    if (!node.params || node.params_size < sizeof(uint32_t)) return false;
    uint32_t n = node.params_size < sizeof(P) ? node.params_size : static_cast<uint32_t>(sizeof(P));
    const uint8_t* src = static_cast<const uint8_t*>(node.params);
    uint8_t* dst = reinterpret_cast<uint8_t*>(out);
    for (uint32_t i = 0; i < n; ++i) dst[i] = src[i];
    return true;
}

// Bytes of device scratch a node needs while it runs (0 for most ops).
uint64_t scratch_bytes_for(const ds4_node& node);

// Status of the last launch (a bad launch configuration is a plugin bug).
KernelStatus launch_status(const char* what);

// Enqueues a kernel that traps (fault.cu): the inject_fault option's real device fault.
gpuError_t launch_trap(gpuStream_t stream);

// Kernel-choice switches read from the environment (DS4_GPU_MMA, ...): a non-negative integer,
// or `fallback` when the variable is unset, empty or not one. They pick between kernels that
// compute the same bits, for speed comparisons and for kernels not yet verified on a GPU.
int64_t kernel_env_int(const char* name, int64_t fallback);

}  // namespace ds4::gpu
