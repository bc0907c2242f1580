// Decomposition of INDEXER_TOPK (MODEL.md §C.3.6). Scores for every token against the first
// n_cmax = max_t floor((p_t+1)/ratio) indexer rows ([n][H][n_cmax] scratch), masked per token
// to its visible rows, TOPK. The fused op writes the selection in ASCENDING row order, which
// Tier-0 has no sort for: the selection is scattered (SET_ROWS, one node per token) as zeros
// into a -inf row, a ramp -c is added, and a second TOPK returns the rows by ascending index
// with -1 padding. When no token sees more than top_k rows the selection is every visible row
// and no scores are computed (as in the fused op).
#include <algorithm>
#include <limits>

#include "decompose/internal.h"

namespace ds4::decompose::detail {

void decompose_indexer_topk(Graph& g, const ds4_node& node, const StepValues& values) {
    Builder b(g);
    const auto p = read_params<ds4_params_indexer>(node);
    const uint32_t op = node.op;
    const T *qr = src(node, 0), *a = src(node, 1), *wq = src(node, 2), *wproj = src(node, 3);
    const T *krows = src(node, 4), *pos_t = src(node, 5), *out = dst(node, 0);
    const int64_t n = qr->ne[1], H = p.n_heads, hd = p.head_dim, top_k = p.top_k;
    require(H > 0 && hd > 0 && top_k > 0 && p.ratio > 0, op, "n_heads, head_dim, top_k and ratio must be > 0");
    require(wq->ne[1] == H * hd && krows->ne[0] == hd, op, "wq_b rows / index_rows width must match heads × head_dim");
    const std::vector<int32_t> pos = read_i32(values, pos_t, op, "positions");
    const float neg_inf = -std::numeric_limits<float>::infinity();

    std::vector<int64_t> n_c(n);
    int64_t n_cmax = 0;
    for (int64_t t = 0; t < n; ++t) {
        require(pos[t] >= 0, op, "negative position");
        n_c[t] = (pos[t] + 1) / p.ratio;
        require(n_c[t] <= krows->ne[1], op, "position needs more indexer rows than the capacity");
        n_cmax = std::max(n_cmax, n_c[t]);
    }
    const int64_t Wv = std::max(n_cmax, top_k);
    std::vector<float> ramp(Wv);
    for (int64_t c = 0; c < Wv; ++c) ramp[c] = -static_cast<float>(c);

    if (n_cmax <= top_k) {
        std::vector<float> v(n * Wv);
        for (int64_t t = 0; t < n; ++t)
            for (int64_t c = 0; c < Wv; ++c) v[t * Wv + c] = c < n_c[t] ? ramp[c] : neg_inf;
        b.topk_into(b.const_f32({Wv, n}, v), out);
        return;
    }

    // Queries: wq_b·qr_n per head, RoPE at the token's position, optional Hadamard+FP4.
    T* Q = b.g.reshape(b.matmul(wq, qr, p.act_quant), {hd, H, n});
    b.rope_inplace(Q, pos_t, 2, p.rope);
    if (p.qat) b.quant_sim_inplace(Q, DS4_SIM_INDEXER_QAT, 0);
    T* w = b.scale(b.matmul(wproj, a, p.act_quant), p.weight_scale, 0.0f);  // {H, n}

    // score[t][c] = Σ_h w[t][h]·relu(Q[t][h]·K[c]).
    const T* K = b.view(krows, {hd, n_cmax}, {krows->nb[0], krows->nb[1]});
    T* R = b.unary(b.matmul_f32(Q, K), DS4_UNARY_RELU);  // {n_cmax, H, n}
    const T* wA = b.view(w, {H, 1, n}, {4, 4 * H, 4 * H});
    const T* RT = b.view(R, {H, n_cmax, n}, {4 * n_cmax, 4, 4 * n_cmax * H});
    T* score = b.matmul_f32(wA, RT);  // {n_cmax, 1, n}
    std::vector<float> mask(n * n_cmax);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < n_cmax; ++c) mask[t * n_cmax + c] = c < n_c[t] ? 0.0f : neg_inf;
    T* sel = b.topk(b.add(score, b.const_f32({n_cmax, 1, n}, mask)), top_k);  // {top_k, 1, n}

    // Ascending order: v[t][c] = (c selected ? 0 : -inf) + (-c), then TOPK.
    T* marks = b.f32({Wv, n});
    b.copy(b.const_f32({Wv, n}, std::vector<float>(n * Wv, neg_inf)), marks);
    const T* zeros = b.const_f32({1, top_k}, std::vector<float>(top_k, 0.0f));
    for (int64_t t = 0; t < n; ++t)
        b.set_rows(zeros, b.view(sel, {top_k}, {4}, static_cast<uint64_t>(t * 4 * top_k)),
                   b.view(marks, {1, Wv}, {4, 4}, static_cast<uint64_t>(t * 4 * Wv)));
    b.topk_into(b.add(marks, b.const_f32({Wv}, ramp)), out);
}

}  // namespace ds4::decompose::detail
