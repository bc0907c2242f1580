// Private helpers shared by the ds4_quant sources: unaligned little-endian field access
// and the Q4_K 6-bit scale/min unpacking. Not installed, not for other libraries.
#pragma once

#include <cstdint>
#include <cstring>

namespace ds4::quant::detail {

// GGUF rows are only 2-byte aligned for Q8_0/IQ2_XXS, so fields are read with memcpy
// (which compilers turn into plain loads).
inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline int16_t load_i16(const uint8_t* p) {
    int16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, 4); }
inline void store_i16(uint8_t* p, int16_t v) { std::memcpy(p, &v, 2); }

// Byte offsets inside the blocks (MODEL.md §E), so every file agrees on them.
namespace q2k {
inline constexpr int kScales = 0, kQs = 16, kD = 80, kDmin = 82;
}
namespace q4k {
inline constexpr int kD = 0, kDmin = 2, kScales = 4, kQs = 16;
}
namespace q8k {
inline constexpr int kD = 0, kQs = 4, kBsums = 260;
}

// Q4_K sub-block j (0..7): 6-bit scale and min from the 12 packed bytes (MODEL.md §E.3).
inline void q4k_scale_min(const uint8_t* scales, int j, int& sc, int& m) {
    if (j < 4) {
        sc = scales[j] & 63;
        m = scales[j + 4] & 63;
    } else {
        sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
        m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

// Grid byte j (0..7) of IQ2_XXS grid entry `index`.
inline int iq2xxs_grid_byte(uint64_t entry, int j) { return int((entry >> (8 * j)) & 0xFF); }

// quant::f16_to_f32 (half.cpp), the same bit formula, inlinable into the per-block float
// step of the dot kernels (tests/quant checks the two agree on all 65536 inputs).
inline float f16_to_f32_inline(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    uint32_t bits;
    if (em >= 0x7c00u) {
        bits = sign | 0x7f800000u | ((em & 0x3ffu) << 13);
    } else {
        float f;
        const uint32_t shifted = em << 13;
        std::memcpy(&f, &shifted, 4);
        f *= 0x1p112f;
        std::memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float r;
    std::memcpy(&r, &bits, 4);
    return r;
}

// Sum of 8 lane accumulators in the documented fixed order.
inline float reduce_lanes8(const float* l) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

// Replaces non-finite values by 0 (the quantizers' documented treatment of bad input).
inline float finite_or_zero(float x) { return (x - x == 0.0f) ? x : 0.0f; }

// The row-dot kernels behind the public dot_* functions, one set per instruction set.
// Every set returns bit-identical results: the integer block sums are exact (so they may be
// computed in any order and width) and the float steps per block, and their order across
// blocks, are those of the scalar formulas in quant.h. dot.cpp picks the set once.
struct DotKernels {
    const char* name;
    float (*q8_0)(const void* w, const void* x, int64_t n);
    float (*q2_k)(const void* w, const void* x, int64_t n);
    float (*q4_k)(const void* w, const void* x, int64_t n);
    float (*iq2_xxs)(const void* w, const void* x, int64_t n);
    float (*f16)(const void* w, const float* x, int64_t n);
    float (*bf16)(const void* w, const float* x, int64_t n);
    // Block-quantized weights against f32 x: exactly dequantize_row then dot_f32_f32 (each
    // element decoded with dequant.cpp's formula, element i into lane i % 8, in order).
    float (*q8_0_f32)(const void* w, const float* x, int64_t n);
    float (*q2_k_f32)(const void* w, const float* x, int64_t n);
    float (*q4_k_f32)(const void* w, const float* x, int64_t n);
    float (*iq2_xxs_f32)(const void* w, const float* x, int64_t n);
};
// Plain C++ (dot_portable.cpp), written so compilers vectorize it for the build's baseline.
const DotKernels& portable_dots();
// AVX2 kernels (dot_avx2.cpp); nullptr when not built for x86 or the CPU lacks AVX2.
const DotKernels* avx2_dots();
// The set in use: the fastest the CPU runs, or portable_dots() when the environment has
// DS4_QUANT_DOTS=portable (to measure or debug the fallback on an AVX2 machine).
const DotKernels& active_dots();

// IQ2_XXS sign masks as int8 factors: byte j of entry i is -1 when bit j of kIq2xsSigns[i]
// is set, else +1 (128 entries, built once from the table of the format).
const uint64_t* iq2xs_sign_factors();

}  // namespace ds4::quant::detail
