// RMS_NORM (MODEL.md §0): Σx² in double, in index order, by one thread per row (the exact
// order of cpu-ref; rows are independent so the grid covers them). First version: simple and
// bit-compatible; a block-per-row reduction is the obvious next step for speed.
#include "common.cuh"
#include "ops.h"

namespace ds4::gpu {
namespace {

__global__ void rms_norm_kernel(DTensor x, DTensor w, bool has_w, DTensor d, int64_t rows, float eps) {
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        double ss = 0.0;
        for (int64_t i = 0; i < n; ++i) {
            const double v = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
            ss = __dadd_rn(ss, __dmul_rn(v, v));
        }
        const float mean = static_cast<float>(ss / static_cast<double>(n));
        const float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
        for (int64_t i = 0; i < n; ++i) {
            const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
            float y = __fmul_rn(v, scale);
            if (has_w) y = __fmul_rn(y, *reinterpret_cast<const float*>(d_elem(w, i, 0, 0, 0)));
            *reinterpret_cast<float*>(d_row_elem(d, r, i)) = y;
        }
    }
}

}  // namespace

KernelStatus run_rms_norm(const ds4_node& node, KernelContext& ctx) {
    ds4_params_rms_norm p;
    read_params(node, &p);
    const ds4_tensor* w = node.n_src > 1 ? node.src[1] : nullptr;
    const int64_t rows = n_rows(node.src[0]);
    rms_norm_kernel<<<blocks_for(rows, 64), 64, 0, ctx.stream>>>(dtensor(node.src[0]), w ? dtensor(w) : DTensor{},
                                                                 w != nullptr, dtensor(node.dst[0]), rows, p.eps);
    return launch_status("rms_norm");
}

}  // namespace ds4::gpu
