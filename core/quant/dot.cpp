// Row dot products of one weight row with one activation row (MODEL.md §C.0, §E.5, §E.6).
// Quantized dots: integer inner sums per (sub-)block, then the float combination in the
// order ds4's scalar kernels use, so results are bit-reproducible across runs and builds.
// Float dots: 8 lane accumulators (element i → lane i % 8) reduced in a fixed tree.
#include "internal.h"
#include "quant/quant.h"

namespace ds4::quant {
using namespace detail;

float dot_q8_0_q8_0act(const void* w_row, const void* x_act, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_act);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / kQK8_0; ++b, w += 34, x += sizeof(block_q8_0_act)) {
        const int8_t* qw = reinterpret_cast<const int8_t*>(w + 2);
        const int8_t* qx = reinterpret_cast<const int8_t*>(x + 4);
        int32_t isum = 0;
        for (int i = 0; i < kQK8_0; ++i) isum += int32_t(qw[i]) * int32_t(qx[i]);
        acc += f16_to_f32(load_u16(w)) * load_f32(x) * float(isum);  // (d_w·d_x)·isum
    }
    return acc;
}

float dot_q2_k_q8_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 84, x += sizeof(block_q8_k)) {
        const uint8_t* sc = w + q2k::kScales;
        const uint8_t* qs = w + q2k::kQs;
        const int8_t* q8 = reinterpret_cast<const int8_t*>(x + q8k::kQs);
        // Mins: Σ_sb m_sb · Σ q8 over that sub-block, read from bsums.
        int32_t summs = 0;
        for (int sb = 0; sb < 16; ++sb) summs += int32_t(load_i16(x + q8k::kBsums + 2 * sb)) * (sc[sb] >> 4);
        int32_t isum = 0;
        for (int sb = 0; sb < 16; ++sb) {
            const int hb = sb / 8, j = (sb % 8) / 2, l0 = 16 * (sb % 2);
            int32_t s = 0;
            for (int l = l0; l < l0 + 16; ++l) {
                s += int32_t((qs[32 * hb + l] >> (2 * j)) & 3) * int32_t(q8[128 * hb + 32 * j + l]);
            }
            isum += (sc[sb] & 15) * s;
        }
        const float dx = load_f32(x + q8k::kD);
        const float dall = dx * f16_to_f32(load_u16(w + q2k::kD));
        const float dmin = dx * f16_to_f32(load_u16(w + q2k::kDmin));
        sumf += dall * float(isum) - dmin * float(summs);
    }
    return sumf;
}

float dot_q4_k_q8_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 144, x += sizeof(block_q8_k)) {
        const uint8_t* qs = w + q4k::kQs;
        const int8_t* q8 = reinterpret_cast<const int8_t*>(x + q8k::kQs);
        int32_t summs = 0, isum = 0;
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            q4k_scale_min(w + q4k::kScales, j, sc, m);
            const int32_t bs = int32_t(load_i16(x + q8k::kBsums + 4 * j)) +
                               int32_t(load_i16(x + q8k::kBsums + 4 * j + 2));
            summs += bs * m;
            const int p = j / 2, shift = 4 * (j % 2);
            int32_t s = 0;
            for (int l = 0; l < 32; ++l) s += int32_t((qs[32 * p + l] >> shift) & 15) * int32_t(q8[32 * j + l]);
            isum += s * sc;
        }
        const float dx = load_f32(x + q8k::kD);
        const float d = dx * f16_to_f32(load_u16(w + q4k::kD));
        const float dmin = dx * f16_to_f32(load_u16(w + q4k::kDmin));
        sumf += d * float(isum) - dmin * float(summs);
    }
    return sumf;
}

float dot_iq2_xxs_q8_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 66, x += sizeof(block_q8_k)) {
        const int8_t* q8 = reinterpret_cast<const int8_t*>(x + q8k::kQs);
        int32_t bsum = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t A = load_u32(w + 2 + 8 * ib);
            const uint32_t B = load_u32(w + 2 + 8 * ib + 4);
            int32_t sumi = 0;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2xxsGrid[(A >> (8 * l)) & 0xFF];
                const uint8_t signs = kIq2xsSigns[(B >> (7 * l)) & 127];
                for (int j = 0; j < 8; ++j) {
                    const int32_t g = iq2xxs_grid_byte(grid, j);
                    const int32_t v = int32_t(q8[32 * ib + 8 * l + j]);
                    sumi += (signs >> j) & 1 ? -g * v : g * v;
                }
            }
            bsum += sumi * int32_t(2 * (B >> 28) + 1);  // (2s+1): the /8 is applied at the end
        }
        sumf += f16_to_f32(load_u16(w)) * load_f32(x + q8k::kD) * float(bsum);
    }
    return 0.125f * sumf;
}

float dot_f32_f32(const float* w, const float* x, int64_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] += w[i + k] * x[i + k];
    for (int k = 0; i < n; ++i, ++k) lanes[k] += w[i] * x[i];
    return reduce_lanes8(lanes);
}

float dot_f16_f32(const void* w_f16, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_f16);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] += f16_to_f32(load_u16(w + 2 * (i + k))) * x[i + k];
    for (int k = 0; i < n; ++i, ++k) lanes[k] += f16_to_f32(load_u16(w + 2 * i)) * x[i];
    return reduce_lanes8(lanes);
}

float dot_bf16_f32(const void* w_bf16, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_bf16);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] += bf16_to_f32(load_u16(w + 2 * (i + k))) * x[i + k];
    for (int k = 0; i < n; ++i, ++k) lanes[k] += bf16_to_f32(load_u16(w + 2 * i)) * x[i];
    return reduce_lanes8(lanes);
}

float dot_dequant_f32(ds4_type wtype, const void* w_row, const float* x, int64_t n) {
    switch (wtype) {
    case DS4_TYPE_F32: return dot_f32_f32(static_cast<const float*>(w_row), x, n);
    case DS4_TYPE_F16: return dot_f16_f32(w_row, x, n);
    case DS4_TYPE_BF16: return dot_bf16_f32(w_row, x, n);
    default: break;
    }
    if (!can_dequantize(wtype) || ds4_type_row_bytes(wtype, n) < 0) return 0.0f;
    // Decode one block (≤ 256 elements, a multiple of 8) at a time and keep accumulating
    // into the same lanes, so the order equals dot_f32_f32 on the dequantized row.
    const int64_t be = ds4_type_block_elems(wtype), bb = ds4_type_block_bytes(wtype);
    const auto* w = static_cast<const uint8_t*>(w_row);
    float buf[kQK_K];
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < n / be; ++b) {
        dequantize_row(wtype, w + b * bb, buf, be);
        const float* xb = x + b * be;
        for (int64_t i = 0; i < be; i += 8)
            for (int k = 0; k < 8; ++k) lanes[k] += buf[i + k] * xb[i + k];
    }
    return reduce_lanes8(lanes);
}

}  // namespace ds4::quant
