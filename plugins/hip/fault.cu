// The inject_fault device option's fault: a kernel that traps, so the DEVICE_LOST path is the
// one a real kernel fault takes (the runtime's sticky error, seen at the next synchronization).
#include "kernel.h"

namespace ds4::gpu {
namespace {

__global__ void trap_kernel() { gpu_trap(); }

}  // namespace

gpuError_t launch_trap(gpuStream_t stream) {
    trap_kernel<<<1, 1, 0, stream>>>();
    return gpuGetLastError();
}

}  // namespace ds4::gpu
