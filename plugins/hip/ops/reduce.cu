// Row reductions: SUM_ROWS, SOFTMAX (scale, mask, sinks), TOPK, GATHER_COLS.
// First version: one thread reduces one row in index order, exactly cpu-ref's order (so the
// results are deterministic and match it bit for bit where the math library agrees).
#include <cmath>

#include "common.cuh"
#include "ops.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

constexpr int kRowThreads = 64;

__device__ inline float f32_at(const DTensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return *reinterpret_cast<const float*>(d_elem(t, i0, i1, i2, i3));
}

__global__ void sum_rows_kernel(DTensor x, DTensor d, int64_t rows) {
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        float acc = 0.0f;
        for (int64_t i = 0; i < x.ne[0]; ++i) acc = __fadd_rn(acc, *reinterpret_cast<const float*>(d_row_elem(x, r, i)));
        *reinterpret_cast<float*>(d_row_elem(d, r, 0)) = acc;
    }
}

// z_j = x_j·scale + mask_j; m = max(sink, max z); dst_j = e^{z_j−m} / (Σ_j e^{z_j−m} + e^{sink−m}).
// z is recomputed in each pass instead of stored (rows may be long); every pass reads z_j
// before writing dst_j, so dst may alias src0.
__global__ void softmax_kernel(DTensor x, DTensor mask, bool has_mask, DTensor sinks, bool has_sink, DTensor d,
                               int64_t rows, float scale) {
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        const int64_t i1 = r % x.ne[1], i2 = (r / x.ne[1]) % x.ne[2], i3 = r / (x.ne[1] * x.ne[2]);
        auto z = [&](int64_t j) {
            float v = __fmul_rn(f32_at(x, j, i1, i2, i3), scale);
            if (has_mask)
                v = __fadd_rn(v, f32_at(mask, mask.ne[0] == 1 ? 0 : j, mask.ne[1] == 1 ? 0 : i1, mask.ne[2] == 1 ? 0 : i2,
                                        mask.ne[3] == 1 ? 0 : i3));
            return v;
        };
        const float s = has_sink ? f32_at(sinks, i1, 0, 0, 0) : -INFINITY;
        float m = s;
        for (int64_t j = 0; j < n; ++j) {
            const float v = z(j);
            if (v > m) m = v;
        }
        if (m == -INFINITY) {
            for (int64_t j = 0; j < n; ++j) *reinterpret_cast<float*>(d_elem(d, j, i1, i2, i3)) = 0.0f;
            continue;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) sum = __fadd_rn(sum, d_exp_cr(__fsub_rn(z(j), m)));
        if (has_sink) sum = __fadd_rn(sum, d_exp_cr(__fsub_rn(s, m)));
        for (int64_t j = 0; j < n; ++j) {
            const float e = d_exp_cr(__fsub_rn(z(j), m));
            *reinterpret_cast<float*>(d_elem(d, j, i1, i2, i3)) = __fdiv_rn(e, sum);
        }
    }
}

// Selection by repeated scans: slot s takes the best entry strictly after slot s-1 in the
// total order (value descending, index ascending). O(k·n) per row: fine for router/indexer
// sizes in this first version.
__global__ void topk_kernel(DTensor x, DTensor d, int64_t rows) {
    const int64_t n = x.ne[0], k = d.ne[0];
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        float prev_v = INFINITY;
        int64_t prev_i = -1;
        bool exhausted = false;
        for (int64_t s = 0; s < k; ++s) {
            int64_t best_i = -1;
            float best_v = 0.0f;
            if (!exhausted) {
                for (int64_t j = 0; j < n; ++j) {
                    const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, j));
                    if (isnan(v) || v == -INFINITY) continue;
                    const bool after_prev = v < prev_v || (v == prev_v && j > prev_i);
                    if (!after_prev) continue;
                    if (best_i < 0 || v > best_v) {  // strict: the lowest index wins ties
                        best_i = j;
                        best_v = v;
                    }
                }
            }
            if (best_i < 0) exhausted = true;
            *reinterpret_cast<int32_t*>(d_row_elem(d, r, s)) = static_cast<int32_t>(best_i);
            prev_v = best_v;
            prev_i = best_i;
        }
    }
}

__global__ void gather_cols_kernel(DTensor x, DTensor idx, DTensor d, int64_t total, DeviceError* err, int32_t node) {
    const int64_t k = idx.ne[0], n = x.ne[0];
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / k, j = e % k;
        const int32_t c = *reinterpret_cast<const int32_t*>(d_row_elem(idx, r, j));
        if (c != -1 && (c < 0 || c >= n)) {
            d_report(err, kErrColumnIndex, node, c, e);
            continue;
        }
        const float v = c < 0 ? 0.0f : *reinterpret_cast<const float*>(d_row_elem(x, r, c));
        *reinterpret_cast<float*>(d_row_elem(d, r, j)) = v;
    }
}

}  // namespace

KernelStatus run_sum_rows(const ds4_node& node, KernelContext& ctx) {
    const int64_t rows = n_rows(node.src[0]);
    sum_rows_kernel<<<blocks_for(rows, kRowThreads), kRowThreads, 0, ctx.stream>>>(dtensor(node.src[0]),
                                                                                   dtensor(node.dst[0]), rows);
    return launch_status("sum_rows");
}

KernelStatus run_softmax(const ds4_node& node, KernelContext& ctx) {
    ds4_params_softmax p;
    read_params(node, &p);
    const ds4_tensor* mask = node.n_src > 1 ? node.src[1] : nullptr;
    const ds4_tensor* sinks = node.n_src > 2 ? node.src[2] : nullptr;
    const int64_t rows = n_rows(node.src[0]);
    softmax_kernel<<<blocks_for(rows, kRowThreads), kRowThreads, 0, ctx.stream>>>(
        dtensor(node.src[0]), mask ? dtensor(mask) : DTensor{}, mask != nullptr, sinks ? dtensor(sinks) : DTensor{},
        sinks != nullptr, dtensor(node.dst[0]), rows, p.scale);
    return launch_status("softmax");
}

KernelStatus run_topk(const ds4_node& node, KernelContext& ctx) {
    const int64_t rows = n_rows(node.src[0]);
    topk_kernel<<<blocks_for(rows, kRowThreads), kRowThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.dst[0]),
                                                                               rows);
    return launch_status("topk");
}

KernelStatus run_gather_cols(const ds4_node& node, KernelContext& ctx) {
    const int64_t total = n_elems(node.src[1]);
    gather_cols_kernel<<<blocks_for(total), kThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.src[1]),
                                                                       dtensor(node.dst[0]), total, ctx.err, ctx.node);
    return launch_status("gather_cols");
}

}  // namespace ds4::gpu
