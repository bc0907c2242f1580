// QUANT_SIM: the QAT simulations of MODEL.md §C.0 on the device, written to reproduce
// ds4::quant (sim.cpp, checkpoint.cpp) exactly: E4M3FN / E2M1 rounding (ties to even,
// saturating), power-of-two block scales from frexp, Hadamard-128 butterflies in the same
// order, F16 round trip with RNE. One thread per row (FP8_KV) or per 128-wide chunk
// (INDEXER_QAT), one per element (F16_ROUND); the row is read before it is written, so dst
// may alias src0.
#include "common.cuh"
#include "ops.h"

namespace ds4::gpu {
namespace {

constexpr float kE4M3Max = 448.0f;
constexpr float kE2M1Max = 6.0f;

__device__ inline float d_round_e4m3fn(float x) {
    if (isnan(x)) return x;
    if (x == 0.0f) return 0.0f;
    const float sign = signbit(x) ? -1.0f : 1.0f;
    const float a = fabsf(x) < kE4M3Max ? fabsf(x) : kE4M3Max;
    if (a < 0x1p-6f) return sign * (rintf(a * 512.0f) * 0x1p-9f);
    int e = 0;
    frexpf(a, &e);
    const int E = e - 1;
    const float q = rintf(ldexpf(a, 3 - E));
    return sign * ldexpf(q, E - 3);
}

__device__ inline float d_round_e2m1(float x) {
    if (isnan(x)) return x;
    if (x == 0.0f) return 0.0f;
    const float a = fabsf(x);
    float v;
    if (a <= 0.25f) v = 0.0f;
    else if (a < 0.75f) v = 0.5f;
    else if (a <= 1.25f) v = 1.0f;
    else if (a < 1.75f) v = 1.5f;
    else if (a <= 2.5f) v = 2.0f;
    else if (a < 3.5f) v = 3.0f;
    else if (a <= 5.0f) v = 4.0f;
    else v = 6.0f;
    return signbit(x) ? -v : v;
}

__device__ inline float d_pow2_ceil_scale(float amax, float max_code) {
    const float r = __fdiv_rn(amax, max_code);
    if (!(r > 0.0f) || isinf(r)) return 1.0f;
    int e = 0;
    const float f = frexpf(r, &e);
    return ldexpf(1.0f, f == 0.5f ? e - 1 : e);
}

// block_sim of ds4::quant over row[0, n) (a partial last block uses its own elements).
template <bool Fp8>
__device__ void d_block_sim(float* row, int64_t n, int64_t block, float amax_floor, float max_code) {
    for (int64_t off = 0; off < n; off += block) {
        const int64_t len = n - off < block ? n - off : block;
        float amax = 0.0f;
        for (int64_t i = 0; i < len; ++i) amax = fabsf(row[off + i]) > amax ? fabsf(row[off + i]) : amax;
        if (amax < amax_floor) amax = amax_floor;
        const float s = d_pow2_ceil_scale(amax, max_code);
        for (int64_t i = 0; i < len; ++i) {
            float v = __fdiv_rn(row[off + i], s);
            v = v > max_code ? max_code : (v < -max_code ? -max_code : v);
            row[off + i] = __fmul_rn(Fp8 ? d_round_e4m3fn(v) : d_round_e2m1(v), s);
        }
    }
}

// FP8_KV on dims [0, n_nope) in blocks of 64, processed in place through a 64-float window
// per block (the blocks are independent); the rest of the row is copied.
__global__ void fp8_kv_kernel(DTensor x, DTensor d, int64_t rows, int64_t n_nope) {
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        float buf[64];
        for (int64_t off = 0; off < n_nope; off += 64) {
            const int64_t len = n_nope - off < 64 ? n_nope - off : 64;
            for (int64_t i = 0; i < len; ++i) buf[i] = *reinterpret_cast<const float*>(d_row_elem(x, r, off + i));
            d_block_sim<true>(buf, len, 64, 1.0e-4f, kE4M3Max);
            for (int64_t i = 0; i < len; ++i) *reinterpret_cast<float*>(d_row_elem(d, r, off + i)) = buf[i];
        }
        for (int64_t i = n_nope; i < n; ++i)
            *reinterpret_cast<float*>(d_row_elem(d, r, i)) = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
    }
}

// INDEXER_QAT: Hadamard-128 (butterflies with stride 1, 2, …, 64, then ×1/√128) and FP4 in
// blocks of 32, per 128-wide chunk.
__global__ void indexer_qat_kernel(DTensor x, DTensor d, int64_t chunks) {
    const int64_t per_row = x.ne[0] / 128;
    for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < chunks; c += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = c / per_row, off = (c % per_row) * 128;
        float v[128];
        for (int i = 0; i < 128; ++i) v[i] = *reinterpret_cast<const float*>(d_row_elem(x, r, off + i));
        for (int h = 1; h < 128; h <<= 1)
            for (int i = 0; i < 128; i += 2 * h)
                for (int j = i; j < i + h; ++j) {
                    const float a = v[j], b = v[j + h];
                    v[j] = __fadd_rn(a, b);
                    v[j + h] = __fsub_rn(a, b);
                }
        for (int i = 0; i < 128; ++i) v[i] = __fmul_rn(v[i], 0.08838834764831845f);
        d_block_sim<false>(v, 128, 32, 6.0f * 0x1p-126f, kE2M1Max);
        for (int i = 0; i < 128; ++i) *reinterpret_cast<float*>(d_row_elem(d, r, off + i)) = v[i];
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

KernelStatus run_quant_sim(const ds4_node& node, KernelContext& ctx) {
    ds4_params_quant_sim p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const int64_t rows = n_rows(x);
    switch (p.kind) {
    case DS4_SIM_FP8_KV:
        fp8_kv_kernel<<<blocks_for(rows, 64), 64, 0, ctx.stream>>>(dtensor(x), dtensor(d), rows, p.n_nope);
        break;
    case DS4_SIM_INDEXER_QAT: {
        const int64_t chunks = rows * (x->ne[0] / 128);
        indexer_qat_kernel<<<blocks_for(chunks, 64), 64, 0, ctx.stream>>>(dtensor(x), dtensor(d), chunks);
        break;
    }
    default:
        f16_round_kernel<<<blocks_for(n_elems(x)), kThreads, 0, ctx.stream>>>(dtensor(x), dtensor(d), n_elems(x));
        break;
    }
    return launch_status("quant_sim");
}

}  // namespace ds4::gpu
