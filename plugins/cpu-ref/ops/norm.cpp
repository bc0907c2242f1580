// RMS_NORM (MODEL.md §0): Σx² accumulates in double over 32 interleaved lanes (common.h,
// sum_squares_lanes32); the mean is rounded to float and the rest is float: y = x · (1/sqrt(mean + eps)) [· w].
#include <cmath>
#include <vector>

#include "common.h"
#include "ops.h"

namespace ds4::cpuref {

KernelStatus check_rms_norm(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 2, 1); !st.ok()) return st;
    ds4_params_rms_norm p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_rms_norm");
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_same_shape(x, "src0", d, "dst"); !st.ok()) return st;
    if (node.n_src > 1 && node.src[1]) {
        const ds4_tensor* w = node.src[1];
        if (auto st = check_type(w, "src1", {DS4_TYPE_F32}); !st.ok()) return st;
        if (w->ne[0] != x->ne[0] || n_rows(w) != 1)
            return KernelStatus::invalid(msg("weight shape ", shape_str(w), " != [", x->ne[0], "]"));
    }
    return {};
}

KernelStatus run_rms_norm(const ds4_node& node, KernelContext& ctx) {
    ds4_params_rms_norm p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const ds4_tensor* w = node.n_src > 1 ? node.src[1] : nullptr;
    const int64_t n = x->ne[0];
    std::vector<float> weight;
    if (w) {
        weight.resize(static_cast<size_t>(n));
        load_f32_row(w, 0, weight.data());
    }
    const float eps = p.eps;
    ctx.pool.parallel_for(n_rows(x), 4, [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1; ++r) {
            load_f32_row(x, r, row.data());
            const double ss = sum_squares_lanes32(row.data(), n);
            const float mean = static_cast<float>(ss / static_cast<double>(n));
            const float scale = 1.0f / std::sqrt(mean + eps);
            if (w)
                for (int64_t i = 0; i < n; ++i) row[i] = row[i] * scale * weight[i];
            else
                for (int64_t i = 0; i < n; ++i) row[i] = row[i] * scale;
            store_f32_row(d, r, row.data());
        }
    });
    return {};
}

}  // namespace ds4::cpuref
