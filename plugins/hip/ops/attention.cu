// ATTENTION (MODEL.md §C.3.7, backend.h ds4_params_attention) on the device: one shared K=V
// row set per token, H query heads, a sink logit per head.
//
// cpu-ref's two-pass softmax, step for step (bit-identical):
//   1. validate positions / capacities / `selected` entries, reporting the error cpu-ref
//      reports first (tier1_common.cuh, ranks);
//   2. with `selected`: per token, sort the listed rows, drop duplicates and rows >= n_c (mask
//      semantics) → the visible compressed rows in ascending order;
//   3. scores: block = (token, group of up to 16 heads, split s of the token's row list: raw
//      rows oldest first, then visible compressed rows ascending), tiles of 32 rows staged in
//      shared memory; s_j = (q·k_j, one accumulator in dimension order)·scale into scratch;
//   4. per (token, head): m = max(sink, s_j) (a max is exact in any order), e_j = e^{s_j−m},
//      Σ e_j rows ascending by one thread, den = e^{sink−m} + Σ; then one thread per output
//      dimension accumulates e_j·v_j over the rows in ascending order (no splits: the order of
//      the sum is cpu-ref's), o = acc·(1/den).
// Tokens are processed in batches so the score scratch stays bounded at long contexts. Launch
// dimensions come from shapes (window, k or cap); work past a token's actual row count (read
// from device positions) is skipped, so a captured plan replays correctly.
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
    int64_t lmax, B;  // rows of the longest token, tokens per batch
    bool use_comp, has_sel;
};

constexpr uint64_t kScoreScratchBytes = uint64_t(256) << 20;  // bound of one batch's scores

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
    g.lmax = lmax;
    g.B = std::max<int64_t>(1, std::min<int64_t>(g.n, int64_t(kScoreScratchBytes / 4) / std::max<int64_t>(1, g.H * lmax)));
    const int64_t want = std::max<int64_t>(1, (kTargetBlocks + g.B * g.HGc - 1) / (g.B * g.HGc));
    int64_t r = (lmax + want - 1) / want;
    r = std::max<int64_t>(kMinSplitRows, (r + kTile - 1) / kTile * kTile);
    g.S = std::min<int64_t>(kMaxSplits, (lmax + r - 1) / r);
    g.R = (lmax + g.S - 1) / g.S;
    g.R = (g.R + kTile - 1) / kTile * kTile;
    return g;
}

struct Layout {
    uint64_t list, count, scores, rank, total;
};

Layout layout_of(const Geometry& g) {
    Layout l;
    l.list = 0;
    l.count = align_up(g.has_sel ? uint64_t(g.n * g.k) * 4 : 0);
    l.scores = l.count + align_up(g.has_sel ? uint64_t(g.n) * 4 : 0);
    l.rank = l.scores + align_up(uint64_t(g.B * g.H * g.lmax) * 4);
    l.total = l.rank + align_up(sizeof(RankSlot));
    return l;
}

struct Args {
    DTensor q, raw, comp, sel, sinks, pos, out;
    int64_t window, raw_cap, ratio, cap;
    float scale;
    bool use_comp, has_sel;
    int64_t n, H, hd, HG, HGc, S, R, k, kpad, lmax;
    int32_t* list;
    int32_t* count;
    float* scores;  // [B][H][lmax] of the current token batch
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

// Row j of token t's list: raw rows oldest first, then the visible compressed rows ascending.
__device__ inline const float* row_ptr(const Args& a, int64_t t, int64_t j, int64_t n_raw, int64_t raw_start) {
    if (j < n_raw) return reinterpret_cast<const float*>(a.raw.data + ((raw_start + j) % a.raw_cap) * a.raw.nb[1]);
    const int64_t c = a.has_sel ? a.list[t * a.k + (j - n_raw)] : j - n_raw;
    return reinterpret_cast<const float*>(a.comp.data + c * a.comp.nb[1]);
}

struct TokenRows {
    int64_t n_raw, raw_start, L;
};
__device__ inline TokenRows token_rows(const Args& a, int64_t t) {
    const int64_t p = d_i32(a.pos, t);
    TokenRows r;
    r.n_raw = d_min<int64_t>(a.window, p + 1);
    r.raw_start = p - r.n_raw + 1;
    const int64_t n_c = a.use_comp ? (p + 1) / a.ratio : 0;
    r.L = r.n_raw + (a.use_comp ? (a.has_sel ? a.count[t] : n_c) : 0);
    return r;
}

// Scores of tokens t0 .. t0+B-1: grid (B·HGc, S).
__global__ void __launch_bounds__(kAttnThreads) attention_scores_kernel(Args a, int64_t t0) {
    if (d_failed(a.err)) return;
    __shared__ __align__(16) float qs[kQFloats];
    __shared__ __align__(16) float ks[kTile][kKChunk + 4];  // rows 16-byte aligned, float4 reads conflict-free
    __shared__ const float* rowp[kTile];

    const int tid = threadIdx.x;
    const int64_t t = t0 + blockIdx.x / a.HGc, h0 = (blockIdx.x % a.HGc) * a.HG, split = blockIdx.y;
    if (t >= a.n) return;
    const int nh = static_cast<int>(d_min<int64_t>(a.HG, a.H - h0));
    const int hd = static_cast<int>(a.hd);
    const TokenRows tr = token_rows(a, t);
    const int64_t j_begin = split * a.R, j_end = d_min(tr.L, j_begin + a.R);
    if (j_begin >= j_end) return;  // uniform over the block

    for (int e = tid; e < nh * hd; e += blockDim.x) qs[e] = d_f32(a.q, e % hd, h0 + e / hd, t);
    const int jj = tid % kTile, ha = tid / kTile, hb = ha + kAttnThreads / kTile;  // score pairs (ha, jj), (hb, jj)
    const bool vec4 = hd % 4 == 0;
    float* S = a.scores + ((t - t0) * a.H + h0) * a.lmax;
    __syncthreads();

    for (int64_t j0 = j_begin; j0 < j_end; j0 += kTile) {
        const int tl = static_cast<int>(d_min<int64_t>(kTile, j_end - j0));
        if (tid < kTile) rowp[tid] = tid < tl ? row_ptr(a, t, j0 + tid, tr.n_raw, tr.raw_start) : nullptr;
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
        if (jj < tl) {
            if (ha < nh) S[ha * a.lmax + j0 + jj] = __fmul_rn(da, a.scale);
            if (hb < nh) S[hb * a.lmax + j0 + jj] = __fmul_rn(db, a.scale);
        }
        __syncthreads();  // rowp is rewritten by the next tile
    }
}

// Softmax with the sink and Σ e·v for tokens t0 .. t0+B-1: grid (B·ceil(H/kOutHeads)), one
// block per (token, group of kOutHeads heads), so every row element loaded serves all of them.
constexpr int kOutHeads = 4;
constexpr int kOutRows = 256;  // rows whose weights and addresses are staged at a time
constexpr int kOutDims = 4;    // output dimensions per thread: hd ≤ kOutDims·kAttnThreads

__global__ void __launch_bounds__(kAttnThreads) attention_output_kernel(Args a, int64_t t0) {
    if (d_failed(a.err)) return;
    __shared__ float red[kAttnThreads];
    __shared__ float s_m[kOutHeads], s_inv[kOutHeads];
    __shared__ float se[kOutHeads][kOutRows];
    __shared__ const float* sp[kOutRows];
    const int tid = threadIdx.x;
    const int64_t HGo = (a.H + kOutHeads - 1) / kOutHeads;
    const int64_t t = t0 + blockIdx.x / HGo, h0 = (blockIdx.x % HGo) * kOutHeads;
    if (t >= a.n) return;
    const int nh = static_cast<int>(d_min<int64_t>(kOutHeads, a.H - h0));
    const TokenRows tr = token_rows(a, t);
    // Per head: m = max(sink, s_j) with std::max's NaN rule (a NaN score never wins), then
    // e_j = e^{s_j − m} in place and den = e^{sink − m} + Σ e_j (rows ascending, one thread).
    for (int hh = 0; hh < nh; ++hh) {
        const float* e = a.scores + ((t - t0) * a.H + h0 + hh) * a.lmax;
        float mx = -INFINITY;
        for (int64_t j = tid; j < tr.L; j += blockDim.x) mx = mx < e[j] ? e[j] : mx;
        red[tid] = mx;
        __syncthreads();
        for (int w = kAttnThreads / 2; w > 0; w >>= 1) {
            if (tid < w) red[tid] = red[tid] < red[tid + w] ? red[tid + w] : red[tid];
            __syncthreads();
        }
        if (tid == 0) {
            const float sink = d_f32(a.sinks, h0 + hh);
            s_m[hh] = sink < red[0] ? red[0] : sink;  // a NaN sink stays (std::max(sink, ...))
        }
        __syncthreads();
    }
    for (int hh = 0; hh < nh; ++hh) {
        float* e = a.scores + ((t - t0) * a.H + h0 + hh) * a.lmax;
        const float m = s_m[hh];
        for (int64_t j = tid; j < tr.L; j += blockDim.x) e[j] = d_exp_cr(__fsub_rn(e[j], m));
    }
    __syncthreads();
    if (tid < nh) {
        const float* e = a.scores + ((t - t0) * a.H + h0 + tid) * a.lmax;
        // Rows ascending; 16 loads issued ahead of their adds (the sum itself stays sequential).
        float sum = 0.0f;
        int64_t j = 0;
        for (; j + 16 <= tr.L; j += 16) {
            float v[16];
#pragma unroll
            for (int q = 0; q < 16; ++q) v[q] = e[j + q];
#pragma unroll
            for (int q = 0; q < 16; ++q) sum = __fadd_rn(sum, v[q]);
        }
        for (; j < tr.L; ++j) sum = __fadd_rn(sum, e[j]);
        s_inv[tid] = __fdiv_rn(1.0f, __fadd_rn(d_exp_cr(__fsub_rn(d_f32(a.sinks, h0 + tid), s_m[tid])), sum));
    }
    // Σ_j e_j·v_j per (head, dimension), rows ascending; row weights and addresses staged per
    // chunk so the loop has only the row-element loads, which are independent of the sums.
    float acc[kOutHeads][kOutDims];
#pragma unroll
    for (int hh = 0; hh < kOutHeads; ++hh)
#pragma unroll
        for (int m = 0; m < kOutDims; ++m) acc[hh][m] = 0.0f;
    for (int64_t j0 = 0; j0 < tr.L; j0 += kOutRows) {
        const int len = static_cast<int>(d_min<int64_t>(kOutRows, tr.L - j0));
        __syncthreads();  // the previous chunk's readers are done
        for (int j = tid; j < len; j += blockDim.x) {
            sp[j] = row_ptr(a, t, j0 + j, tr.n_raw, tr.raw_start);
#pragma unroll
            for (int hh = 0; hh < kOutHeads; ++hh)
                se[hh][j] = hh < nh ? a.scores[((t - t0) * a.H + h0 + hh) * a.lmax + j0 + j] : 0.0f;
        }
        __syncthreads();
#pragma unroll 4
        for (int j = 0; j < len; ++j) {
            const float* row = sp[j];
#pragma unroll
            for (int m = 0; m < kOutDims; ++m) {
                const int64_t i = tid + int64_t(m) * kAttnThreads;
                if (i >= a.hd) break;
                const float v = row[i];
#pragma unroll
                for (int hh = 0; hh < kOutHeads; ++hh) acc[hh][m] = __fadd_rn(acc[hh][m], __fmul_rn(se[hh][j], v));
            }
        }
    }
    __syncthreads();  // s_inv
#pragma unroll
    for (int m = 0; m < kOutDims; ++m) {
        const int64_t i = tid + int64_t(m) * kAttnThreads;
        if (i >= a.hd) break;
#pragma unroll
        for (int hh = 0; hh < kOutHeads; ++hh)
            if (hh < nh) *d_f32_ptr(a.out, i, h0 + hh, t) = __fmul_rn(acc[hh][m], s_inv[hh]);
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
    a.lmax = g.lmax;
    a.list = reinterpret_cast<int32_t*>(base + l.list);
    a.count = reinterpret_cast<int32_t*>(base + l.count);
    a.scores = reinterpret_cast<float*>(base + l.scores);
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
    for (int64_t t0 = 0; t0 < g.n; t0 += g.B) {
        const dim3 grid(static_cast<unsigned>(g.B * g.HGc), static_cast<unsigned>(g.S));
        attention_scores_kernel<<<grid, kAttnThreads, 0, ctx.stream>>>(a, t0);
        if (auto st = launch_status("attention scores"); !st.ok()) return st;
        const int64_t out_blocks = g.B * ((g.H + kOutHeads - 1) / kOutHeads);
        attention_output_kernel<<<static_cast<unsigned>(out_blocks), kAttnThreads, 0, ctx.stream>>>(a, t0);
        if (auto st = launch_status("attention output"); !st.ok()) return st;
    }
    return {};
}

}  // namespace ds4::gpu
