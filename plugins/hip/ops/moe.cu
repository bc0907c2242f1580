// MoE (MODEL.md §C.4): MOE_ROUTER and MOE_FFN. Formulas and orders are cpu-ref's
// (plugins/cpu-ref/ops/moe.cpp, docs/numerics.md); the row dots run on the MATMUL kernels.
//
// MOE_ROUTER: logits w_gate·z on the MATMUL tile kernels (rowdot.h, cpu-ref's dot order),
// p = sqrt(softplus(logit)); then one block per token selects (hash row, or k rounds of a
// block-wide arg-max in the order value desc / index asc) and one thread forms the weights.
//
// MOE_FFN runs on MATMUL_ID's kernels (rowdot.h expert_matmul: activations staged as
// ds4::quant does, dots in quant::dot_row's order, pair tiles for decode, expert-grouped token
// tiles for prefill), so it equals cpu-ref bit for bit in both activation modes:
//   1. gate and up rows of every (token, selection), z staged once per projection;
//   2. h = silu(min(g,c))·clamp(u,±c)·weight, elementwise;
//   3. down rows of every selection from its own h, then the sum over selections j ascending
//      (no atomics: the order is fixed).
// Launch dimensions depend only on shapes (the plan may be captured into a graph); expert ids
// and weights are read on the device.
// An id of -1 contributes zero; any other id outside [0, E) is reported in the device error
// word and fails the submit.
#include <cmath>

#include "common.cuh"
#include "ops.h"
#include "tier1_common.cuh"
#include "tier1_hc_moe.h"
#include "rowdot.h"

namespace ds4::gpu {
namespace {

__device__ inline float f32_at(const DTensor& t, int64_t i0, int64_t i1 = 0) {
    return *reinterpret_cast<const float*>(d_elem(t, i0, i1, 0, 0));
}
__device__ inline int32_t i32_at(const DTensor& t, int64_t i0, int64_t i1 = 0) {
    return *reinterpret_cast<const int32_t*>(d_elem(t, i0, i1, 0, 0));
}

// std::min / std::max as cpu-ref uses them (NaN in the first argument is kept).
__device__ inline float std_min(float a, float b) { return b < a ? b : a; }
__device__ inline float std_max(float a, float b) { return a < b ? b : a; }

// log1p(e^x) with ds4's shortcuts x > 20 → x, x < -20 → e^x.
__device__ inline float softplus_stable(float x) {
    if (x > 20.0f) return x;
    if (x < -20.0f) return d_exp_cr(x);
    return d_log1p_cr(d_exp_cr(x));
}

// ---- MOE_ROUTER -------------------------------------------------------------------------------

// P = sqrt(softplus(logit)) in place over the n·E router logits.
__global__ void router_prob_kernel(float* P, int64_t total) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
        P[i] = sqrtf(softplus_stable(P[i]));
}

struct RouterSelectArgs {
    const float* P;
    DTensor bias, hash, tok, ids, wts;
    bool has_bias, has_hash;
    int64_t E, k;
    float scale, denom_floor, denom_eps;
    DeviceError* err;
    int32_t node;
};

// One block (kThreads) per token.
__global__ void router_select_kernel(RouterSelectArgs a) {
    __shared__ float bv[kThreads];
    __shared__ int bi[kThreads];
    const int tid = threadIdx.x;
    const int64_t t = blockIdx.x, E = a.E, k = a.k;
    const float* p = a.P + t * E;
    if (a.has_hash) {
        if (tid != 0) return;
        const int32_t id = i32_at(a.tok, t);
        if (id < 0 || id >= a.hash.ne[1]) {
            d_report(a.err, kErrRowIndex, a.node, id, t);
            return;
        }
        for (int64_t j = 0; j < k; ++j) {
            const int32_t e = i32_at(a.hash, j, id);
            if (e < -1 || e >= E) {
                d_report(a.err, kErrExpertId, a.node, e, t * k + j);
                return;
            }
            *reinterpret_cast<int32_t*>(d_elem(a.ids, j, t, 0, 0)) = e;
        }
    } else {
        // Slot s takes the best entry strictly after slot s-1 in the order (p+bias desc, index
        // asc); -inf and NaN are never taken, exhausted slots get -1.
        float prev_v = INFINITY;
        int prev_i = -1;
        for (int64_t s = 0; s < k; ++s) {
            float best_v = 0.0f;
            int best_i = -1;
            if (prev_i >= 0 || s == 0) {
                for (int64_t e = tid; e < E; e += blockDim.x) {
                    const float v = a.has_bias ? p[e] + f32_at(a.bias, e) : p[e];
                    if (isnan(v) || v == -INFINITY) continue;
                    if (!(v < prev_v || (v == prev_v && e > prev_i))) continue;
                    if (best_i < 0 || v > best_v) {  // e ascending per thread: strict keeps the lowest
                        best_v = v;
                        best_i = static_cast<int>(e);
                    }
                }
            }
            bv[tid] = best_v;
            bi[tid] = best_i;
            __syncthreads();
            for (int h = blockDim.x / 2; h > 0; h >>= 1) {
                if (tid < h) {
                    const int i2 = bi[tid + h];
                    const float v2 = bv[tid + h];
                    if (i2 >= 0 && (bi[tid] < 0 || v2 > bv[tid] || (v2 == bv[tid] && i2 < bi[tid]))) {
                        bv[tid] = v2;
                        bi[tid] = i2;
                    }
                }
                __syncthreads();
            }
            prev_v = bv[0];
            prev_i = bi[0];
            if (tid == 0) *reinterpret_cast<int32_t*>(d_elem(a.ids, s, t, 0, 0)) = prev_i;
            __syncthreads();  // bv/bi are rewritten by the next slot
        }
        if (tid != 0) return;
    }
    // Weights from the unbiased scores: p / min(max(Σ p (slot order) + eps, floor), inf) · scale.
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
        const int32_t e = i32_at(a.ids, j, t);
        sum += e < 0 ? 0.0f : p[e];
    }
    sum += a.denom_eps;
    const float den = std_min(std_max(sum, a.denom_floor), INFINITY);
    for (int64_t j = 0; j < k; ++j) {
        const int32_t e = i32_at(a.ids, j, t);
        const float pj = e < 0 ? 0.0f : p[e];
        *reinterpret_cast<float*>(d_elem(a.wts, j, t, 0, 0)) = (pj / den) * a.scale;
    }
}

// ---- MOE_FFN ----------------------------------------------------------------------------------

// h = silu(min(g, c))·clamp(u, ±c)·w_j over the n·k selections' mid vectors, in place in G.
__global__ void moe_swiglu_kernel(float* G, const float* U, DTensor wts, int64_t F, int64_t k, int64_t total, float clamp) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / F;
        const float wj = f32_at(wts, r % k, r / k);
        // Gate clamped above only, up on both sides (MODEL.md §C.4).
        const float gc = std_min(G[e], clamp);
        const float uc = std_min(std_max(U[e], -clamp), clamp);
        G[e] = (gc * d_sigmoid_stable(gc) * uc) * wj;
    }
}

// out[t][i] = Σ_j Y[t][j][i], j ascending (a -1 selection contributed a zero row).
__global__ void moe_sum_kernel(const float* Y, DTensor out, int64_t d, int64_t k, int64_t n) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * d; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t t = e / d, i = e % d;
        float acc = 0.0f;
        for (int64_t j = 0; j < k; ++j) acc += Y[(t * k + j) * d + i];
        *reinterpret_cast<float*>(d_elem(out, i, t, 0, 0)) = acc;
    }
}

// A contiguous f32 view [ne0, ne1, ne2] at p.
DTensor f32_view(float* p, int64_t ne0, int64_t ne1, int64_t ne2) {
    DTensor v{};
    v.data = reinterpret_cast<uint8_t*>(p);
    v.ne[0] = ne0;
    v.ne[1] = ne1;
    v.ne[2] = ne2;
    v.ne[3] = 1;
    v.nb[0] = 4;
    v.nb[1] = 4 * ne0;
    v.nb[2] = 4 * ne0 * ne1;
    v.nb[3] = v.nb[2] * ne2;
    v.type = DS4_TYPE_F32;
    return v;
}

uint8_t* scratch_at(KernelContext& ctx, uint64_t off) { return reinterpret_cast<uint8_t*>(ctx.scratch) + off; }

}  // namespace

KernelStatus run_moe_router(const ds4_node& node, KernelContext& ctx) {
    ds4_params_router p;
    read_params(node, &p);
    const ds4_tensor *z = node.src[0], *wg = node.src[1], *bias = node.src[2], *hash = node.src[3];
    const int64_t n = z->ne[1], E = wg->ne[1];
    const RouterScratch sl = router_scratch(node);
    if (sl.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "router scratch too small"};
    float* P = reinterpret_cast<float*>(scratch_at(ctx, sl.p));
    // Logits w_gate·z with f32 activations in quant::dot_row's order (the MATMUL tile kernels).
    if (auto st = rowdot_prepare(dtensor(z), n, wg->type, DS4_ACT_F32, scratch_at(ctx, sl.z), ctx); !st.ok()) return st;
    if (auto st = rowdot_run(dtensor(wg), DS4_ACT_F32, scratch_at(ctx, sl.z), n, E, P, E, false, 1.0f, ctx); !st.ok())
        return st;
    router_prob_kernel<<<blocks_for(n * E), kThreads, 0, ctx.stream>>>(P, n * E);
    if (auto st = launch_status("moe_router scores"); !st.ok()) return st;

    RouterSelectArgs a{};
    a.P = P;
    a.has_bias = bias != nullptr;
    a.has_hash = hash != nullptr;
    if (bias) a.bias = dtensor(bias);
    if (hash) a.hash = dtensor(hash);
    a.tok = dtensor(node.src[4]);
    a.ids = dtensor(node.dst[0]);
    a.wts = dtensor(node.dst[1]);
    a.E = E;
    a.k = p.k;
    a.scale = p.scale;
    a.denom_floor = p.denom_floor;
    a.denom_eps = p.denom_eps;
    a.err = ctx.err;
    a.node = ctx.node;
    router_select_kernel<<<static_cast<unsigned>(n), kThreads, 0, ctx.stream>>>(a);
    return launch_status("moe_router select");
}

KernelStatus run_moe_ffn(const ds4_node& node, KernelContext& ctx) {
    ds4_params_moe_ffn p;
    read_params(node, &p);
    const ds4_tensor *z = node.src[0], *gate = node.src[1], *up = node.src[2], *down = node.src[3];
    const int64_t d = z->ne[0], n = z->ne[1], F = gate->ne[1], k = node.src[4]->ne[0], nk = n * k;
    const MoeScratch sl = moe_scratch(node);
    if (sl.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "moe_ffn scratch too small"};
    void* mm = scratch_at(ctx, sl.mm);
    float* G = reinterpret_cast<float*>(scratch_at(ctx, sl.g));
    float* U = reinterpret_cast<float*>(scratch_at(ctx, sl.u));
    float* Y = reinterpret_cast<float*>(scratch_at(ctx, sl.y));
    const DTensor ids = dtensor(node.src[4]);
    // z as [d, 1, n]: every selection of token t reads row t (kx = 1).
    DTensor zv = dtensor(z);
    zv.ne[2] = zv.ne[1];
    zv.nb[2] = zv.nb[1];
    zv.ne[1] = 1;
    const uint64_t mm_bytes = sl.g - sl.mm;
    // 1. gate and up rows of every selection (MATMUL_ID's kernels and dot order).
    if (auto st = expert_matmul(dtensor(gate), zv, ids, f32_view(G, F, k, n), p.act_quant, mm, mm_bytes, ctx); !st.ok())
        return st;
    if (auto st = expert_matmul(dtensor(up), zv, ids, f32_view(U, F, k, n), p.act_quant, mm, mm_bytes, ctx); !st.ok())
        return st;
    // 2. the clamped, weighted SwiGLU mid vectors.
    moe_swiglu_kernel<<<blocks_for(nk * F), kThreads, 0, ctx.stream>>>(G, U, dtensor(node.src[5]), F, k, nk * F, p.clamp);
    if (auto st = launch_status("moe_ffn swiglu"); !st.ok()) return st;
    // 3. down rows of every selection (each its own mid vector: kx = k), summed j ascending.
    if (auto st = expert_matmul(dtensor(down), f32_view(G, F, k, n), ids, f32_view(Y, d, k, n), p.act_quant, mm, mm_bytes,
                                ctx);
        !st.ok())
        return st;
    moe_sum_kernel<<<blocks_for(n * d), kThreads, 0, ctx.stream>>>(Y, dtensor(node.dst[0]), d, k, n);
    return launch_status("moe_ffn sum");
}

}  // namespace ds4::gpu
