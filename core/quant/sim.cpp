// QAT simulations of the official inference graph (MODEL.md §C.0, §E.7): E4M3FN and E2M1
// rounding, the FP8 KV round trip, the Hadamard-128 rotation and the FP4 round trip.
#include <cmath>

#include "quant/quant.h"

namespace ds4::quant {

// ±0 input gives +0 (ds4 takes the sign from x < 0); a negative value that rounds to zero
// gives −0, also as ds4 (−1 · 0).
float round_e4m3fn(float x) {
    if (std::isnan(x)) return x;
    if (x == 0.0f) return 0.0f;
    return e4m3fn_to_f32(f32_to_e4m3fn(x));
}

float round_e2m1(float x) {
    if (std::isnan(x)) return x;
    if (x == 0.0f) return 0.0f;
    return e2m1_to_f32(f32_to_e2m1(x));
}

// Why frexp: for r = f·2^e with f ∈ [0.5, 1), ceil(log2 r) is e − 1 exactly when f = 0.5
// (r a power of two) and e otherwise — no transcendental rounding involved. ds4's
// ceilf(log2f(r)) agrees on exact powers of two (log2f is exact there) and away from
// them, but for r = 2^k·(1 + δ) with δ of a few f32 ulps, log2f(r) = k + δ/ln2 rounds to
// exactly k once |k| ≥ 2 (the f32 spacing near k exceeds δ/ln2), so ds4 returns 2^k
// where the exact answer is 2^(k+1). The clamp to ±max_code then absorbs the overshoot
// (the amax element maps to max_code instead of max_code/2 ·(1+δ)); all other elements
// see a scale half as large. tests/quant/test_sim.cpp enumerates that disagreement set.
float pow2_ceil_scale(float amax, float max_code) {
    const float r = amax / max_code;
    if (!(r > 0.0f) || std::isinf(r)) return 1.0f;  // callers floor amax; keep total
    int e = 0;
    const float f = std::frexp(r, &e);
    return std::ldexp(1.0f, f == 0.5f ? e - 1 : e);
}

float pow2_ceil_scale_log2f(float amax, float max_code) {
    return std::ldexp(1.0f, int(std::ceil(std::log2(amax / max_code))));
}

namespace {

// Shared shape of the FP8 and FP4 simulations: per block, a floored absmax, a power-of-two
// scale, clamp(x/s) to the code range, round to the code grid, multiply back.
template <float (*Round)(float)>
void block_sim(float* row, int64_t n, int64_t block, float amax_floor, float max_code) {
    if (block <= 0) return;
    for (int64_t off = 0; off < n; off += block) {
        const int64_t len = n - off < block ? n - off : block;
        float amax = 0.0f;
        for (int64_t i = 0; i < len; ++i) amax = std::fabs(row[off + i]) > amax ? std::fabs(row[off + i]) : amax;
        if (amax < amax_floor) amax = amax_floor;
        const float s = pow2_ceil_scale(amax, max_code);
        for (int64_t i = 0; i < len; ++i) {
            float v = row[off + i] / s;
            v = v > max_code ? max_code : (v < -max_code ? -max_code : v);
            row[off + i] = Round(v) * s;
        }
    }
}

}  // namespace

void fp8_kv_sim_row(float* row, int64_t n_nope, int64_t block) {
    block_sim<round_e4m3fn>(row, n_nope, block, 1.0e-4f, kE4M3Max);
}

void fp4_sim_row(float* row, int64_t n, int64_t block) {
    block_sim<round_e2m1>(row, n, block, 6.0f * 0x1p-126f, kE2M1Max);
}

void hadamard128_inplace(float* x) {
    for (int h = 1; h < 128; h <<= 1)
        for (int i = 0; i < 128; i += 2 * h)
            for (int j = i; j < i + h; ++j) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    const float scale = 0.08838834764831845f;  // 1/√128 rounded to f32 once, as ds4
    for (int i = 0; i < 128; ++i) x[i] *= scale;
}

void indexer_qat_row(float* row128) {
    hadamard128_inplace(row128);
    fp4_sim_row(row128, 128, 32);
}

}  // namespace ds4::quant
