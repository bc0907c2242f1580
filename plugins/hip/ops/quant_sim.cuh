// The QAT simulations of MODEL.md §C.0 as device functions on one thread's row, shared by
// QUANT_SIM and the Tier-1 ops that simulate their stored rows (COMPRESSOR) or queries
// (INDEXER_TOPK). Written to reproduce ds4::quant (sim.cpp, checkpoint.cpp) exactly: E4M3FN /
// E2M1 rounding (ties to even, saturating), power-of-two block scales from frexp,
// Hadamard-128 butterflies in the same order, F16 round trip with RNE.
#pragma once
#include "common.cuh"

namespace ds4::gpu {

inline constexpr float kE4M3Max = 448.0f;
inline constexpr float kE2M1Max = 6.0f;

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

// FP8 KV simulation of one block of at most 64 values (quant::fp8_kv_sim_row per block).
__device__ inline void d_fp8_kv_block(float* v, int64_t len) { d_block_sim<true>(v, len, 64, 1.0e-4f, kE4M3Max); }

// Indexer QAT of one 128-wide row: Hadamard-128 (butterflies with stride 1, 2, …, 64, then
// ×1/√128) and FP4 in blocks of 32 (quant::indexer_qat_row).
__device__ inline void d_indexer_qat_row(float* v) {
    for (int h = 1; h < 128; h <<= 1)
        for (int i = 0; i < 128; i += 2 * h)
            for (int j = i; j < i + h; ++j) {
                const float a = v[j], b = v[j + h];
                v[j] = __fadd_rn(a, b);
                v[j + h] = __fsub_rn(a, b);
            }
    for (int i = 0; i < 128; ++i) v[i] = __fmul_rn(v[i], 0.08838834764831845f);
    d_block_sim<false>(v, 128, 32, 6.0f * 0x1p-126f, kE2M1Max);
}

// INDEXER_QAT in place on n_rows contiguous rows of 128 floats, one 32-lane group per row
// (quant_sim.cu; the same kernel as QUANT_SIM's).
KernelStatus indexer_qat_rows(float* rows, int64_t n_rows, gpuStream_t stream);

}  // namespace ds4::gpu
