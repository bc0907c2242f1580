// Block decoders: exactly the element formulas of MODEL.md §E, one function per format.
#include "internal.h"
#include "quant/quant.h"

namespace ds4::quant {
namespace {
using namespace detail;

void dequant_q8_0(const uint8_t* src, float* dst, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, src += 34, dst += 32) {
        const float d = f16_to_f32(load_u16(src));
        const int8_t* q = reinterpret_cast<const int8_t*>(src + 2);
        for (int i = 0; i < 32; ++i) dst[i] = d * float(q[i]);
    }
}

void dequant_q2_k(const uint8_t* src, float* dst, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, src += 84, dst += 256) {
        const float d = f16_to_f32(load_u16(src + q2k::kD));
        const float dmin = f16_to_f32(load_u16(src + q2k::kDmin));
        const uint8_t* scales = src + q2k::kScales;
        const uint8_t* qs = src + q2k::kQs;
        for (int n = 0; n < 256; ++n) {
            const int hb = n / 128, j = (n % 128) / 32, l = n % 32, sb = n / 16;
            const int q = (qs[32 * hb + l] >> (2 * j)) & 3;
            dst[n] = d * float(scales[sb] & 15) * float(q) - dmin * float(scales[sb] >> 4);
        }
    }
}

void dequant_q4_k(const uint8_t* src, float* dst, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, src += 144, dst += 256) {
        const float d = f16_to_f32(load_u16(src + q4k::kD));
        const float dmin = f16_to_f32(load_u16(src + q4k::kDmin));
        const uint8_t* qs = src + q4k::kQs;
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            q4k_scale_min(src + q4k::kScales, j, sc, m);
            const float dl = d * float(sc), ml = dmin * float(m);
            const int p = j / 2, shift = 4 * (j % 2);
            for (int l = 0; l < 32; ++l) {
                const int q = (qs[32 * p + l] >> shift) & 15;
                dst[32 * j + l] = dl * float(q) - ml;
            }
        }
    }
}

void dequant_iq2_xxs(const uint8_t* src, float* dst, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, src += 66, dst += 256) {
        const float d = f16_to_f32(load_u16(src));
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t A = load_u32(src + 2 + 8 * ib);
            const uint32_t B = load_u32(src + 2 + 8 * ib + 4);
            const float db = d * (0.5f + float(B >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2xxsGrid[(A >> (8 * l)) & 0xFF];
                const uint8_t signs = kIq2xsSigns[(B >> (7 * l)) & 127];
                for (int j = 0; j < 8; ++j) {
                    const float g = float(iq2xxs_grid_byte(grid, j));
                    dst[32 * ib + 8 * l + j] = (signs >> j) & 1 ? -(db * g) : db * g;
                }
            }
        }
    }
}

void dequant_q8_k(const uint8_t* src, float* dst, int64_t nb) {
    for (int64_t b = 0; b < nb; ++b, src += 292, dst += 256) {
        const float d = load_f32(src + q8k::kD);
        const int8_t* q = reinterpret_cast<const int8_t*>(src + q8k::kQs);
        for (int i = 0; i < 256; ++i) dst[i] = d * float(q[i]);
    }
}

}  // namespace

bool can_dequantize(ds4_type type) {
    switch (type) {
    case DS4_TYPE_F32: case DS4_TYPE_F16: case DS4_TYPE_BF16: case DS4_TYPE_Q8_0:
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS: case DS4_TYPE_Q8_K:
        return true;
    default:
        return false;
    }
}

bool dequantize_row(ds4_type type, const void* src_v, float* dst, int64_t n) {
    if (!can_dequantize(type) || ds4_type_row_bytes(type, n) < 0) return false;
    const auto* src = static_cast<const uint8_t*>(src_v);
    const int64_t nb = n / ds4_type_block_elems(type);
    switch (type) {
    case DS4_TYPE_F32:
        std::memcpy(dst, src, size_t(n) * 4);
        return true;
    case DS4_TYPE_F16:
        for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(src + 2 * i));
        return true;
    case DS4_TYPE_BF16:
        for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(src + 2 * i));
        return true;
    case DS4_TYPE_Q8_0: dequant_q8_0(src, dst, nb); return true;
    case DS4_TYPE_Q2_K: dequant_q2_k(src, dst, nb); return true;
    case DS4_TYPE_Q4_K: dequant_q4_k(src, dst, nb); return true;
    case DS4_TYPE_IQ2_XXS: dequant_iq2_xxs(src, dst, nb); return true;
    case DS4_TYPE_Q8_K: dequant_q8_k(src, dst, nb); return true;
    default: return false;
    }
}

}  // namespace ds4::quant
