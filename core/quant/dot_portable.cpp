// Row-dot kernels in plain C++, for every CPU (and the reference for the SIMD sets).
// Shaped for the auto-vectorizer: each quantized block is first unpacked into small int8
// planes (no per-element bit fiddling or branches inside the multiply loops), then dotted
// with fixed-length int8 loops. The float step per block and its order across blocks are
// exactly the formulas of quant.h §5, so results equal every other kernel set bit for bit.
#include <bit>

#include "internal.h"
#include "quant/quant.h"

// GCC -O3 fully unrolls short fixed-length loops into scalar code before the loop vectorizer
// runs (2-3x slower here); a loop marked with this stays a loop, gets vectorized, and the
// vector loop is unrolled afterwards.
#define DS4_VECTOR_LOOP _Pragma("GCC unroll 1")

namespace ds4::quant::detail {
namespace {

// Σ a[i]·b[i] of N int8 pairs (exact in int32 for N ≤ 2^17).
template <int N, typename A>
inline int32_t dot_i8(const A* a, const int8_t* b) {
    int32_t s = 0;
    DS4_VECTOR_LOOP
    for (int i = 0; i < N; ++i) s += int32_t(a[i]) * int32_t(b[i]);
    return s;
}

float q8_0(const void* w_row, const void* x_act, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_act);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / kQK8_0; ++b, w += 34, x += sizeof(block_q8_0_act)) {
        const int32_t isum = dot_i8<kQK8_0>(reinterpret_cast<const int8_t*>(w + 2), reinterpret_cast<const int8_t*>(x + 4));
        acc += f16_to_f32_inline(load_u16(w)) * load_f32(x) * float(isum);
    }
    return acc;
}

float q2_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 84, x += sizeof(block_q8_k)) {
        const uint8_t* sc = w + q2k::kScales;
        const int8_t* q8 = reinterpret_cast<const int8_t*>(x + q8k::kQs);
        int32_t summs = 0;
        for (int sb = 0; sb < 16; ++sb) summs += int32_t(load_i16(x + q8k::kBsums + 2 * sb)) * (sc[sb] >> 4);
        int32_t isum = 0;
        for (int hb = 0; hb < 2; ++hb) {
            // The four 2-bit planes of 32 bytes: element 128·hb + 32·j + l is plane j, byte l.
            const uint8_t* qs = w + q2k::kQs + 32 * hb;
            uint8_t plane[4][32];
            DS4_VECTOR_LOOP
            for (int l = 0; l < 32; ++l) {
                plane[0][l] = qs[l] & 3;
                plane[1][l] = (qs[l] >> 2) & 3;
                plane[2][l] = (qs[l] >> 4) & 3;
                plane[3][l] = qs[l] >> 6;
            }
            for (int j = 0; j < 4; ++j) {
                const int sb = 8 * hb + 2 * j;  // bytes 0..15 of a plane: sub-block sb, 16..31: sb + 1
                const int8_t* y = q8 + 128 * hb + 32 * j;
                isum += (sc[sb] & 15) * dot_i8<16>(plane[j], y) + (sc[sb + 1] & 15) * dot_i8<16>(plane[j] + 16, y + 16);
            }
        }
        const float dx = load_f32(x + q8k::kD);
        const float dall = dx * f16_to_f32_inline(load_u16(w + q2k::kD));
        const float dmin = dx * f16_to_f32_inline(load_u16(w + q2k::kDmin));
        sumf += dall * float(isum) - dmin * float(summs);
    }
    return sumf;
}

float q4_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 144, x += sizeof(block_q8_k)) {
        const int8_t* q8 = reinterpret_cast<const int8_t*>(x + q8k::kQs);
        int sc[8], m[8];
        for (int j = 0; j < 8; ++j) q4k_scale_min(w + q4k::kScales, j, sc[j], m[j]);
        int32_t summs = 0;
        for (int j = 0; j < 8; ++j)
            summs += (int32_t(load_i16(x + q8k::kBsums + 4 * j)) + int32_t(load_i16(x + q8k::kBsums + 4 * j + 2))) * m[j];
        int32_t isum = 0;
        for (int p = 0; p < 4; ++p) {
            // 32 bytes hold sub-block 2p in the low nibbles and 2p + 1 in the high ones.
            const uint8_t* qs = w + q4k::kQs + 32 * p;
            uint8_t lo[32], hi[32];
            DS4_VECTOR_LOOP
            for (int l = 0; l < 32; ++l) {
                lo[l] = qs[l] & 15;
                hi[l] = qs[l] >> 4;
            }
            isum += sc[2 * p] * dot_i8<32>(lo, q8 + 64 * p) + sc[2 * p + 1] * dot_i8<32>(hi, q8 + 64 * p + 32);
        }
        const float dx = load_f32(x + q8k::kD);
        const float d = dx * f16_to_f32_inline(load_u16(w + q4k::kD));
        const float dmin = dx * f16_to_f32_inline(load_u16(w + q4k::kDmin));
        sumf += d * float(isum) - dmin * float(summs);
    }
    return sumf;
}

float iq2_xxs(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    const uint64_t* sign_factors = iq2xs_sign_factors();
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 66, x += sizeof(block_q8_k)) {
        const int8_t* q8 = reinterpret_cast<const int8_t*>(x + q8k::kQs);
        int32_t bsum = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t A = load_u32(w + 2 + 8 * ib);
            const uint32_t B = load_u32(w + 2 + 8 * ib + 4);
            // Signed grid of the 32 elements: grid bytes (≤ 43) times ±1 from the sign table.
            int8_t grid[32], sign[32];
            for (int l = 0; l < 4; ++l) {
                std::memcpy(grid + 8 * l, &kIq2xxsGrid[(A >> (8 * l)) & 0xFF], 8);
                std::memcpy(sign + 8 * l, &sign_factors[(B >> (7 * l)) & 127], 8);
            }
            DS4_VECTOR_LOOP
            for (int i = 0; i < 32; ++i) grid[i] = int8_t(grid[i] * sign[i]);
            bsum += dot_i8<32>(grid, q8 + 32 * ib) * int32_t(2 * (B >> 28) + 1);
        }
        sumf += f16_to_f32_inline(load_u16(w)) * load_f32(x + q8k::kD) * float(bsum);
    }
    return 0.125f * sumf;
}

// f16_to_f32 without a branch: the inf/NaN case is merged with a mask (a `?:` here becomes a
// jump and the lane loop stays scalar), so the lane loop vectorizes.
inline float f16_lane(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    const uint32_t finite = std::bit_cast<uint32_t>(std::bit_cast<float>(em << 13) * 0x1p112f) | sign;
    const uint32_t special = sign | 0x7f800000u | ((em & 0x3ffu) << 13);
    const uint32_t is_special = uint32_t(0) - uint32_t(em >= 0x7c00u);
    return std::bit_cast<float>((special & is_special) | (finite & ~is_special));
}

inline float bf16_lane(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

template <float (*Convert)(uint16_t)>
float dot_half(const void* w_half, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_half);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] += Convert(load_u16(w + 2 * (i + k))) * x[i + k];
    for (int k = 0; i < n; ++i, ++k) lanes[k] += Convert(load_u16(w + 2 * i)) * x[i];
    return reduce_lanes8(lanes);
}

// ---- f32 activations: dequantize_row's element formulas, dot_f32_f32's lane order ---------

// lanes[k] += v[i + k]·x[i + k] over N values (N a multiple of 8).
template <int N>
inline void accumulate_lanes(float* lanes, const float* v, const float* x) {
    for (int i = 0; i < N; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] += v[i + k] * x[i + k];
}

float q8_0_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < n / kQK8_0; ++b, w += 34, x += kQK8_0) {
        const float d = f16_to_f32_inline(load_u16(w));
        const int8_t* q = reinterpret_cast<const int8_t*>(w + 2);
        float v[kQK8_0];
        DS4_VECTOR_LOOP
        for (int i = 0; i < kQK8_0; ++i) v[i] = d * float(q[i]);
        accumulate_lanes<kQK8_0>(lanes, v, x);
    }
    return reduce_lanes8(lanes);
}

float q2_k_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 84, x += kQK_K) {
        const float d = f16_to_f32_inline(load_u16(w + q2k::kD));
        const float dmin = f16_to_f32_inline(load_u16(w + q2k::kDmin));
        const uint8_t* sc = w + q2k::kScales;
        float v[kQK_K];
        for (int sb = 0; sb < 16; ++sb) {
            // Element 16·sb + l: 2-bit field (sb % 8) / 2 of byte 32·(sb / 8) + 16·(sb % 2) + l.
            const float dl = d * float(sc[sb] & 15), ml = dmin * float(sc[sb] >> 4);
            const uint8_t* qs = w + q2k::kQs + 32 * (sb / 8) + 16 * (sb % 2);
            const int shift = 2 * ((sb % 8) / 2);
            DS4_VECTOR_LOOP
            for (int l = 0; l < 16; ++l) v[16 * sb + l] = dl * float((qs[l] >> shift) & 3) - ml;
        }
        accumulate_lanes<kQK_K>(lanes, v, x);
    }
    return reduce_lanes8(lanes);
}

float q4_k_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 144, x += kQK_K) {
        const float d = f16_to_f32_inline(load_u16(w + q4k::kD));
        const float dmin = f16_to_f32_inline(load_u16(w + q4k::kDmin));
        float v[kQK_K];
        for (int p = 0; p < 4; ++p) {  // sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles)
            int sc0, m0, sc1, m1;
            q4k_scale_min(w + q4k::kScales, 2 * p, sc0, m0);
            q4k_scale_min(w + q4k::kScales, 2 * p + 1, sc1, m1);
            const float dl0 = d * float(sc0), ml0 = dmin * float(m0);
            const float dl1 = d * float(sc1), ml1 = dmin * float(m1);
            const uint8_t* qs = w + q4k::kQs + 32 * p;
            DS4_VECTOR_LOOP
            for (int l = 0; l < 32; ++l) v[64 * p + l] = dl0 * float(qs[l] & 15) - ml0;
            DS4_VECTOR_LOOP
            for (int l = 0; l < 32; ++l) v[64 * p + 32 + l] = dl1 * float(qs[l] >> 4) - ml1;
        }
        accumulate_lanes<kQK_K>(lanes, v, x);
    }
    return reduce_lanes8(lanes);
}

float iq2_xxs_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 66, x += kQK_K) {
        const float d = f16_to_f32_inline(load_u16(w));
        float v[kQK_K];
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t A = load_u32(w + 2 + 8 * ib);
            const uint32_t B = load_u32(w + 2 + 8 * ib + 4);
            const float db = d * (0.5f + float(B >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l) {
                const uint64_t grid = kIq2xxsGrid[(A >> (8 * l)) & 0xFF];
                const uint32_t signs = kIq2xsSigns[(B >> (7 * l)) & 127];
                // -(db·g) is db·g with the sign bit flipped.
                DS4_VECTOR_LOOP
                for (int j = 0; j < 8; ++j)
                    v[32 * ib + 8 * l + j] = std::bit_cast<float>(
                        std::bit_cast<uint32_t>(db * float(iq2xxs_grid_byte(grid, j))) ^ (((signs >> j) & 1u) << 31));
            }
        }
        accumulate_lanes<kQK_K>(lanes, v, x);
    }
    return reduce_lanes8(lanes);
}

constexpr DotKernels kPortable = {"portable", q8_0,     q2_k,     q4_k,     iq2_xxs,    dot_half<f16_lane>,
                                  dot_half<bf16_lane>,  q8_0_f32, q2_k_f32, q4_k_f32, iq2_xxs_f32};

}  // namespace

const DotKernels& portable_dots() { return kPortable; }

const uint64_t* iq2xs_sign_factors() {
    struct Table {
        uint64_t v[128];
        Table() {
            for (int i = 0; i < 128; ++i) {
                v[i] = 0;
                for (int j = 0; j < 8; ++j) v[i] |= uint64_t((kIq2xsSigns[i] >> j) & 1 ? 0xFF : 0x01) << (8 * j);
            }
        }
    };
    static const Table table;
    return table.v;
}

}  // namespace ds4::quant::detail
