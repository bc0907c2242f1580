// FFN half of a layer (MODEL.md §C.4): HC pre, norm, router (hash or biased top-k), routed
// experts (MOE_FFN), shared expert with the same asymmetric SwiGLU clamp, HC post.
#include <cmath>

#include "host/status.h"
#include "model/forward.h"

namespace ds4::model::detail {

void build_ffn_half(ForwardCtx& c, uint32_t il, const LayerWeights& w, const ds4_tensor* X, ds4_tensor* X_out) {
    host::Graph& g = c.g;
    Arena& A = c.arena;
    const ModelConfig& cfg = c.cfg;
    const int64_t n = c.n, d = cfg.d, F = cfg.expert_ff, k = cfg.n_expert_used;
    const float clamp = cfg.swiglu_clamp[il];

    ds4_tensor* x_in = A.f32({d, n});
    ds4_tensor* post = A.f32({cfg.n_hc, n});
    ds4_tensor* comb = A.f32({cfg.n_hc, cfg.n_hc, n});
    g.add(DS4_OP_HC_PRE, {X, w.hc_ffn_fn, w.hc_ffn_scale, w.hc_ffn_base}, {x_in, post, comb}, c.hc());
    ds4_tensor* z = A.f32({d, n});
    g.add(DS4_OP_RMS_NORM, {x_in, w.ffn_norm}, {z}, rms(cfg.rms_eps));

    // Router: hash layers take the expert ids from tid2eid[token] (bias unused); the others
    // pick the top-k of p + bias. Weights always come from the unbiased sqrt-softplus p.
    ds4_tensor* ids = A.i32({k, n});
    ds4_tensor* wts = A.f32({k, n});
    auto rp = host::params<ds4_params_router>();
    rp.k = static_cast<uint32_t>(k);
    rp.scale = cfg.expert_weights_scale;
    rp.denom_floor = c.num.router_floor;
    rp.denom_eps = 0.0f;
    bool hash = cfg.is_hash(il);
    g.add(DS4_OP_MOE_ROUTER, {z, w.router, hash ? nullptr : w.router_bias, hash ? w.tid2eid : nullptr, c.tokens},
          {ids, wts}, rp);

    ds4_tensor* routed = A.f32({d, n});
    auto fp = host::params<ds4_params_moe_ffn>();
    fp.act_quant = c.act_quant();
    fp.clamp = clamp;
    g.add(DS4_OP_MOE_FFN, {z, w.gate_exps, w.up_exps, w.down_exps, ids, wts}, {routed}, fp);

    // Shared expert: silu(min(g, clamp)) · clamp(u, ±clamp), no router weight.
    ds4_tensor* gs = A.f32({F, n});
    ds4_tensor* us = A.f32({F, n});
    g.add(DS4_OP_MATMUL, {w.gate_sh, z}, {gs}, mm(c));
    g.add(DS4_OP_MATMUL, {w.up_sh, z}, {us}, mm(c));
    auto cl_g = host::params<ds4_params_clamp>();
    cl_g.lo = -INFINITY;
    cl_g.hi = clamp;
    auto cl_u = host::params<ds4_params_clamp>();
    cl_u.lo = -clamp;
    cl_u.hi = clamp;
    ds4_tensor* gc = A.f32({F, n});
    ds4_tensor* uc = A.f32({F, n});
    g.add(DS4_OP_CLAMP, {gs}, {gc}, cl_g);
    g.add(DS4_OP_CLAMP, {us}, {uc}, cl_u);
    auto silu = host::params<ds4_params_unary>();
    silu.kind = DS4_UNARY_SILU;
    g.add(DS4_OP_UNARY, {gc}, {gc}, silu);
    ds4_tensor* mid = A.f32({F, n});
    g.add(DS4_OP_MUL, {gc, uc}, {mid});
    ds4_tensor* shared = A.f32({d, n});
    g.add(DS4_OP_MATMUL, {w.down_sh, mid}, {shared}, mm(c));
    ds4_tensor* out = A.f32({d, n});
    g.add(DS4_OP_ADD, {routed, shared}, {out});

    g.add(DS4_OP_HC_POST, {out, X, post, comb}, {X_out}, c.hc());
}

}  // namespace ds4::model::detail
