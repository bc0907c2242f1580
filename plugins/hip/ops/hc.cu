// Hyper-connections (MODEL.md §C.2, §C.5): HC_PRE, HC_POST, HC_HEAD. Formulas and orders are
// cpu-ref's (plugins/cpu-ref/ops/hc.cpp, docs/numerics.md "Conventions the fused kernels fix").
//
// HC_PRE / HC_HEAD run as three kernels:
//   1. xr: per token Σx² over the whole n_hc·d state in double in cpu-ref's segmented 32-lane
//      order (sum_squares_lanes32), r = 1/sqrt(mean + eps), and the rounded x·r into scratch;
//   2. mix: one block per (token, mixing row), one warp per column segment of
//      kHcMixSegmentColumns, fn·(x·r) in cpu-ref's segmented 32-lane order (hc_mix);
//   3. finalize: one block per (token, chunk of d): the gates from the mixing vector, then
//      x_in = Σ_s pre[s]·X[s] (s ascending, as cpu-ref); the chunk-0 block also writes post and
//      runs Sinkhorn in one thread (an n_hc×n_hc matrix: 4×4 in DS4) in cpu-ref's step order.
// All bit-identical to cpu-ref. Loads in the loops are issued in register batches ahead of
// their use: at decode these kernels are a handful of blocks, bound by memory latency.
// HC_POST is one elementwise kernel, bit-identical to cpu-ref.
#include <cmath>

#include "../../common/sum_orders.h"
#include "common.cuh"
#include "ops.h"
#include "tier1_common.cuh"
#include "tier1_hc_moe.h"

namespace ds4::gpu {
namespace {

constexpr int kHcMaxStreams = 64;  // n_hc limit of the contract (cpu-ref's read_hc)

__device__ inline float f32_at(const DTensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0) {
    return *reinterpret_cast<const float*>(d_elem(t, i0, i1, i2, 0));
}
__device__ inline float& f32_ref(const DTensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0) {
    return *reinterpret_cast<float*>(d_elem(t, i0, i1, i2, 0));
}

constexpr int kXrThreads = 1024;
constexpr int kXrBatch = 16;  // elements per thread loaded before any is stored
constexpr int kMixWarps = 16;  // column segments summed at once per mixing row
constexpr int64_t kMixSeg = sum_orders::kHcMixSegmentColumns;
constexpr int kMixBatch = 16;  // columns per lane loaded ahead of their adds

// Grid n, kXrThreads threads: xr[t][c] = X_t[c]·r_t over the flattened state (c = s·d + i), r
// from Σx² in cpu-ref's segmented 32-lane order (d_block_sum_squares: one group per segment).
__global__ void __launch_bounds__(kXrThreads) hc_xr_kernel(DTensor X, float norm_eps, float* xr) {
    __shared__ double part[kXrThreads / 32][32];
    __shared__ double total;
    const int64_t t = blockIdx.x, d = X.ne[0], H = X.ne[1], N = H * d;
    const uint8_t* xt = X.data + t * X.nb[2];
    // Column c = s·d + i; a contiguous state (the usual case) needs no division.
    const bool flat = X.nb[0] == 4 && X.nb[1] == 4 * d;
    auto x_at = [&](int64_t c) {
        if (flat) return reinterpret_cast<const float*>(xt)[c];
        return *reinterpret_cast<const float*>(xt + (c / d) * X.nb[1] + (c % d) * X.nb[0]);
    };
    const double ss = d_block_sum_squares<kXrThreads / 32>(x_at, N, part, &total);
    const float mean = static_cast<float>(ss / static_cast<double>(N));
    const float r = 1.0f / sqrtf(mean + norm_eps);
    d_batched_copy<kXrBatch>(N, x_at, [&](int64_t c, float v) { xr[t * N + c] = v * r; });
}

template <int FT>
__device__ inline float fn_at(const uint8_t* row, int64_t nb0, int64_t c) {
    if constexpr (FT == DS4_TYPE_F32) return *reinterpret_cast<const float*>(row + c * nb0);
    else if constexpr (FT == DS4_TYPE_F16) return gpu_half_to_float(*reinterpret_cast<const uint16_t*>(row + c * nb0));
    else return __uint_as_float(uint32_t(*reinterpret_cast<const uint16_t*>(row + c * nb0)) << 16);
}

// Grid (n_mix, n), kMixWarps·32 threads: mix[t][m] = fn[m]·xr_t in cpu-ref's hc_mix order. In
// rounds of kMixWarps segments, warp w sums segment (round·kMixWarps + w) per lane (lane l:
// columns ≡ l mod 32 ascending, from 0); then lane l of warp 0 adds the round's partials in
// segment order to its running lane sum; finally the butterfly 16, 8, 4, 2, 1. FT: fn's type.
template <int FT>
__global__ void __launch_bounds__(kMixWarps * 32) hc_mix_kernel(DTensor fn, const float* xr, int64_t N, int64_t n_mix,
                                                               float* mix) {
    __shared__ float part[kMixWarps][32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int64_t t = blockIdx.y, m = blockIdx.x;
    const float* x = xr + t * N;
    const uint8_t* row = fn.data + m * fn.nb[1];
    const int64_t nb0 = fn.nb[0], nseg = (N + kMixSeg - 1) / kMixSeg;
    float lane_sum = 0.0f;  // warp 0's running sum of lane `lane`
    for (int64_t g0 = 0; g0 < nseg; g0 += kMixWarps) {
        const int64_t g = g0 + warp;
        float acc = 0.0f;
        if (g < nseg) {
            const int64_t c_end = d_min(N, (g + 1) * kMixSeg);
            for (int64_t c0 = g * kMixSeg + lane; c0 < c_end; c0 += 32 * kMixBatch) {
                float w[kMixBatch], xv[kMixBatch];
#pragma unroll
                for (int q = 0; q < kMixBatch; ++q) {
                    const int64_t c = c0 + 32 * q;
                    w[q] = c < c_end ? fn_at<FT>(row, nb0, c) : 0.0f;
                    xv[q] = c < c_end ? x[c] : 0.0f;
                }
#pragma unroll
                for (int q = 0; q < kMixBatch; ++q)
                    if (c0 + 32 * q < c_end) acc = acc + w[q] * xv[q];
            }
        }
        part[warp][lane] = acc;
        __syncthreads();
        if (warp == 0) {
            const int64_t cnt = d_min<int64_t>(kMixWarps, nseg - g0);
            for (int64_t k = 0; k < cnt; ++k) lane_sum = lane_sum + part[k][lane];
        }
        __syncthreads();
    }
    if (warp == 0) {
        for (int k = 16; k > 0; k /= 2) lane_sum = lane_sum + gpu_shfl_xor32(lane_sum, k);
        if (lane == 0) mix[t * n_mix + m] = lane_sum;
    }
}

// Many tokens (prefill): the same order with the roles turned around so fn is read once per
// block of kMixTokens tokens instead of once per (token, mixing row). Lane l of warp w is lane
// l of hc_mix for token t0 + w and every mixing row at once (kMixMax sums); fn is staged in
// shared memory kMixChunk columns at a time (the next chunk held in registers meanwhile), a
// chunk never straddling a segment, so each lane sum starts from 0 at its segment's first
// column and is added to the running lane sum at its last, as hc_mix_kernel does; the
// butterfly 16, 8, 4, 2, 1 is the same. Needs N % kMixChunk == 0 and n_mix <= kMixMax.
constexpr int kMixTokens = 8;    // tokens per block, one warp each
constexpr int kMixMax = 24;      // mixing rows (n_hc·(2 + n_hc) = 24 for DS4's HC_PRE)
constexpr int kMixChunk = 256;   // fn columns staged at a time (divides kMixSeg)
static_assert(kMixSeg % kMixChunk == 0, "a chunk must not straddle a segment");
static_assert(kMixChunk == kMixTokens * 32, "thread i stages column i of every mixing row");

template <int FT>
__global__ void __launch_bounds__(kMixTokens * 32) hc_mix_tokens_kernel(DTensor fn, const float* xr, int64_t N,
                                                                       int64_t n_mix, int64_t n, float* mix) {
    __shared__ float fs[kMixMax][kMixChunk];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int64_t t = int64_t(blockIdx.x) * kMixTokens + warp;
    const bool live = t < n;
    const float* x = xr + (live ? t : 0) * N;
    const int64_t nb0 = fn.nb[0];
    float staged[kMixMax];  // column c0 + threadIdx.x of each mixing row, for the next chunk
    auto fetch = [&](int64_t c0) {
#pragma unroll
        for (int m = 0; m < kMixMax; ++m)
            staged[m] = m < n_mix ? fn_at<FT>(fn.data + m * fn.nb[1], nb0, c0 + threadIdx.x) : 0.0f;
    };
    float acc[kMixMax], lane_sum[kMixMax];
#pragma unroll
    for (int m = 0; m < kMixMax; ++m) acc[m] = lane_sum[m] = 0.0f;
    fetch(0);
    for (int64_t c0 = 0; c0 < N; c0 += kMixChunk) {
        __syncthreads();  // the previous chunk's readers are done
#pragma unroll
        for (int m = 0; m < kMixMax; ++m) fs[m][threadIdx.x] = staged[m];
        __syncthreads();
        if (c0 + kMixChunk < N) fetch(c0 + kMixChunk);
        if (live) {
            float xv[kMixChunk / 32];
#pragma unroll
            for (int q = 0; q < kMixChunk / 32; ++q) xv[q] = x[c0 + lane + 32 * q];
#pragma unroll
            for (int q = 0; q < kMixChunk / 32; ++q)
#pragma unroll
                for (int m = 0; m < kMixMax; ++m) acc[m] = acc[m] + fs[m][lane + 32 * q] * xv[q];
        }
        if ((c0 + kMixChunk) % kMixSeg == 0 || c0 + kMixChunk == N) {  // the segment's last chunk
#pragma unroll
            for (int m = 0; m < kMixMax; ++m) {
                lane_sum[m] = lane_sum[m] + acc[m];
                acc[m] = 0.0f;
            }
        }
    }
#pragma unroll
    for (int m = 0; m < kMixMax; ++m) {
        float v = lane_sum[m];
        for (int k = 16; k > 0; k /= 2) v = v + gpu_shfl_xor32(v, k);
        if (live && lane == 0 && m < n_mix) mix[t * n_mix + m] = v;
    }
}

// Sinkhorn of MODEL.md §C.2 on M[a][c] (H×H, row-major): row softmax (·1/Σ) + eps, column
// normalisation, then iters-1 × (row, column), each ·1/(Σ+eps); sums index ascending.
__device__ void sinkhorn(float* M, int H, uint32_t iters, float eps) {
    for (int a = 0; a < H; ++a) {
        float* row = M + a * H;
        float m = row[0];
        for (int c = 1; c < H; ++c) m = m < row[c] ? row[c] : m;  // std::max, NaN included
        float sum = 0.0f;
        for (int c = 0; c < H; ++c) {
            row[c] = d_exp_cr(row[c] - m);
            sum += row[c];
        }
        const float inv = 1.0f / sum;
        for (int c = 0; c < H; ++c) row[c] = row[c] * inv + eps;
    }
    for (uint32_t it = 0; it < iters; ++it) {
        if (it > 0)
            for (int a = 0; a < H; ++a) {
                float sum = 0.0f;
                for (int c = 0; c < H; ++c) sum += M[a * H + c];
                const float inv = 1.0f / (sum + eps);
                for (int c = 0; c < H; ++c) M[a * H + c] *= inv;
            }
        for (int c = 0; c < H; ++c) {
            float sum = 0.0f;
            for (int a = 0; a < H; ++a) sum += M[a * H + c];
            const float inv = 1.0f / (sum + eps);
            for (int a = 0; a < H; ++a) M[a * H + c] *= inv;
        }
    }
}

// The same steps with M in registers for a compile-time H (DS4: 4); ~30x faster than the
// shared-memory loop, whose every access is a dependent shared-memory round trip.
template <int H>
__device__ void sinkhorn_reg(float* Ms, uint32_t iters, float eps) {
    float M[H * H];
#pragma unroll
    for (int j = 0; j < H * H; ++j) M[j] = Ms[j];
#pragma unroll
    for (int a = 0; a < H; ++a) {
        float m = M[a * H];
#pragma unroll
        for (int c = 1; c < H; ++c) m = m < M[a * H + c] ? M[a * H + c] : m;
        float sum = 0.0f;
#pragma unroll
        for (int c = 0; c < H; ++c) {
            M[a * H + c] = d_exp_cr(M[a * H + c] - m);
            sum += M[a * H + c];
        }
        const float inv = 1.0f / sum;
#pragma unroll
        for (int c = 0; c < H; ++c) M[a * H + c] = M[a * H + c] * inv + eps;
    }
    for (uint32_t it = 0; it < iters; ++it) {
        if (it > 0) {
#pragma unroll
            for (int a = 0; a < H; ++a) {
                float sum = 0.0f;
#pragma unroll
                for (int c = 0; c < H; ++c) sum += M[a * H + c];
                const float inv = 1.0f / (sum + eps);
#pragma unroll
                for (int c = 0; c < H; ++c) M[a * H + c] *= inv;
            }
        }
#pragma unroll
        for (int c = 0; c < H; ++c) {
            float sum = 0.0f;
#pragma unroll
            for (int a = 0; a < H; ++a) sum += M[a * H + c];
            const float inv = 1.0f / (sum + eps);
#pragma unroll
            for (int a = 0; a < H; ++a) M[a * H + c] *= inv;
        }
    }
#pragma unroll
    for (int j = 0; j < H * H; ++j) Ms[j] = M[j];
}

// Grid (ceil(d / kThreads), n), kThreads threads, one x_in element per thread. head: HC_HEAD
// (stable sigmoid, no post/comb). Every block forms the gates from the mixing vector (loads in
// parallel, into shared memory); the chunk-0 block also writes post and comb, its Sinkhorn run
// by thread 0 after the block's own x_in elements.
__global__ void hc_finalize_kernel(DTensor X, DTensor scale, DTensor base, const float* mix, int64_t n_mix, bool head,
                                   DTensor x_out, DTensor post, DTensor comb, uint32_t iters, float hc_eps) {
    __shared__ float pre[kHcMaxStreams];
    __shared__ float z[kHcMaxStreams * (2 + kHcMaxStreams)];
    const int tid = threadIdx.x;
    const int64_t t = blockIdx.y, d = X.ne[0];
    const int H = static_cast<int>(X.ne[1]);
    const bool writes_gates = !head && blockIdx.x == 0;
    const int64_t n_z = writes_gates ? n_mix : H;
    const float* mx = mix + t * n_mix;
    // z = mix·scale + base (two roundings); scale 0 for pre, 1 for post, 2 for comb.
    for (int64_t j = tid; j < n_z; j += blockDim.x) {
        const float sc = f32_at(scale, j < H ? 0 : j < 2 * H ? 1 : 2);
        z[j] = mx[j] * sc + f32_at(base, j);
    }
    __syncthreads();
    for (int s = tid; s < H; s += blockDim.x)
        // HC_PRE evaluates the gates literally, HC_HEAD with the stable sigmoid (MODEL.md §C.2, §C.5).
        pre[s] = (head ? d_sigmoid_stable(z[s]) : 1.0f / (1.0f + d_exp_cr(-z[s]))) + hc_eps;
    if (writes_gates)
        for (int s = tid; s < H; s += blockDim.x) f32_ref(post, s, t) = 2.0f / (1.0f + d_exp_cr(-z[H + s]));
    __syncthreads();
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + tid;
    if (i < d) {
        float acc = 0.0f;
        for (int s0 = 0; s0 < H; s0 += 8) {
            float v[8];
#pragma unroll
            for (int q = 0; q < 8; ++q) v[q] = s0 + q < H ? f32_at(X, i, s0 + q, t) : 0.0f;
#pragma unroll
            for (int q = 0; q < 8; ++q)
                if (s0 + q < H) acc += pre[s0 + q] * v[q];
        }
        f32_ref(x_out, i, t) = acc;
    }
    if (writes_gates && tid == 0) {
        float* M = z + 2 * H;  // comb's z, Sinkhorn in place
        if (H == 4) sinkhorn_reg<4>(M, iters, hc_eps);
        else sinkhorn(M, H, iters, hc_eps);
        for (int a = 0; a < H; ++a)
            for (int c = 0; c < H; ++c) f32_ref(comb, c, a, t) = M[a * H + c];
    }
}

// X_new[t][c][i] = post[t][c]·y[t][i] + (Σ_a comb[t][a][c]·X[t][a][i]), a ascending.
__global__ void hc_post_kernel(DTensor y, DTensor X, DTensor post, DTensor comb, DTensor out, int64_t total) {
    const int64_t d = y.ne[0], H = X.ne[1];
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t i = e % d, c = (e / d) % H, t = e / (d * H);
        float acc = 0.0f;
        for (int64_t a = 0; a < H; ++a) acc += f32_at(comb, c, a, t) * f32_at(X, i, a, t);
        f32_ref(out, i, c, t) = f32_at(post, c, t) * f32_at(y, i, t) + acc;
    }
}

// hc_mix_tokens_kernel is compile-checked and passes nothing but review yet: it runs only with
// DS4_GPU_HC_MIX_TOKENS=1 until a GPU run of the conformance suite (HcPre.ManyTokens) has
// verified it bit for bit.
bool hc_mix_tokens_enabled() {
    static const bool on = kernel_env_int("DS4_GPU_HC_MIX_TOKENS", 0) == 1;
    return on;
}

KernelStatus run_hc_mix_and_finalize(const ds4_node& node, KernelContext& ctx, bool head) {
    ds4_params_hc p;
    read_params(node, &p);
    const ds4_tensor* X = node.src[0];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    const int64_t n_mix = head ? H : H * (2 + H);
    const HcScratch sl = hc_scratch(node);
    if (sl.total > ctx.scratch_bytes) return {DS4_ERR_INTERNAL, "hc scratch too small"};
    float* mix = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(ctx.scratch) + sl.mix);
    float* xr = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(ctx.scratch) + sl.xr);
    hc_xr_kernel<<<static_cast<unsigned>(n), kXrThreads, 0, ctx.stream>>>(dtensor(X), p.norm_eps, xr);
    if (auto st = launch_status(head ? "hc_head rms" : "hc_pre rms"); !st.ok()) return st;
    const ds4_tensor* fn = node.src[1];
    const int64_t N = H * d;
    dim3 mix_grid(static_cast<unsigned>(n_mix), static_cast<unsigned>(n));
    const int mix_threads = kMixWarps * 32;
    if (n >= 16 && N % kMixChunk == 0 && n_mix <= kMixMax && hc_mix_tokens_enabled()) {
        const unsigned blocks = static_cast<unsigned>((n + kMixTokens - 1) / kMixTokens);
        if (fn->type == DS4_TYPE_F32)
            hc_mix_tokens_kernel<DS4_TYPE_F32><<<blocks, kMixTokens * 32, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, n, mix);
        else if (fn->type == DS4_TYPE_F16)
            hc_mix_tokens_kernel<DS4_TYPE_F16><<<blocks, kMixTokens * 32, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, n, mix);
        else
            hc_mix_tokens_kernel<DS4_TYPE_BF16><<<blocks, kMixTokens * 32, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, n, mix);
    } else if (fn->type == DS4_TYPE_F32)
        hc_mix_kernel<DS4_TYPE_F32><<<mix_grid, mix_threads, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, mix);
    else if (fn->type == DS4_TYPE_F16)
        hc_mix_kernel<DS4_TYPE_F16><<<mix_grid, mix_threads, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, mix);
    else
        hc_mix_kernel<DS4_TYPE_BF16><<<mix_grid, mix_threads, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, mix);
    if (auto st = launch_status(head ? "hc_head mix" : "hc_pre mix"); !st.ok()) return st;
    dim3 grid(static_cast<unsigned>((d + kThreads - 1) / kThreads), static_cast<unsigned>(n));
    const DTensor none{};
    hc_finalize_kernel<<<grid, kThreads, 0, ctx.stream>>>(dtensor(X), dtensor(node.src[2]), dtensor(node.src[3]), mix,
                                                          n_mix, head, dtensor(node.dst[0]),
                                                          head ? none : dtensor(node.dst[1]),
                                                          head ? none : dtensor(node.dst[2]), p.sinkhorn_iters, p.hc_eps);
    return launch_status(head ? "hc_head" : "hc_pre");
}

}  // namespace

KernelStatus run_hc_pre(const ds4_node& node, KernelContext& ctx) { return run_hc_mix_and_finalize(node, ctx, false); }

KernelStatus run_hc_head(const ds4_node& node, KernelContext& ctx) { return run_hc_mix_and_finalize(node, ctx, true); }

KernelStatus run_hc_post(const ds4_node& node, KernelContext& ctx) {
    const int64_t total = n_elems(node.dst[0]);
    hc_post_kernel<<<blocks_for(total), kThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.src[1]),
                                                                   dtensor(node.src[2]), dtensor(node.src[3]),
                                                                   dtensor(node.dst[0]), total);
    return launch_status("hc_post");
}

}  // namespace ds4::gpu
