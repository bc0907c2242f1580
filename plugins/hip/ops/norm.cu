// RMS_NORM (MODEL.md §0): one block (few rows) or one 32-lane group (many rows) per row. Σx² in double in cpu-ref's order (32
// interleaved lanes, then a butterfly: d_sum_squares_lanes32), the mean rounded to float,
// scale = 1/sqrt(mean + eps), y = x·scale [·w] in float: bit-identical to cpu-ref.
#include "common.cuh"
#include "ops.h"

namespace ds4::gpu {
namespace {

constexpr int kNormThreads = 256;  // 8 rows per block

__global__ void __launch_bounds__(kNormThreads) rms_norm_kernel(DTensor x, DTensor w, bool has_w, DTensor d, int64_t rows,
                                                                float eps) {
    const int lane = threadIdx.x % 32;
    const int64_t groups = int64_t(gridDim.x) * (kNormThreads / 32);
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x * int64_t(kNormThreads / 32) + threadIdx.x / 32; r < rows; r += groups) {
        auto get = [&](int64_t i) { return double(*reinterpret_cast<const float*>(d_row_elem(x, r, i))); };
        const double ss = d_sum_squares_lanes32(get, n, lane);
        const float mean = static_cast<float>(ss / static_cast<double>(n));
        const float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
        for (int64_t i = lane; i < n; i += 32) {
            const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
            float y = __fmul_rn(v, scale);
            if (has_w) y = __fmul_rn(y, *reinterpret_cast<const float*>(d_elem(w, i, 0, 0, 0)));
            *reinterpret_cast<float*>(d_row_elem(d, r, i)) = y;
        }
    }
}

// Rows of at most kStagedMax elements: one block per row. The row is staged in shared memory
// by all threads (many loads in flight), the first 32 lanes sum it in the same lane order.
constexpr int kStagedMax = 8192;
__global__ void __launch_bounds__(kNormThreads) rms_norm_staged_kernel(DTensor x, DTensor w, bool has_w, DTensor d,
                                                                       int64_t rows, float eps) {
    __shared__ float v[kStagedMax];
    __shared__ float scale_s;
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
#pragma unroll 8
        for (int64_t i = threadIdx.x; i < n; i += kNormThreads) v[i] = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
        __syncthreads();
        if (threadIdx.x < 32) {
            const double ss = d_sum_squares_lanes32([&](int64_t i) { return double(v[i]); }, n, threadIdx.x);
            const float mean = static_cast<float>(ss / static_cast<double>(n));
            if (threadIdx.x == 0) scale_s = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
        }
        __syncthreads();
        const float scale = scale_s;
        for (int64_t i = threadIdx.x; i < n; i += kNormThreads) {
            float y = __fmul_rn(v[i], scale);
            if (has_w) y = __fmul_rn(y, *reinterpret_cast<const float*>(d_elem(w, i, 0, 0, 0)));
            *reinterpret_cast<float*>(d_row_elem(d, r, i)) = y;
        }
        __syncthreads();  // v is reused by the next row
    }
}

}  // namespace

KernelStatus run_rms_norm(const ds4_node& node, KernelContext& ctx) {
    ds4_params_rms_norm p;
    read_params(node, &p);
    const ds4_tensor* w = node.n_src > 1 ? node.src[1] : nullptr;
    const int64_t rows = n_rows(node.src[0]);
    const int64_t n = node.src[0]->ne[0];
    // Few long rows (decode): a block per row keeps many loads in flight; many rows (prefill,
    // per-head norms) or very long ones: a 32-lane group per row.
    if (n <= kStagedMax && rows < 1024)
        rms_norm_staged_kernel<<<static_cast<unsigned>(rows), kNormThreads, 0, ctx.stream>>>(
            dtensor(node.src[0]), w ? dtensor(w) : DTensor{}, w != nullptr, dtensor(node.dst[0]), rows, p.eps);
    else
        rms_norm_kernel<<<blocks_for(rows, kNormThreads / 32), kNormThreads, 0, ctx.stream>>>(
            dtensor(node.src[0]), w ? dtensor(w) : DTensor{}, w != nullptr, dtensor(node.dst[0]), rows, p.eps);
    return launch_status("rms_norm");
}

}  // namespace ds4::gpu
