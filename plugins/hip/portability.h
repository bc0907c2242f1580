// Thin portability layer between CUDA (nvcc) and HIP (hipcc): the plugin's sources call the
// gpu* names below and never cuda*/hip* directly, so one source builds both
// libds4-backend-cuda.so and libds4-backend-hip.so.
//
// Warp width: NVIDIA warps are 32 lanes, AMD CDNA wavefronts 64. Kernels of this plugin use
// block-level shared-memory reductions or gpu_shfl_xor32 (groups of 32 lanes, which exist on
// both) and never assume a width otherwise; code that wants it asks gpu_warp_size() (host,
// per device) or DS4_GPU_WARP_SIZE (device code, compile time).
#pragma once
#include <cstdint>

#if defined(DS4_GPU_HIP)
#include <hip/hip_runtime.h>

#define DS4_GPU_BACKEND_NAME "hip"
using gpuError_t = hipError_t;
using gpuStream_t = hipStream_t;
using gpuEvent_t = hipEvent_t;
using gpuGraph_t = hipGraph_t;
using gpuGraphExec_t = hipGraphExec_t;
using gpuDeviceProp = hipDeviceProp_t;
#define gpuSuccess hipSuccess
#define gpuErrorMemoryAllocation hipErrorOutOfMemory
#define gpuGetDeviceCount hipGetDeviceCount
#define gpuSetDevice hipSetDevice
#define gpuGetDeviceProperties hipGetDeviceProperties
#define gpuDeviceGetAttribute hipDeviceGetAttribute
#define gpuDevAttrWarpSize hipDeviceAttributeWarpSize
#define gpuMemGetInfo hipMemGetInfo
#define gpuMalloc hipMalloc
#define gpuFree hipFree
#define gpuMemset hipMemset
#define gpuMemsetAsync hipMemsetAsync
#define gpuMemcpy hipMemcpy
#define gpuMemcpyAsync hipMemcpyAsync
#define gpuMemcpyToSymbol hipMemcpyToSymbol
#define gpuMemcpyHostToDevice hipMemcpyHostToDevice
#define gpuMemcpyDeviceToHost hipMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice hipMemcpyDeviceToDevice
#define gpuStreamCreateWithFlags hipStreamCreateWithFlags
#define gpuStreamNonBlocking hipStreamNonBlocking
#define gpuStreamDestroy hipStreamDestroy
#define gpuStreamSynchronize hipStreamSynchronize
#define gpuEventCreate hipEventCreate
#define gpuEventDestroy hipEventDestroy
#define gpuEventRecord hipEventRecord
#define gpuEventSynchronize hipEventSynchronize
#define gpuEventElapsedTime hipEventElapsedTime
#define gpuGraphDestroy hipGraphDestroy
#define gpuGraphExecDestroy hipGraphExecDestroy
#define gpuGraphLaunch hipGraphLaunch
#define gpuGraphInstantiate(exec, graph) hipGraphInstantiate(exec, graph, nullptr, nullptr, 0)
#define gpuStreamBeginCapture hipStreamBeginCapture
#define gpuStreamEndCapture hipStreamEndCapture
#define gpuStreamCaptureModeThreadLocal hipStreamCaptureModeThreadLocal
#define gpuHostAlloc(ptr, size) hipHostMalloc(ptr, size, hipHostMallocDefault)
#define gpuFreeHost hipHostFree
#define gpuGetLastError hipGetLastError
#define gpuGetErrorString hipGetErrorString
#define gpuDeviceSynchronize hipDeviceSynchronize
#define DS4_GPU_WARP_SIZE warpSize
#else
#include <cuda_runtime.h>

#define DS4_GPU_BACKEND_NAME "cuda"
using gpuError_t = cudaError_t;
using gpuStream_t = cudaStream_t;
using gpuEvent_t = cudaEvent_t;
using gpuGraph_t = cudaGraph_t;
using gpuGraphExec_t = cudaGraphExec_t;
using gpuDeviceProp = cudaDeviceProp;
#define gpuSuccess cudaSuccess
#define gpuErrorMemoryAllocation cudaErrorMemoryAllocation
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuSetDevice cudaSetDevice
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuDeviceGetAttribute cudaDeviceGetAttribute
#define gpuDevAttrWarpSize cudaDevAttrWarpSize
#define gpuMemGetInfo cudaMemGetInfo
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuMemset cudaMemset
#define gpuMemsetAsync cudaMemsetAsync
#define gpuMemcpy cudaMemcpy
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemcpyToSymbol cudaMemcpyToSymbol
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuStreamCreateWithFlags cudaStreamCreateWithFlags
#define gpuStreamNonBlocking cudaStreamNonBlocking
#define gpuStreamDestroy cudaStreamDestroy
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuEventCreate cudaEventCreate
#define gpuEventDestroy cudaEventDestroy
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuGraphDestroy cudaGraphDestroy
#define gpuGraphExecDestroy cudaGraphExecDestroy
#define gpuGraphLaunch cudaGraphLaunch
#define gpuGraphInstantiate(exec, graph) cudaGraphInstantiate(exec, graph, 0)
#define gpuStreamBeginCapture cudaStreamBeginCapture
#define gpuStreamEndCapture cudaStreamEndCapture
#define gpuStreamCaptureModeThreadLocal cudaStreamCaptureModeThreadLocal
#define gpuHostAlloc(ptr, size) cudaHostAlloc(ptr, size, cudaHostAllocDefault)
#define gpuFreeHost cudaFreeHost
#define gpuGetLastError cudaGetLastError
#define gpuGetErrorString cudaGetErrorString
#define gpuDeviceSynchronize cudaDeviceSynchronize
#define DS4_GPU_WARP_SIZE warpSize
#endif

// Whether the current device has the integer tensor-core instruction of gpu_mma_s8_16x8x32
// (NVIDIA compute capability 8.0 or later; never on the HIP build).
inline bool gpu_has_int8_mma() {
#if defined(DS4_GPU_HIP)
    return false;
#else
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
    return major >= 8;
#endif
}

// Lets `kernel` use up to `bytes` of dynamic shared memory (above the 48 KiB granted without
// asking).
template <class... KArgs>
inline gpuError_t gpu_allow_shared_memory(void (*kernel)(KArgs...), int bytes) {
#if defined(DS4_GPU_HIP)
    return hipFuncSetAttribute(reinterpret_cast<const void*>(kernel), hipFuncAttributeMaxDynamicSharedMemorySize, bytes);
#else
    return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
#endif
}

// Lanes per warp/wavefront of device `index` (32 on NVIDIA, 64 on AMD CDNA); 0 if unknown.
inline int gpu_warp_size(int index) {
    int w = 0;
    if (gpuDeviceGetAttribute(&w, gpuDevAttrWarpSize, index) != gpuSuccess) return 0;
    return w;
}

// ---- device-side helpers (kernels only) ------------------------------------------------------
#if defined(__CUDACC__) || defined(__HIPCC__)

// Butterfly exchange inside aligned groups of 32 lanes: a whole warp on NVIDIA, half a
// wavefront on AMD (width 32 keeps the two halves apart). Every lane of the group must call it.
// Reductions built on it use the same tree on both vendors.
// T: float, double or int (the types both vendors' shuffles take).
template <class T>
__device__ inline T gpu_shfl_xor32(T v, int mask) {
#if defined(DS4_GPU_HIP)
    return __shfl_xor(v, mask, 32);
#else
    return __shfl_xor_sync(0xffffffffu, v, mask, 32);
#endif
}

// Orders the shared-memory accesses of an aligned group of 32 lanes (a warp on NVIDIA; the
// whole wavefront, which executes in lockstep, on AMD): writes before it are visible to the
// group's reads after it. Every lane of the group must call it.
__device__ inline void gpu_sync_lanes32() {
#if defined(DS4_GPU_HIP)
    __builtin_amdgcn_fence(__ATOMIC_RELEASE, "wavefront");
    __builtin_amdgcn_wave_barrier();
    __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "wavefront");
#else
    __syncwarp();
#endif
}

// c + Σ_k int8(a_k)·int8(b_k) over the four bytes of a and b.
__device__ inline int gpu_dp4a(int a, int b, int c) {
#if defined(DS4_GPU_HIP)
    for (int k = 0; k < 32; k += 8) c += int(int8_t(a >> k)) * int(int8_t(b >> k));
    return c;
#else
    return __dp4a(a, b, c);
#endif
}

// IEEE half bits → float by the hardware conversion (exact for every non-NaN value).
__device__ inline float gpu_half_to_float(uint16_t h) {
#if defined(DS4_GPU_HIP)
    _Float16 f;
    __builtin_memcpy(&f, &h, sizeof(f));
    return static_cast<float>(f);
#else
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#endif
}

// 16-byte global → shared copies that complete asynchronously (cp.async on NVIDIA sm_80+, so
// a block keeps several chunks in flight without holding them in registers); plain copies
// elsewhere. Both addresses 16-byte aligned. gpu_async_commit() closes a group of this thread's
// copies; gpu_async_wait<N>() returns once at most N of its groups are pending. A
// __syncthreads() afterwards makes every thread's landed copies visible to the block.
__device__ inline void gpu_async_copy16(void* smem, const void* gmem) {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(gmem) : "memory");
#else
    *static_cast<uint4*>(smem) = *static_cast<const uint4*>(gmem);
#endif
}
// The same for one 4-byte word (both addresses 4-byte aligned): rows whose storage blocks are
// not a multiple of 16 bytes (Q2_K's 84, IQ2_XXS's 66).
__device__ inline void gpu_async_copy4(void* smem, const void* gmem) {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst), "l"(gmem) : "memory");
#else
    *static_cast<uint32_t*>(smem) = *static_cast<const uint32_t*>(gmem);
#endif
}
__device__ inline void gpu_async_commit() {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N>
__device__ inline void gpu_async_wait() {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// Overlapped launches (programmatic dependent launch on NVIDIA sm_90): a kernel launched with
// gpu_launch_overlapped may start while the previous kernel of the stream still runs; it must
// call gpu_dependency_wait() (all its threads) before touching memory that kernel writes or
// reads, and may do independent work (prefetching weights) before. The previous kernel lets it
// start early with gpu_dependents_may_launch(). Without hardware support both are no-ops and
// the launch is an ordinary one.
__device__ inline void gpu_dependency_wait() {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ inline void gpu_dependents_may_launch() {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" :::);
#endif
}
template <class... KArgs, class... Args>
inline gpuError_t gpu_launch_overlapped(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, gpuStream_t stream,
                                        Args&&... args) {
#if defined(DS4_GPU_HIP)
    kernel<<<grid, block, smem, stream>>>(static_cast<Args&&>(args)...);
    return hipGetLastError();
#else
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    return cudaLaunchKernelEx(&cfg, kernel, static_cast<Args&&>(args)...);
#endif
}

// Integer tensor cores: c += A·B for a 16 × 32 int8 tile A (rows) and a 32 × 8 int8 tile B
// (columns), int32 accumulators: exact, like dp4a, in any order. Fragments of a group of 32
// lanes as PTX's mma.m16n8k32 .s8 lays them out (g = lane / 4, i = lane % 4):
//   a[0]: A[g][4i..4i+3]   a[1]: A[g+8][4i..4i+3]   a[2]: A[g][16+4i..]   a[3]: A[g+8][16+4i..]
//   b0:   B[4i..4i+3][g]   b1:   B[16+4i..][g]
//   c[0], c[1]: C[g][2i], C[g][2i+1]    c[2], c[3]: C[g+8][2i], C[g+8][2i+1]
// Present on NVIDIA sm_80+ (gpu_has_int8_mma()); elsewhere the kernels using it are never
// launched and the call traps.
__device__ inline void gpu_mma_s8_16x8x32(int (&c)[4], const int (&a)[4], int b0, int b1) {
#if !defined(DS4_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#elif defined(DS4_GPU_HIP)
    (void)c, (void)a, (void)b0, (void)b1;
    __builtin_trap();
#else
    (void)c, (void)a, (void)b0, (void)b1;
    __trap();
#endif
}

// Aborts the running kernel: the context reports an asynchronous fault afterwards (used by
// the inject_fault device option to exercise the DEVICE_LOST path with a real fault).
__device__ inline void gpu_trap() {
#if defined(DS4_GPU_HIP)
    __builtin_trap();
#else
    __trap();
#endif
}

#endif
