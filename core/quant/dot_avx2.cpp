// Row-dot kernels with AVX2 intrinsics, compiled for x86 builds of any baseline (functions
// carry target("avx2,bmi,bmi2,f16c"); the set is used only when the CPU reports all four, see
// avx2_dots(); every AVX2 CPU has F16C), so the default build needs no -march flag.
//
// Exactness: every integer product is formed without overflow or saturation for ALL int8
// inputs, -128 included (maddubs only meets an unsigned operand ≤ 128 and a signed one whose
// pair sums stay inside int16; int8·int8 pairs go through madd_epi16), so each block's integer
// sum equals the scalar one. The float step per block is the scalar expression of quant.h §5,
// evaluated in block order; the f32-activation and half dots do per lane exactly the scalar
// multiply and add of their 8-lane order. FMA is not enabled here and the file is built with
// -ffp-contract=off, so no multiply-add is fused.
#include "internal.h"
#include "quant/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define DS4_AVX2 __attribute__((target("avx2,bmi,bmi2,f16c")))

namespace ds4::quant::detail {
namespace {

DS4_AVX2 inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
DS4_AVX2 inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

DS4_AVX2 inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// hsum_i32 of two vectors with one reduction (the pairs are added in another order, which
// for exact int32 sums gives the same result).
DS4_AVX2 inline void hsum2_i32(__m256i a, __m256i b, int32_t& sa, int32_t& sb) {
    const __m256i h = _mm256_hadd_epi32(a, b);  // a01 a23 b01 b23 | a45 a67 b45 b67
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    s = _mm_hadd_epi32(s, s);  // Σa Σb Σa Σb
    sa = _mm_cvtsi128_si32(s);
    sb = _mm_extract_epi32(s, 1);
}

// The 8 f32 lane accumulators of a row dot combined in reduce_lanes8's tree.
DS4_AVX2 inline float reduce_acc8(__m256 acc) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    return reduce_lanes8(lanes);
}

// Σ a[i]·b[i] of 32 int8 pairs as 8 int32 partial sums (exact for every int8 value).
DS4_AVX2 inline __m256i dot32_i8(const uint8_t* a, const uint8_t* b) {
    const __m256i a0 = _mm256_cvtepi8_epi16(load128(a)), a1 = _mm256_cvtepi8_epi16(load128(a + 16));
    const __m256i b0 = _mm256_cvtepi8_epi16(load128(b)), b1 = _mm256_cvtepi8_epi16(load128(b + 16));
    return _mm256_add_epi32(_mm256_madd_epi16(a0, b0), _mm256_madd_epi16(a1, b1));
}

DS4_AVX2 float q8_0(const void* w_row, const void* x_act, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_act);
    constexpr int64_t kW = 34, kX = sizeof(block_q8_0_act);
    const int64_t nb = n / kQK8_0;
    float acc = 0.0f;
    int64_t b = 0;
    // Four blocks per step: their integer sums come out of one transposing reduction.
    for (; b + 4 <= nb; b += 4, w += 4 * kW, x += 4 * kX) {
        const __m256i s0 = dot32_i8(w + 2, x + 4), s1 = dot32_i8(w + kW + 2, x + kX + 4);
        const __m256i s2 = dot32_i8(w + 2 * kW + 2, x + 2 * kX + 4), s3 = dot32_i8(w + 3 * kW + 2, x + 3 * kX + 4);
        const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
        alignas(16) int32_t isum[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(isum),
                        _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
        for (int k = 0; k < 4; ++k)
            acc += f16_to_f32_inline(load_u16(w + k * kW)) * load_f32(x + k * kX) * float(isum[k]);
    }
    for (; b < nb; ++b, w += kW, x += kX)
        acc += f16_to_f32_inline(load_u16(w)) * load_f32(x) * float(hsum_i32(dot32_i8(w + 2, x + 4)));
    return acc;
}

// Q2_K scales of sub-blocks 2k and 2k + 1 as int16 lanes 0..7 and 8..15, in one shuffle of
// the 16 scale bytes (present in both 128-bit halves): index 0x80 writes the zero high byte.
struct Q2kPairIdx {
    alignas(32) uint8_t v[8][32];
    constexpr Q2kPairIdx() : v{} {
        for (int k = 0; k < 8; ++k)
            for (int i = 0; i < 16; ++i) {
                v[k][i] = i % 2 ? 0x80 : uint8_t(2 * k);
                v[k][16 + i] = i % 2 ? 0x80 : uint8_t(2 * k + 1);
            }
    }
};
constexpr Q2kPairIdx kQ2kPairIdx;

DS4_AVX2 inline __m256i q2k_pair_scales(__m256i scales, int k) {
    return _mm256_shuffle_epi8(scales, _mm256_load_si256(reinterpret_cast<const __m256i*>(kQ2kPairIdx.v[k])));
}

DS4_AVX2 float q2_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    const __m128i low4 = _mm_set1_epi8(15);
    const __m256i low2 = _mm256_set1_epi8(3);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 84, x += sizeof(block_q8_k)) {
        const __m128i sc = load128(w + q2k::kScales);
        // Mins: Σ_sb bsums[sb]·(sc[sb] >> 4).
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), low4));
        const __m256i mins_dot = _mm256_madd_epi16(load256(x + q8k::kBsums), mins);
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_and_si128(sc, low4));
        const uint8_t* q8 = x + q8k::kQs;
        __m256i acc = _mm256_setzero_si256();
        for (int hb = 0; hb < 2; ++hb) {
            const __m256i qs = load256(w + q2k::kQs + 32 * hb);
            // Plane j (2-bit field j of each byte) against q8[128·hb + 32·j ...]; its low 16
            // bytes are sub-block 8·hb + 2·j, the high 16 the next one.
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(qs, low2), load256(q8 + 128 * hb));
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(qs, 2), low2), load256(q8 + 128 * hb + 32));
            const __m256i p2 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(qs, 4), low2), load256(q8 + 128 * hb + 64));
            const __m256i p3 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(qs, 6), low2), load256(q8 + 128 * hb + 96));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p0, q2k_pair_scales(scales, 4 * hb + 0)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p1, q2k_pair_scales(scales, 4 * hb + 1)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p2, q2k_pair_scales(scales, 4 * hb + 2)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p3, q2k_pair_scales(scales, 4 * hb + 3)));
        }
        int32_t isum, summs;
        hsum2_i32(acc, mins_dot, isum, summs);
        const float dx = load_f32(x + q8k::kD);
        const float dall = dx * f16_to_f32_inline(load_u16(w + q2k::kD));
        const float dmin = dx * f16_to_f32_inline(load_u16(w + q2k::kDmin));
        sumf += dall * float(isum) - dmin * float(summs);
    }
    return sumf;
}

// Shuffle indices that repeat int16 lane k of a 128-bit register in every lane (both halves).
alignas(32) constexpr uint8_t kBcast16[8][32] = {
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
    {2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
    {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5},
    {6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
    {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9},
    {10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11,
     10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
    {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13,
     12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13},
    {14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
     14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15}};

DS4_AVX2 inline __m256i bcast16(__m256i v, int k) {
    return _mm256_shuffle_epi8(v, _mm256_load_si256(reinterpret_cast<const __m256i*>(kBcast16[k])));
}

// Shuffle indices for Q4_K mins: bytes 8..15 of the (scales, mins) register, each twice, so
// after zero-extension int16 lane 2j and 2j + 1 hold min j (it meets bsums 2j and 2j + 1).
alignas(16) constexpr uint8_t kQ4kMinPairs[16] = {8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};

DS4_AVX2 float q4_k(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    const __m256i low4 = _mm256_set1_epi8(15);
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 144, x += sizeof(block_q8_k)) {
        // The eight 6-bit scales and mins (q4k_scale_min) unpacked four at a time in 32-bit words.
        const uint32_t u0 = load_u32(w + q4k::kScales), u1 = load_u32(w + q4k::kScales + 4);
        const uint32_t u2 = load_u32(w + q4k::kScales + 8);
        const uint32_t sc_lo = u0 & 0x3f3f3f3fu, sc_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
        const uint32_t m_lo = u1 & 0x3f3f3f3fu, m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
        const __m128i scm = _mm_set_epi32(int(m_hi), int(m_lo), int(sc_hi), int(sc_lo));  // sc[0..7], m[0..7]
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(scm, load128(kQ4kMinPairs)));
        const int32_t summs = hsum_i32(_mm256_madd_epi16(load256(x + q8k::kBsums), mins));
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scm));  // sc as int16, both halves
        const uint8_t* q8 = x + q8k::kQs;
        __m256i acc = _mm256_setzero_si256();
        for (int p = 0; p < 4; ++p) {
            const __m256i qs = load256(w + q4k::kQs + 32 * p);
            const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(qs, low4), load256(q8 + 64 * p));
            const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(qs, 4), low4), load256(q8 + 64 * p + 32));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(lo, bcast16(scales, 2 * p)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(hi, bcast16(scales, 2 * p + 1)));
        }
        const int32_t isum = hsum_i32(acc);
        const float dx = load_f32(x + q8k::kD);
        const float d = dx * f16_to_f32_inline(load_u16(w + q4k::kD));
        const float dmin = dx * f16_to_f32_inline(load_u16(w + q4k::kDmin));
        sumf += d * float(isum) - dmin * float(summs);
    }
    return sumf;
}

// ---- IQ2_XXS ---------------------------------------------------------------------------------
// Sub-block ib (32 elements) is the 8 bytes qs[8ib..8ib+7] after d: four grid indices A, then
// B = four 7-bit sign groups (bits 7l..7l+6) and the 4-bit scale (bits 28..31). The eighth
// sign of a group is its parity (kIq2xsSigns: even masks), so the 32 signs of a sub-block are
// the 32-bit word "group l in byte l, parity in bit 7".
//
// Only the grid is looked up per sub-block; the signs of all eight sub-blocks come from one
// vector computation per block, the scale from a table of ready int16 vectors, and y needs
// no abs/sign fix-up (see the identity below). The previous kernel (four grid and four
// sign-table lookups per sub-block, each set assembled with inserts, abs(y) and two sign
// ops) measured 10-15% slower on the Zen 5 build machine, up to 40% when its core was
// shared. docs/benchmarks.md lists the variants that measured no faster.

// Parity of a 4-bit value in bit 7 (0x80 or 0), for both 128-bit lanes of a pshufb.
alignas(32) constexpr int8_t kNibbleParity[32] = {0, -128, -128, 0, -128, 0, 0, -128, -128, 0, 0, -128, 0, -128, -128, 0,
                                                  0, -128, -128, 0, -128, 0, 0, -128, -128, 0, 0, -128, 0, -128, -128, 0};

// pshufb indices that spread sign word d (of the four in a 128-bit lane) over 32 bytes:
// byte k takes byte k / 8 of the word (lane 0: bytes 0, 1; lane 1: bytes 2, 3).
struct Iq2SignSpread {
    alignas(32) uint8_t v[4][32];
    constexpr Iq2SignSpread() : v{} {
        for (int d = 0; d < 4; ++d)
            for (int k = 0; k < 32; ++k) v[d][k] = uint8_t(4 * d + k / 8);
    }
};
constexpr Iq2SignSpread kIq2SignSpread;

// The int16 multiplier 2s + 1 of a 4-bit sub-block scale s, in all 16 lanes.
struct Iq2ScaleVecs {
    alignas(32) int16_t v[16][16];
    constexpr Iq2ScaleVecs() : v{} {
        for (int s = 0; s < 16; ++s)
            for (int i = 0; i < 16; ++i) v[s][i] = int16_t(2 * s + 1);
    }
};
constexpr Iq2ScaleVecs kIq2ScaleVecs;

// Grid entries idx[0..3] (8 bytes each) as one vector: a broadcast load per entry merged by
// blends (blends issue on every vector pipe, inserts only on the shuffle pipes, which the
// sign masks already use).
DS4_AVX2 inline __m256i grid4(const uint8_t* idx) {
    const auto* g = reinterpret_cast<const double*>(kIq2xxsGrid);
    const __m256i e0 = _mm256_castsi128_si256(_mm_castpd_si128(_mm_load_sd(g + idx[0])));
    const __m256i e1 = _mm256_castpd_si256(_mm256_broadcast_sd(g + idx[1]));
    const __m256i e2 = _mm256_castpd_si256(_mm256_broadcast_sd(g + idx[2]));
    const __m256i e3 = _mm256_castpd_si256(_mm256_broadcast_sd(g + idx[3]));
    return _mm256_blend_epi32(_mm256_blend_epi32(e0, e1, 0x0C), _mm256_blend_epi32(e2, e3, 0xC0), 0xF0);
}

DS4_AVX2 float iq2_xxs(const void* w_row, const void* x_q8k, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const auto* x = static_cast<const uint8_t*>(x_q8k);
    const __m256i group7 = _mm256_set1_epi32(0x7f), low4 = _mm256_set1_epi8(15);
    const __m256i parity = _mm256_load_si256(reinterpret_cast<const __m256i*>(kNibbleParity));
    const __m256i bit_of_byte = _mm256_set1_epi64x(0x8040201008040201ll);  // byte k: 1 << (k % 8)
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 66, x += sizeof(block_q8_k)) {
        const uint8_t* qs = w + 2;
        // The eight B words, dwords [B0 B4 B1 B5 | B2 B6 B3 B7] (A words dropped).
        const __m256i words = _mm256_blend_epi32(_mm256_srli_epi64(load256(qs), 32), load256(qs + 32), 0xAA);
        // Sign word of each: group l moved to byte l, then the group's parity into bit 7.
        __m256i signs = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(words, group7), _mm256_and_si256(_mm256_slli_epi32(words, 1), _mm256_slli_epi32(group7, 8))),
            _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(words, 2), _mm256_slli_epi32(group7, 16)),
                            _mm256_and_si256(_mm256_slli_epi32(words, 3), _mm256_slli_epi32(group7, 24))));
        signs = _mm256_or_si256(signs, _mm256_xor_si256(_mm256_shuffle_epi8(parity, _mm256_and_si256(signs, low4)),
                                                        _mm256_shuffle_epi8(parity, _mm256_and_si256(_mm256_srli_epi16(signs, 4), low4))));
        // Each 128-bit lane in both halves, so pshufb can spread any of its words over 32 bytes.
        const __m256i lane_signs[2] = {_mm256_permute2x128_si256(signs, signs, 0x00), _mm256_permute2x128_si256(signs, signs, 0x11)};
        const uint8_t* q8 = x + q8k::kQs;
        __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int ib = 0; ib < 8; ++ib) {
            const int half = (ib / 2) % 2, word = 2 * (ib % 2) + ib / 4;  // where B_ib sits in `words`
            const __m256i spread = _mm256_load_si256(reinterpret_cast<const __m256i*>(kIq2SignSpread.v[word]));
            // neg: 0xFF where the weight is negative, else 0.
            const __m256i neg = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(lane_signs[half], spread), bit_of_byte), bit_of_byte);
            const __m256i g = grid4(qs + 8 * ib);  // unsigned, 8..43
            // Σ g·(±y) = Σ g·(y ^ neg) − Σ g·neg, since y ^ 0xFF = −y − 1. Both terms are
            // unsigned × signed int8 (maddubs) for every y, -128 included; pair sums stay
            // within ±11008 (no saturation) and so does their difference.
            const __m256i y = load256(q8 + 32 * ib);
            const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(g, _mm256_xor_si256(y, neg)), _mm256_maddubs_epi16(g, neg));
            const __m256i scale = _mm256_load_si256(reinterpret_cast<const __m256i*>(kIq2ScaleVecs.v[qs[8 * ib + 7] >> 4]));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, scale));
        }
        const int32_t bsum = hsum_i32(acc);
        sumf += f16_to_f32_inline(load_u16(w)) * load_f32(x + q8k::kD) * float(bsum);
    }
    return 0.125f * sumf;
}

// 8 halves → 8 floats with F16C. The conversion is exact for every finite half, subnormals
// included, and for ±inf, so it equals quant::f16_to_f32; the one difference is that a
// signalling NaN comes out quiet (quant::f16_to_f32 keeps the payload bits as they are).
// A NaN weight makes the row dot NaN either way, and which NaN a sum returns was never
// specified (tests/quant/test_dot_kernels.cpp: NaN results only need to stay NaN).
DS4_AVX2 inline __m256 f16x8_to_f32(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }

DS4_AVX2 inline __m256 bf16x8_to_f32(const uint8_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}

// Lane k of the vector accumulator is lane k of the scalar kernels (element i → lane i % 8).
template <__m256 (*Convert)(const uint8_t*), float (*Scalar)(uint16_t)>
DS4_AVX2 float dot_half(const void* w_half, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_half);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(Convert(w + 2 * i), _mm256_loadu_ps(x + i)));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    for (int k = 0; i < n; ++i, ++k) lanes[k] += Scalar(load_u16(w + 2 * i)) * x[i];
    return reduce_lanes8(lanes);
}

// ---- f32 activations: dequantize_row's element formulas, dot_f32_f32's lane order ---------
// One 8-float accumulator (lane k = elements ≡ k mod 8, in order); each vector is 8
// consecutive elements starting at a multiple of 8, decoded with the scalar formula.

DS4_AVX2 inline __m256 u8x8_to_f32(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }

DS4_AVX2 float q8_0_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK8_0; ++b, w += 34, x += kQK8_0) {
        const __m256 d = _mm256_set1_ps(f16_to_f32_inline(load_u16(w)));
        for (int c = 0; c < 4; ++c) {
            const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + 2 + 8 * c))));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(d, q), _mm256_loadu_ps(x + 8 * c)));
        }
    }
    return reduce_acc8(acc);
}

DS4_AVX2 float q2_k_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const __m128i low2 = _mm_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 84, x += kQK_K) {
        const float d = f16_to_f32_inline(load_u16(w + q2k::kD));
        const float dmin = f16_to_f32_inline(load_u16(w + q2k::kDmin));
        // d·scale and dmin·min of the 16 sub-blocks (the same products as dequant's, 8 at a time).
        alignas(32) float dls[16], mls[16];
        for (int h = 0; h < 2; ++h) {
            const __m128i sc = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + q2k::kScales + 8 * h));
            _mm256_store_ps(dls + 8 * h, _mm256_mul_ps(_mm256_set1_ps(d), u8x8_to_f32(_mm_and_si128(sc, _mm_set1_epi8(15)))));
            _mm256_store_ps(mls + 8 * h, _mm256_mul_ps(_mm256_set1_ps(dmin), u8x8_to_f32(_mm_and_si128(_mm_srli_epi16(sc, 4), _mm_set1_epi8(15)))));
        }
        for (int sb = 0; sb < 16; ++sb) {
            // Element 16·sb + l: 2-bit field (sb % 8) / 2 of byte 32·(sb / 8) + 16·(sb % 2) + l.
            const __m256 dl = _mm256_broadcast_ss(dls + sb), ml = _mm256_broadcast_ss(mls + sb);
            const __m128i qs = _mm_srl_epi16(load128(w + q2k::kQs + 32 * (sb / 8) + 16 * (sb % 2)),
                                             _mm_cvtsi32_si128(2 * ((sb % 8) / 2)));
            const __m128i q = _mm_and_si128(qs, low2);
            const __m256 v0 = _mm256_sub_ps(_mm256_mul_ps(dl, u8x8_to_f32(q)), ml);
            const __m256 v1 = _mm256_sub_ps(_mm256_mul_ps(dl, u8x8_to_f32(_mm_srli_si128(q, 8))), ml);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(v0, _mm256_loadu_ps(x + 16 * sb)));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(v1, _mm256_loadu_ps(x + 16 * sb + 8)));
        }
    }
    return reduce_acc8(acc);
}

DS4_AVX2 float q4_k_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const __m128i low4 = _mm_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 144, x += kQK_K) {
        const float d = f16_to_f32_inline(load_u16(w + q4k::kD));
        const float dmin = f16_to_f32_inline(load_u16(w + q4k::kDmin));
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            q4k_scale_min(w + q4k::kScales, j, sc, m);
            const __m256 dl = _mm256_set1_ps(d * float(sc)), ml = _mm256_set1_ps(dmin * float(m));
            for (int h = 0; h < 2; ++h) {
                const __m128i qs = load128(w + q4k::kQs + 32 * (j / 2) + 16 * h);
                const __m128i q = _mm_and_si128(j % 2 ? _mm_srli_epi16(qs, 4) : qs, low4);
                const __m256 v0 = _mm256_sub_ps(_mm256_mul_ps(dl, u8x8_to_f32(q)), ml);
                const __m256 v1 = _mm256_sub_ps(_mm256_mul_ps(dl, u8x8_to_f32(_mm_srli_si128(q, 8))), ml);
                acc = _mm256_add_ps(acc, _mm256_mul_ps(v0, _mm256_loadu_ps(x + 32 * j + 16 * h)));
                acc = _mm256_add_ps(acc, _mm256_mul_ps(v1, _mm256_loadu_ps(x + 32 * j + 16 * h + 8)));
            }
        }
    }
    return reduce_acc8(acc);
}

DS4_AVX2 float iq2_xxs_f32(const void* w_row, const float* x, int64_t n) {
    const auto* w = static_cast<const uint8_t*>(w_row);
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i sign_bit = _mm256_set1_epi32(int(0x80000000u));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / kQK_K; ++b, w += 66, x += kQK_K) {
        const float d = f16_to_f32_inline(load_u16(w));
        for (int ib = 0; ib < 8; ++ib) {
            const uint8_t* A = w + 2 + 8 * ib;
            const uint32_t B = load_u32(A + 4);
            const __m256 db = _mm256_set1_ps(d * (0.5f + float(B >> 28)) * 0.25f);
            for (int l = 0; l < 4; ++l) {
                const __m256 g = u8x8_to_f32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&kIq2xxsGrid[A[l]])));
                // -(db·g) is db·g with the sign bit flipped: flip lane j when sign bit j is set.
                const __m256i s = _mm256_and_si256(_mm256_set1_epi32(kIq2xsSigns[(B >> (7 * l)) & 127]), bit);
                const __m256i flip = _mm256_and_si256(_mm256_cmpeq_epi32(s, bit), sign_bit);
                const __m256 v = _mm256_xor_ps(_mm256_mul_ps(db, g), _mm256_castsi256_ps(flip));
                acc = _mm256_add_ps(acc, _mm256_mul_ps(v, _mm256_loadu_ps(x + 32 * ib + 8 * l)));
            }
        }
    }
    return reduce_acc8(acc);
}

float f16_scalar(uint16_t h) { return f16_to_f32_inline(h); }
float bf16_scalar(uint16_t h) { return bf16_to_f32(h); }

constexpr DotKernels kAvx2 = {"avx2",
                              q8_0,
                              q2_k,
                              q4_k,
                              iq2_xxs,
                              dot_half<f16x8_to_f32, f16_scalar>,
                              dot_half<bf16x8_to_f32, bf16_scalar>,
                              q8_0_f32,
                              q2_k_f32,
                              q4_k_f32,
                              iq2_xxs_f32};

}  // namespace

const DotKernels* avx2_dots() {
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
               __builtin_cpu_supports("f16c");
    }();
    return supported ? &kAvx2 : nullptr;
}

}  // namespace ds4::quant::detail

#else  // not x86

namespace ds4::quant::detail {
const DotKernels* avx2_dots() { return nullptr; }
}  // namespace ds4::quant::detail

#endif
