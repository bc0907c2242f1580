// Hyper-connections (MODEL.md §C.2, §C.5): HC_PRE, HC_POST, HC_HEAD. Formulas and orders are
// cpu-ref's (plugins/cpu-ref/ops/hc.cpp, docs/numerics.md "Conventions the fused kernels fix").
//
// HC_PRE / HC_HEAD run as three kernels:
//   1. mix: per token Σx² over the whole n_hc·d state in double, r = 1/sqrt(mean + eps) and
//      the rounded x·r into scratch (one block); then one 32-lane group per (token, mixing
//      row) for fn·(x·r); both in cpu-ref's 32-lane orders (hc_mix): bit-identical.
//   2. finalize: one block per (token, chunk of d): the gates from the mixing vector, then
//      x_in = Σ_s pre[s]·X[s] (s ascending, as cpu-ref, so bit-identical given the same
//      gates); the chunk-0 block also writes post and runs Sinkhorn in one thread (an
//      n_hc×n_hc matrix: 4×4 in DS4) in exactly cpu-ref's step order.
// HC_POST is one elementwise kernel, bit-identical to cpu-ref.
#include <cmath>

#include "common.cuh"
#include "ops.h"
#include "tier1_common.cuh"
#include "tier1_hc_moe.h"

namespace ds4::gpu {
namespace {

constexpr int kHcMaxStreams = 64;  // n_hc limit of the contract (cpu-ref's read_hc)
constexpr int kChunk = 1024;       // d elements per finalize block

__device__ inline float f32_at(const DTensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0) {
    return *reinterpret_cast<const float*>(d_elem(t, i0, i1, i2, 0));
}
__device__ inline float& f32_ref(const DTensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0) {
    return *reinterpret_cast<float*>(d_elem(t, i0, i1, i2, 0));
}

constexpr int kMixRowsPerBlock = 8;  // one 32-lane group per mixing row
constexpr int kXrThreads = 256;
constexpr int kXrChunk = 4096;  // state elements staged per step

// Grid n, 256 threads: xr[t][c] = X_t[c]·r_t over the flattened state (c = s·d + i), r from
// Σx² in cpu-ref's 32-lane order (sum_squares_lanes32). The state is staged in shared memory
// chunk by chunk by the whole block, so the first 32 lanes' sequential sums read it at
// shared-memory latency.
__global__ void __launch_bounds__(kXrThreads) hc_xr_kernel(DTensor X, float norm_eps, float* xr) {
    __shared__ float v[kXrChunk];
    __shared__ float r_s;
    const int64_t t = blockIdx.x, d = X.ne[0], H = X.ne[1], N = H * d;
    const uint8_t* xt = X.data + t * X.nb[2];
    // Column c = s·d + i; a contiguous state (the usual case) needs no division.
    const bool flat = X.nb[0] == 4 && X.nb[1] == 4 * d;
    auto x_at = [&](int64_t c) {
        if (flat) return reinterpret_cast<const float*>(xt)[c];
        return *reinterpret_cast<const float*>(xt + (c / d) * X.nb[1] + (c % d) * X.nb[0]);
    };
    const int tid = threadIdx.x;
    double ss = 0.0;  // lane tid's running sum (tid < 32)
    for (int64_t c0 = 0; c0 < N; c0 += kXrChunk) {
        const int len = static_cast<int>(N - c0 < kXrChunk ? N - c0 : kXrChunk);
#pragma unroll 4
        for (int i = tid; i < len; i += kXrThreads) v[i] = x_at(c0 + i);
        __syncthreads();
        if (tid < 32) {
            // Chunks start at multiples of 32, so lane tid keeps its columns ≡ tid (mod 32).
#pragma unroll 8
            for (int i = tid; i < len; i += 32) {
                const double e = v[i];
                ss = __dadd_rn(ss, __dmul_rn(e, e));
            }
        }
        __syncthreads();
    }
    if (tid < 32) {
        for (int k = 16; k > 0; k /= 2) ss = __dadd_rn(ss, gpu_shfl_xor32(ss, k));
        const float mean = static_cast<float>(ss / static_cast<double>(N));
        if (tid == 0) r_s = 1.0f / sqrtf(mean + norm_eps);
    }
    __syncthreads();
    const float r = r_s;
    for (int64_t c = tid; c < N; c += kXrThreads) xr[t * N + c] = x_at(c) * r;
}

// Grid (ceil(n_mix / 8), n), 256 threads: mix[t][m] = fn[m]·xr_t in cpu-ref's hc_mix order
// (lane l: columns ≡ l mod 32 ascending, then the butterfly 16, 8, 4, 2, 1). FT: fn's type.
template <int FT>
__global__ void __launch_bounds__(kMixRowsPerBlock * 32) hc_mix_kernel(DTensor fn, const float* xr, int64_t N,
                                                                      int64_t n_mix, float* mix) {
    const int lane = threadIdx.x % 32;
    const int64_t t = blockIdx.y, m = int64_t(blockIdx.x) * kMixRowsPerBlock + threadIdx.x / 32;
    if (m >= n_mix) return;  // whole groups leave together
    const float* x = xr + t * N;
    const uint8_t* row = fn.data + m * fn.nb[1];
    const int64_t nb0 = fn.nb[0];
    float acc = 0.0f;
#pragma unroll 16
    for (int64_t c = lane; c < N; c += 32) {
        float w;
        if constexpr (FT == DS4_TYPE_F32) w = *reinterpret_cast<const float*>(row + c * nb0);
        else if constexpr (FT == DS4_TYPE_F16) w = gpu_half_to_float(*reinterpret_cast<const uint16_t*>(row + c * nb0));
        else w = __uint_as_float(uint32_t(*reinterpret_cast<const uint16_t*>(row + c * nb0)) << 16);
        acc = acc + w * x[c];
    }
    for (int k = 16; k > 0; k /= 2) acc = acc + gpu_shfl_xor32(acc, k);
    if (lane == 0) mix[t * n_mix + m] = acc;
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

// Grid (ceil(d / kChunk), n), kThreads threads. head: HC_HEAD (stable sigmoid, no post/comb).
__global__ void hc_finalize_kernel(DTensor X, DTensor scale, DTensor base, const float* mix, int64_t n_mix, bool head,
                                   DTensor x_out, DTensor post, DTensor comb, uint32_t iters, float hc_eps) {
    __shared__ float pre[kHcMaxStreams];
    __shared__ float M[kHcMaxStreams * kHcMaxStreams];
    const int tid = threadIdx.x;
    const int64_t t = blockIdx.y, d = X.ne[0];
    const int H = static_cast<int>(X.ne[1]);
    const float* mx = mix + t * n_mix;
    const float sc0 = f32_at(scale, 0);
    for (int s = tid; s < H; s += blockDim.x) {
        const float z = mx[s] * sc0 + f32_at(base, s);
        // HC_PRE evaluates the gates literally, HC_HEAD with the stable sigmoid (MODEL.md §C.2, §C.5).
        pre[s] = (head ? d_sigmoid_stable(z) : 1.0f / (1.0f + d_exp_cr(-z))) + hc_eps;
    }
    if (!head && blockIdx.x == 0) {
        const float sc1 = f32_at(scale, 1), sc2 = f32_at(scale, 2);
        for (int s = tid; s < H; s += blockDim.x) {
            const float z = mx[H + s] * sc1 + f32_at(base, H + s);
            f32_ref(post, s, t) = 2.0f / (1.0f + d_exp_cr(-z));
        }
        if (tid == 0) {
            for (int j = 0; j < H * H; ++j) M[j] = mx[2 * H + j] * sc2 + f32_at(base, 2 * H + j);
            if (H == 4) sinkhorn_reg<4>(M, iters, hc_eps);
            else sinkhorn(M, H, iters, hc_eps);
            for (int a = 0; a < H; ++a)
                for (int c = 0; c < H; ++c) f32_ref(comb, c, a, t) = M[a * H + c];
        }
    }
    __syncthreads();
    const int64_t i_end = (int64_t(blockIdx.x) + 1) * kChunk < d ? (int64_t(blockIdx.x) + 1) * kChunk : d;
    for (int64_t i = int64_t(blockIdx.x) * kChunk + tid; i < i_end; i += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s < H; ++s) acc += pre[s] * f32_at(X, i, s, t);
        f32_ref(x_out, i, t) = acc;
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
    dim3 mix_grid(static_cast<unsigned>((n_mix + kMixRowsPerBlock - 1) / kMixRowsPerBlock), static_cast<unsigned>(n));
    const int mix_threads = kMixRowsPerBlock * 32;
    if (fn->type == DS4_TYPE_F32)
        hc_mix_kernel<DS4_TYPE_F32><<<mix_grid, mix_threads, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, mix);
    else if (fn->type == DS4_TYPE_F16)
        hc_mix_kernel<DS4_TYPE_F16><<<mix_grid, mix_threads, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, mix);
    else
        hc_mix_kernel<DS4_TYPE_BF16><<<mix_grid, mix_threads, 0, ctx.stream>>>(dtensor(fn), xr, N, n_mix, mix);
    if (auto st = launch_status(head ? "hc_head mix" : "hc_pre mix"); !st.ok()) return st;
    dim3 grid(static_cast<unsigned>((d + kChunk - 1) / kChunk), static_cast<unsigned>(n));
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
