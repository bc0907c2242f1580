// Official DeepSeek V4 checkpoint number formats (MODEL.md §E.7, §E.8): e4m3fn codes,
// UE8M0 scales, e2m1 codes, and the FP8 (128×128 scale tiles) / FP4 (1×32 scale groups)
// weight decoders used by the converter.
#include <cmath>

#include "quant/quant.h"

namespace ds4::quant {

float e4m3fn_to_f32(uint8_t code) {
    const int exp = (code >> 3) & 15, mant = code & 7;
    const float sign = code & 0x80 ? -1.0f : 1.0f;
    if (exp == 15 && mant == 7) return NAN;
    const float mag = exp == 0 ? float(mant) * 0x1p-9f : std::ldexp(1.0f + float(mant) / 8.0f, exp - 7);
    return sign * mag;
}

float e8m0_to_f32(uint8_t e) {
    if (e == 255) return NAN;
    return std::ldexp(1.0f, int(e) - 127);  // e = 0 → 2^-127 (an f32 subnormal), as ds4
}

float e2m1_to_f32(uint8_t nibble) {
    static constexpr float kValues[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    const float v = kValues[nibble & 7];
    return nibble & 8 ? -v : v;
}

uint8_t f32_to_e4m3fn(float x) {
    if (std::isnan(x)) return 0x7f;
    const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
    const float a = std::fabs(x) < kE4M3Max ? std::fabs(x) : kE4M3Max;  // saturate
    if (a < 0x1p-6f) {
        // Subnormal range, step 2^-9; a·512 is exact, rounding it is round-half-even.
        // q = 8 lands on code 8 = the smallest normal 2^-6, as it should.
        return uint8_t(sign | round_half_even(a * 512.0f));
    }
    int e = 0;
    std::frexp(a, &e);  // a ∈ [2^(e-1), 2^e)
    const int E = e - 1;
    // q ∈ [8, 16] = a in units of the binade's mantissa step; ties to even q = even code.
    // q = 16 carries into the next exponent with mantissa 0 (the encoding arithmetic below
    // produces exactly that). a ≤ 448 keeps the code ≤ 0x7E.
    const int q = round_half_even(std::ldexp(a, 3 - E));
    return uint8_t(sign | (((E + 7) << 3) + (q - 8)));
}

uint8_t f32_to_e2m1(float x) {
    if (std::isnan(x)) return 0;
    const uint8_t sign = std::signbit(x) ? 8 : 0;
    const float a = std::fabs(x);
    // Midpoints between neighbours; a tie goes to the even code index (0, 2, 4, 6).
    uint8_t c;
    if (a <= 0.25f) c = 0;
    else if (a < 0.75f) c = 1;
    else if (a <= 1.25f) c = 2;
    else if (a < 1.75f) c = 3;
    else if (a <= 2.5f) c = 4;
    else if (a < 3.5f) c = 5;
    else if (a <= 5.0f) c = 6;
    else c = 7;  // saturates at 6
    return uint8_t(sign | c);
}

bool dequant_fp8_weight(const uint8_t* q, const uint8_t* scale, float* out, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0) return false;
    const int64_t scale_cols = (cols + 127) / 128;
    float lut[256];
    for (int c = 0; c < 256; ++c) lut[c] = e4m3fn_to_f32(uint8_t(c));
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* srow = scale + (r / 128) * scale_cols;
        for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = lut[q[r * cols + c]] * e8m0_to_f32(srow[c / 128]);
    }
    return true;
}

bool dequant_fp4_weight(const uint8_t* packed, const uint8_t* scale, float* out, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0 || cols % 2 != 0) return false;
    const int64_t scale_cols = (cols + 31) / 32;
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* prow = packed + r * (cols / 2);
        const uint8_t* srow = scale + r * scale_cols;
        for (int64_t c = 0; c < cols; ++c) {
            const uint8_t byte = prow[c / 2];
            const uint8_t code = c % 2 == 0 ? (byte & 15) : (byte >> 4);
            out[r * cols + c] = e2m1_to_f32(code) * e8m0_to_f32(srow[c / 32]);
        }
    }
    return true;
}

}  // namespace ds4::quant
