// ATTENTION (MODEL.md §C.3.7, backend.h ds4_params_attention) on the device: one shared K=V
// row set per token, H query heads, a sink logit per head.
//
// Split-KV ("flash decoding") with a fixed, data-independent combine order:
//   1. validate positions / capacities / `selected` entries, reporting the error cpu-ref
//      reports first (tier1_common.cuh, ranks);
//   2. with `selected`: per token, sort the listed rows, drop duplicates and rows >= n_c (mask
//      semantics) → the visible compressed rows in ascending order;
//   3. block = (token, group of up to 16 heads, split s of the token's row list: raw rows oldest
//      first, then visible compressed rows ascending). Tiles of 32 rows: scores q·k (one
//      accumulator in dimension order, as cpu-ref, then ·scale), running max per head, weights
//      e^{s−m}, running denominator and Σ e·v (rows ascending). The split boundaries depend on
//      shapes only, so every run sums in the same order;
//   4. one split: the block applies the sink and writes o; several: the partial (m, l, Σe·v)
//      go to scratch and a combine kernel merges them in split order with the sink.
// Launch dimensions come from shapes (window, k or cap); blocks past a token's actual row
// count (read from device positions) exit at once, so a captured plan replays correctly.
#include <algorithm>

#include "common.cuh"
#include "ops.h"
#include "tier1_attention.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

constexpr int kAttnThreads = 256;
constexpr int kTile = 32;        // rows per tile
constexpr int kMaxHG = 16;       // heads per block
constexpr int kKChunk = 64;      // dimensions of K staged at a time
constexpr int kQFloats = 8192;   // q of the block's heads in shared memory
constexpr int kTargetBlocks = 256;
constexpr int kMinSplitRows = 64;
constexpr int kMaxSplits = 256;

struct Geometry {
    int64_t n, H, hd, HG, HGc, S, R, k, kpad;
    bool use_comp, has_sel;
};

int64_t next_pow2(int64_t v) {
    int64_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

Geometry geometry_of(const ds4_node& node, const ds4_params_attention& p) {
    Geometry g;
    const ds4_tensor* q = node.src[0];
    g.hd = q->ne[0];
    g.H = q->ne[1];
    g.n = q->ne[2];
    g.HG = std::min<int64_t>({g.H, kMaxHG, kQFloats / g.hd});
    g.HGc = (g.H + g.HG - 1) / g.HG;
    const ds4_tensor* comp = node.n_src > 2 ? node.src[2] : nullptr;
    const ds4_tensor* sel = node.n_src > 3 ? node.src[3] : nullptr;
    g.use_comp = comp && p.ratio > 0;
    g.has_sel = g.use_comp && sel;
    g.k = sel ? sel->ne[0] : 0;
    g.kpad = next_pow2(std::max<int64_t>(g.k, 1));
    const int64_t cap = comp ? comp->ne[1] : 0;
    const int64_t lmax = int64_t(p.window) + (g.use_comp ? (g.has_sel ? std::min(g.k, cap) : cap) : 0);
    const int64_t want = std::max<int64_t>(1, (kTargetBlocks + g.n * g.HGc - 1) / (g.n * g.HGc));
    int64_t r = (lmax + want - 1) / want;
    r = std::max<int64_t>(kMinSplitRows, (r + kTile - 1) / kTile * kTile);
    g.S = std::min<int64_t>(kMaxSplits, (lmax + r - 1) / r);
    g.R = (lmax + g.S - 1) / g.S;
    g.R = (g.R + kTile - 1) / kTile * kTile;
    return g;
}

struct Layout {
    uint64_t list, count, part_acc, part_ml, rank, total;
};

Layout layout_of(const Geometry& g) {
    Layout l;
    l.list = 0;
    l.count = align_up(g.has_sel ? uint64_t(g.n * g.k) * 4 : 0);
    l.part_acc = l.count + align_up(g.has_sel ? uint64_t(g.n) * 4 : 0);
    const uint64_t parts = g.S > 1 ? uint64_t(g.n * g.S * g.H) : 0;
    l.part_ml = l.part_acc + align_up(parts * g.hd * 4);
    l.rank = l.part_ml + align_up(parts * 2 * 4);
    l.total = l.rank + align_up(sizeof(RankSlot));
    return l;
}

struct Args {
    DTensor q, raw, comp, sel, sinks, pos, out;
    int64_t window, raw_cap, ratio, cap;
    float scale;
    bool use_comp, has_sel;
    int64_t n, H, hd, HG, HGc, S, R, k, kpad;
    int32_t* list;
    int32_t* count;
    float* part_acc;
    float* part_ml;
    RankSlot* rank;
    DeviceError* err;
    int32_t node;
};

// cpu-ref's check order per token t: rank t·(k+2) the position, +1 the capacity, +2+j the
// `selected` entry j.
__global__ void validate_kernel(Args a) {
    if (d_failed(a.err)) return;
    const int64_t slots = a.has_sel ? a.k + 2 : 2;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < a.n * slots; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t t = e / slots, s = e % slots, p = d_i32(a.pos, t), rank = t * (a.k + 2) + s;
        if (s == 0) {
            if (p < 0) d_note_rank(a.rank, rank);
        } else if (s == 1) {
            if (a.use_comp && (p + 1) / a.ratio > a.cap) d_note_rank(a.rank, rank);
        } else {
            const int32_t c = d_i32(a.sel, s - 2, t);
            if (c < -1 || c >= a.cap) d_note_rank(a.rank, rank);
        }
    }
}

__global__ void report_kernel(Args a) {
    if (*a.rank == kNoRank) return;
    const int64_t t = static_cast<int64_t>(*a.rank) / (a.k + 2), s = static_cast<int64_t>(*a.rank) % (a.k + 2);
    const int64_t p = d_i32(a.pos, t);
    if (s == 0) d_report(a.err, kErrRowIndex, a.node, static_cast<int32_t>(p), t);
    else if (s == 1) d_report(a.err, kErrRowIndex, a.node, static_cast<int32_t>((p + 1) / a.ratio), t);
    else d_report(a.err, kErrRowIndex, a.node, d_i32(a.sel, s - 2, t), t * a.k + s - 2);
}

// Per token: the visible selected rows, ascending and distinct (bitonic sort in shared memory).
__global__ void selection_kernel(Args a) {
    if (d_failed(a.err)) return;
    __shared__ int32_t keys[kAttnMaxSelected];
    __shared__ int counts[kAttnThreads];
    __shared__ int s_total;
    const int64_t t = blockIdx.x;
    const int64_t n_c = (int64_t(d_i32(a.pos, t)) + 1) / a.ratio;
    const int tid = threadIdx.x, nt = blockDim.x;
    const int kp = static_cast<int>(a.kpad);
    for (int i = tid; i < kp; i += nt) {
        const int32_t c = i < a.k ? d_i32(a.sel, i, t) : -1;
        keys[i] = c >= 0 && c < n_c ? c : INT32_MAX;
    }
    __syncthreads();
    for (int size = 2; size <= kp; size <<= 1)
        for (int stride = size / 2; stride > 0; stride >>= 1) {
            for (int i = tid; i < kp / 2; i += nt) {
                const int lo = 2 * stride * (i / stride) + i % stride, hi = lo + stride;
                const bool asc = (lo & size) == 0;
                const int32_t x = keys[lo], y = keys[hi];
                if ((x > y) == asc) {
                    keys[lo] = y;
                    keys[hi] = x;
                }
            }
            __syncthreads();
        }
    const int seg = (kp + nt - 1) / nt, lo = d_min(tid * seg, kp), hi = d_min(lo + seg, kp);
    auto keep = [&](int i) { return keys[i] != INT32_MAX && (i == 0 || keys[i] != keys[i - 1]); };
    int cnt = 0;
    for (int i = lo; i < hi; ++i) cnt += keep(i);
    counts[tid] = cnt;
    __syncthreads();
    if (tid == 0) {
        int run = 0;
        for (int i = 0; i < nt; ++i) {
            const int x = counts[i];
            counts[i] = run;
            run += x;
        }
        s_total = run;
    }
    __syncthreads();
    int off = counts[tid];
    for (int i = lo; i < hi; ++i)
        if (keep(i)) a.list[t * a.k + off++] = keys[i];
    if (tid == 0) a.count[t] = s_total;
}

template <int MD>
__global__ void attention_kernel(Args a) {
    if (d_failed(a.err)) return;
    __shared__ __align__(16) float qs[kQFloats];
    __shared__ __align__(16) float ks[kTile][kKChunk + 4];  // rows 16-byte aligned, float4 reads conflict-free
    __shared__ float sS[kMaxHG][kTile];
    __shared__ const float* rowp[kTile];
    __shared__ float s_m[kMaxHG], s_l[kMaxHG], s_alpha[kMaxHG];

    const int tid = threadIdx.x;
    const int64_t t = blockIdx.x / a.HGc, h0 = (blockIdx.x % a.HGc) * a.HG, split = blockIdx.y;
    const int nh = static_cast<int>(d_min<int64_t>(a.HG, a.H - h0));
    const int hd = static_cast<int>(a.hd);
    const int64_t p = d_i32(a.pos, t);
    const int64_t n_raw = d_min<int64_t>(a.window, p + 1), raw_start = p - n_raw + 1;
    const int64_t n_c = a.use_comp ? (p + 1) / a.ratio : 0;
    const int64_t n_comp = a.use_comp ? (a.has_sel ? a.count[t] : n_c) : 0;
    const int64_t L = n_raw + n_comp;
    const int64_t j_begin = split * a.R, j_end = d_min(L, j_begin + a.R);

    for (int e = tid; e < nh * hd; e += blockDim.x) qs[e] = d_f32(a.q, e % hd, h0 + e / hd, t);
    if (tid < kMaxHG) {
        s_m[tid] = -INFINITY;
        s_l[tid] = 0.0f;
    }
    float acc[kMaxHG][MD];
#pragma unroll
    for (int h = 0; h < kMaxHG; ++h)
#pragma unroll
        for (int m = 0; m < MD; ++m) acc[h][m] = 0.0f;
    const int jj = tid % kTile, ha = tid / kTile, hb = ha + kAttnThreads / kTile;  // score pairs (ha, jj), (hb, jj)
    const bool vec4 = hd % 4 == 0;
    __syncthreads();

    for (int64_t j0 = j_begin; j0 < j_end; j0 += kTile) {
        const int tl = static_cast<int>(d_min<int64_t>(kTile, j_end - j0));
        if (tid < kTile) {
            const float* rp = nullptr;
            if (tid < tl) {
                const int64_t j = j0 + tid;
                if (j < n_raw) {
                    rp = reinterpret_cast<const float*>(a.raw.data + ((raw_start + j) % a.raw_cap) * a.raw.nb[1]);
                } else {
                    const int64_t c = a.has_sel ? a.list[t * a.k + (j - n_raw)] : j - n_raw;
                    rp = reinterpret_cast<const float*>(a.comp.data + c * a.comp.nb[1]);
                }
            }
            rowp[tid] = rp;
        }
        __syncthreads();
        // Scores: thread (ha, jj) and (hb, jj), dimensions ascending in one accumulator each.
        float da = 0.0f, db = 0.0f;
        for (int c0 = 0; c0 < hd; c0 += kKChunk) {
            const int clen = d_min(kKChunk, hd - c0);
            for (int e = tid; e < kTile * kKChunk; e += blockDim.x) {
                const int r = e / kKChunk, i = e % kKChunk;
                ks[r][i] = r < tl && i < clen ? rowp[r][c0 + i] : 0.0f;
            }
            __syncthreads();
            if (vec4) {  // same order, 4 dimensions per shared-memory read
                const float* qa = &qs[(ha < nh ? ha : 0) * hd + c0];
                const float* qb = &qs[(hb < nh ? hb : 0) * hd + c0];
                for (int i = 0; i < clen; i += 4) {
                    const float4 k4 = *reinterpret_cast<const float4*>(&ks[jj][i]);
                    const float4 a4 = *reinterpret_cast<const float4*>(qa + i);
                    const float4 b4 = *reinterpret_cast<const float4*>(qb + i);
                    da = __fadd_rn(__fadd_rn(__fadd_rn(__fadd_rn(da, __fmul_rn(a4.x, k4.x)), __fmul_rn(a4.y, k4.y)),
                                             __fmul_rn(a4.z, k4.z)),
                                   __fmul_rn(a4.w, k4.w));
                    db = __fadd_rn(__fadd_rn(__fadd_rn(__fadd_rn(db, __fmul_rn(b4.x, k4.x)), __fmul_rn(b4.y, k4.y)),
                                             __fmul_rn(b4.z, k4.z)),
                                   __fmul_rn(b4.w, k4.w));
                }
            } else {
                if (ha < nh)
                    for (int i = 0; i < clen; ++i) da = __fadd_rn(da, __fmul_rn(qs[ha * hd + c0 + i], ks[jj][i]));
                if (hb < nh)
                    for (int i = 0; i < clen; ++i) db = __fadd_rn(db, __fmul_rn(qs[hb * hd + c0 + i], ks[jj][i]));
            }
            __syncthreads();
        }
        sS[ha][jj] = ha < nh && jj < tl ? __fmul_rn(da, a.scale) : -INFINITY;
        sS[hb][jj] = hb < nh && jj < tl ? __fmul_rn(db, a.scale) : -INFINITY;
        __syncthreads();
        if (tid < nh) {
            float mt = -INFINITY;
            for (int j = 0; j < tl; ++j) mt = mt < sS[tid][j] ? sS[tid][j] : mt;
            const float m_old = s_m[tid], m_new = m_old < mt ? mt : m_old;
            s_alpha[tid] = m_new == -INFINITY ? 1.0f : d_exp_cr(__fsub_rn(m_old, m_new));
            s_m[tid] = m_new;
        }
        __syncthreads();
        for (int pass = 0; pass < 2; ++pass) {
            const int hh = pass == 0 ? ha : hb;
            const float v = sS[hh][jj];
            sS[hh][jj] = hh < nh && jj < tl && v != -INFINITY ? d_exp_cr(__fsub_rn(v, s_m[hh])) : 0.0f;
        }
        __syncthreads();
        if (tid < nh) {
            float l = __fmul_rn(s_l[tid], s_alpha[tid]);
            for (int j = 0; j < tl; ++j) l = __fadd_rn(l, sS[tid][j]);
            s_l[tid] = l;
        }
        // Σ e·v, rows ascending; each weight read once for all of the thread's columns.
#pragma unroll
        for (int h = 0; h < kMaxHG; ++h)
            if (h < nh) {
                const float al = s_alpha[h];
#pragma unroll
                for (int m = 0; m < MD; ++m) acc[h][m] = __fmul_rn(acc[h][m], al);
            }
        for (int j = 0; j < tl; ++j) {
            float v[MD];
#pragma unroll
            for (int m = 0; m < MD; ++m) {
                const int d = tid + m * kAttnThreads;
                v[m] = d < hd ? rowp[j][d] : 0.0f;
            }
#pragma unroll
            for (int h = 0; h < kMaxHG; ++h)
                if (h < nh) {
                    const float e = sS[h][j];
#pragma unroll
                    for (int m = 0; m < MD; ++m) acc[h][m] = __fadd_rn(acc[h][m], __fmul_rn(e, v[m]));
                }
        }
        __syncthreads();
    }

    if (a.S == 1) {
        // cpu-ref: M = max(sink, scores), den = e^{sink−M} + Σe, o = (Σ e·v)·(1/den).
        if (tid < nh) {
            const float sink = d_f32(a.sinks, h0 + tid), m = s_m[tid];
            const float M = sink < m ? m : sink;
            const float f = d_exp_cr(__fsub_rn(m, M));
            const float den = __fadd_rn(d_exp_cr(__fsub_rn(sink, M)), __fmul_rn(s_l[tid], f));
            s_alpha[tid] = f;
            s_l[tid] = __fdiv_rn(1.0f, den);
        }
        __syncthreads();
#pragma unroll
        for (int m = 0; m < MD; ++m) {
            const int d = tid + m * kAttnThreads;
            if (d >= hd) continue;
#pragma unroll
            for (int h = 0; h < kMaxHG; ++h)
                if (h < nh) *d_f32_ptr(a.out, d, h0 + h, t) = __fmul_rn(__fmul_rn(acc[h][m], s_alpha[h]), s_l[h]);
        }
        return;
    }
    const int64_t slot = (t * a.S + split) * a.H + h0;
    if (tid < nh) {
        a.part_ml[(slot + tid) * 2] = s_m[tid];
        a.part_ml[(slot + tid) * 2 + 1] = s_l[tid];
    }
#pragma unroll
    for (int m = 0; m < MD; ++m) {
        const int d = tid + m * kAttnThreads;
        if (d >= hd) continue;
#pragma unroll
        for (int h = 0; h < kMaxHG; ++h)
            if (h < nh) a.part_acc[(slot + h) * a.hd + d] = acc[h][m];
    }
}

// Merges the splits of one (token, head) in split order, with the sink.
__global__ void combine_kernel(Args a) {
    if (d_failed(a.err)) return;
    __shared__ float f[kMaxSplits];
    __shared__ float s_inv;
    const int64_t t = blockIdx.x / a.H, h = blockIdx.x % a.H;
    if (threadIdx.x == 0) {
        const float sink = d_f32(a.sinks, h);
        float M = sink;
        for (int64_t s = 0; s < a.S; ++s) {
            const float m = a.part_ml[((t * a.S + s) * a.H + h) * 2];
            M = M < m ? m : M;
        }
        float den = d_exp_cr(__fsub_rn(sink, M));
        for (int64_t s = 0; s < a.S; ++s) {
            const float m = a.part_ml[((t * a.S + s) * a.H + h) * 2];
            const float l = a.part_ml[((t * a.S + s) * a.H + h) * 2 + 1];
            f[s] = m == -INFINITY ? 0.0f : d_exp_cr(__fsub_rn(m, M));
            den = __fadd_rn(den, __fmul_rn(l, f[s]));
        }
        s_inv = __fdiv_rn(1.0f, den);
    }
    __syncthreads();
    for (int64_t d = threadIdx.x; d < a.hd; d += blockDim.x) {
        float o = 0.0f;
        for (int64_t s = 0; s < a.S; ++s)
            if (f[s] != 0.0f) o = __fadd_rn(o, __fmul_rn(a.part_acc[((t * a.S + s) * a.H + h) * a.hd + d], f[s]));
        *d_f32_ptr(a.out, d, h, t) = __fmul_rn(o, s_inv);
    }
}

}  // namespace

uint64_t attention_scratch_bytes(const ds4_node& node) {
    ds4_params_attention p;
    read_params(node, &p);
    return layout_of(geometry_of(node, p)).total;
}

KernelStatus run_attention(const ds4_node& node, KernelContext& ctx) {
    ds4_params_attention p;
    read_params(node, &p);
    const Geometry g = geometry_of(node, p);
    const Layout l = layout_of(g);
    if (l.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "attention scratch too small"};
    uint8_t* base = reinterpret_cast<uint8_t*>(ctx.scratch);
    Args a{};
    a.q = dtensor(node.src[0]);
    a.raw = dtensor(node.src[1]);
    if (node.src[2]) a.comp = dtensor(node.src[2]);
    if (node.src[3]) a.sel = dtensor(node.src[3]);
    a.sinks = dtensor(node.src[4]);
    a.pos = dtensor(node.src[5]);
    a.out = dtensor(node.dst[0]);
    a.window = p.window;
    a.raw_cap = p.raw_cap;
    a.ratio = p.ratio;
    a.cap = node.src[2] ? node.src[2]->ne[1] : 0;
    a.scale = p.scale;
    a.use_comp = g.use_comp;
    a.has_sel = g.has_sel;
    a.n = g.n;
    a.H = g.H;
    a.hd = g.hd;
    a.HG = g.HG;
    a.HGc = g.HGc;
    a.S = g.S;
    a.R = g.R;
    a.k = g.k;
    a.kpad = g.kpad;
    a.list = reinterpret_cast<int32_t*>(base + l.list);
    a.count = reinterpret_cast<int32_t*>(base + l.count);
    a.part_acc = reinterpret_cast<float*>(base + l.part_acc);
    a.part_ml = reinterpret_cast<float*>(base + l.part_ml);
    a.rank = reinterpret_cast<RankSlot*>(base + l.rank);
    a.err = ctx.err;
    a.node = ctx.node;

    if (auto st = reset_rank(a.rank, ctx); !st.ok()) return st;
    validate_kernel<<<blocks_for(g.n * (g.has_sel ? g.k + 2 : 2)), kThreads, 0, ctx.stream>>>(a);
    report_kernel<<<1, 1, 0, ctx.stream>>>(a);
    if (auto st = launch_status("attention validation"); !st.ok()) return st;
    if (g.has_sel) {
        selection_kernel<<<static_cast<unsigned>(g.n), kAttnThreads, 0, ctx.stream>>>(a);
        if (auto st = launch_status("attention selection"); !st.ok()) return st;
    }
    const dim3 grid(static_cast<unsigned>(g.n * g.HGc), static_cast<unsigned>(g.S));
    if (g.hd <= 256) attention_kernel<1><<<grid, kAttnThreads, 0, ctx.stream>>>(a);
    else if (g.hd <= 512) attention_kernel<2><<<grid, kAttnThreads, 0, ctx.stream>>>(a);
    else attention_kernel<4><<<grid, kAttnThreads, 0, ctx.stream>>>(a);
    if (auto st = launch_status("attention"); !st.ok()) return st;
    if (g.S > 1) {
        combine_kernel<<<static_cast<unsigned>(g.n * g.H), kAttnThreads, 0, ctx.stream>>>(a);
        if (auto st = launch_status("attention combine"); !st.ok()) return st;
    }
    return {};
}

}  // namespace ds4::gpu
