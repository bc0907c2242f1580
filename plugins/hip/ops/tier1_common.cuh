// Device helpers shared by the attention-side Tier-1 ops (COMPRESSOR, INDEXER_TOPK,
// ATTENTION): float access through DTensor views, the transcendental functions as cpu-ref
// rounds them, RoPE of one interleaved pair, and the "stop if the plan already failed" test.
//
// Transcendentals (exp, log1p, cos, sin) are evaluated in double and rounded once to float,
// on the device as in cpu-ref (common.h exp_f32 ...): the correctly rounded value but for
// double-rounding cases too rare to matter. Float libm versions are not interchangeable (the
// device's are up to 2 ulp off, glibc's cosf/sinf differed from the rounded double on ~1.3% of
// arguments), and one ulp in a RoPE angle or a softmax weight is enough to flip a Q8 or FP8
// rounding downstream.
#pragma once
#include <cstdint>
#include <string>

#include "common.cuh"
#include "rope_freq.h"

namespace ds4::gpu {

__device__ inline float d_exp_cr(float x) { return static_cast<float>(exp(static_cast<double>(x))); }
__device__ inline float d_log1p_cr(float x) { return static_cast<float>(log1p(static_cast<double>(x))); }
__device__ inline float d_cos_cr(float x) { return static_cast<float>(cos(static_cast<double>(x))); }
__device__ inline float d_sin_cr(float x) { return static_cast<float>(sin(static_cast<double>(x))); }

// MODEL.md §0: sigmoid computed stably (x < 0 → e^x/(1+e^x)).
__device__ inline float d_sigmoid_stable(float x) {
    if (x < 0.0f) {
        const float e = d_exp_cr(x);
        return e / (1.0f + e);
    }
    return 1.0f / (1.0f + d_exp_cr(-x));
}

__device__ inline float d_f32(const DTensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0) {
    return *reinterpret_cast<const float*>(d_elem(t, i0, i1, i2, 0));
}
__device__ inline float* d_f32_ptr(const DTensor& t, int64_t i0, int64_t i1 = 0, int64_t i2 = 0) {
    return reinterpret_cast<float*>(d_elem(t, i0, i1, i2, 0));
}
__device__ inline int32_t d_i32(const DTensor& t, int64_t i0, int64_t i1 = 0) {
    return *reinterpret_cast<const int32_t*>(d_elem(t, i0, i1, 0, 0));
}

// Interleaved RoPE of the pair (t[0], t[1]) by θ = f32(pos)·f (MODEL.md §C.3.3), in the
// operation order of cpu-ref (no contraction: the plugin is built without FMA).
__device__ inline void d_rope_pair(float* t, int64_t pos, float f) {
    const float theta = __fmul_rn(static_cast<float>(pos), f);
    const float c = d_cos_cr(theta), s = d_sin_cr(theta);
    const float a = t[0], b = t[1];
    t[0] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
    t[1] = __fadd_rn(__fmul_rn(a, s), __fmul_rn(b, c));
}

// True once any node of this submit recorded a data error: later kernels of a failing node
// leave their outputs (and in-place state) untouched, as cpu-ref does.
__device__ inline bool d_failed(const DeviceError* err) { return *reinterpret_cast<const volatile int32_t*>(&err->code) != 0; }

// Data validation in cpu-ref's order without a sequential scan: each failing check records
// its rank (its place in cpu-ref's check order) with an integer atomicMin into a scratch slot
// preset to all ones; a one-thread kernel then reports the error of the smallest rank, so the
// message is the one cpu-ref gives, whatever the thread schedule.
using RankSlot = unsigned long long;
inline constexpr RankSlot kNoRank = ~0ull;
__device__ inline void d_note_rank(RankSlot* slot, uint64_t rank) { atomicMin(slot, static_cast<RankSlot>(rank)); }
inline KernelStatus reset_rank(RankSlot* slot, const KernelContext& ctx) {
    if (gpuError_t e = gpuMemsetAsync(slot, 0xff, sizeof(RankSlot), ctx.stream); e != gpuSuccess)
        return {DS4_ERR_INTERNAL, std::string("validation slot reset failed: ") + gpuGetErrorString(e)};
    return {};
}

// Orderable key of a score for top-k: larger score → larger key; NaN and -inf → 0 (never
// selected); -0 and +0 compare equal, as floats do.
__device__ inline uint32_t d_score_key(float s) {
    if (isnan(s) || s == -INFINITY) return 0u;
    if (s == 0.0f) s = 0.0f;
    const uint32_t u = __float_as_uint(s);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <class T>
__host__ __device__ inline T d_min(T a, T b) { return a < b ? a : b; }

// Scratch carving: 256-byte aligned sub-ranges of the plan scratch.
inline uint64_t align_up(uint64_t v, uint64_t a = 256) { return (v + a - 1) / a * a; }

}  // namespace ds4::gpu
