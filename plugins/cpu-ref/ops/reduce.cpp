// Row reductions: SUM_ROWS, SOFTMAX (scale, mask, sinks), TOPK, GATHER_COLS. Every row is
// reduced by one thread in index order: no partial sums across threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "ops.h"

namespace ds4::cpuref {

// ---- SUM_ROWS: float accumulator, index order ---------------------------------------------

KernelStatus check_sum_rows(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 1, 1); !st.ok()) return st;
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (d->ne[0] != 1 || d->ne[1] != x->ne[1] || d->ne[2] != x->ne[2] || d->ne[3] != x->ne[3])
        return KernelStatus::invalid(msg("dst shape ", shape_str(d), " != src0 shape ", shape_str(x), " with ne0 = 1"));
    return {};
}

KernelStatus run_sum_rows(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const int64_t n = x->ne[0];
    ctx.pool.parallel_for(n_rows(x), 8, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* row = row_elem(x, r);
            float acc = 0.0f;
            for (int64_t i = 0; i < n; ++i) acc += *reinterpret_cast<const float*>(row + i * x->nb[0]);
            *reinterpret_cast<float*>(row_elem(d, r)) = acc;
        }
    });
    return {};
}

// ---- SOFTMAX ---------------------------------------------------------------------------------
// z_j = x_j·scale + mask_j; m = max(sink, max z); denominator = (Σ_j e^{z_j−m}, j ascending)
// + e^{sink−m}; dst_j = e^{z_j−m} / denominator. All in float.

KernelStatus check_softmax(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 3, 1); !st.ok()) return st;
    ds4_params_softmax p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_softmax");
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_same_shape(x, "src0", d, "dst"); !st.ok()) return st;
    if (node.n_src > 1 && node.src[1]) {
        if (auto st = check_type(node.src[1], "mask", {DS4_TYPE_F32}); !st.ok()) return st;
        if (auto st = check_broadcast(x, "src0", node.src[1], "mask"); !st.ok()) return st;
    }
    if (node.n_src > 2 && node.src[2]) {
        const ds4_tensor* s = node.src[2];
        if (auto st = check_type(s, "sinks", {DS4_TYPE_F32}); !st.ok()) return st;
        if (s->ne[0] != x->ne[1] || n_rows(s) != 1)
            return KernelStatus::invalid(msg("sinks shape ", shape_str(s), " != [src0 ne1 ", x->ne[1], "]"));
    }
    return {};
}

KernelStatus run_softmax(const ds4_node& node, KernelContext& ctx) {
    ds4_params_softmax p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const ds4_tensor* mask = node.n_src > 1 ? node.src[1] : nullptr;
    const ds4_tensor* sinks = node.n_src > 2 ? node.src[2] : nullptr;
    const int64_t n = x->ne[0];
    const float scale = p.scale;
    ctx.pool.parallel_for(n_rows(x), 4, [&](int64_t r0, int64_t r1) {
        std::vector<float> z(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1; ++r) {
            RowIndex ix = split_row(x, r);
            for (int64_t j = 0; j < n; ++j) {
                float v = f32_at(x, j, ix.i1, ix.i2, ix.i3) * scale;
                if (mask) v += *broadcast_f32(mask, j, ix.i1, ix.i2, ix.i3);
                z[j] = v;
            }
            const bool has_sink = sinks != nullptr;
            const float s = has_sink ? f32_at(sinks, ix.i1) : -INFINITY;
            float m = s;
            for (int64_t j = 0; j < n; ++j)
                if (z[j] > m) m = z[j];
            if (m == -INFINITY) {  // everything masked and no (finite) sink
                std::fill(z.begin(), z.end(), 0.0f);
            } else {
                float sum = 0.0f;
                for (int64_t j = 0; j < n; ++j) {
                    z[j] = exp_f32(z[j] - m);
                    sum += z[j];
                }
                if (has_sink) sum += exp_f32(s - m);
                for (int64_t j = 0; j < n; ++j) z[j] = z[j] / sum;
            }
            for (int64_t j = 0; j < n; ++j) f32_at(d, j, ix.i1, ix.i2, ix.i3) = z[j];
        }
    });
    return {};
}

// ---- TOPK: indices of the k largest, descending, ties by lowest index ------------------------

KernelStatus check_topk(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 1, 1); !st.ok()) return st;
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_I32}); !st.ok()) return st;
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (d->ne[i] != x->ne[i])
            return KernelStatus::invalid(msg("dst shape ", shape_str(d), " does not match src0 rows ", shape_str(x)));
    return {};
}

KernelStatus run_topk(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const int64_t n = x->ne[0], k = d->ne[0];
    ctx.pool.parallel_for(n_rows(x), 1, [&](int64_t r0, int64_t r1) {
        std::vector<std::pair<float, int32_t>> cand;
        for (int64_t r = r0; r < r1; ++r) {
            cand.clear();
            const uint8_t* row = row_elem(x, r);
            for (int64_t j = 0; j < n; ++j) {
                float v = *reinterpret_cast<const float*>(row + j * x->nb[0]);
                if (std::isnan(v) || v == -INFINITY) continue;  // never selected
                cand.push_back({v, static_cast<int32_t>(j)});
            }
            const int64_t take = std::min<int64_t>(k, static_cast<int64_t>(cand.size()));
            std::partial_sort(cand.begin(), cand.begin() + take, cand.end(), [](const auto& a, const auto& b) {
                return a.first > b.first || (a.first == b.first && a.second < b.second);
            });
            uint8_t* out = row_elem(d, r);
            for (int64_t j = 0; j < k; ++j) {
                int32_t v = j < take ? cand[j].second : -1;
                *reinterpret_cast<int32_t*>(out + j * d->nb[0]) = v;
            }
        }
    });
    return {};
}

// ---- GATHER_COLS: dst[r][j] = src0[r][idx[r][j]], idx -1 → 0 -------------------------------

KernelStatus check_gather_cols(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    const ds4_tensor *x = node.src[0], *idx = node.src[1], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(idx, "src1", {DS4_TYPE_I32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_same_shape(idx, "src1", d, "dst"); !st.ok()) return st;
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (idx->ne[i] != x->ne[i])
            return KernelStatus::invalid(msg("src1 shape ", shape_str(idx), " does not match src0 rows ", shape_str(x)));
    return {};
}

KernelStatus run_gather_cols(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *x = node.src[0], *idx = node.src[1], *d = node.dst[0];
    const int64_t n = x->ne[0], k = idx->ne[0], rows = n_rows(idx);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < k; ++j) {
            int32_t c = *reinterpret_cast<const int32_t*>(row_elem(idx, r, j));
            if (c != -1 && (c < 0 || c >= n))
                return KernelStatus::invalid(msg("column index ", c, " at row ", r, " slot ", j, " outside [0, ", n, ")"));
        }
    ctx.pool.parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
            for (int64_t j = 0; j < k; ++j) {
                int32_t c = *reinterpret_cast<const int32_t*>(row_elem(idx, r, j));
                float v = c < 0 ? 0.0f : *reinterpret_cast<const float*>(row_elem(x, r, c));
                *reinterpret_cast<float*>(row_elem(d, r, j)) = v;
            }
    });
    return {};
}

}  // namespace ds4::cpuref
