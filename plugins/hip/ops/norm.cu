// RMS_NORM (MODEL.md §0): one block (few rows) or one 32-lane group (many rows) per row. Σx²
// in double in cpu-ref's segmented 32-lane order (d_sum_squares_lanes32, d_block_sum_squares),
// the mean rounded to float,
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

// Few rows (decode): one block per row, its 8 groups summing the segments of Σx² in parallel
// (d_block_sum_squares: same order), then y = x·scale by all threads.
__global__ void __launch_bounds__(kNormThreads) rms_norm_block_kernel(DTensor x, DTensor w, bool has_w, DTensor d,
                                                                      int64_t rows, float eps) {
    __shared__ double part[kNormThreads / 32][32];
    __shared__ double total;
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        // Row bases once per row: d_row_elem divides by the shape.
        const uint8_t* xr = d_row_elem(x, r, 0);
        uint8_t* dr = d_row_elem(d, r, 0);
        auto get = [&](int64_t i) { return *reinterpret_cast<const float*>(xr + i * x.nb[0]); };
        const double ss = d_block_sum_squares<kNormThreads / 32>(get, n, part, &total);
        const float mean = static_cast<float>(ss / static_cast<double>(n));
        const float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
        for (int64_t i0 = 0; i0 < n; i0 += 4 * kNormThreads) {
            float v[4], wv[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int64_t i = i0 + k * kNormThreads + threadIdx.x;
                v[k] = i < n ? get(i) : 0.0f;
                wv[k] = i < n && has_w ? *reinterpret_cast<const float*>(d_elem(w, i, 0, 0, 0)) : 0.0f;
            }
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int64_t i = i0 + k * kNormThreads + threadIdx.x;
                if (i >= n) break;
                float y = __fmul_rn(v[k], scale);
                if (has_w) y = __fmul_rn(y, wv[k]);
                *reinterpret_cast<float*>(dr + i * d.nb[0]) = y;
            }
        }
    }
}

}  // namespace

KernelStatus run_rms_norm(const ds4_node& node, KernelContext& ctx) {
    ds4_params_rms_norm p;
    read_params(node, &p);
    const ds4_tensor* w = node.n_src > 1 ? node.src[1] : nullptr;
    const int64_t rows = n_rows(node.src[0]);
    // Few rows (decode): a block per row keeps many loads in flight; many rows (prefill,
    // per-head norms): a 32-lane group per row.
    if (rows < 1024)
        rms_norm_block_kernel<<<static_cast<unsigned>(rows), kNormThreads, 0, ctx.stream>>>(
            dtensor(node.src[0]), w ? dtensor(w) : DTensor{}, w != nullptr, dtensor(node.dst[0]), rows, p.eps);
    else
        rms_norm_kernel<<<blocks_for(rows, kNormThreads / 32), kNormThreads, 0, ctx.stream>>>(
            dtensor(node.src[0]), w ? dtensor(w) : DTensor{}, w != nullptr, dtensor(node.dst[0]), rows, p.eps);
    return launch_status("rms_norm");
}

}  // namespace ds4::gpu
