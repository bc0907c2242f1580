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
//   4. softmax, one block per (token, head): m = max(sink, s_j) (a max is exact in any order),
//      e_j = e^{s_j−m} in place, Σ e_j over segments of kAttentionSegmentRows rows (one thread
//      per segment, rows ascending; the segment sums then added in order by one thread, as
//      cpu-ref: plugins/common/sum_orders.h), inv = 1/(e^{sink−m} + Σ);
//   5. weighted sums, one block per (token, 8 heads, 128 output dimensions, row segment): per
//      output element Σ e_j·v_j over the segment's rows ascending, into scratch;
//   6. combine: o = (Σ over segments in order)·inv.
// Tokens are processed in batches so the score scratch stays bounded at long contexts. Launch
// dimensions come from shapes (window, k or cap); work past a token's actual row count (read
// from device positions) is skipped, so a captured plan replays correctly.
#include <algorithm>

#include "../../common/sum_orders.h"
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
constexpr int kStageBatch = 8;   // elements per thread loaded before any is stored
constexpr int kQFloats = 8192;   // q of the block's heads in shared memory
constexpr int kTargetBlocks = 256;
constexpr int kMinSplitRows = 32;
constexpr int kMaxSplits = 256;
constexpr int64_t kSegRows = sum_orders::kAttentionSegmentRows;
constexpr int kOutHeads = 8;   // heads per weighted-sum block: each row element loaded serves all
constexpr int kOutDims = 128;  // output dimensions per weighted-sum block, one per thread
constexpr int kRowBatch = 16;  // row elements loaded ahead of their adds
constexpr int64_t kAllSegmentsBlocks = 2048;  // weighted-sum blocks from which each walks all its segments

struct Geometry {
    int64_t n, H, hd, HG, HGc, S, R, k, kpad;
    int64_t lmax, B;  // rows of the longest token, tokens per batch
    int64_t nseg;     // row segments of the longest token
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
    g.nseg = std::max<int64_t>(1, (lmax + kSegRows - 1) / kSegRows);
    // Per token of a batch: the scores, the per-segment weighted sums and the 1/den.
    const int64_t per_token = g.H * (lmax + g.nseg * g.hd + 1);
    g.B = std::max<int64_t>(1, std::min<int64_t>(g.n, int64_t(kScoreScratchBytes / 4) / std::max<int64_t>(1, per_token)));
    const int64_t want = std::max<int64_t>(1, (kTargetBlocks + g.B * g.HGc - 1) / (g.B * g.HGc));
    int64_t r = (lmax + want - 1) / want;
    r = std::max<int64_t>(kMinSplitRows, (r + kTile - 1) / kTile * kTile);
    g.S = std::min<int64_t>(kMaxSplits, (lmax + r - 1) / r);
    g.R = (lmax + g.S - 1) / g.S;
    g.R = (g.R + kTile - 1) / kTile * kTile;
    return g;
}

struct Layout {
    uint64_t list, count, scores, partial, inv, rank, total;
};

Layout layout_of(const Geometry& g) {
    Layout l;
    l.list = 0;
    l.count = align_up(g.has_sel ? uint64_t(g.n * g.k) * 4 : 0);
    l.scores = l.count + align_up(g.has_sel ? uint64_t(g.n) * 4 : 0);
    l.partial = l.scores + align_up(uint64_t(g.B * g.H * g.lmax) * 4);
    l.inv = l.partial + align_up(uint64_t(g.B * g.H * g.nseg * g.hd) * 4);
    l.rank = l.inv + align_up(uint64_t(g.B * g.H) * 4);
    l.total = l.rank + align_up(sizeof(RankSlot));
    return l;
}

struct Args {
    DTensor q, raw, comp, sel, sinks, pos, out;
    int64_t window, raw_cap, ratio, cap;
    float scale;
    bool use_comp, has_sel;
    int64_t n, H, hd, HG, HGc, S, R, k, kpad, lmax, nseg;
    int32_t* list;
    int32_t* count;
    float* scores;   // [B][H][lmax] of the current token batch
    float* partial;  // [B][H][nseg][hd]: Σ e·v per row segment
    float* inv;      // [B][H]: 1/den
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

    d_batched_copy<kStageBatch>(
        nh * hd, [&](int64_t e) { return d_f32(a.q, e % hd, h0 + e / hd, t); }, [&](int64_t e, float v) { qs[e] = v; });
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
        // Chunk c+1's loads are issued into registers before chunk c is computed, so their
        // latency overlaps the dot products.
        static_assert(kTile * kKChunk == kStageBatch * kAttnThreads, "one staging batch per chunk");
        float v[kStageBatch];
        auto load_chunk = [&](int c0) {
            const int clen = d_min(kKChunk, hd - c0);
#pragma unroll
            for (int k = 0; k < kStageBatch; ++k) {
                const int e = k * kAttnThreads + tid, r = e / kKChunk, i = e % kKChunk;
                v[k] = r < tl && i < clen ? rowp[r][c0 + i] : 0.0f;
            }
        };
        load_chunk(0);
        for (int c0 = 0; c0 < hd; c0 += kKChunk) {
            const int clen = d_min(kKChunk, hd - c0);
#pragma unroll
            for (int k = 0; k < kStageBatch; ++k) {
                const int e = k * kAttnThreads + tid;
                ks[e / kKChunk][e % kKChunk] = v[k];
            }
            __syncthreads();
            if (c0 + kKChunk < hd) load_chunk(c0 + kKChunk);
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

// Softmax of tokens t0 .. t0+B-1: grid B·H, one block of kAttnThreads per (token, head).
__global__ void __launch_bounds__(kAttnThreads) attention_softmax_kernel(Args a, int64_t t0) {
    if (d_failed(a.err)) return;
    __shared__ float red[kAttnThreads];
    __shared__ float s_m;
    const int tid = threadIdx.x;
    const int64_t t = t0 + blockIdx.x / a.H, h = blockIdx.x % a.H;
    if (t >= a.n) return;
    const TokenRows tr = token_rows(a, t);
    float* e = a.scores + ((t - t0) * a.H + h) * a.lmax;
    // m = max(sink, s_j) with std::max's NaN rule (a NaN score never wins; a NaN sink stays).
    float mx = -INFINITY;
    for (int64_t j = tid; j < tr.L; j += kAttnThreads) mx = mx < e[j] ? e[j] : mx;
    red[tid] = mx;
    __syncthreads();
    for (int w = kAttnThreads / 2; w > 0; w >>= 1) {
        if (tid < w) red[tid] = red[tid] < red[tid + w] ? red[tid + w] : red[tid];
        __syncthreads();
    }
    const float sink = d_f32(a.sinks, h);
    if (tid == 0) s_m = sink < red[0] ? red[0] : sink;
    __syncthreads();
    const float m = s_m;
    for (int64_t j = tid; j < tr.L; j += kAttnThreads) e[j] = d_exp_cr(__fsub_rn(e[j], m));
    __syncthreads();  // e_j of every thread visible to the segment sums
    // Segment g's Σ e_j (rows ascending from 0) by thread g, loads issued ahead of the adds.
    const int64_t nseg = (tr.L + kSegRows - 1) / kSegRows;
    float total = 0.0f;
    for (int64_t g0 = 0; g0 < nseg; g0 += kAttnThreads) {
        const int64_t g = g0 + tid;
        float part = 0.0f;
        if (g < nseg) {
            const int64_t j0 = g * kSegRows, len = d_min(kSegRows, tr.L - j0);
            for (int64_t jb = 0; jb < len; jb += kRowBatch) {
                float v[kRowBatch];
#pragma unroll
                for (int q = 0; q < kRowBatch; ++q) v[q] = jb + q < len ? e[j0 + jb + q] : 0.0f;
#pragma unroll
                for (int q = 0; q < kRowBatch; ++q)
                    if (jb + q < len) part = __fadd_rn(part, v[q]);
            }
        }
        __syncthreads();
        red[tid] = part;
        __syncthreads();
        if (tid == 0) {
            const int64_t cnt = d_min<int64_t>(kAttnThreads, nseg - g0);
            for (int64_t k = 0; k < cnt; ++k) total = __fadd_rn(total, red[k]);
        }
    }
    if (tid == 0) a.inv[(t - t0) * a.H + h] = __fdiv_rn(1.0f, __fadd_rn(d_exp_cr(__fsub_rn(sink, m)), total));
}

// Σ_j e_j·v_j over row segments: grid (B·ceil(H/kOutHeads), ceil(hd/kOutDims), nseg),
// kOutDims threads, one output dimension per thread for kOutHeads heads; rows ascending.
// kAll == false (decode: few tokens, the segments spread over blocks): blockIdx.z's segment
// into a.partial, for the combine kernel. kAll == true (many tokens: enough blocks without
// splitting; grid z = 1): the block walks the segments in order and adds each segment's sum to
// a running total exactly as the combine kernel would, then writes o = total·inv.
template <bool kAll>
__global__ void __launch_bounds__(kOutDims) attention_partial_kernel(Args a, int64_t t0) {
    if (d_failed(a.err)) return;
    __shared__ float se[kOutHeads][kSegRows];
    __shared__ const float* sp[kSegRows];
    const int tid = threadIdx.x;
    const int64_t HGo = (a.H + kOutHeads - 1) / kOutHeads;
    const int64_t t = t0 + blockIdx.x / HGo, h0 = (blockIdx.x % HGo) * kOutHeads;
    if (t >= a.n) return;
    const TokenRows tr = token_rows(a, t);
    const int64_t seg_begin = kAll ? 0 : blockIdx.z;
    const int64_t seg_end = kAll ? (tr.L + kSegRows - 1) / kSegRows : blockIdx.z + 1;
    if (seg_begin * kSegRows >= tr.L && !kAll) return;  // uniform over the block; combine reads only the segments that exist
    const int nh = static_cast<int>(d_min<int64_t>(kOutHeads, a.H - h0));
    const int64_t i = blockIdx.y * int64_t(kOutDims) + tid;
    float total[kOutHeads];
#pragma unroll
    for (int hh = 0; hh < kOutHeads; ++hh) total[hh] = 0.0f;
    for (int64_t seg = seg_begin; seg < seg_end; ++seg) {
        const int64_t j0 = seg * kSegRows;
        const int len = static_cast<int>(d_min(kSegRows, tr.L - j0));
        const float* sc = a.scores + ((t - t0) * a.H + h0) * a.lmax + j0;
        __syncthreads();  // the previous segment's readers are done with se and sp
        for (int j = tid; j < kSegRows; j += kOutDims) {
            float w[kOutHeads];
#pragma unroll
            for (int hh = 0; hh < kOutHeads; ++hh) w[hh] = hh < nh && j < len ? sc[hh * a.lmax + j] : 0.0f;
#pragma unroll
            for (int hh = 0; hh < kOutHeads; ++hh) se[hh][j] = w[hh];
            sp[j] = j < len ? row_ptr(a, t, j0 + j, tr.n_raw, tr.raw_start) : nullptr;
        }
        __syncthreads();
        if (i >= a.hd) continue;
        float acc[kOutHeads];
#pragma unroll
        for (int hh = 0; hh < kOutHeads; ++hh) acc[hh] = 0.0f;
        for (int jb = 0; jb < len; jb += kRowBatch) {
            float v[kRowBatch];
#pragma unroll
            for (int q = 0; q < kRowBatch; ++q) v[q] = jb + q < len ? sp[jb + q][i] : 0.0f;
#pragma unroll
            for (int q = 0; q < kRowBatch; ++q) {
                if (jb + q >= len) break;
#pragma unroll
                for (int hh = 0; hh < kOutHeads; ++hh) acc[hh] = __fadd_rn(acc[hh], __fmul_rn(se[hh][jb + q], v[q]));
            }
        }
        if constexpr (kAll) {
#pragma unroll
            for (int hh = 0; hh < kOutHeads; ++hh) total[hh] = __fadd_rn(total[hh], acc[hh]);
        } else {
            float* out = a.partial + ((t - t0) * a.H + h0) * a.nseg * a.hd + seg * a.hd + i;
#pragma unroll
            for (int hh = 0; hh < kOutHeads; ++hh)
                if (hh < nh) out[hh * a.nseg * a.hd] = acc[hh];
        }
    }
    if constexpr (kAll) {
        if (i < a.hd)
#pragma unroll
            for (int hh = 0; hh < kOutHeads; ++hh)
                if (hh < nh) *d_f32_ptr(a.out, i, h0 + hh, t) = __fmul_rn(total[hh], a.inv[(t - t0) * a.H + h0 + hh]);
    }
}

// o = (Σ_seg partial, segments in order from 0)·inv: one thread per (token, head, dimension).
__global__ void attention_combine_kernel(Args a, int64_t t0, int64_t B) {
    if (d_failed(a.err)) return;
    const int64_t total = B * a.H * a.hd;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t i = e % a.hd, h = (e / a.hd) % a.H, t = t0 + e / (a.hd * a.H);
        if (t >= a.n) continue;
        const int64_t nseg = (token_rows(a, t).L + kSegRows - 1) / kSegRows;
        const float* p = a.partial + ((t - t0) * a.H + h) * a.nseg * a.hd + i;
        float acc = 0.0f;
        for (int64_t g0 = 0; g0 < nseg; g0 += kRowBatch) {
            float v[kRowBatch];
#pragma unroll
            for (int q = 0; q < kRowBatch; ++q) v[q] = g0 + q < nseg ? p[(g0 + q) * a.hd] : 0.0f;
#pragma unroll
            for (int q = 0; q < kRowBatch; ++q)
                if (g0 + q < nseg) acc = __fadd_rn(acc, v[q]);
        }
        *d_f32_ptr(a.out, i, h, t) = __fmul_rn(acc, a.inv[(t - t0) * a.H + h]);
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
    a.nseg = g.nseg;
    a.list = reinterpret_cast<int32_t*>(base + l.list);
    a.count = reinterpret_cast<int32_t*>(base + l.count);
    a.scores = reinterpret_cast<float*>(base + l.scores);
    a.partial = reinterpret_cast<float*>(base + l.partial);
    a.inv = reinterpret_cast<float*>(base + l.inv);
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
        attention_softmax_kernel<<<static_cast<unsigned>(g.B * g.H), kAttnThreads, 0, ctx.stream>>>(a, t0);
        if (auto st = launch_status("attention softmax"); !st.ok()) return st;
        const int64_t blocks = g.B * ((g.H + kOutHeads - 1) / kOutHeads) * ((g.hd + kOutDims - 1) / kOutDims);
        if (blocks >= kAllSegmentsBlocks) {  // enough blocks without splitting the rows: no combine pass
            const dim3 pgrid(static_cast<unsigned>(g.B * ((g.H + kOutHeads - 1) / kOutHeads)),
                             static_cast<unsigned>((g.hd + kOutDims - 1) / kOutDims), 1);
            attention_partial_kernel<true><<<pgrid, kOutDims, 0, ctx.stream>>>(a, t0);
            if (auto st = launch_status("attention weighted sums"); !st.ok()) return st;
            continue;
        }
        const dim3 pgrid(static_cast<unsigned>(g.B * ((g.H + kOutHeads - 1) / kOutHeads)),
                         static_cast<unsigned>((g.hd + kOutDims - 1) / kOutDims), static_cast<unsigned>(g.nseg));
        attention_partial_kernel<false><<<pgrid, kOutDims, 0, ctx.stream>>>(a, t0);
        if (auto st = launch_status("attention weighted sums"); !st.ok()) return st;
        attention_combine_kernel<<<blocks_for(g.B * g.H * g.hd), kThreads, 0, ctx.stream>>>(a, t0, g.B);
        if (auto st = launch_status("attention combine"); !st.ok()) return st;
    }
    return {};
}

}  // namespace ds4::gpu
