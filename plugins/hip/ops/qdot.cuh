// Quantized row dots of the fused Tier-1 ops (MOE_FFN, MOE_ROUTER), shared device helpers:
//
//   * activation quantization (Q8_0-act, Q8_K) by a block of 32 / 256 threads, bit-exact with
//     ds4::quant::quantize_act_q8_0 / quantize_act_q8_k (same layouts: 36 / 292-byte blocks);
//   * row dots split into "terms" that many threads compute at once and one thread combines in
//     a fixed order. With quantized activations a term is one weight block against its
//     activation block with integer inner sums and ds4::quant's float combination, and the
//     combination is the same sequential sum as quant::dot_row, so these dots follow cpu-ref's
//     arithmetic step for step (bit-identical by construction). With f32 activations a term
//     is the sum of one of kFloatTerms interleaved slices (element i → term i mod T), summed
//     in term order: deterministic, not bit-identical to quant::dot_row's 8-lane order
//     (rounding differences only).
//
// Kept apart from matmul.cu (which is tuned separately) so the fused ops do not depend on its
// internals. Width-agnostic: no warp intrinsics, only shared-memory trees.
#pragma once
#include <cstdint>

#include "common.cuh"
#include "tier1_hc_moe.h"

namespace ds4::gpu {

// ---- activation quantization --------------------------------------------------------------

// clamp(round_half_even(v), -128, 127), NaN → 0 (ds4::quant's clamp_i8(round_half_even)).
__device__ inline int8_t d_q8_code(float v) {
    if (!(v == v)) return 0;
    return static_cast<int8_t>(fminf(fmaxf(rintf(v), -128.0f), 127.0f));
}

// Rows of f32 (element i of row r at src + r·nb1 + i·nb0) → rows of BS-blocks of the act
// format (BS = 32: Q8_0-act, 256: Q8_K), dst rows of dst_row_bytes. One block of exactly BS
// threads per activation block (grid: rows × bpr blocks per row). The scale element ("the
// first of largest |x|") comes from a (|x|, index) tree, which picks the same element as
// ds4's sequential scan.
template <int BS>
__global__ void quantize_act_kernel(const uint8_t* src, int64_t nb0, int64_t nb1, int64_t bpr, uint8_t* dst,
                                    int64_t dst_row_bytes) {
    __shared__ float sa[BS], sx[BS];
    __shared__ int si[BS];
    __shared__ int sq[BS];
    const int tid = threadIdx.x;
    const int64_t row = blockIdx.x / bpr, b = blockIdx.x % bpr;
    const float x = *reinterpret_cast<const float*>(src + row * nb1 + (b * BS + tid) * nb0);
    float a = fabsf(x);
    if (!(a == a)) a = -1.0f;  // NaN never wins the scan
    sa[tid] = a;
    si[tid] = tid;
    sx[tid] = x;
    __syncthreads();
    for (int s = BS / 2; s > 0; s >>= 1) {
        if (tid < s && (sa[tid + s] > sa[tid] || (sa[tid + s] == sa[tid] && si[tid + s] < si[tid]))) {
            sa[tid] = sa[tid + s];
            si[tid] = si[tid + s];
        }
        __syncthreads();
    }
    const float amax = sa[0] > 0.0f ? sa[0] : 0.0f;
    if (BS == 32) {
        uint8_t* blk = dst + row * dst_row_bytes + b * kQ8_0ActBytes;
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        reinterpret_cast<int8_t*>(blk + 4)[tid] = d_q8_code(x * id);
        if (tid == 0) *reinterpret_cast<float*>(blk) = d;
        return;
    }
    uint8_t* blk = dst + row * dst_row_bytes + b * kQ8KBytes;
    if (amax == 0.0f) {  // all-zero block, scale and bsums included
        for (int i = tid; i < kQ8KBytes; i += BS) blk[i] = 0;
        return;
    }
    const float iscale = -127.0f / sx[si[0]];
    const int8_t q = d_q8_code(iscale * x);
    reinterpret_cast<int8_t*>(blk + 4)[tid] = q;
    sq[tid] = q;
    __syncthreads();
    if (tid < BS / 16) {
        int sum = 0;
        for (int i = 0; i < 16; ++i) sum += sq[16 * tid + i];
        reinterpret_cast<int16_t*>(blk + 260)[tid] = static_cast<int16_t>(sum);
    }
    if (tid == 0) *reinterpret_cast<float*>(blk) = 1.0f / iscale;
}

// ---- quantized block terms ------------------------------------------------------------------
// w: one weight block; x: its activation block. The float expressions are ds4::quant's, term
// for term (the plugin is compiled without FMA contraction).

__device__ inline int d_i16(const uint8_t* p) { return static_cast<int16_t>(d_load_u16(p)); }
__device__ inline float d_f32_at(const uint8_t* p) { return *reinterpret_cast<const float*>(p); }

// (d_w·d_x)·Σ q_w·q_x.
__device__ inline float term_q8_0(const uint8_t* w, const uint8_t* x) {
    const int8_t* qw = reinterpret_cast<const int8_t*>(w + 2);
    const int8_t* qx = reinterpret_cast<const int8_t*>(x + 4);
    int32_t isum = 0;
#pragma unroll
    for (int i = 0; i < 32; ++i) isum += int32_t(qw[i]) * int32_t(qx[i]);
    return d_f16_to_f32(d_load_u16(w)) * d_f32_at(x) * float(isum);
}

// (d_x·d)·Σ_sb sc·Σ q2·q8 − (d_x·dmin)·Σ_sb m·bsums[sb].
__device__ inline float term_q2_k(const uint8_t* w, const uint8_t* x) {
    const uint8_t* sc = w;
    const uint8_t* qs = w + 16;
    const int8_t* q8 = reinterpret_cast<const int8_t*>(x + 4);
    int32_t summs = 0;
#pragma unroll
    for (int sb = 0; sb < 16; ++sb) summs += d_i16(x + 260 + 2 * sb) * (sc[sb] >> 4);
    int32_t isum = 0;
#pragma unroll
    for (int sb = 0; sb < 16; ++sb) {
        const int hb = sb / 8, j = (sb % 8) / 2, l0 = 16 * (sb % 2);
        int32_t s = 0;
#pragma unroll
        for (int l = l0; l < l0 + 16; ++l) s += int32_t((qs[32 * hb + l] >> (2 * j)) & 3) * int32_t(q8[128 * hb + 32 * j + l]);
        isum += (sc[sb] & 15) * s;
    }
    const float dx = d_f32_at(x);
    const float dall = dx * d_f16_to_f32(d_load_u16(w + 80));
    const float dmin = dx * d_f16_to_f32(d_load_u16(w + 82));
    return dall * float(isum) - dmin * float(summs);
}

__device__ inline void d_q4k_scale_min(const uint8_t* scales, int j, int& sc, int& m) {
    if (j < 4) {
        sc = scales[j] & 63;
        m = scales[j + 4] & 63;
    } else {
        sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
        m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

__device__ inline float term_q4_k(const uint8_t* w, const uint8_t* x) {
    const uint8_t* qs = w + 16;
    const int8_t* q8 = reinterpret_cast<const int8_t*>(x + 4);
    int32_t summs = 0, isum = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        d_q4k_scale_min(w + 4, j, sc, m);
        summs += (d_i16(x + 260 + 4 * j) + d_i16(x + 260 + 4 * j + 2)) * m;
        const int p = j / 2, shift = 4 * (j % 2);
        int32_t s = 0;
#pragma unroll
        for (int l = 0; l < 32; ++l) s += int32_t((qs[32 * p + l] >> shift) & 15) * int32_t(q8[32 * j + l]);
        isum += s * sc;
    }
    const float dx = d_f32_at(x);
    const float d = dx * d_f16_to_f32(d_load_u16(w));
    const float dmin = dx * d_f16_to_f32(d_load_u16(w + 2));
    return d * float(isum) - dmin * float(summs);
}

// (d·d_x)·Σ_ib (2s+1)·Σ signed_grid·q8; the 1/8 is applied once per row (combine_terms).
__device__ inline float term_iq2_xxs(const uint8_t* w, const uint8_t* x, const Iq2Tables& tabs) {
    const int8_t* q8 = reinterpret_cast<const int8_t*>(x + 4);
    int32_t bsum = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const uint32_t A = d_load_u32(w + 2 + 8 * ib);
        const uint32_t B = d_load_u32(w + 2 + 8 * ib + 4);
        int32_t sumi = 0;
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            const uint64_t grid = tabs.grid[(A >> (8 * l)) & 0xFF];
            const uint32_t signs = tabs.signs[(B >> (7 * l)) & 127];
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const int32_t g = int32_t((grid >> (8 * j)) & 0xFF);
                const int32_t v = int32_t(q8[32 * ib + 8 * l + j]);
                sumi += (signs >> j) & 1 ? -g * v : g * v;
            }
        }
        bsum += sumi * int32_t(2 * (B >> 28) + 1);
    }
    return d_f16_to_f32(d_load_u16(w)) * d_f32_at(x) * float(bsum);
}

// Term b of the dot of weight row w (type wtype, n elements) with activation row x (format
// fmt): a block term (quantized) or the slice sum Σ_{i ≡ b mod T} w[i]·x[i] (f32, i ascending).
__device__ inline float row_term(uint32_t wtype, int fmt, const uint8_t* w, const uint8_t* x, int64_t n, int64_t b,
                                 int64_t T, const Iq2Tables& tabs) {
    switch (fmt) {
    case kFmtQ8_0: return term_q8_0(w + b * 34, x + b * kQ8_0ActBytes);
    case kFmtQ8_K: {
        const uint8_t* xb = x + b * kQ8KBytes;
        if (wtype == DS4_TYPE_Q2_K) return term_q2_k(w + b * 84, xb);
        if (wtype == DS4_TYPE_Q4_K) return term_q4_k(w + b * 144, xb);
        return term_iq2_xxs(w + b * 66, xb, tabs);
    }
    default: break;
    }
    const float* xf = reinterpret_cast<const float*>(x);
    float acc = 0.0f;
    // Unrolled so that several loads are in flight: the adds stay in order.
    if (wtype == DS4_TYPE_F32) {
        const float* wf = reinterpret_cast<const float*>(w);
#pragma unroll 8
        for (int64_t i = b; i < n; i += T) acc += wf[i] * xf[i];
    } else if (wtype == DS4_TYPE_F16) {
#pragma unroll 8
        for (int64_t i = b; i < n; i += T) acc += d_f16_to_f32(d_load_u16(w + 2 * i)) * xf[i];
    } else if (wtype == DS4_TYPE_BF16) {
#pragma unroll 8
        for (int64_t i = b; i < n; i += T) acc += d_bf16_to_f32(d_load_u16(w + 2 * i)) * xf[i];
    } else {
#pragma unroll 4
        for (int64_t i = b; i < n; i += T) acc += d_dequant(wtype, w, i, tabs) * xf[i];
    }
    return acc;
}

// The row dot from its T terms, in term order (quant::dot_row's order for quantized terms).
__device__ inline float combine_terms(uint32_t wtype, int fmt, const float* terms, int64_t T) {
    float acc = 0.0f;
    for (int64_t b = 0; b < T; ++b) acc += terms[b];
    return fmt == kFmtQ8_K && wtype == DS4_TYPE_IQ2_XXS ? 0.125f * acc : acc;
}

// e^x and log1p(x) of a float as cpu-ref's libm computes them: evaluated in double and rounded
// once, i.e. correctly rounded but for vanishingly rare cases, where the device's expf/log1pf
// may be 1-2 ulp off. Keeps gates, Sinkhorn, router scores and SwiGLU equal to cpu-ref's
// wherever the host libm is correctly rounded.
__device__ inline float d_expf_cr(float x) { return static_cast<float>(exp(static_cast<double>(x))); }
__device__ inline float d_log1pf_cr(float x) { return static_cast<float>(log1p(static_cast<double>(x))); }

// MODEL.md §0: sigmoid computed stably (x < 0 → e^x/(1+e^x)).
__device__ inline float d_sigmoid_stable(float x) {
    if (x < 0.0f) {
        const float e = d_expf_cr(x);
        return e / (1.0f + e);
    }
    return 1.0f / (1.0f + d_expf_cr(-x));
}

}  // namespace ds4::gpu
