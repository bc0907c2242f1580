// quantize_row: input sanitation, float formats, Q8_0, and dispatch to the K-quant and
// IQ2_XXS searches (quantize_k.cpp, quantize_iq2_xxs.cpp).
#include <cmath>

#include "internal.h"
#include "quant/quant.h"
#include "quantize_impl.h"

namespace ds4::quant {
namespace detail {

// Q8_0 weights: d = absmax/127 rounded to f16; the codes are rounded against the f16 d
// actually stored (not the f32 one), which keeps |q| ≤ 127 and the error ≤ d/2.
void quantize_blocks_q8_0(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, x += 32, dst += 34) {
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) amax = std::fabs(x[i]) > amax ? std::fabs(x[i]) : amax;
        uint16_t dh = f32_to_f16(amax / 127.0f);
        if ((dh & 0x7fffu) >= 0x7c00u) dh = 0x7bffu;  // beyond f16 range: saturate d
        const float d = f16_to_f32(dh);
        store_u16(dst, dh);
        int8_t* q = reinterpret_cast<int8_t*>(dst + 2);
        for (int i = 0; i < 32; ++i) {
            const int32_t v = d != 0.0f ? round_half_even(x[i] / d) : 0;
            q[i] = int8_t(v < -127 ? -127 : (v > 127 ? 127 : v));
        }
    }
}

}  // namespace detail

bool can_quantize(ds4_type type) {
    switch (type) {
    case DS4_TYPE_F32: case DS4_TYPE_F16: case DS4_TYPE_BF16: case DS4_TYPE_Q8_0:
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS:
        return true;
    default:
        return false;
    }
}

bool quantize_row(ds4_type type, const float* src, void* dst_v, int64_t n, const float* importance) {
    using namespace detail;
    if (!can_quantize(type) || ds4_type_row_bytes(type, n) < 0) return false;
    auto* dst = static_cast<uint8_t*>(dst_v);
    switch (type) {
    case DS4_TYPE_F32: std::memcpy(dst, src, size_t(n) * 4); return true;
    case DS4_TYPE_F16:
        for (int64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, f32_to_f16(src[i]));
        return true;
    case DS4_TYPE_BF16:
        for (int64_t i = 0; i < n; ++i) store_u16(dst + 2 * i, f32_to_bf16(src[i]));
        return true;
    default: break;
    }
    // Block quantizers work one block at a time on a sanitized copy: non-finite input
    // becomes 0 (and a non-finite or negative importance becomes 0) so one bad value
    // cannot poison a whole block's scales.
    const int64_t be = ds4_type_block_elems(type), bb = ds4_type_block_bytes(type);
    float xb[kQK_K], ib[kQK_K];
    for (int64_t b = 0; b < n / be; ++b) {
        for (int64_t i = 0; i < be; ++i) {
            xb[i] = finite_or_zero(src[b * be + i]);
            if (importance) {
                const float w = finite_or_zero(importance[b * be + i]);
                ib[i] = w > 0.0f ? w : 0.0f;
            }
        }
        const float* imp = importance ? ib : nullptr;
        uint8_t* out = dst + b * bb;
        switch (type) {
        case DS4_TYPE_Q8_0: quantize_blocks_q8_0(xb, out, 1); break;
        case DS4_TYPE_Q2_K: quantize_blocks_q2_k(xb, out, 1, imp); break;
        case DS4_TYPE_Q4_K: quantize_blocks_q4_k(xb, out, 1, imp); break;
        case DS4_TYPE_IQ2_XXS: quantize_blocks_iq2_xxs(xb, out, 1, imp); break;
        default: return false;
        }
    }
    return true;
}

}  // namespace ds4::quant
