// COMPRESSOR (MODEL.md §C.3.5, backend.h ds4_params_compressor) on the device.
//
// cpu-ref walks the tokens one by one, updating the state and pooling at each window end. The
// device computes the same values without the sequential walk:
//   1. validate the positions (consecutive, >= 0, emitted rows < cap), reporting the error
//      cpu-ref reports first (tier1_common.cuh, ranks); later kernels then do nothing;
//   2. u = Wkv·a and g = Wg·a (+ ape[p mod ratio]) for every token, in cpu-ref's dot order
//      (rowdot.h);
//   3. per possible emission (window w): the candidates come from this chunk's u/g when their
//      position is >= p0 (the first position of the chunk), else from the state as it was when
//      the submit started (current-window rows, or for ratio 4 the previous-window rows when
//      window w-1 ended before the chunk); softmax pooling per channel (one thread per
//      channel), then per row RMSNorm·norm, RoPE at w·ratio, row_sim, F16 round, exactly in
//      cpu-ref's order;
//   4. the final state, element by element, from the same rule (what the last token left in
//      the current window, the last emitted window in the previous-window rows, resets).
// Launch dimensions depend only on shapes (the plan may be captured and replayed); p0 is read
// from the positions tensor on the device.
#include "common.cuh"
#include "ops.h"
#include "quant_sim.cuh"
#include "rowdot.h"
#include "tier1_attention.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

struct Shape {
    int64_t n, d, D, W, coff, ratio, cap;
};

Shape shape_of(const ds4_node& node, const ds4_params_compressor& p) {
    Shape s;
    s.n = node.src[0]->ne[1];
    s.d = node.src[0]->ne[0];
    s.D = p.head_dim;
    s.ratio = p.ratio;
    s.coff = p.ratio == 4 ? 2 : 1;
    s.W = s.coff * s.D;
    s.cap = node.dst[2]->ne[1];
    return s;
}

struct Layout {
    uint64_t act_kv, act_g, u, g, pooled, rank, total;
};

// At most n/ratio + 1 windows end among n consecutive positions.
int64_t max_emissions(const Shape& s) { return s.n / s.ratio + 1; }

Layout layout_of(const ds4_node& node, const ds4_params_compressor& p) {
    const Shape s = shape_of(node, p);
    Layout l;
    l.act_kv = 0;
    l.act_g = align_up(rowdot_act_bytes(node.src[1]->type, p.act_quant, s.n, s.d));
    l.u = l.act_g + align_up(rowdot_act_bytes(node.src[2]->type, p.act_quant, s.n, s.d));
    l.g = l.u + align_up(uint64_t(s.n * s.W) * sizeof(float));
    l.pooled = l.g + align_up(uint64_t(s.n * s.W) * sizeof(float));
    l.rank = l.pooled + align_up(uint64_t(max_emissions(s) * s.D) * sizeof(float));
    l.total = l.rank + align_up(sizeof(RankSlot));
    return l;
}

// Rank 2i: positions[i] < 0 or not p0 + i; rank 2i + 1: the row it emits is >= cap.
__global__ void validate_kernel(DTensor pos, int64_t n, int64_t ratio, int64_t cap, RankSlot* slot, const DeviceError* err) {
    if (d_failed(err)) return;
    const int64_t p0 = d_i32(pos, 0);
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t pi = d_i32(pos, i);
        if (pi < 0 || pi != p0 + i) d_note_rank(slot, 2 * i);
        else if ((pi + 1) % ratio == 0 && pi / ratio >= cap) d_note_rank(slot, 2 * i + 1);
    }
}

__global__ void report_kernel(DTensor pos, int64_t ratio, const RankSlot* slot, DeviceError* err, int32_t node) {
    if (*slot == kNoRank) return;
    const int64_t i = static_cast<int64_t>(*slot / 2), pi = d_i32(pos, i);
    d_report(err, kErrRowIndex, node, static_cast<int32_t>(*slot % 2 == 0 ? pi : pi / ratio), i);
}

__global__ void add_ape_kernel(float* g, DTensor ape, DTensor pos, int64_t n, int64_t W, int64_t ratio,
                               const DeviceError* err) {
    if (d_failed(err)) return;
    const int64_t p0 = d_i32(pos, 0);
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * W; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t t = e / W, j = e % W;
        g[e] = __fadd_rn(g[e], d_load_float(ape.type, d_elem(ape, j, (p0 + t) % ratio, 0, 0)));
    }
}

struct PoolArgs {
    DTensor pos, skv, ssc, rows, norm;
    const float* u;
    const float* g;
    int64_t n, D, W, ratio, coff;
    float eps;
    int n_rot;
    uint32_t row_sim, n_nope;
    bool round_f16;
    const DeviceError* err;
};

// Candidate r of channel j for the window w (see the file comment): (score, value).
struct Cand {
    const PoolArgs* a;
    int64_t p0, w, j;
    bool prev_in_chunk;
    __device__ void get(int64_t r, float* sc, float* v) const {
        const int64_t ratio = a->ratio, cur = a->coff == 2 ? ratio : 0;
        int64_t col, q, srow;
        if (a->coff == 2 && r < ratio) {  // series A: the previous window
            col = j;
            if (!prev_in_chunk) {
                *sc = d_f32(a->ssc, col, r);
                *v = d_f32(a->skv, col, r);
                return;
            }
            q = (w - 1) * ratio + r;
            srow = cur + r;
        } else {  // series B (ratio 4) or the only series: the current window
            const int64_t rr = a->coff == 2 ? r - ratio : r;
            col = a->coff == 2 ? a->D + j : j;
            q = w * ratio + rr;
            srow = cur + rr;
        }
        if (q >= p0) {
            *sc = a->g[(q - p0) * a->W + col];
            *v = a->u[(q - p0) * a->W + col];
        } else {
            *sc = d_f32(a->ssc, col, srow);
            *v = d_f32(a->skv, col, srow);
        }
    }
};

// Window end of emission e of this chunk, or -1 when the chunk has fewer emissions.
__device__ inline int64_t emission_end(const PoolArgs& a, int64_t p0, int64_t e) {
    const int64_t pe = (p0 / a.ratio) * a.ratio + a.ratio - 1 + e * a.ratio;
    return pe > p0 + a.n - 1 ? -1 : pe;
}

// Block (emission, channel group), one channel per thread: per-channel softmax pooling over the
// candidates in cpu-ref's order (max, Σ e^{s−max}, then Σ (e/Σ)·v).
__global__ void pool_kernel(PoolArgs a, float* pooled) {
    if (d_failed(a.err)) return;
    const int64_t p0 = d_i32(a.pos, 0), pe = emission_end(a, p0, blockIdx.x);
    const int64_t j = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
    if (pe < 0 || j >= a.D) return;
    const int64_t w = pe / a.ratio, n_cand = a.coff * a.ratio;
    const Cand cand{&a, p0, w, j, w * a.ratio > p0};
    float mx = -INFINITY, s, v;
    for (int64_t r = 0; r < n_cand; ++r) {
        cand.get(r, &s, &v);
        mx = mx < s ? s : mx;
    }
    float acc = 0.0f;
    if (mx != -INFINITY) {
        float den = 0.0f;
        for (int64_t r = 0; r < n_cand; ++r) {
            cand.get(r, &s, &v);
            den = __fadd_rn(den, d_exp_cr(__fsub_rn(s, mx)));
        }
        for (int64_t r = 0; r < n_cand; ++r) {
            cand.get(r, &s, &v);
            acc = __fadd_rn(acc, __fmul_rn(__fdiv_rn(d_exp_cr(__fsub_rn(s, mx)), den), v));
        }
    }
    pooled[int64_t(blockIdx.x) * a.D + j] = acc;
}

// One block per emission: RMSNorm·norm, RoPE at w·ratio, row_sim, F16 round, store row w.
__global__ void finish_kernel(PoolArgs a, const float* pooled, RopeFreqs freq) {
    if (d_failed(a.err)) return;
    __shared__ float c[kCompMaxHeadDim];
    __shared__ float rscale;
    const int64_t p0 = d_i32(a.pos, 0), pe = emission_end(a, p0, blockIdx.x);
    if (pe < 0) return;
    const int64_t w = pe / a.ratio;
    for (int64_t j = threadIdx.x; j < a.D; j += blockDim.x) c[j] = pooled[int64_t(blockIdx.x) * a.D + j];
    __syncthreads();
    if (threadIdx.x < 32) {  // Σx² in double, cpu-ref's 32-lane order (MODEL.md §0)
        const double ss = d_sum_squares_lanes32([&](int64_t j) { return double(c[j]); }, a.D, threadIdx.x);
        const float mean = static_cast<float>(ss / static_cast<double>(a.D));
        if (threadIdx.x == 0) rscale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, a.eps)));
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < a.D; j += blockDim.x) c[j] = __fmul_rn(__fmul_rn(c[j], rscale), d_f32(a.norm, j));
    __syncthreads();
    for (int k = threadIdx.x; k < a.n_rot / 2; k += blockDim.x) d_rope_pair(&c[a.D - a.n_rot + 2 * k], w * a.ratio, freq.f[k]);
    __syncthreads();
    if (a.row_sim == DS4_SIM_FP8_KV) {
        for (int64_t b = threadIdx.x; b * 64 < int64_t(a.n_nope); b += blockDim.x) {
            const int64_t len = int64_t(a.n_nope) - b * 64 < 64 ? int64_t(a.n_nope) - b * 64 : 64;
            d_fp8_kv_block(&c[b * 64], len);
        }
    } else if (a.row_sim == DS4_SIM_INDEXER_QAT) {
        if (threadIdx.x == 0) d_indexer_qat_row(c);
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < a.D; j += blockDim.x) {
        const float v = a.round_f16 ? d_f16_to_f32(d_f32_to_f16(c[j])) : c[j];
        *d_f32_ptr(a.rows, j, w) = v;
    }
}

// The state after the chunk, one thread per (current-window row r, column j) owning both the
// current row and (ratio 4) the previous-window row r: read both, then write both.
__global__ void state_kernel(PoolArgs a) {
    if (d_failed(a.err)) return;
    const int64_t p0 = d_i32(a.pos, 0), p_last = p0 + a.n - 1, ratio = a.ratio, W = a.W;
    const int64_t w_last = p_last / ratio, cur = a.coff == 2 ? ratio : 0;
    const bool last_completes = (p_last + 1) % ratio == 0;
    const bool emitted_any = (p0 / ratio) * ratio + ratio - 1 <= p_last;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < ratio * W; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / W, j = e % W;
        for (int which = 0; which < 2; ++which) {
            const DTensor& S = which == 0 ? a.skv : a.ssc;
            const float* chunk = which == 0 ? a.u : a.g;
            const float reset = which == 0 ? 0.0f : -INFINITY;
            const float s_cur = d_f32(S, j, cur + r);
            const float s_prev = a.coff == 2 ? d_f32(S, j, r) : 0.0f;
            auto window_value = [&](int64_t q) { return q >= p0 ? chunk[(q - p0) * W + j] : s_cur; };
            float new_cur, new_prev = s_prev;
            if (last_completes) {
                new_cur = reset;
                if (a.coff == 2) new_prev = window_value(w_last * ratio + r);
            } else {
                const int64_t q = w_last * ratio + r;
                if (q >= p0 && q <= p_last) new_cur = chunk[(q - p0) * W + j];
                else if (q < p0) new_cur = s_cur;
                else new_cur = emitted_any ? reset : s_cur;
                if (a.coff == 2 && emitted_any) new_prev = window_value((w_last - 1) * ratio + r);
            }
            *d_f32_ptr(S, j, cur + r) = new_cur;
            if (a.coff == 2) *d_f32_ptr(S, j, r) = new_prev;
        }
    }
}

}  // namespace

uint64_t compressor_scratch_bytes(const ds4_node& node) {
    ds4_params_compressor p;
    read_params(node, &p);
    return layout_of(node, p).total;
}

KernelStatus run_compressor(const ds4_node& node, KernelContext& ctx) {
    ds4_params_compressor p;
    read_params(node, &p);
    const Shape s = shape_of(node, p);
    const Layout l = layout_of(node, p);
    if (l.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "compressor scratch too small"};
    uint8_t* base = reinterpret_cast<uint8_t*>(ctx.scratch);
    float* u = reinterpret_cast<float*>(base + l.u);
    float* g = reinterpret_cast<float*>(base + l.g);
    const DTensor a = dtensor(node.src[0]), pos = dtensor(node.src[5]);

    RankSlot* rank = reinterpret_cast<RankSlot*>(base + l.rank);
    if (auto st = reset_rank(rank, ctx); !st.ok()) return st;
    validate_kernel<<<blocks_for(s.n), kThreads, 0, ctx.stream>>>(pos, s.n, s.ratio, s.cap, rank, ctx.err);
    report_kernel<<<1, 1, 0, ctx.stream>>>(pos, s.ratio, rank, ctx.err, ctx.node);
    if (auto st = launch_status("compressor validation"); !st.ok()) return st;
    if (auto st = rowdot_prepare(a, s.n, node.src[1]->type, p.act_quant, base + l.act_kv, ctx); !st.ok()) return st;
    if (auto st = rowdot_prepare(a, s.n, node.src[2]->type, p.act_quant, base + l.act_g, ctx); !st.ok()) return st;
    if (auto st = rowdot_run(dtensor(node.src[1]), p.act_quant, base + l.act_kv, s.n, s.W, u, s.W, false, 1.0f, ctx); !st.ok())
        return st;
    if (auto st = rowdot_run(dtensor(node.src[2]), p.act_quant, base + l.act_g, s.n, s.W, g, s.W, false, 1.0f, ctx); !st.ok())
        return st;
    add_ape_kernel<<<blocks_for(s.n * s.W), kThreads, 0, ctx.stream>>>(g, dtensor(node.src[3]), pos, s.n, s.W, s.ratio, ctx.err);
    if (auto st = launch_status("compressor ape"); !st.ok()) return st;

    PoolArgs pa;
    pa.pos = pos;
    pa.skv = dtensor(node.dst[0]);
    pa.ssc = dtensor(node.dst[1]);
    pa.rows = dtensor(node.dst[2]);
    pa.norm = dtensor(node.src[4]);
    pa.u = u;
    pa.g = g;
    pa.n = s.n;
    pa.D = s.D;
    pa.W = s.W;
    pa.ratio = s.ratio;
    pa.coff = s.coff;
    pa.eps = p.norm_eps;
    pa.n_rot = static_cast<int>(p.rope.n_rot);
    pa.row_sim = p.row_sim;
    pa.n_nope = p.n_nope;
    pa.round_f16 = p.round_f16 != 0;
    pa.err = ctx.err;
    RopeFreqs freq{};
    rope_frequencies(p.rope, &freq);
    float* pooled = reinterpret_cast<float*>(base + l.pooled);
    const unsigned emissions = static_cast<unsigned>(max_emissions(s));
    constexpr int kPoolThreads = 32;  // channels per block: a decode emission still spreads over D/32 blocks
    pool_kernel<<<dim3(emissions, static_cast<unsigned>((s.D + kPoolThreads - 1) / kPoolThreads)), kPoolThreads, 0, ctx.stream>>>(pa, pooled);
    if (auto st = launch_status("compressor pooling"); !st.ok()) return st;
    finish_kernel<<<emissions, kThreads, 0, ctx.stream>>>(pa, pooled, freq);
    if (auto st = launch_status("compressor rows"); !st.ok()) return st;
    state_kernel<<<blocks_for(s.ratio * s.W), kThreads, 0, ctx.stream>>>(pa);
    return launch_status("compressor state");
}

}  // namespace ds4::gpu
