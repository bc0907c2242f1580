// ATTENTION (MODEL.md §C.3.7): one shared K=V row set per token, n_heads query heads, with a
// learned sink logit per head. The token at position p sees raw rows of positions
// max(0, p-window+1)..p (ring row = position mod raw_cap) and compressed rows
// c < floor((p+1)/ratio) (only those listed in `selected`, when given). Per (token, head):
// s_j = (q·k_j)·scale; m = max(sink, max s); den = e^{sink-m} + Σ e^{s_j-m};
// o = (Σ e^{s_j-m}·v_j)·(1/den), rows taken raw oldest → newest, then compressed rows in
// ascending index; both sums run over segments of kAttentionSegmentRows rows (sequential
// within a segment, segment sums added in order: plugins/common/sum_orders.h), so a GPU can
// sum the segments in parallel and still compute these bits. Contract: backend.h,
// ds4_params_attention. Parallel over (token, head).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../../common/sum_orders.h"
#include "ops.h"
#include "tier1_common.h"

namespace ds4::cpuref {

KernelStatus check_attention(const ds4_node& node) {
    if (node.n_src != 6) return KernelStatus::invalid(msg("expects 6 sources, got ", node.n_src));
    if (!node.src[0] || !node.src[1] || !node.src[4] || !node.src[5])
        return KernelStatus::invalid("src0 q, src1 raw, src4 sinks and src5 positions are required");
    if (node.n_dst != 1 || !node.dst[0]) return KernelStatus::invalid("expects 1 destination");
    ds4_params_attention p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_attention");
    const ds4_tensor *q = node.src[0], *raw = node.src[1];
    const int64_t hd = q->ne[0], H = q->ne[1], n = q->ne[2];
    if (auto s = tier1::check_f32_shape(q, "src0 q", {hd, H, n}); !s.ok()) return s;
    if (auto s = tier1::check_f32_shape(raw, "src1 raw", {hd, raw->ne[1]}); !s.ok()) return s;
    if (auto s = check_rows_contiguous(raw, "src1 raw"); !s.ok()) return s;
    if (p.window == 0) return KernelStatus::invalid("window must be > 0");
    if (raw->ne[1] != p.raw_cap)
        return KernelStatus::invalid(msg("src1 raw has ", raw->ne[1], " rows, params.raw_cap ", p.raw_cap));
    if (static_cast<int64_t>(p.raw_cap) < static_cast<int64_t>(p.window) + n - 1)
        return KernelStatus::invalid(msg("raw_cap ", p.raw_cap, " < window + n - 1 = ", p.window + n - 1));
    if (const ds4_tensor* comp = node.src[2]) {
        if (auto s = tier1::check_f32_shape(comp, "src2 compressed", {hd, comp->ne[1]}); !s.ok()) return s;
        if (auto s = check_rows_contiguous(comp, "src2 compressed"); !s.ok()) return s;
    }
    if (const ds4_tensor* sel = node.src[3]) {
        if (!node.src[2]) return KernelStatus::invalid("src3 selected given without src2 compressed rows");
        if (sel->type != DS4_TYPE_I32 || sel->ne[1] != n || sel->ne[2] != 1 || sel->ne[3] != 1)
            return KernelStatus::invalid(msg("src3 selected must be i32 [k, ", n, "], got ", shape_str(sel)));
    }
    if (auto s = tier1::check_f32_shape(node.src[4], "src4 sinks", {H}); !s.ok()) return s;
    if (auto s = check_type(node.src[5], "src5 positions", {DS4_TYPE_I32}); !s.ok()) return s;
    if (node.src[5]->ne[0] != n || n_elems(node.src[5]) != n)
        return KernelStatus::invalid(msg("src5 positions shape ", shape_str(node.src[5]), " should be [", n, "]"));
    return tier1::check_f32_shape(node.dst[0], "dst0 o", {hd, H, n});
}

KernelStatus run_attention(const ds4_node& node, KernelContext& ctx) {
    ds4_params_attention p;
    read_params(node, &p);
    const ds4_tensor *q = node.src[0], *raw = node.src[1], *comp = node.src[2], *sel = node.src[3];
    const ds4_tensor *sinks = node.src[4], *pos = node.src[5], *out = node.dst[0];
    const int64_t hd = q->ne[0], H = q->ne[1], n = q->ne[2];
    const bool use_comp = comp && p.ratio > 0;
    const int64_t cap = comp ? comp->ne[1] : 0;

    // Per token: the visible compressed rows, ascending (mask semantics: a row listed twice
    // counts once; listed rows at or beyond n_c are not visible).
    std::vector<std::vector<int32_t>> visible(n);
    for (int64_t t = 0; t < n; ++t) {
        const int64_t pt = i32_at(pos, t);
        if (pt < 0) return KernelStatus::invalid(msg("positions[", t, "] = ", pt, " is negative"));
        if (!use_comp) continue;
        const int64_t n_c = (pt + 1) / p.ratio;
        if (n_c > cap)
            return KernelStatus::invalid(msg("position ", pt, " sees ", n_c, " compressed rows, capacity ", cap));
        if (!sel) {
            for (int64_t c = 0; c < n_c; ++c) visible[t].push_back(static_cast<int32_t>(c));
            continue;
        }
        std::vector<char> mark(n_c, 0);
        for (int64_t j = 0; j < sel->ne[0]; ++j) {
            const int64_t c = i32_at(sel, j, t);
            if (c < -1 || c >= cap)
                return KernelStatus::invalid(msg("selected[", t, "][", j, "] = ", c, " outside [-1, ", cap, ")"));
            if (c >= 0 && c < n_c) mark[c] = 1;
        }
        for (int64_t c = 0; c < n_c; ++c)
            if (mark[c]) visible[t].push_back(static_cast<int32_t>(c));
    }

    ctx.pool.parallel_for(n * H, 1, [&](int64_t r0, int64_t r1) {
        constexpr int64_t kSeg = sum_orders::kAttentionSegmentRows;
        std::vector<float> qv(hd), acc(hd), seg(hd), e;
        std::vector<const float*> rows;
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t t = r / H, h = r % H;
            const int64_t pt = i32_at(pos, t);
            for (int64_t i = 0; i < hd; ++i) qv[i] = f32_at(q, i, h, t);
            rows.clear();
            for (int64_t pp = std::max<int64_t>(0, pt - p.window + 1); pp <= pt; ++pp)
                rows.push_back(&f32_at(raw, 0, pp % p.raw_cap));
            for (int32_t c : visible[t]) rows.push_back(&f32_at(comp, 0, c));
            const float sink = f32_at(sinks, h);
            e.resize(rows.size());
            float m = sink;
            for (size_t j = 0; j < rows.size(); ++j) {
                e[j] = tier1::dot_seq(qv.data(), rows[j], hd) * p.scale;
                m = std::max(m, e[j]);
            }
            const int64_t L = static_cast<int64_t>(rows.size());
            for (int64_t j = 0; j < L; ++j) e[j] = exp_f32(e[j] - m);
            float sum = 0.0f;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int64_t j0 = 0; j0 < L; j0 += kSeg) {
                const int64_t j1 = std::min(L, j0 + kSeg);
                float seg_sum = 0.0f;
                for (int64_t j = j0; j < j1; ++j) seg_sum += e[j];
                sum += seg_sum;
                std::fill(seg.begin(), seg.end(), 0.0f);
                for (int64_t j = j0; j < j1; ++j)
                    for (int64_t i = 0; i < hd; ++i) seg[i] += e[j] * rows[j][i];
                for (int64_t i = 0; i < hd; ++i) acc[i] += seg[i];
            }
            const float den = exp_f32(sink - m) + sum;
            const float inv = 1.0f / den;
            for (int64_t i = 0; i < hd; ++i) f32_at(out, i, h, t) = acc[i] * inv;
        }
    });
    return {};
}

}  // namespace ds4::cpuref
