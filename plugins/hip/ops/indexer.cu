// INDEXER_TOPK (MODEL.md §C.3.6, backend.h ds4_params_indexer) on the device.
//
//   1. validate the positions (the error cpu-ref reports first is reported: tier1_common.cuh);
//   2. q = wq_b·qr_n and w = (wproj·a)·weight_scale in cpu-ref's dot order (rowdot.h), then per
//      (token, head) RoPE at the token's position and, with qat, Hadamard-128 + FP4;
//   3. per group of tokens (scratch for [group][cap] scores), for tokens with n_c > top_k:
//      score[c] = Σ_h w_h·max(0, q_h·k_c), each dot one accumulator in index order and the
//      head sum in head order (cpu-ref's arithmetic, so the scores are bit-identical to it
//      whenever q is);
//   4. top-k per token by a 4-pass radix select on an order-preserving key of the score
//      (−inf/NaN → never selected, −0 = +0), giving the threshold key T and how many entries
//      equal to T to keep; entries > T plus the lowest-indexed entries == T are then written in
//      ascending index order by an order-preserving compaction. This is exactly cpu-ref's rule:
//      descending score, ties to the lowest index, output ascending, -1 padded; tokens with
//      n_c <= top_k select 0..n_c-1 without scores.
// Launch dimensions depend only on shapes; the per-token n_c comes from the device positions.
#include <algorithm>

#include "common.cuh"
#include "ops.h"
#include "quant_sim.cuh"
#include "rowdot.h"
#include "tier1_attention.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

constexpr int kTileRows = 32;             // key rows per score tile
constexpr int kTopkThreads = 256;         // one histogram bin per thread
constexpr int kHistCopies = 8;
constexpr int64_t kScoreBudget = 1 << 24; // floats of score scratch (64 MiB): tokens per group

struct Layout {
    uint64_t act_q, act_w, q, w, scores, rank, total;
    int64_t group;  // tokens scored per pass
};

Layout layout_of(const ds4_node& node, const ds4_params_indexer& p) {
    const ds4_tensor *qr = node.src[0], *a = node.src[1];
    const int64_t n = qr->ne[1], cap = node.src[4]->ne[1];
    Layout l;
    l.group = std::max<int64_t>(1, std::min<int64_t>(n, kScoreBudget / std::max<int64_t>(cap, 1)));
    l.act_q = 0;
    l.act_w = align_up(rowdot_act_bytes(node.src[2]->type, p.act_quant, n, qr->ne[0]));
    l.q = l.act_w + align_up(rowdot_act_bytes(node.src[3]->type, p.act_quant, n, a->ne[0]));
    l.w = l.q + align_up(uint64_t(n) * p.n_heads * p.head_dim * sizeof(float));
    l.scores = l.w + align_up(uint64_t(n) * p.n_heads * sizeof(float));
    l.rank = l.scores + align_up(uint64_t(l.group * cap) * sizeof(float));
    l.total = l.rank + align_up(sizeof(RankSlot));
    return l;
}

// Rank 2t: positions[t] < 0; rank 2t + 1: it needs more than cap rows.
__global__ void validate_kernel(DTensor pos, int64_t n, int64_t ratio, int64_t cap, RankSlot* slot, const DeviceError* err) {
    if (d_failed(err)) return;
    for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
        const int64_t pt = d_i32(pos, t);
        if (pt < 0) d_note_rank(slot, 2 * t);
        else if ((pt + 1) / ratio > cap) d_note_rank(slot, 2 * t + 1);
    }
}

__global__ void report_kernel(DTensor pos, int64_t ratio, const RankSlot* slot, DeviceError* err, int32_t node) {
    if (*slot == kNoRank) return;
    const int64_t t = static_cast<int64_t>(*slot / 2), pt = d_i32(pos, t);
    d_report(err, kErrRowIndex, node, static_cast<int32_t>(*slot % 2 == 0 ? pt : (pt + 1) / ratio), t);
}

// One thread per (token, head, rotated pair): RoPE of the head's tail at the token's position.
__global__ void rope_kernel(float* q, DTensor pos, int64_t n, int64_t H, int64_t hd, int n_rot, RopeFreqs freq,
                            const DeviceError* err) {
    if (d_failed(err)) return;
    const int pairs = n_rot / 2;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n * H * pairs; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t row = e / pairs;
        const int k = static_cast<int>(e % pairs);
        d_rope_pair(q + row * hd + hd - n_rot + 2 * k, d_i32(pos, row / H), freq.f[k]);
    }
}

struct ScoreArgs {
    const float* q;
    const float* w;
    DTensor krows, pos;
    float* scores;
    int64_t g0, cap, H, hd, ratio, top_k;
    const DeviceError* err;
};

// Block: (tile stride over key rows, token of the group). Thread (g, h): head h for rows
// g, g + groups, ... of each tile, its query head in registers, one accumulator per row in
// dimension order (several rows at once for ILP). Each tile: stage 32 key rows, per (row,
// head) the relu'd dot times w_h, then one thread per row sums the heads in order.
constexpr int kKsStride = kIdxMaxHeadDim + 4;  // 16-byte aligned rows
constexpr int kRowBatch = 8;  // rows whose dots a thread runs side by side
constexpr int kStageBatch = 16;  // key elements per thread loaded before any is stored

__global__ void score_kernel(ScoreArgs a) {
    if (d_failed(a.err)) return;
    __shared__ __align__(16) float ks[kTileRows][kKsStride];
    __shared__ float part[kTileRows][kIdxMaxHeads + 1];
    const int64_t t = a.g0 + blockIdx.y;
    const int64_t n_c = (int64_t(d_i32(a.pos, t)) + 1) / a.ratio;
    if (n_c <= a.top_k) return;
    const int H = static_cast<int>(a.H), hd = static_cast<int>(a.hd);
    const int h = threadIdx.x % H, g = threadIdx.x / H, groups = blockDim.x / H;
    const int rpt = (kTileRows + groups - 1) / groups;  // rows per thread
    const bool vec4 = hd % 4 == 0;
    // The token's queries reach the registers through the key-tile buffer, kTileRows heads at a
    // time: coalesced loads, then row reads at a 132-float stride (conflict-free float4s). A
    // thread loading its own head straight from memory would have the 32 lanes of a warp touch
    // 32 cache lines per load.
    float qv[kIdxMaxHeadDim];
    for (int c0 = 0; c0 < H; c0 += kTileRows) {
        const int nh = H - c0 < kTileRows ? H - c0 : kTileRows;
        const float* qsrc = a.q + (t * a.H + c0) * a.hd;
        d_batched_copy<kStageBatch>(
            int64_t(nh) * hd, [&](int64_t e) { return qsrc[e]; }, [&](int64_t e, float v) { ks[e / hd][e % hd] = v; });
        __syncthreads();
        if (h >= c0 && h < c0 + nh) {
            if (vec4) {
#pragma unroll
                for (int i = 0; i < kIdxMaxHeadDim; i += 4) {
                    const float4 v = i < hd ? *reinterpret_cast<const float4*>(&ks[h - c0][i]) : make_float4(0, 0, 0, 0);
                    qv[i] = v.x, qv[i + 1] = v.y, qv[i + 2] = v.z, qv[i + 3] = v.w;
                }
            } else {
#pragma unroll
                for (int i = 0; i < kIdxMaxHeadDim; ++i) qv[i] = i < hd ? ks[h - c0][i] : 0.0f;
            }
        }
        __syncthreads();
    }
    const float wh = a.w[t * a.H + h];
    float* out = a.scores + int64_t(blockIdx.y) * a.cap;
    for (int64_t tile = blockIdx.x; tile * kTileRows < n_c; tile += gridDim.x) {
        const int64_t c0 = tile * kTileRows;
        d_batched_copy<kStageBatch>(
            kTileRows * hd, [&](int64_t e) { return c0 + e / hd < n_c ? d_f32(a.krows, e % hd, c0 + e / hd) : 0.0f; },
            [&](int64_t e, float v) { ks[e / hd][e % hd] = v; });
        __syncthreads();
        for (int rb = 0; rb < rpt; rb += kRowBatch) {
            float dot[kRowBatch];
#pragma unroll
            for (int rr = 0; rr < kRowBatch; ++rr) dot[rr] = 0.0f;
            if (vec4) {
#pragma unroll
                for (int i = 0; i < kIdxMaxHeadDim; i += 4) {
                    if (i < hd) {
#pragma unroll
                        for (int rr = 0; rr < kRowBatch; ++rr) {
                            const int r = g + (rb + rr) * groups;
                            if (rb + rr < rpt && r < kTileRows) {
                                const float4 k4 = *reinterpret_cast<const float4*>(&ks[r][i]);
                                dot[rr] = __fadd_rn(
                                    __fadd_rn(__fadd_rn(__fadd_rn(dot[rr], __fmul_rn(qv[i], k4.x)), __fmul_rn(qv[i + 1], k4.y)),
                                              __fmul_rn(qv[i + 2], k4.z)),
                                    __fmul_rn(qv[i + 3], k4.w));
                            }
                        }
                    }
                }
            } else {
#pragma unroll
                for (int i = 0; i < kIdxMaxHeadDim; ++i) {
                    if (i < hd) {
#pragma unroll
                        for (int rr = 0; rr < kRowBatch; ++rr) {
                            const int r = g + (rb + rr) * groups;
                            if (rb + rr < rpt && r < kTileRows) dot[rr] = __fadd_rn(dot[rr], __fmul_rn(qv[i], ks[r][i]));
                        }
                    }
                }
            }
#pragma unroll
            for (int rr = 0; rr < kRowBatch; ++rr) {
                const int r = g + (rb + rr) * groups;
                if (rb + rr < rpt && r < kTileRows) part[r][h] = __fmul_rn(wh, 0.0f < dot[rr] ? dot[rr] : 0.0f);
            }
        }
        __syncthreads();
        if (threadIdx.x < kTileRows && c0 + threadIdx.x < n_c) {
            float acc = 0.0f;
            for (int hh = 0; hh < H; ++hh) acc = __fadd_rn(acc, part[threadIdx.x][hh]);
            out[c0 + threadIdx.x] = acc;
        }
        __syncthreads();
    }
}

// Exclusive prefix sum of v[0..n) in place by thread 0 (n = blockDim.x); returns the total.
__device__ int block_exclusive_scan(int* v, int n, int* total) {
    __syncthreads();
    if (threadIdx.x == 0) {
        int run = 0;
        for (int i = 0; i < n; ++i) {
            const int x = v[i];
            v[i] = run;
            run += x;
        }
        *total = run;
    }
    __syncthreads();
    return v[threadIdx.x];
}

__global__ void topk_kernel(const float* scores_base, int64_t g0, int64_t cap, DTensor pos, DTensor dst, int64_t ratio,
                            int64_t top_k, const DeviceError* err) {
    if (d_failed(err)) return;
    __shared__ int hist[kHistCopies][256];  // copies cut same-bin contention (keys cluster)
    __shared__ int counts[kTopkThreads];
    __shared__ int s_total, s_digit, s_kk;
    const int64_t t = g0 + blockIdx.x;
    const int64_t n_c = (int64_t(d_i32(pos, t)) + 1) / ratio;
    const int tid = threadIdx.x, nt = blockDim.x;
    auto put = [&](int64_t j, int32_t v) { *reinterpret_cast<int32_t*>(d_elem(dst, j, t, 0, 0)) = v; };
    if (n_c <= top_k) {
        for (int64_t j = tid; j < top_k; j += nt) put(j, j < n_c ? static_cast<int32_t>(j) : -1);
        return;
    }
    const float* sc = scores_base + int64_t(blockIdx.x) * cap;

    // Valid (selectable) entries.
    int local = 0;
    for (int64_t c = tid; c < n_c; c += nt) local += d_score_key(sc[c]) != 0u;
    counts[tid] = local;
    block_exclusive_scan(counts, nt, &s_total);
    const int64_t valid = s_total;

    uint32_t T = 0;    // keep keys > T ...
    int64_t need_eq = 0;  // ... and the first need_eq keys == T
    if (valid > top_k) {
        uint32_t prefix = 0, mask = 0;
        int64_t kk = top_k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (int c = 0; c < kHistCopies; ++c) hist[c][tid] = 0;
            __syncthreads();
            for (int64_t c = tid; c < n_c; c += nt) {
                const uint32_t k = d_score_key(sc[c]);
                if ((k & mask) == prefix) atomicAdd(&hist[tid % kHistCopies][(k >> shift) & 255u], 1);
            }
            __syncthreads();
            for (int c = 1; c < kHistCopies; ++c) hist[0][tid] += hist[c][tid];
            __syncthreads();
            if (tid == 0) {
                int64_t cum = 0;
                for (int b = 255; b >= 0; --b) {
                    if (cum + hist[0][b] >= kk) {
                        s_digit = b;
                        s_kk = static_cast<int>(kk - cum);
                        break;
                    }
                    cum += hist[0][b];
                }
            }
            __syncthreads();
            prefix |= uint32_t(s_digit) << shift;
            mask |= 255u << shift;
            kk = s_kk;
            __syncthreads();
        }
        T = prefix;
        need_eq = kk;
    }

    // Order-preserving compaction: thread tid owns indices [lo, hi).
    const int64_t seg = (n_c + nt - 1) / nt, lo = tid * seg < n_c ? tid * seg : n_c, hi = lo + seg < n_c ? lo + seg : n_c;
    int gt = 0, eq = 0;
    for (int64_t c = lo; c < hi; ++c) {
        const uint32_t k = d_score_key(sc[c]);
        gt += k > T;
        eq += need_eq > 0 && k == T;
    }
    counts[tid] = eq;
    const int64_t eq_before = block_exclusive_scan(counts, nt, &s_total);
    int64_t take = need_eq - eq_before;
    take = take < 0 ? 0 : (take > eq ? eq : take);
    __syncthreads();
    counts[tid] = gt + static_cast<int>(take);
    int64_t off = block_exclusive_scan(counts, nt, &s_total);
    const int64_t total = s_total;
    for (int64_t c = lo; c < hi; ++c) {
        const uint32_t k = d_score_key(sc[c]);
        if (k > T || (take > 0 && k == T && need_eq > 0)) {
            if (k == T) --take;
            put(off++, static_cast<int32_t>(c));
        }
    }
    for (int64_t j = total + tid; j < top_k; j += nt) put(j, -1);
}

}  // namespace

uint64_t indexer_topk_scratch_bytes(const ds4_node& node) {
    ds4_params_indexer p;
    read_params(node, &p);
    return layout_of(node, p).total;
}

KernelStatus run_indexer_topk(const ds4_node& node, KernelContext& ctx) {
    ds4_params_indexer p;
    read_params(node, &p);
    const Layout l = layout_of(node, p);
    if (l.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "indexer scratch too small"};
    const ds4_tensor *qr = node.src[0], *a = node.src[1];
    const int64_t n = qr->ne[1], H = p.n_heads, hd = p.head_dim, cap = node.src[4]->ne[1];
    uint8_t* base = reinterpret_cast<uint8_t*>(ctx.scratch);
    float* q = reinterpret_cast<float*>(base + l.q);
    float* w = reinterpret_cast<float*>(base + l.w);
    float* scores = reinterpret_cast<float*>(base + l.scores);
    const DTensor pos = dtensor(node.src[5]);

    RankSlot* rank = reinterpret_cast<RankSlot*>(base + l.rank);
    if (auto st = reset_rank(rank, ctx); !st.ok()) return st;
    validate_kernel<<<blocks_for(n), kThreads, 0, ctx.stream>>>(pos, n, p.ratio, cap, rank, ctx.err);
    report_kernel<<<1, 1, 0, ctx.stream>>>(pos, p.ratio, rank, ctx.err, ctx.node);
    if (auto st = launch_status("indexer validation"); !st.ok()) return st;
    if (auto st = rowdot_prepare(dtensor(qr), n, node.src[2]->type, p.act_quant, base + l.act_q, ctx); !st.ok()) return st;
    if (auto st = rowdot_prepare(dtensor(a), n, node.src[3]->type, p.act_quant, base + l.act_w, ctx); !st.ok()) return st;
    if (auto st = rowdot_run(dtensor(node.src[2]), p.act_quant, base + l.act_q, n, H * hd, q, H * hd, false, 1.0f, ctx);
        !st.ok())
        return st;
    if (auto st = rowdot_run(dtensor(node.src[3]), p.act_quant, base + l.act_w, n, H, w, H, true, p.weight_scale, ctx);
        !st.ok())
        return st;
    RopeFreqs freq{};
    rope_frequencies(p.rope, &freq);
    rope_kernel<<<blocks_for(n * H * (p.rope.n_rot / 2)), kThreads, 0, ctx.stream>>>(q, pos, n, H, hd,
                                                                                   static_cast<int>(p.rope.n_rot), freq, ctx.err);
    if (auto st = launch_status("indexer rope"); !st.ok()) return st;
    // The QAT of every query head (hd = 128 when qat is on: checked).
    if (p.qat)
        if (auto st = indexer_qat_rows(q, n * H, ctx.stream); !st.ok()) return st;

    // Score tiles: enough blocks to fill the device at decode, each striding over the rows.
    const int64_t tiles = (cap + kTileRows - 1) / kTileRows;
    // ~512 blocks in all: a decode token spreads over many blocks, a prefill chunk gives each
    // block many tiles (its query heads are loaded once per block).
    const int64_t per_token = std::max<int64_t>(1, 512 / std::min(l.group, n));
    const unsigned grid_x = static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(tiles, per_token)));
    const int groups = static_cast<int>(std::max<int64_t>(1, 256 / H));
    for (int64_t g0 = 0; g0 < n; g0 += l.group) {
        const int64_t gn = std::min(l.group, n - g0);
        ScoreArgs sa{q, w, dtensor(node.src[4]), pos, scores, g0, cap, H, hd, p.ratio, p.top_k, ctx.err};
        score_kernel<<<dim3(grid_x, static_cast<unsigned>(gn)), static_cast<unsigned>(groups * H), 0, ctx.stream>>>(sa);
        if (auto st = launch_status("indexer scores"); !st.ok()) return st;
        topk_kernel<<<static_cast<unsigned>(gn), kTopkThreads, 0, ctx.stream>>>(scores, g0, cap, pos, dtensor(node.dst[0]), p.ratio, p.top_k, ctx.err);
        if (auto st = launch_status("indexer top-k"); !st.ok()) return st;
    }
    return {};
}

}  // namespace ds4::gpu
