// QUANT_SIM: the QAT simulations of MODEL.md §C.0 on the device, written to reproduce
// ds4::quant (sim.cpp, checkpoint.cpp) exactly: E4M3FN / E2M1 rounding (ties to even,
// saturating), power-of-two block scales from frexp, Hadamard-128 butterflies in the same
// order, F16 round trip with RNE. One 32-lane group per 64-element FP8 block or 128-wide
// QAT chunk, one thread per element (F16_ROUND); elements are read before they are written,
// so dst may alias src0.
#include "common.cuh"
#include "ops.h"
#include "quant_sim.cuh"

namespace ds4::gpu {
namespace {

constexpr int kSimThreads = 256;  // 8 groups of 32 lanes per block

// max(|a|, |b|) as block_sim scans (a NaN never wins), so the group maximum does not depend
// on the order of the comparisons.
__device__ inline float amax_step(float acc, float v) { return fabsf(v) > acc ? fabsf(v) : acc; }
__device__ inline float group_amax(float a, int width) {
    for (int m = 1; m < width; m *= 2) a = amax_step(a, gpu_shfl_xor32(a, m));
    return a;
}

// FP8_KV on dims [0, n_nope): one 32-lane group per 64-element block (lane l holds elements
// l and l + 32), the block maximum by a butterfly, then every element rounded on its own, as
// quant::fp8_kv_sim_row; one more group per row copies dims [n_nope, n). Each element is read
// before any of its group's writes, so dst may alias src0.
__global__ void __launch_bounds__(kSimThreads) fp8_kv_kernel(DTensor x, DTensor d, int64_t rows, int64_t n_nope) {
    const int lane = threadIdx.x % 32;
    const int64_t n = x.ne[0], nblk = (n_nope + 63) / 64, per_row = nblk + 1;
    const int64_t groups = int64_t(gridDim.x) * (kSimThreads / 32);
    for (int64_t g = blockIdx.x * int64_t(kSimThreads / 32) + threadIdx.x / 32; g < rows * per_row; g += groups) {
        const int64_t r = g / per_row, b = g % per_row;
        if (b == nblk) {
            for (int64_t i = n_nope + lane; i < n; i += 32)
                *reinterpret_cast<float*>(d_row_elem(d, r, i)) = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
            continue;
        }
        const int64_t off = b * 64, len = n_nope - off < 64 ? n_nope - off : 64;
        const bool h0 = lane < len, h1 = lane + 32 < len;
        const float v0 = h0 ? *reinterpret_cast<const float*>(d_row_elem(x, r, off + lane)) : 0.0f;
        const float v1 = h1 ? *reinterpret_cast<const float*>(d_row_elem(x, r, off + lane + 32)) : 0.0f;
        float amax = group_amax(amax_step(amax_step(0.0f, v0), v1), 32);
        if (amax < 1.0e-4f) amax = 1.0e-4f;
        const float s = d_pow2_ceil_scale(amax, kE4M3Max);
        auto sim = [&](float v) {
            v = __fdiv_rn(v, s);
            v = v > kE4M3Max ? kE4M3Max : (v < -kE4M3Max ? -kE4M3Max : v);
            return __fmul_rn(d_round_e4m3fn(v), s);
        };
        if (h0) *reinterpret_cast<float*>(d_row_elem(d, r, off + lane)) = sim(v0);
        if (h1) *reinterpret_cast<float*>(d_row_elem(d, r, off + lane + 32)) = sim(v1);
    }
}

// INDEXER_QAT per 128-wide chunk, one 32-lane group per chunk, lane l holding elements
// 4l .. 4l+3: Hadamard-128 (butterflies with stride 1, 2 inside a lane, 4 … 64 across lanes,
// each pair (a, b) → (a + b, a − b) as quant::indexer_qat_row), ×1/√128, then FP4 in blocks of
// 32 (8 lanes each, maximum by a butterfly).
__global__ void __launch_bounds__(kSimThreads) indexer_qat_kernel(DTensor x, DTensor d, int64_t chunks) {
    const int lane = threadIdx.x % 32;
    const int64_t per_row = x.ne[0] / 128, groups = int64_t(gridDim.x) * (kSimThreads / 32);
    for (int64_t c = blockIdx.x * int64_t(kSimThreads / 32) + threadIdx.x / 32; c < chunks; c += groups) {
        const int64_t r = c / per_row, off = (c % per_row) * 128 + 4 * lane;
        float v[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) v[i] = *reinterpret_cast<const float*>(d_row_elem(x, r, off + i));
#pragma unroll
        for (int h = 1; h < 4; h <<= 1)
#pragma unroll
            for (int j = 0; j < 4; ++j)
                if (!(j & h)) {
                    const float a = v[j], b = v[j + h];
                    v[j] = __fadd_rn(a, b);
                    v[j + h] = __fsub_rn(a, b);
                }
#pragma unroll
        for (int h = 4; h < 128; h <<= 1) {
            const bool low = !((4 * lane) & h);  // this lane holds the a's of its pairs
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float p = gpu_shfl_xor32(v[j], h / 4);
                v[j] = low ? __fadd_rn(v[j], p) : __fsub_rn(p, v[j]);
            }
        }
        float amax = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            v[j] = __fmul_rn(v[j], 0.08838834764831845f);
            amax = amax_step(amax, v[j]);
        }
        amax = group_amax(amax, 8);
        if (amax < 6.0f * 0x1p-126f) amax = 6.0f * 0x1p-126f;
        const float s = d_pow2_ceil_scale(amax, kE2M1Max);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            float t = __fdiv_rn(v[j], s);
            t = t > kE2M1Max ? kE2M1Max : (t < -kE2M1Max ? -kE2M1Max : t);
            *reinterpret_cast<float*>(d_row_elem(d, r, off + j)) = __fmul_rn(d_round_e2m1(t), s);
        }
    }
}

__global__ void f16_round_kernel(DTensor x, DTensor d, int64_t n) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
        Idx4 ix = d_split(x, e);
        const float v = *reinterpret_cast<const float*>(d_elem(x, ix.i0, ix.i1, ix.i2, ix.i3));
        *reinterpret_cast<float*>(d_elem(d, ix.i0, ix.i1, ix.i2, ix.i3)) = d_f16_to_f32(d_f32_to_f16(v));
    }
}

}  // namespace

KernelStatus indexer_qat_rows(float* rows, int64_t n_rows, gpuStream_t stream) {
    DTensor v{};
    v.data = reinterpret_cast<uint8_t*>(rows);
    v.ne[0] = 128;
    v.ne[1] = n_rows;
    v.ne[2] = v.ne[3] = 1;
    v.nb[0] = 4;
    v.nb[1] = 128 * 4;
    v.nb[2] = v.nb[3] = v.nb[1] * n_rows;
    v.type = DS4_TYPE_F32;
    indexer_qat_kernel<<<blocks_for(n_rows, kSimThreads / 32), kSimThreads, 0, stream>>>(v, v, n_rows);
    return launch_status("indexer qat");
}

KernelStatus run_quant_sim(const ds4_node& node, KernelContext& ctx) {
    ds4_params_quant_sim p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const int64_t rows = n_rows(x);
    switch (p.kind) {
    case DS4_SIM_FP8_KV:
        fp8_kv_kernel<<<blocks_for(rows * ((p.n_nope + 63) / 64 + 1), kSimThreads / 32), kSimThreads, 0, ctx.stream>>>(
            dtensor(x), dtensor(d), rows, p.n_nope);
        break;
    case DS4_SIM_INDEXER_QAT: {
        const int64_t chunks = rows * (x->ne[0] / 128);
        indexer_qat_kernel<<<blocks_for(chunks, kSimThreads / 32), kSimThreads, 0, ctx.stream>>>(dtensor(x), dtensor(d),
                                                                                                 chunks);
        break;
    }
    default:
        f16_round_kernel<<<blocks_for(n_elems(x)), kThreads, 0, ctx.stream>>>(dtensor(x), dtensor(d), n_elems(x));
        break;
    }
    return launch_status("quant_sim");
}

}  // namespace ds4::gpu
