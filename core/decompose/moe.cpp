// Decompositions of MOE_ROUTER and MOE_FFN (MODEL.md §C.4).
// Router: p = sqrt(softplus(W·z)); ids = TOPK(p + bias) or, for hash routing, TOPK of a row
// built by scattering -j at tid2eid[token][j] into -inf (SET_ROWS per token: the stored
// order comes back because -0 > -1 > ...); weights = GATHER_COLS(p, ids) / CLAMP(Σ + eps,
// floor, inf) · scale. FFN: MATMUL_ID gate/up, CLAMPs, SILU, MULs by the router weight,
// MATMUL_ID down, SUM_ROWS over the k selections (j ascending) through a transposed view.
#include <limits>

#include "decompose/internal.h"

namespace ds4::decompose::detail {

void decompose_moe_router(Graph& g, const ds4_node& node, const StepValues& values) {
    Builder b(g);
    const auto p = read_params<ds4_params_router>(node);
    const uint32_t op = node.op;
    const T *z = src(node, 0), *wg = src(node, 1), *tok_t = src(node, 4);
    const T *bias = opt_src(node, 2), *hash = opt_src(node, 3);
    const T *ids = dst(node, 0), *weights = dst(node, 1);
    const int64_t n = z->ne[1], E = wg->ne[1], k = p.k;
    require(k >= 1 && k <= E, op, "k must be in [1, E]");
    const float inf = std::numeric_limits<float>::infinity();

    T* prob = b.unary(b.unary(b.matmul(wg, z, DS4_ACT_F32), DS4_UNARY_SOFTPLUS), DS4_UNARY_SQRT);  // {E, n}
    if (hash) {
        require(hash->ne[0] == k, op, "tid2eid rows must hold k ids");
        const std::vector<int32_t> tok = read_i32(values, tok_t, op, "token ids");
        T* marks = b.f32({E, n});
        b.copy(b.const_f32({E, n}, std::vector<float>(E * n, -inf)), marks);
        std::vector<float> ramp(k);
        for (int64_t j = 0; j < k; ++j) ramp[j] = -static_cast<float>(j);
        const T* ramp_rows = b.const_f32({1, k}, ramp);
        for (int64_t t = 0; t < n; ++t) {
            require(tok[t] >= 0 && tok[t] < hash->ne[1], op, "token id outside the tid2eid rows");
            const T* row = b.view(hash, {k}, {hash->nb[0]}, static_cast<uint64_t>(tok[t] * hash->nb[1]));
            b.set_rows(ramp_rows, row, b.view(marks, {1, E}, {4, 4}, static_cast<uint64_t>(t * 4 * E)));
        }
        b.topk_into(marks, ids);
    } else {
        b.topk_into(bias ? b.add(prob, bias) : prob, ids);
    }
    T* picked = b.gather_cols(prob, ids);  // {k, n}
    T* den = b.clamp(b.scale(b.sum_rows(picked), 1.0f, p.denom_eps), p.denom_floor, inf);
    auto sp = host::params<ds4_params_scale>();
    sp.scale = p.scale;
    sp.bias = 0.0f;
    g.add(DS4_OP_SCALE, {b.div(picked, den)}, {weights}, sp);
}

void decompose_moe_ffn(Graph& g, const ds4_node& node) {
    Builder b(g);
    const auto p = read_params<ds4_params_moe_ffn>(node);
    const T *z = src(node, 0), *gate = src(node, 1), *up = src(node, 2), *down = src(node, 3);
    const T *ids = src(node, 4), *wts = src(node, 5), *out = dst(node, 0);
    const int64_t d = z->ne[0], n = z->ne[1], k = ids->ne[0];
    const float inf = std::numeric_limits<float>::infinity();
    const T* z3 = b.view(z, {d, 1, n}, {z->nb[0], z->nb[1], z->nb[1]});
    T* gt = b.clamp(b.matmul_id(gate, z3, ids, p.act_quant), -inf, p.clamp);       // {F, k, n}
    T* ut = b.clamp(b.matmul_id(up, z3, ids, p.act_quant), -p.clamp, p.clamp);
    const T* wb = b.view(wts, {1, k, n}, {4, wts->nb[0], wts->nb[1]});
    T* h = b.mul(b.mul(b.unary(gt, DS4_UNARY_SILU), ut), wb);
    T* y = b.matmul_id(down, h, ids, p.act_quant);  // {d, k, n}
    b.sum_rows_into(b.view(y, {k, d, n}, {4 * d, 4, 4 * d * k}),
                    b.view(out, {1, d, n}, {4, out->nb[0], out->nb[1]}));
}

}  // namespace ds4::decompose::detail
