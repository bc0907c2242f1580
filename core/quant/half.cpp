// IEEE binary16 and bfloat16 <-> binary32 conversions, done on the bit patterns so the
// result does not depend on the host's F16C support or the floating-point environment.
#include <cstring>

#include "quant/quant.h"

namespace ds4::quant {
namespace {

uint32_t bits_of(float x) {
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return b;
}
float float_of(uint32_t b) {
    float x;
    std::memcpy(&x, &b, 4);
    return x;
}

// Rounds `value >> shift` to nearest, ties to even (shift ≥ 1).
uint32_t shift_right_rne(uint32_t value, int shift) {
    const uint32_t q = value >> shift;
    const uint32_t rem = value & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    return (rem > half || (rem == half && (q & 1u))) ? q + 1u : q;
}

}  // namespace

uint16_t f32_to_f16(float x) {
    const uint32_t b = bits_of(x);
    const uint16_t sign = uint16_t((b >> 16) & 0x8000u);
    const uint32_t a = b & 0x7fffffffu;
    if (a >= 0x7f800000u) {  // inf or NaN
        if (a == 0x7f800000u) return sign | 0x7c00u;
        return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // quiet NaN, payload top bits
    }
    // 65520 = halfway between 65504 (max half, odd mantissa) and 2^16: ties go up to inf.
    if (a >= 0x477ff000u) return sign | 0x7c00u;
    if (a < 0x38800000u) {  // below 2^-14: half subnormal (or zero), step 2^-24
        if (a <= 0x33000000u) return sign;  // ≤ 2^-25 (exact tie at 2^-25 goes to even 0)
        const int e = int(a >> 23);
        const uint32_t m = (a & 0x7fffffu) | 0x800000u;  // value = m · 2^(e-150)
        // round(value · 2^24) = round(m >> (126 - e)); may carry into the min normal 0x400.
        return uint16_t(sign | shift_right_rne(m, 126 - e));
    }
    // Normal: rebias the exponent (127 → 15) then drop 13 mantissa bits; a carry out of
    // the mantissa correctly bumps the exponent (and cannot reach inf: a < 65520).
    return uint16_t(sign | shift_right_rne(a - 0x38000000u, 13));
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) return float_of(sign | 0x7f800000u | ((em & 0x3ffu) << 13));
    // Normals and subnormals in one step: place exponent+mantissa into an f32 with bias 0,
    // then scale by 2^112 (exact, a power of two; subnormal halves become normal floats).
    return float_of(sign | bits_of(float_of(em << 13) * 0x1p112f));
}

uint16_t f32_to_bf16(float x) {
    const uint32_t b = bits_of(x);
    if ((b & 0x7fffffffu) > 0x7f800000u) return uint16_t((b >> 16) | 0x0040u);  // quiet NaN
    // Round to nearest even on the low 16 bits; overflow carries into inf as it should.
    return uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

float bf16_to_f32(uint16_t h) { return float_of(uint32_t(h) << 16); }

void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}
void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}
void f32_to_bf16_row(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}
void bf16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}
void f16_round_trip_row(float* row, int64_t n) {
    for (int64_t i = 0; i < n; ++i) row[i] = f16_round(row[i]);
}

}  // namespace ds4::quant
