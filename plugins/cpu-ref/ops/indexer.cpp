// INDEXER_TOPK (MODEL.md §C.3.6): for the token at position p, n_c = floor((p+1)/ratio)
// compressed rows are visible. n_c <= top_k: all of them. Otherwise the top_k rows by
// score[c] = Σ_h w_h·max(0, q_h·k_c) (h ascending), q_h = RoPE(wq_b·qr_n)_h at p [then
// Hadamard+FP4 when qat], w = (wproj·a)·weight_scale; ties go to the lowest index, -inf/NaN
// scores are never selected. Output in ascending row order, padded with -1. Contract:
// backend.h, ds4_params_indexer. Tokens run one after another; the projections are parallel
// over rows and the scores over candidate rows.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops.h"
#include "tier1_common.h"

namespace ds4::cpuref {

KernelStatus check_indexer_topk(const ds4_node& node) {
    if (auto s = check_operands(node, 6, 6, 1); !s.ok()) return s;
    ds4_params_indexer p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_indexer");
    if (p.n_heads == 0 || p.head_dim == 0 || p.top_k == 0 || p.ratio == 0)
        return KernelStatus::invalid("n_heads, head_dim, top_k and ratio must be > 0");
    if (p.qat && p.head_dim != 128) return KernelStatus::invalid(msg("qat needs head_dim 128, got ", p.head_dim));
    if (auto s = tier1::check_rope_params(p.rope, p.head_dim, "indexer"); !s.ok()) return s;
    const ds4_tensor *qr = node.src[0], *a = node.src[1];
    const int64_t n = qr->ne[1], q_rank = qr->ne[0], d = a->ne[0], H = p.n_heads, hd = p.head_dim;
    if (auto s = tier1::check_f32_shape(qr, "src0 qr_n", {q_rank, n}); !s.ok()) return s;
    if (auto s = tier1::check_f32_shape(a, "src1 a", {d, n}); !s.ok()) return s;
    if (auto s = tier1::check_weight(node.src[2], "src2 wq_b", q_rank, H * hd); !s.ok()) return s;
    if (auto s = tier1::check_weight(node.src[3], "src3 wproj", d, H); !s.ok()) return s;
    if (auto s = tier1::check_f32_shape(node.src[4], "src4 index_rows", {hd, node.src[4]->ne[1]}); !s.ok()) return s;
    if (auto s = check_type(node.src[5], "src5 positions", {DS4_TYPE_I32}); !s.ok()) return s;
    if (node.src[5]->ne[0] != n || n_elems(node.src[5]) != n)
        return KernelStatus::invalid(msg("src5 positions shape ", shape_str(node.src[5]), " should be [", n, "]"));
    const ds4_tensor* dst = node.dst[0];
    if (dst->type != DS4_TYPE_I32 || dst->ne[0] != p.top_k || dst->ne[1] != n || dst->ne[2] != 1 || dst->ne[3] != 1)
        return KernelStatus::invalid(msg("dst0 selected must be i32 [", p.top_k, ", ", n, "], got ", shape_str(dst)));
    return {};
}

KernelStatus run_indexer_topk(const ds4_node& node, KernelContext& ctx) {
    ds4_params_indexer p;
    read_params(node, &p);
    const ds4_tensor *qr = node.src[0], *a = node.src[1], *wq = node.src[2], *wproj = node.src[3];
    const ds4_tensor *krows = node.src[4], *pos = node.src[5], *dst = node.dst[0];
    const int64_t n = qr->ne[1], q_rank = qr->ne[0], d = a->ne[0], H = p.n_heads, hd = p.head_dim;
    const int64_t cap = krows->ne[1], top_k = p.top_k;
    for (int64_t t = 0; t < n; ++t) {
        const int64_t pt = i32_at(pos, t);
        if (pt < 0) return KernelStatus::invalid(msg("positions[", t, "] = ", pt, " is negative"));
        if ((pt + 1) / p.ratio > cap)
            return KernelStatus::invalid(msg("position ", pt, " needs ", (pt + 1) / p.ratio, " indexer rows, capacity ", cap));
    }

    const tier1::Rope rope(p.rope);
    std::vector<float> x(std::max(q_rank, d)), q(H * hd), w(H), score;
    std::vector<int64_t> order;
    for (int64_t t = 0; t < n; ++t) {
        const int64_t pt = i32_at(pos, t);
        const int64_t n_c = (pt + 1) / p.ratio;
        std::vector<int32_t> sel;
        if (n_c <= top_k) {
            for (int64_t c = 0; c < n_c; ++c) sel.push_back(static_cast<int32_t>(c));
        } else {
            load_f32_row(qr, t, x.data());
            const float* xp = x.data();
            if (!tier1::matmul_rows(ctx.pool, wq, &xp, 1, q_rank, H * hd, p.act_quant, q.data()))
                return KernelStatus::invalid("cannot quantize qr_n");
            for (int64_t h = 0; h < H; ++h) {
                rope.apply(q.data() + h * hd, hd, pt);
                if (p.qat) quant::indexer_qat_row(q.data() + h * hd);
            }
            load_f32_row(a, t, x.data());
            if (!tier1::matmul_rows(ctx.pool, wproj, &xp, 1, d, H, p.act_quant, w.data()))
                return KernelStatus::invalid("cannot quantize a");
            for (auto& v : w) v *= p.weight_scale;

            score.assign(n_c, 0.0f);
            ctx.pool.parallel_for(n_c, 32, [&](int64_t c0, int64_t c1) {
                std::vector<float> k(hd);
                for (int64_t c = c0; c < c1; ++c) {
                    load_f32_row(krows, c, k.data());
                    float acc = 0.0f;
                    for (int64_t h = 0; h < H; ++h)
                        acc += w[h] * std::max(0.0f, tier1::dot_seq(q.data() + h * hd, k.data(), hd));
                    score[c] = acc;
                }
            });
            // Top-k: largest score first, ties by lowest index; -inf and NaN never selected.
            order.clear();
            for (int64_t c = 0; c < n_c; ++c)
                if (!std::isnan(score[c]) && score[c] != -INFINITY) order.push_back(c);
            const int64_t k = std::min<int64_t>(top_k, static_cast<int64_t>(order.size()));
            std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t i, int64_t j) {
                return score[i] > score[j] || (score[i] == score[j] && i < j);
            });
            for (int64_t i = 0; i < k; ++i) sel.push_back(static_cast<int32_t>(order[i]));
            std::sort(sel.begin(), sel.end());
        }
        for (int64_t i = 0; i < top_k; ++i)
            i32_at(dst, i, t) = i < static_cast<int64_t>(sel.size()) ? sel[i] : -1;
    }
    return {};
}

}  // namespace ds4::cpuref
