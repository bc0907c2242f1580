// Device helpers shared by the op kernels: tensor addressing, float conversions with the
// exact rounding of ds4::quant (RNE, NaN payload kept), the per-element dequantizers of
// MODEL.md §E, and launch geometry. Every kernel is width-agnostic (no warp intrinsics).
#pragma once
#include <cstdint>

#include "../../common/sum_orders.h"
#include "../kernel.h"

namespace ds4::gpu {

inline constexpr int kThreads = 256;  // threads per block of the 1-D kernels

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    // Grid-stride loops cover the rest: no kernel needs more blocks than this.
    return static_cast<unsigned>(b > 65535 * 16 ? 65535 * 16 : b);
}

__device__ inline uint8_t* d_elem(const DTensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return t.data + i0 * t.nb[0] + i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

struct Idx4 {
    int64_t i0, i1, i2, i3;
};
// Flat element index (ne0 fastest) → 4-D index.
__device__ inline Idx4 d_split(const DTensor& t, int64_t e) {
    Idx4 ix;
    ix.i0 = e % t.ne[0];
    e /= t.ne[0];
    ix.i1 = e % t.ne[1];
    e /= t.ne[1];
    ix.i2 = e % t.ne[2];
    ix.i3 = e / t.ne[2];
    return ix;
}
// Flat row index → address of element i0 of that row.
__device__ inline uint8_t* d_row_elem(const DTensor& t, int64_t r, int64_t i0) {
    int64_t i1 = r % t.ne[1];
    r /= t.ne[1];
    int64_t i2 = r % t.ne[2];
    int64_t i3 = r / t.ne[2];
    return d_elem(t, i0, i1, i2, i3);
}
__device__ inline int64_t d_rows(const DTensor& t) { return t.ne[1] * t.ne[2] * t.ne[3]; }

__device__ inline float bits_f32(uint32_t u) { return __uint_as_float(u); }
__device__ inline uint32_t f32_bits(float f) { return __float_as_uint(f); }

// ---- half / bfloat16, bit-exact with ds4::quant -------------------------------------------

__device__ inline float d_f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) return bits_f32(sign | 0x7f800000u | ((em & 0x3ffu) << 13));
    if (em >= 0x0400u) return bits_f32(sign | ((em + 0x1c000u) << 13));  // (e-15+127) << 23
    // Subnormal: exact as float (m · 2^-24).
    const float v = float(em) * 5.9604644775390625e-08f;
    return sign ? -v : v;
}

__device__ inline uint16_t d_f32_to_f16(float x) {
    const uint32_t b = f32_bits(x);
    const uint16_t sign = uint16_t((b >> 16) & 0x8000u);
    const uint32_t a = b & 0x7fffffffu;
    if (a >= 0x7f800000u) {
        if (a == 0x7f800000u) return sign | 0x7c00u;
        return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // quiet NaN, payload top bits
    }
    if (a >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
    const int e = int(a >> 23);
    if (e < 113) {  // below the normal half range: subnormal or zero, RNE on m·2^(e-150)
        if (e < 102) return sign;  // < 2^-25 (half of the smallest subnormal): 0
        const uint32_t m = (a & 0x7fffffu) | 0x800000u;
        const int shift = 126 - e;  // value/2^-24 = m >> shift
        uint32_t q = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) ++q;
        return uint16_t(sign | q);
    }
    // Normal: rebias and round the 13 dropped mantissa bits to nearest even.
    uint32_t v = a - (112u << 23);
    v += 0xfffu + ((v >> 13) & 1u);
    return uint16_t(sign | (v >> 13));
}

__device__ inline float d_bf16_to_f32(uint16_t h) { return bits_f32(uint32_t(h) << 16); }

__device__ inline uint16_t d_f32_to_bf16(float x) {
    const uint32_t b = f32_bits(x);
    if ((b & 0x7fffffffu) > 0x7f800000u) return uint16_t((b >> 16) | 0x0040u);
    return uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

__device__ inline uint16_t d_load_u16(const uint8_t* p) { return uint16_t(p[0] | (uint16_t(p[1]) << 8)); }
__device__ inline uint32_t d_load_u32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

__device__ inline float d_load_float(uint32_t type, const uint8_t* p) {
    if (type == DS4_TYPE_F16) return d_f16_to_f32(d_load_u16(p));
    if (type == DS4_TYPE_BF16) return d_bf16_to_f32(d_load_u16(p));
    return *reinterpret_cast<const float*>(p);
}

__device__ inline void d_store_float(uint32_t type, uint8_t* p, float v) {
    if (type == DS4_TYPE_F16) {
        *reinterpret_cast<uint16_t*>(p) = d_f32_to_f16(v);
    } else if (type == DS4_TYPE_BF16) {
        *reinterpret_cast<uint16_t*>(p) = d_f32_to_bf16(v);
    } else {
        *reinterpret_cast<float*>(p) = v;
    }
}

// ---- dequantization of one element of a contiguous weight row (MODEL.md §E) ----------------
// Expressions are written in the same order as ds4::quant::dequantize_row and the plugin is
// compiled without FMA contraction, so GET_ROWS matches it bit for bit.

struct Iq2Tables {
    const uint64_t* grid;
    const uint8_t* signs;
};

// Q4_K's 6-bit scale and min of 32-wide sub-block j (the 12 scale bytes at block + 4).
__device__ inline void d_q4k_scale_min(const uint8_t* sc6, int j, int& isc, int& imn) {
    if (j < 4) {
        isc = sc6[j] & 63;
        imn = sc6[j + 4] & 63;
    } else {
        isc = (sc6[j + 4] & 15) | ((sc6[j - 4] >> 6) << 4);
        imn = (sc6[j + 4] >> 4) | ((sc6[j] >> 6) << 4);
    }
}

__device__ inline float d_dequant(uint32_t type, const uint8_t* row, int64_t i, const Iq2Tables& t) {
    switch (type) {
    case DS4_TYPE_F32: return reinterpret_cast<const float*>(row)[i];
    case DS4_TYPE_F16: return d_f16_to_f32(d_load_u16(row + 2 * i));
    case DS4_TYPE_BF16: return d_bf16_to_f32(d_load_u16(row + 2 * i));
    case DS4_TYPE_Q8_0: {
        const uint8_t* b = row + (i / 32) * 34;
        const float d = d_f16_to_f32(d_load_u16(b));
        return d * float(int8_t(b[2 + i % 32]));
    }
    case DS4_TYPE_Q2_K: {
        const uint8_t* b = row + (i / 256) * 84;
        const int n = int(i % 256);
        const float d = d_f16_to_f32(d_load_u16(b + 80));
        const float dmin = d_f16_to_f32(d_load_u16(b + 82));
        const int hb = n / 128, j = (n % 128) / 32, l = n % 32, sb = n / 16;
        const int q = (b[16 + 32 * hb + l] >> (2 * j)) & 3;
        const uint8_t sc = b[sb];
        return d * float(sc & 15) * float(q) - dmin * float(sc >> 4);
    }
    case DS4_TYPE_Q4_K: {
        const uint8_t* b = row + (i / 256) * 144;
        const int n = int(i % 256);
        const float d = d_f16_to_f32(d_load_u16(b));
        const float dmin = d_f16_to_f32(d_load_u16(b + 2));
        const int j = n / 32, l = n % 32;
        int sc, m;
        d_q4k_scale_min(b + 4, j, sc, m);
        const float dl = d * float(sc), ml = dmin * float(m);
        const int q = (b[16 + 32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
        return dl * float(q) - ml;
    }
    case DS4_TYPE_IQ2_XXS: {
        const uint8_t* b = row + (i / 256) * 66;
        const int n = int(i % 256);
        const float d = d_f16_to_f32(d_load_u16(b));
        const int ib = n / 32, l = (n % 32) / 8, j = n % 8;
        const uint32_t A = d_load_u32(b + 2 + 8 * ib);
        const uint32_t B = d_load_u32(b + 2 + 8 * ib + 4);
        const float db = d * (0.5f + float(B >> 28)) * 0.25f;
        const uint64_t grid = t.grid[(A >> (8 * l)) & 0xFF];
        const uint8_t signs = t.signs[(B >> (7 * l)) & 127];
        const float g = float(int((grid >> (8 * j)) & 0xFF));
        return (signs >> j) & 1 ? -(db * g) : db * g;
    }
    default: return 0.0f;
    }
}

// Records the first data error of a plan (deterministic for a single bad index).
// store(e, load(e)) for every e in [0, n), spread over the block's threads: each thread issues
// the loads of B elements before it stores any of them, so they are in flight together (one
// memory round trip per batch instead of one per element). Every thread of the block calls it.
template <int B, class Load, class Store>
__device__ inline void d_batched_copy(int64_t n, Load load, Store store) {
    const int64_t step = int64_t(B) * blockDim.x;
    for (int64_t e0 = 0; e0 < n; e0 += step) {
        float v[B];
#pragma unroll
        for (int k = 0; k < B; ++k) {
            const int64_t e = e0 + int64_t(k) * blockDim.x + threadIdx.x;
            v[k] = e < n ? load(e) : 0.0f;
        }
#pragma unroll
        for (int k = 0; k < B; ++k) {
            const int64_t e = e0 + int64_t(k) * blockDim.x + threadIdx.x;
            if (e < n) store(e, v[k]);
        }
    }
}

// Σx² of an RMS norm in cpu-ref's order (cpu-ref common.h, sum_squares_lanes32; segments of
// sum_orders::kRmsSegmentElements): lane l of a 32-lane group sums get(i)² for i ≡ l (mod 32)
// of each segment in double, index ascending from 0, and adds the segment partials in order;
// the butterfly 16, 8, 4, 2, 1 combines the lanes. Every lane of the group must call it; all
// get the total. (d_block_sum_squares spreads the segments over a block's warps.)
inline constexpr int64_t kRmsSeg = sum_orders::kRmsSegmentElements;
template <class Get>
__device__ inline double d_sum_squares_lanes32(Get get, int64_t n, int lane) {
    double s = 0.0;
    for (int64_t s0 = 0; s0 < n; s0 += kRmsSeg) {
        const int64_t s1 = s0 + kRmsSeg < n ? s0 + kRmsSeg : n;
        double part = 0.0;
#pragma unroll 4
        for (int64_t i = s0 + lane; i < s1; i += 32) {
            const double v = get(i);
            part = __dadd_rn(part, __dmul_rn(v, v));
        }
        s = __dadd_rn(s, part);
    }
    for (int m = 16; m > 0; m /= 2) s = __dadd_rn(s, gpu_shfl_xor32(s, m));
    return s;
}

// The same Σx² by a whole block of W 32-lane groups: group w sums segments w, w+W, ... (its 32
// loads per lane issued together), group 0 adds the partials in segment order, then the
// butterfly. Every thread of the block must call it; all get the total. part: shared [W][32].
template <int W, class Get>
__device__ inline double d_block_sum_squares(Get get, int64_t n, double (*part)[32], double* total) {
    const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    const int64_t nseg = (n + kRmsSeg - 1) / kRmsSeg;
    double s = 0.0;  // group 0's lane sums
    for (int64_t g0 = 0; g0 < nseg; g0 += W) {
        const int64_t seg = g0 + w;
        double p = 0.0;
        if (seg < nseg) {
            constexpr int kPerLane = static_cast<int>(kRmsSeg / 32);
            float v[kPerLane];
#pragma unroll
            for (int k = 0; k < kPerLane; ++k) {
                const int64_t i = seg * kRmsSeg + lane + 32 * k;
                v[k] = i < n ? get(i) : 0.0f;
            }
#pragma unroll
            for (int k = 0; k < kPerLane; ++k)
                if (seg * kRmsSeg + lane + 32 * k < n) p = __dadd_rn(p, __dmul_rn(double(v[k]), double(v[k])));
        }
        part[w][lane] = p;
        __syncthreads();
        if (w == 0) {
            const int64_t cnt = nseg - g0 < W ? nseg - g0 : W;
            for (int64_t k = 0; k < cnt; ++k) s = __dadd_rn(s, part[k][lane]);
        }
        __syncthreads();
    }
    if (w == 0) {
        for (int m = 16; m > 0; m /= 2) s = __dadd_rn(s, gpu_shfl_xor32(s, m));
        if (lane == 0) *total = s;
    }
    __syncthreads();
    return *total;
}

__device__ inline void d_report(DeviceError* err, int32_t code, int32_t node, int32_t value, int64_t position) {
    if (atomicCAS(&err->code, 0, code) == 0) {
        err->node = node;
        err->value = value;
        err->position = static_cast<int32_t>(position);
    }
}

}  // namespace ds4::gpu
