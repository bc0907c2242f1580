// MoE (MODEL.md §C.4): MOE_ROUTER and MOE_FFN. Formulas and orders are cpu-ref's
// (plugins/cpu-ref/ops/moe.cpp, docs/numerics.md); the row dots are qdot.cuh's term-parallel
// dots (bit-identical to quant::dot_row with quantized activations).
//
// MOE_ROUTER: logits w_gate·z on the MATMUL tile kernels (rowdot.h, cpu-ref's dot order),
// p = sqrt(softplus(logit)); then one block per token selects (hash row, or k rounds of a
// block-wide arg-max in the order value desc / index asc) and one thread forms the weights.
//
// MOE_FFN (the decode hot spot) runs one kernel per stage over the selected experts, with
// launch dimensions that depend only on shapes (the plan may be captured into a graph), the
// expert ids and weights read on the device:
//   1. z quantized once per token for the gate/up weight type (Q8_K / Q8_0-act / f32 copy);
//   2. gate+up: one block per (token, selection, group of F rows) computes the gate and up
//      rows of the selected expert and writes h = silu(min(g,c))·clamp(u,±c)·weight;
//   3. h quantized once per selection for the down weight type;
//   4. down: one block per (token, group of d rows) computes every selection's down row and
//      sums them j ascending (no atomics: the sum order is fixed).
// An id of -1 contributes zero; any other id outside [0, E) is reported in the device error
// word and fails the submit.
#include <cmath>

#include "common.cuh"
#include "ops.h"
#include "qdot.cuh"
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
    if (x < -20.0f) return d_expf_cr(x);
    return d_log1pf_cr(d_expf_cr(x));
}

// Contiguous f32 copy of a 2-D F32 tensor (any strides).
__global__ void stage_rows_kernel(DTensor x, float* out, int64_t total) {
    const int64_t n0 = x.ne[0];
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x)
        out[e] = f32_at(x, e % n0, e / n0);
}

// Activation rows (f32 at src + r·nb1 + i·nb0, n per row) into `fmt` rows of row_bytes.
KernelStatus stage_act(const uint8_t* src, int64_t nb0, int64_t nb1, int64_t rows, int64_t n, int fmt, uint8_t* dst,
                       KernelContext& ctx, const char* what) {
    const int64_t bpr = n / act_block_elems(fmt);
    const unsigned grid = static_cast<unsigned>(bpr * rows);
    if (fmt == kFmtQ8_K)
        quantize_act_kernel<256><<<grid, 256, 0, ctx.stream>>>(src, nb0, nb1, bpr, dst, act_row_bytes(fmt, n));
    else
        quantize_act_kernel<32><<<grid, 32, 0, ctx.stream>>>(src, nb0, nb1, bpr, dst, act_row_bytes(fmt, n));
    return launch_status(what);
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

// With quantized activations a block first copies its weight rows and activation rows into
// shared memory with wide coalesced loads: the term threads then read 66..144-byte blocks
// byte by byte from shared memory instead of issuing scattered global byte loads.
constexpr uint64_t kSmemLimit = 48 * 1024;  // dynamic shared memory without an opt-in
inline uint64_t align16(uint64_t b) { return (b + 15) / 16 * 16; }

struct DotGeom {
    int64_t R = 1, T = 1;
    bool stage = false;
    uint64_t off_act = 0, off_w = 0, smem = 0;
};

// G row sets (gate and up: 2; the k down projections: k) sharing a block, `total` rows per
// set, weight rows of wrb bytes, act_bytes of activation rows per block.
DotGeom dot_geom(int fmt, int64_t n_in, int64_t G, int64_t total, int64_t wrb, int64_t act_bytes) {
    DotGeom g;
    g.T = row_terms(fmt, n_in);
    g.R = rows_per_block(g.T, G, total);
    auto need = [&](int64_t R) {
        return align16(static_cast<uint64_t>(G * R * g.T) * 4) + align16(static_cast<uint64_t>(act_bytes)) +
               static_cast<uint64_t>(G * R * wrb);
    };
    if (fmt != kFmtF32) {
        int64_t R = g.R;
        while (R > 1 && need(R) > kSmemLimit) --R;
        if (need(R) <= kSmemLimit) {
            g.stage = true;
            g.R = R;
        }
    }
    g.off_act = align16(static_cast<uint64_t>(G * g.R * g.T) * 4);
    g.off_w = g.off_act + align16(static_cast<uint64_t>(act_bytes));
    g.smem = g.stage ? need(g.R) : static_cast<uint64_t>(G * g.R * g.T) * 4;
    return g;
}

// Block-wide copy of `bytes` bytes into shared memory (16-, 4- or 1-byte words as alignment allows).
__device__ inline void copy_to_shared(uint8_t* dst, const uint8_t* src, int64_t bytes) {
    const uintptr_t mis = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) | static_cast<uintptr_t>(bytes);
    if ((mis & 15) == 0) {
        for (int64_t i = threadIdx.x; i < bytes / 16; i += blockDim.x)
            reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
    } else if ((mis & 3) == 0) {
        for (int64_t i = threadIdx.x; i < bytes / 4; i += blockDim.x)
            reinterpret_cast<uint32_t*>(dst)[i] = reinterpret_cast<const uint32_t*>(src)[i];
    } else {
        for (int64_t i = threadIdx.x; i < bytes; i += blockDim.x) dst[i] = src[i];
    }
}

struct GateUpArgs {
    DTensor gate, up, ids, wts;
    const uint8_t* zq;  // token rows in fmt
    int64_t zq_row_bytes;
    float* h;  // [n·k][F]
    int fmt;
    int64_t R, T, wrb;  // wrb: bytes of one gate/up row
    bool stage;
    uint64_t off_act, off_w;
    float clamp;
    Iq2Tables tabs;
    DeviceError* err;
    int32_t node;
};

// Grid (ceil(F / R), k, n), kDotBlock threads. Shared: terms [gate, up][R][T] floats, then
// (stage) the token's activation row and the 2·R weight rows.
__global__ void moe_gate_up_kernel(GateUpArgs a) {
    extern __shared__ __align__(16) uint8_t smem[];
    float* terms = reinterpret_cast<float*>(smem);
    const int64_t d = a.gate.ne[0], F = a.gate.ne[1], E = a.gate.ne[2], k = a.ids.ne[0];
    const int64_t t = blockIdx.z, j = blockIdx.y, f0 = int64_t(blockIdx.x) * a.R, R = a.R, T = a.T;
    const int32_t e = i32_at(a.ids, j, t);
    float* hrow = a.h + (t * k + j) * F;
    if (e < -1 || e >= E) {
        if (threadIdx.x == 0 && blockIdx.x == 0) d_report(a.err, kErrExpertId, a.node, e, t * k + j);
        return;
    }
    if (e == -1) {
        for (int64_t r = threadIdx.x; r < R; r += blockDim.x)
            if (f0 + r < F) hrow[f0 + r] = 0.0f;
        return;
    }
    const uint8_t* x = a.zq + t * a.zq_row_bytes;
    uint8_t* sw = smem + a.off_w;
    if (a.stage) {
        copy_to_shared(smem + a.off_act, x, a.zq_row_bytes);
        for (int64_t mr = 0; mr < 2 * R; ++mr) {
            const int64_t f = f0 + mr % R;
            if (f >= F) continue;
            const DTensor& w = mr < R ? a.gate : a.up;
            copy_to_shared(sw + mr * a.wrb, w.data + e * w.nb[2] + f * w.nb[1], a.wrb);
        }
        __syncthreads();
        x = smem + a.off_act;
    }
    for (int64_t i = threadIdx.x; i < 2 * R * T; i += blockDim.x) {
        const int64_t b = i % T, r = (i / T) % R, f = f0 + r;
        if (f >= F) continue;
        const DTensor& w = i < R * T ? a.gate : a.up;
        const uint8_t* wrow = a.stage ? sw + (i / T) * a.wrb : w.data + e * w.nb[2] + f * w.nb[1];
        terms[i] = row_term(w.type, a.fmt, wrow, x, d, b, T, a.tabs);
    }
    __syncthreads();
    const float wj = f32_at(a.wts, j, t);
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
        const int64_t f = f0 + r;
        if (f >= F) continue;
        const float g = combine_terms(a.gate.type, a.fmt, terms + r * T, T);
        const float u = combine_terms(a.up.type, a.fmt, terms + (R + r) * T, T);
        // Gate clamped above only, up on both sides (MODEL.md §C.4).
        const float gc = std_min(g, a.clamp);
        const float uc = std_min(std_max(u, -a.clamp), a.clamp);
        hrow[f] = (gc * d_sigmoid_stable(gc) * uc) * wj;
    }
}

struct DownArgs {
    DTensor down, ids, out;
    const uint8_t* hq;  // selection rows in fmt
    int64_t hq_row_bytes;
    int fmt;
    int64_t R, T, wrb;  // wrb: bytes of one down row
    bool stage;
    uint64_t off_act, off_w;
    Iq2Tables tabs;
};

// Grid (ceil(d / R), n), kDotBlock threads. Shared: terms [k][R][T] floats, then (stage) the
// token's k activation rows and the k·R weight rows.
__global__ void moe_down_kernel(DownArgs a) {
    extern __shared__ __align__(16) uint8_t smem[];
    float* terms = reinterpret_cast<float*>(smem);
    const int64_t F = a.down.ne[0], d = a.down.ne[1], E = a.down.ne[2], k = a.ids.ne[0];
    const int64_t t = blockIdx.y, o0 = int64_t(blockIdx.x) * a.R, R = a.R, T = a.T;
    const uint8_t* xs = a.hq + t * k * a.hq_row_bytes;  // the token's k rows are adjacent
    uint8_t* sw = smem + a.off_w;
    if (a.stage) {
        copy_to_shared(smem + a.off_act, xs, k * a.hq_row_bytes);
        for (int64_t jr = 0; jr < k * R; ++jr) {
            const int64_t o = o0 + jr % R;
            const int32_t e = i32_at(a.ids, jr / R, t);
            if (o >= d || e < 0 || e >= E) continue;
            copy_to_shared(sw + jr * a.wrb, a.down.data + e * a.down.nb[2] + o * a.down.nb[1], a.wrb);
        }
        __syncthreads();
        xs = smem + a.off_act;
    }
    for (int64_t i = threadIdx.x; i < k * R * T; i += blockDim.x) {
        const int64_t b = i % T, r = (i / T) % R, j = i / (T * R), o = o0 + r;
        if (o >= d) continue;
        const int32_t e = i32_at(a.ids, j, t);
        if (e < 0 || e >= E) continue;
        const uint8_t* wrow = a.stage ? sw + (i / T) * a.wrb : a.down.data + e * a.down.nb[2] + o * a.down.nb[1];
        terms[i] = row_term(a.down.type, a.fmt, wrow, xs + j * a.hq_row_bytes, F, b, T, a.tabs);
    }
    __syncthreads();
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
        const int64_t o = o0 + r;
        if (o >= d) continue;
        float acc = 0.0f;
        for (int64_t j = 0; j < k; ++j) {
            const int32_t e = i32_at(a.ids, j, t);
            acc += e < 0 || e >= E ? 0.0f : combine_terms(a.down.type, a.fmt, terms + (j * R + r) * T, T);
        }
        *reinterpret_cast<float*>(d_elem(a.out, o, t, 0, 0)) = acc;
    }
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
    const ds4_tensor *z = node.src[0], *gate = node.src[1], *down = node.src[3], *ids = node.src[4];
    const int64_t d = z->ne[0], n = z->ne[1], F = gate->ne[1], k = ids->ne[0];
    const MoeScratch sl = moe_scratch(node);
    if (sl.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "moe_ffn scratch too small"};
    const Iq2Tables tabs{ctx.iq2_grid, ctx.iq2_signs};
    uint8_t* zq = scratch_at(ctx, sl.zq);
    float* h = reinterpret_cast<float*>(scratch_at(ctx, sl.h));
    uint8_t* hq = sl.fmt_down == kFmtF32 ? reinterpret_cast<uint8_t*>(h) : scratch_at(ctx, sl.hq);

    // 1. z in the gate/up activation format, once per token.
    if (sl.fmt_gu == kFmtF32) {
        stage_rows_kernel<<<blocks_for(n * d), kThreads, 0, ctx.stream>>>(dtensor(z), reinterpret_cast<float*>(zq), n * d);
        if (auto st = launch_status("moe_ffn staging"); !st.ok()) return st;
    } else {
        const DTensor zt = dtensor(z);
        if (auto st = stage_act(zt.data, zt.nb[0], zt.nb[1], n, d, sl.fmt_gu, zq, ctx, "moe_ffn activations"); !st.ok())
            return st;
    }

    // 2. gate and up rows of each selection → weighted mid vectors h.
    GateUpArgs g{};
    g.gate = dtensor(gate);
    g.up = dtensor(node.src[2]);
    g.ids = dtensor(ids);
    g.wts = dtensor(node.src[5]);
    g.zq = zq;
    g.zq_row_bytes = act_row_bytes(sl.fmt_gu, d);
    g.h = h;
    g.fmt = sl.fmt_gu;
    g.wrb = ds4_type_row_bytes(gate->type, d);
    const DotGeom gg = dot_geom(sl.fmt_gu, d, 2, F, g.wrb, g.zq_row_bytes);
    g.T = gg.T;
    g.R = gg.R;
    g.stage = gg.stage;
    g.off_act = gg.off_act;
    g.off_w = gg.off_w;
    g.clamp = p.clamp;
    g.tabs = tabs;
    g.err = ctx.err;
    g.node = ctx.node;
    dim3 grid_gu(static_cast<unsigned>((F + g.R - 1) / g.R), static_cast<unsigned>(k), static_cast<unsigned>(n));
    moe_gate_up_kernel<<<grid_gu, kDotBlock, gg.smem, ctx.stream>>>(g);
    if (auto st = launch_status("moe_ffn gate/up"); !st.ok()) return st;

    // 3. h in the down activation format, once per selection (after the router weight).
    if (sl.fmt_down != kFmtF32)
        if (auto st = stage_act(reinterpret_cast<const uint8_t*>(h), 4, F * 4, n * k, F, sl.fmt_down, hq, ctx,
                                "moe_ffn mid activations");
            !st.ok())
            return st;

    // 4. down rows of every selection, summed in selection order.
    DownArgs dn{};
    dn.down = dtensor(down);
    dn.ids = dtensor(ids);
    dn.out = dtensor(node.dst[0]);
    dn.hq = hq;
    dn.hq_row_bytes = act_row_bytes(sl.fmt_down, F);
    dn.fmt = sl.fmt_down;
    dn.wrb = ds4_type_row_bytes(down->type, F);
    const DotGeom dg = dot_geom(sl.fmt_down, F, k, d, dn.wrb, k * dn.hq_row_bytes);
    dn.T = dg.T;
    dn.R = dg.R;
    dn.stage = dg.stage;
    dn.off_act = dg.off_act;
    dn.off_w = dg.off_w;
    dn.tabs = tabs;
    dim3 grid_d(static_cast<unsigned>((d + dn.R - 1) / dn.R), static_cast<unsigned>(n));
    moe_down_kernel<<<grid_d, kDotBlock, dg.smem, ctx.stream>>>(dn);
    return launch_status("moe_ffn down");
}

}  // namespace ds4::gpu
