// MoE (MODEL.md §C.4): MOE_ROUTER (sqrt-softplus scores, hash or biased top-k selection,
// weights from the UNBIASED scores) and MOE_FFN (routed experts with the asymmetric SwiGLU
// clamp, router weight applied before the down projection, sum over the k selections in
// order). Contracts: backend.h, ds4_params_router / ds4_params_moe_ffn.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops.h"
#include "tier1_common.h"

namespace ds4::cpuref {

// ---- MOE_ROUTER -------------------------------------------------------------------------------

KernelStatus check_moe_router(const ds4_node& node) {
    if (node.n_src != 5) return KernelStatus::invalid(msg("expects 5 sources, got ", node.n_src));
    if (!node.src[0] || !node.src[1] || !node.src[4])
        return KernelStatus::invalid("src0 z, src1 w_gate and src4 token ids are required");
    if (node.n_dst != 2 || !node.dst[0] || !node.dst[1]) return KernelStatus::invalid("expects 2 destinations");
    ds4_params_router p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_router");
    const ds4_tensor *z = node.src[0], *wg = node.src[1];
    const int64_t d = z->ne[0], n = z->ne[1], E = wg->ne[1], k = p.k;
    if (k == 0 || k > E) return KernelStatus::invalid(msg("k ", k, " must be in [1, E = ", E, "]"));
    if (auto s = tier1::check_f32_shape(z, "src0 z", {d, n}); !s.ok()) return s;
    if (auto s = check_type(wg, "src1 w_gate", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}); !s.ok()) return s;
    if (auto s = tier1::check_weight(wg, "src1 w_gate", d, E); !s.ok()) return s;
    if (node.src[2])
        if (auto s = tier1::check_f32_shape(node.src[2], "src2 bias", {E}); !s.ok()) return s;
    if (const ds4_tensor* h = node.src[3]) {
        if (h->type != DS4_TYPE_I32 || h->ne[0] != k || h->ne[2] != 1 || h->ne[3] != 1)
            return KernelStatus::invalid(msg("src3 tid2eid must be i32 [vocab, ", k, "], got ", shape_str(h)));
    }
    const ds4_tensor* tok = node.src[4];
    if (tok->type != DS4_TYPE_I32 || tok->ne[0] != n || n_elems(tok) != n)
        return KernelStatus::invalid(msg("src4 token ids must be i32 [", n, "], got ", shape_str(tok)));
    const ds4_tensor *ids = node.dst[0], *w = node.dst[1];
    if (ids->type != DS4_TYPE_I32 || ids->ne[0] != k || ids->ne[1] != n || ids->ne[2] != 1 || ids->ne[3] != 1)
        return KernelStatus::invalid(msg("dst0 ids must be i32 [", k, ", ", n, "], got ", shape_str(ids)));
    return tier1::check_f32_shape(w, "dst1 weights", {k, n});
}

KernelStatus run_moe_router(const ds4_node& node, KernelContext& ctx) {
    ds4_params_router p;
    read_params(node, &p);
    const ds4_tensor *z = node.src[0], *wg = node.src[1], *bias = node.src[2], *hash = node.src[3], *tok = node.src[4];
    const int64_t d = z->ne[0], n = z->ne[1], E = wg->ne[1], k = p.k;
    if (hash) {
        for (int64_t t = 0; t < n; ++t) {
            const int64_t id = i32_at(tok, t);
            if (id < 0 || id >= hash->ne[1])
                return KernelStatus::invalid(msg("token id ", id, " outside tid2eid rows [0, ", hash->ne[1], ")"));
            for (int64_t j = 0; j < k; ++j) {
                const int64_t e = i32_at(hash, j, id);
                if (e < -1 || e >= E) return KernelStatus::invalid(msg("tid2eid[", id, "][", j, "] = ", e, " outside [-1, ", E, ")"));
            }
        }
    }
    std::vector<float> Z(n * d), logits(n * E);
    std::vector<const float*> xs(n);
    for (int64_t t = 0; t < n; ++t) {
        load_f32_row(z, t, Z.data() + t * d);
        xs[t] = Z.data() + t * d;
    }
    tier1::matmul_rows(ctx.pool, wg, xs.data(), n, d, E, DS4_ACT_F32, logits.data());

    ctx.pool.parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
        std::vector<float> prob(E), biased(E);
        std::vector<int64_t> order;
        std::vector<int32_t> ids(k);
        for (int64_t t = t0; t < t1; ++t) {
            for (int64_t e = 0; e < E; ++e) prob[e] = std::sqrt(tier1::softplus_stable(logits[t * E + e]));
            if (hash) {
                const int64_t id = i32_at(tok, t);
                for (int64_t j = 0; j < k; ++j) ids[j] = i32_at(hash, j, id);
            } else {
                // Top-k of p + bias: descending, ties lowest index, -inf/NaN never chosen.
                order.clear();
                for (int64_t e = 0; e < E; ++e) {
                    biased[e] = bias ? prob[e] + f32_at(bias, e) : prob[e];
                    if (!std::isnan(biased[e]) && biased[e] != -INFINITY) order.push_back(e);
                }
                const int64_t kk = std::min<int64_t>(k, static_cast<int64_t>(order.size()));
                std::partial_sort(order.begin(), order.begin() + kk, order.end(), [&](int64_t a, int64_t b) {
                    return biased[a] > biased[b] || (biased[a] == biased[b] && a < b);
                });
                for (int64_t j = 0; j < k; ++j) ids[j] = j < kk ? static_cast<int32_t>(order[j]) : -1;
            }
            // Weights from the unbiased scores: p / max(Σ p (in order) + denom_eps, floor) · scale.
            float sum = 0.0f;
            for (int64_t j = 0; j < k; ++j) sum += ids[j] < 0 ? 0.0f : prob[ids[j]];
            sum += p.denom_eps;
            const float den = std::min(std::max(sum, p.denom_floor), std::numeric_limits<float>::infinity());
            for (int64_t j = 0; j < k; ++j) {
                const float pj = ids[j] < 0 ? 0.0f : prob[ids[j]];
                i32_at(node.dst[0], j, t) = ids[j];
                f32_at(node.dst[1], j, t) = (pj / den) * p.scale;
            }
        }
    });
    return {};
}

// ---- MOE_FFN ----------------------------------------------------------------------------------

KernelStatus check_moe_ffn(const ds4_node& node) {
    if (auto s = check_operands(node, 6, 6, 1); !s.ok()) return s;
    ds4_params_moe_ffn p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_moe_ffn");
    const ds4_tensor *z = node.src[0], *gate = node.src[1], *ids = node.src[4];
    const int64_t d = z->ne[0], n = z->ne[1], F = gate->ne[1], E = gate->ne[2], k = ids->ne[0];
    if (auto s = tier1::check_f32_shape(z, "src0 z", {d, n}); !s.ok()) return s;
    if (auto s = tier1::check_weight(gate, "src1 gate", d, F, E); !s.ok()) return s;
    if (auto s = tier1::check_weight(node.src[2], "src2 up", d, F, E); !s.ok()) return s;
    if (auto s = tier1::check_weight(node.src[3], "src3 down", F, d, E); !s.ok()) return s;
    if (ids->type != DS4_TYPE_I32 || ids->ne[1] != n || ids->ne[2] != 1 || ids->ne[3] != 1)
        return KernelStatus::invalid(msg("src4 ids must be i32 [k, ", n, "], got ", shape_str(ids)));
    if (auto s = tier1::check_f32_shape(node.src[5], "src5 weights", {k, n}); !s.ok()) return s;
    if (!(p.clamp > 0.0f)) return KernelStatus::invalid("clamp must be > 0");
    return tier1::check_f32_shape(node.dst[0], "dst0 out", {d, n});
}

KernelStatus run_moe_ffn(const ds4_node& node, KernelContext& ctx) {
    ds4_params_moe_ffn p;
    read_params(node, &p);
    const ds4_tensor *z = node.src[0], *gate = node.src[1], *up = node.src[2], *down = node.src[3];
    const ds4_tensor *ids = node.src[4], *wts = node.src[5], *out = node.dst[0];
    const int64_t d = z->ne[0], n = z->ne[1], F = gate->ne[1], E = gate->ne[2], k = ids->ne[0];
    const int64_t nk = n * k;
    std::vector<int32_t> eid(nk);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < k; ++j) {
            const int64_t e = i32_at(ids, j, t);
            if (e < -1 || e >= E) return KernelStatus::invalid(msg("ids[", t, "][", j, "] = ", e, " outside [-1, ", E, ")"));
            eid[t * k + j] = static_cast<int32_t>(e);
        }
    // Selection (t, j) sees z_t: gate/up rows, then the clamped, weighted SwiGLU mid vector.
    std::vector<float> Z(n * d), G(nk * F), U(nk * F), Y(nk * d);
    std::vector<const float*> xs(nk);
    for (int64_t t = 0; t < n; ++t) load_f32_row(z, t, Z.data() + t * d);
    for (int64_t r = 0; r < nk; ++r) xs[r] = Z.data() + (r / k) * d;
    if (!tier1::matmul_rows(ctx.pool, gate, xs.data(), nk, d, F, p.act_quant, G.data(), eid.data()) ||
        !tier1::matmul_rows(ctx.pool, up, xs.data(), nk, d, F, p.act_quant, U.data(), eid.data()))
        return KernelStatus::invalid("cannot quantize the expert input activations");
    // h = silu(min(g, clamp)) · clamp(u, -clamp, clamp) · weight (gate clamped above only).
    for (int64_t r = 0; r < nk; ++r) {
        const float w = f32_at(wts, r % k, r / k);
        float* g = G.data() + r * F;
        const float* u = U.data() + r * F;
        for (int64_t f = 0; f < F; ++f) {
            const float gc = std::min(g[f], p.clamp);
            const float uc = std::min(std::max(u[f], -p.clamp), p.clamp);
            g[f] = (tier1::silu(gc) * uc) * w;
        }
        xs[r] = g;
    }
    if (!tier1::matmul_rows(ctx.pool, down, xs.data(), nk, F, d, p.act_quant, Y.data(), eid.data()))
        return KernelStatus::invalid("cannot quantize the expert mid activations");
    // out = Σ_j y_j, j ascending.
    ctx.pool.parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t)
            for (int64_t i = 0; i < d; ++i) {
                float acc = 0.0f;
                for (int64_t j = 0; j < k; ++j) acc += Y[(t * k + j) * d + i];
                f32_at(out, i, t) = acc;
            }
    });
    return {};
}

}  // namespace ds4::cpuref
