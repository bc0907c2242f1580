// Decomposition of COMPRESSOR (MODEL.md §C.3.5). The token loop is unrolled at build time
// from the host-side positions: each window's rows are COPYed into the state, each emission
// pools its candidates (COPY into [D][n_cand] rows, SOFTMAX, MUL, SUM_ROWS) and resets the
// state; all emitted rows are then normalised, rotated, simulated and SET into the row store
// together.
#include <cmath>
#include <limits>

#include "decompose/internal.h"

namespace ds4::decompose::detail {

void decompose_compressor(Graph& g, const ds4_node& node, const StepValues& values) {
    Builder b(g);
    const auto p = read_params<ds4_params_compressor>(node);
    const uint32_t op = node.op;
    const T *a = src(node, 0), *wkv = src(node, 1), *wg = src(node, 2), *ape = src(node, 3);
    const T *norm = src(node, 4), *pos_t = src(node, 5);
    const T *skv = dst(node, 0), *ssc = dst(node, 1), *rows = dst(node, 2);
    const int64_t n = a->ne[1], m = p.ratio, D = p.head_dim, coff = m == 4 ? 2 : 1, W = coff * D;
    const int64_t cap = rows->ne[1];
    require(m >= 1 && D > 0, op, "ratio and head_dim must be > 0");
    require(wkv->ne[1] == W && wg->ne[1] == W && ape->ne[0] == W && ape->ne[1] == m, op,
            "wkv/wgate/ape widths must be coff·head_dim");
    require(skv->ne[0] == W && skv->ne[1] == coff * m && ssc->ne[0] == W && ssc->ne[1] == coff * m, op,
            "state must be [coff·ratio][coff·head_dim]");
    const std::vector<int32_t> pos = read_i32(values, pos_t, op, "positions");
    if (n == 0) return;
    for (int64_t i = 0; i < n; ++i) {
        require(pos[i] >= 0 && pos[i] == pos[0] + i, op, "positions must be consecutive and >= 0");
        if ((pos[i] + 1) % m == 0) require(pos[i] / m < cap, op, "compressed row index beyond the row capacity");
    }

    // Projections: U = Wkv·a, G = Wg·a + ape[p mod m].
    T* U = b.matmul(wkv, a, p.act_quant);  // {W, n}
    std::vector<int32_t> phase(n);
    for (int64_t i = 0; i < n; ++i) phase[i] = pos[i] % m;
    T* G = b.add(b.matmul(wg, a, p.act_quant), b.get_rows(ape, b.const_i32({n}, phase)));

    const int64_t cur = coff == 2 ? m : 0;
    const int64_t n_cand = coff * m;
    auto state_rows = [&](const T* s, int64_t r0, int64_t cnt) {
        return b.view(s, {W, cnt}, {s->nb[0], s->nb[1]}, static_cast<uint64_t>(r0 * s->nb[1]));
    };
    // Reset sources: kv = 0, score = -inf over one window of state rows.
    const T* zeros = nullptr;
    const T* neg_inf = nullptr;

    std::vector<int32_t> emit_pos;
    for (int64_t i = 0; i < n; ++i)
        if ((pos[i] + 1) % m == 0) emit_pos.push_back(pos[i]);
    const int64_t n_emit = static_cast<int64_t>(emit_pos.size());
    T* C = n_emit ? b.f32({D, n_emit}) : nullptr;

    int64_t seg0 = 0, e = 0;
    for (int64_t i = 0; i < n; ++i) {
        const bool emit = (pos[i] + 1) % m == 0;
        if (!emit && i != n - 1) continue;
        // Tokens seg0..i fill consecutive state rows of the current window.
        const int64_t cnt = i - seg0 + 1, r0 = cur + pos[seg0] % m;
        b.copy(b.view(U, {W, cnt}, {4, 4 * W}, static_cast<uint64_t>(seg0 * 4 * W)), state_rows(skv, r0, cnt));
        b.copy(b.view(G, {W, cnt}, {4, 4 * W}, static_cast<uint64_t>(seg0 * 4 * W)), state_rows(ssc, r0, cnt));
        seg0 = i + 1;
        if (!emit) continue;

        // Candidates of channel j in fused order: (coff 2) rows 0..m-1 at column j, then rows
        // m..2m-1 at column D+j; (coff 1) rows 0..m-1 at column j. Gathered as [D][n_cand].
        auto gather = [&](const T* s) {
            T* out = b.f32({m, coff, D});
            const T* v = coff == 2 ? b.view(s, {m, 2, D}, {s->nb[1], m * s->nb[1] + D * s->nb[0], s->nb[0]})
                                   : b.view(s, {m, 1, D}, {s->nb[1], m * s->nb[1], s->nb[0]});
            b.copy(v, out);
            return b.g.reshape(out, {n_cand, D});
        };
        T* wts = b.softmax(gather(ssc), nullptr, nullptr, 1.0f);
        T* prod = b.mul(wts, gather(skv));
        b.sum_rows_into(prod, b.view(C, {1, D}, {4, 4}, static_cast<uint64_t>(e * 4 * D)));
        ++e;

        // State reset (backend.h): ratio 4 moves the current window to the previous rows first.
        if (coff == 2) {
            b.copy(state_rows(skv, m, m), state_rows(skv, 0, m));
            b.copy(state_rows(ssc, m, m), state_rows(ssc, 0, m));
        }
        if (!zeros) {
            zeros = b.const_f32({W, m}, std::vector<float>(W * m, 0.0f));
            neg_inf = b.const_f32({W, m}, std::vector<float>(W * m, -std::numeric_limits<float>::infinity()));
        }
        b.copy(zeros, state_rows(skv, cur, m));
        b.copy(neg_inf, state_rows(ssc, cur, m));
    }
    if (!n_emit) return;

    // Post-processing of the emitted rows, in the fused order: RMSNorm·norm, RoPE at p+1-m,
    // row simulation, F16 rounding; then rows[p / m] = row.
    T* R = b.rms_norm(C, norm, p.norm_eps);
    std::vector<int32_t> rope_pos(n_emit), row_idx(n_emit);
    for (int64_t k = 0; k < n_emit; ++k) {
        rope_pos[k] = static_cast<int32_t>(emit_pos[k] + 1 - m);
        row_idx[k] = static_cast<int32_t>(emit_pos[k] / m);
    }
    b.rope_inplace(R, b.const_i32({n_emit}, rope_pos), 1, p.rope);
    if (p.row_sim == DS4_SIM_FP8_KV || p.row_sim == DS4_SIM_INDEXER_QAT) b.quant_sim_inplace(R, p.row_sim, p.n_nope);
    if (p.round_f16) b.quant_sim_inplace(R, DS4_SIM_F16_ROUND, 0);
    b.set_rows(R, b.const_i32({n_emit}, row_idx), rows);
}

}  // namespace ds4::decompose::detail
