// The SIMD and portable row-dot kernel sets against the plain scalar formulas of quant.h §5
// (and, for f32 activations, against dequantize_row followed by the 8-lane dot), bit for bit: the sets reorder and widen only exact integer work, so every non-NaN result
// must match exactly (NaN results must stay NaN; which payload survives a NaN + NaN is the
// compiler's operand order, as it always was). Inputs include raw random bytes (any scale,
// any int8 including -128, bsums unrelated to the quants), not only quantizer output.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "quant/internal.h"
#include "quant/quant.h"

namespace ds4::quant {
namespace {
using namespace detail;

// ---- The specification: the scalar formulas, one element at a time -------------------------

float spec_q8_0(const uint8_t* w, const uint8_t* x, int64_t n) {
    float acc = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b, w += 34, x += 36) {
        int32_t isum = 0;
        for (int i = 0; i < 32; ++i) isum += int32_t(int8_t(w[2 + i])) * int32_t(int8_t(x[4 + i]));
        acc += f16_to_f32(load_u16(w)) * load_f32(x) * float(isum);
    }
    return acc;
}

float spec_q2_k(const uint8_t* w, const uint8_t* x, int64_t n) {
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += 84, x += 292) {
        int32_t summs = 0, isum = 0;
        for (int sb = 0; sb < 16; ++sb) summs += int32_t(load_i16(x + 260 + 2 * sb)) * (w[sb] >> 4);
        for (int e = 0; e < 256; ++e) {
            const int hb = e / 128, j = (e % 128) / 32, l = e % 32;
            isum += (w[e / 16] & 15) * ((w[16 + 32 * hb + l] >> (2 * j)) & 3) * int32_t(int8_t(x[4 + e]));
        }
        const float dx = load_f32(x);
        const float dall = dx * f16_to_f32(load_u16(w + 80)), dmin = dx * f16_to_f32(load_u16(w + 82));
        sumf += dall * float(isum) - dmin * float(summs);
    }
    return sumf;
}

float spec_q4_k(const uint8_t* w, const uint8_t* x, int64_t n) {
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += 144, x += 292) {
        int32_t summs = 0, isum = 0;
        for (int j = 0; j < 8; ++j) {
            int sc, m;
            q4k_scale_min(w + 4, j, sc, m);
            summs += (int32_t(load_i16(x + 260 + 4 * j)) + int32_t(load_i16(x + 262 + 4 * j))) * m;
            for (int l = 0; l < 32; ++l)
                isum += sc * ((w[16 + 32 * (j / 2) + l] >> (4 * (j % 2))) & 15) * int32_t(int8_t(x[4 + 32 * j + l]));
        }
        const float dx = load_f32(x);
        const float d = dx * f16_to_f32(load_u16(w)), dmin = dx * f16_to_f32(load_u16(w + 2));
        sumf += d * float(isum) - dmin * float(summs);
    }
    return sumf;
}

float spec_iq2_xxs(const uint8_t* w, const uint8_t* x, int64_t n) {
    float sumf = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += 66, x += 292) {
        int32_t bsum = 0;
        for (int ib = 0; ib < 8; ++ib) {
            const uint32_t B = load_u32(w + 6 + 8 * ib);
            int32_t sumi = 0;
            for (int e = 0; e < 32; ++e) {
                const int l = e / 8, j = e % 8;
                const int32_t g = int32_t((kIq2xxsGrid[w[2 + 8 * ib + l]] >> (8 * j)) & 0xFF);
                const bool neg = (kIq2xsSigns[(B >> (7 * l)) & 127] >> j) & 1;
                sumi += (neg ? -g : g) * int32_t(int8_t(x[4 + 32 * ib + e]));
            }
            bsum += sumi * int32_t(2 * (B >> 28) + 1);
        }
        sumf += f16_to_f32(load_u16(w)) * load_f32(x) * float(bsum);
    }
    return 0.125f * sumf;
}

template <float (*Convert)(uint16_t)>
float spec_half(const uint8_t* w, const float* x, int64_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < n; ++i) lanes[i % 8] += Convert(load_u16(w + 2 * i)) * x[i];
    return reduce_lanes8(lanes);
}

// ---- Comparison -----------------------------------------------------------------------------

uint32_t bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

void expect_same(float want, float got, const char* what, const char* set, int64_t n, int trial) {
    if (want != want) {
        EXPECT_TRUE(got != got) << what << " [" << set << "] n " << n << " trial " << trial << ": want NaN, got " << got;
        return;
    }
    EXPECT_EQ(bits(want), bits(got)) << what << " [" << set << "] n " << n << " trial " << trial << ": want " << want
                                     << ", got " << got;
}

std::vector<const DotKernels*> kernel_sets() {
    std::vector<const DotKernels*> sets = {&portable_dots()};
    if (const DotKernels* k = avx2_dots()) sets.push_back(k);
    return sets;
}

void sane_half(std::mt19937_64& rng, uint8_t* p) {
    const uint16_t h = f32_to_f16(0.001f + 0.01f * float(rng() % 1000) / 1000.0f);
    std::memcpy(p, &h, 2);
}

// The scalar formula's dot of one quantized row, after checking that every kernel set gives
// the same bits.
float check_every_kernel_set(ds4_type t, const uint8_t* w, const uint8_t* x, int64_t n, int trial) {
    float want = 0;
    switch (t) {
    case DS4_TYPE_Q8_0: want = spec_q8_0(w, x, n); break;
    case DS4_TYPE_Q2_K: want = spec_q2_k(w, x, n); break;
    case DS4_TYPE_Q4_K: want = spec_q4_k(w, x, n); break;
    default: want = spec_iq2_xxs(w, x, n); break;
    }
    for (const DotKernels* k : kernel_sets()) {
        float got = 0;
        switch (t) {
        case DS4_TYPE_Q8_0: got = k->q8_0(w, x, n); break;
        case DS4_TYPE_Q2_K: got = k->q2_k(w, x, n); break;
        case DS4_TYPE_Q4_K: got = k->q4_k(w, x, n); break;
        default: got = k->iq2_xxs(w, x, n); break;
        }
        expect_same(want, got, ds4_type_name(t), k->name, n, trial);
    }
    return want;
}

TEST(DotKernels, InlineHalfConversionIsExact) {
    for (uint32_t h = 0; h < 65536; ++h)
        ASSERT_EQ(bits(f16_to_f32(uint16_t(h))), bits(f16_to_f32_inline(uint16_t(h)))) << std::hex << h;
}

TEST(DotKernels, IntegerDotsEqualTheScalarFormulasBitwise) {
    std::mt19937_64 rng(20261123);
    const ds4_type types[] = {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS};
    for (int trial = 0; trial < 400; ++trial)
        for (ds4_type t : types) {
            const int64_t be = ds4_type_block_elems(t), bb = ds4_type_block_bytes(t);
            const int64_t nb = 1 + int64_t(rng() % (t == DS4_TYPE_Q8_0 ? 67 : 9));  // Q8_0: 4-block steps + tails
            const int64_t n = nb * be;
            const ActFormat fmt = act_format_for(t, ActQuant::Ds4);
            std::vector<uint8_t> w(size_t(ds4_type_row_bytes(t, n))), x(size_t(act_row_bytes(fmt, n)));
            for (auto& b : w) b = uint8_t(rng());
            const int kind = trial % 4;
            if (kind == 0) {  // realistic: sane weight scales, activations from the quantizer
                for (int64_t b = 0; b < nb; ++b) {
                    uint8_t* blk = w.data() + b * bb;
                    sane_half(rng, t == DS4_TYPE_Q2_K ? blk + 80 : blk);
                    if (t == DS4_TYPE_Q2_K || t == DS4_TYPE_Q4_K) sane_half(rng, t == DS4_TYPE_Q2_K ? blk + 82 : blk + 2);
                }
                std::normal_distribution<float> nd(0.0f, 1.0f + float(rng() % 50));
                std::vector<float> xf(static_cast<size_t>(n));
                for (auto& v : xf) v = nd(rng);
                ASSERT_TRUE(quantize_act(fmt, xf.data(), x.data(), n));
            } else {  // raw bytes; kinds 2 and 3 force the int8 extremes -128 / 127
                for (auto& b : x) b = uint8_t(rng());
                if (kind >= 2) {
                    // Both activation formats keep their int8 quants at byte 4 of each block.
                    const int64_t xb = fmt == ActFormat::Q8_K ? 292 : 36, qn = fmt == ActFormat::Q8_K ? 256 : 32;
                    for (int64_t b = 0; b < int64_t(x.size()) / xb; ++b)
                        for (int64_t i = 0; i < qn; ++i) x[b * xb + 4 + i] = kind == 2 ? 0x80 : ((rng() & 1) ? 0x80 : 0x7f);
                    if (kind == 3) std::fill(w.begin(), w.end(), uint8_t(t == DS4_TYPE_Q8_0 ? 0x80 : 0xFF));
                }
            }
            const float want = check_every_kernel_set(t, w.data(), x.data(), n, trial);
            expect_same(want, dot_row(t, w.data(), x.data(), n, ActQuant::Ds4), ds4_type_name(t), "dot_row", n, trial);
            if (HasFailure()) return;
        }
}

// Long rows (many blocks per call, as in the real matvecs) of random bytes with sane scales:
// every kernel set against the scalar formulas. The short-row test above covers the
// extremes; this one covers per-row state that lives across many blocks.
TEST(DotKernels, LongRowsEqualTheScalarFormulasBitwise) {
    std::mt19937_64 rng(4096);
    const ds4_type types[] = {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS};
    for (int trial = 0; trial < 12; ++trial)
        for (ds4_type t : types) {
            const int64_t be = ds4_type_block_elems(t), bb = ds4_type_block_bytes(t);
            const int64_t n = (t == DS4_TYPE_Q8_0 ? 509 : 64 + trial) * be;
            const ActFormat fmt = act_format_for(t, ActQuant::Ds4);
            std::vector<uint8_t> w(size_t(ds4_type_row_bytes(t, n))), x(size_t(act_row_bytes(fmt, n)));
            for (auto& b : w) b = uint8_t(rng());
            for (int64_t b = 0; b < n / be; ++b) {
                uint8_t* blk = w.data() + b * bb;
                sane_half(rng, t == DS4_TYPE_Q2_K ? blk + 80 : blk);
                if (t == DS4_TYPE_Q2_K || t == DS4_TYPE_Q4_K) sane_half(rng, t == DS4_TYPE_Q2_K ? blk + 82 : blk + 2);
            }
            std::normal_distribution<float> nd(0.0f, 1.0f + float(trial));
            std::vector<float> xf(static_cast<size_t>(n));
            for (auto& v : xf) v = nd(rng);
            ASSERT_TRUE(quantize_act(fmt, xf.data(), x.data(), n));
            check_every_kernel_set(t, w.data(), x.data(), n, trial);
            if (HasFailure()) return;
        }
    for (int trial = 0; trial < 6; ++trial) {  // half rows: 16 Ki elements plus a tail
        const int64_t n = 16384 + trial;
        std::vector<uint8_t> w(size_t(2 * n));
        std::vector<float> x(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            const uint16_t h = trial % 2 ? f32_to_bf16(float(rng() % 2001) / 1000.0f - 1.0f) : f32_to_f16(float(rng() % 2001) / 1000.0f - 1.0f);
            std::memcpy(&w[size_t(2 * i)], &h, 2);
        }
        for (auto& v : x) v = float(rng() % 2001) / 100.0f - 10.0f;
        for (const DotKernels* k : kernel_sets()) {
            if (trial % 2) expect_same(spec_half<bf16_to_f32>(w.data(), x.data(), n), k->bf16(w.data(), x.data(), n), "bf16", k->name, n, trial);
            else expect_same(spec_half<f16_to_f32>(w.data(), x.data(), n), k->f16(w.data(), x.data(), n), "f16", k->name, n, trial);
        }
        if (HasFailure()) return;
    }
}

TEST(DotKernels, HalfDotsKeepTheLaneOrderBitwise) {
    std::mt19937_64 rng(7);
    for (int trial = 0; trial < 300; ++trial) {
        const int64_t n = 1 + int64_t(rng() % 2100);  // tails of every length
        std::vector<uint8_t> w(size_t(2 * n));
        std::vector<float> x(static_cast<size_t>(n));
        if (trial % 2 == 0) {
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = f32_to_f16(float(rng() % 2001) / 1000.0f - 1.0f);
                std::memcpy(&w[size_t(2 * i)], &h, 2);
            }
            for (auto& v : x) v = float(rng() % 2001) / 100.0f - 10.0f;
        } else {  // every bit pattern: subnormal halves, inf, NaN
            for (auto& b : w) b = uint8_t(rng());
            for (auto& v : x) {
                const uint32_t r = uint32_t(rng()) & 0xBFFFFFFFu;  // finite, mostly small
                std::memcpy(&v, &r, 4);
            }
        }
        const float want16 = spec_half<f16_to_f32>(w.data(), x.data(), n);
        const float wantb = spec_half<bf16_to_f32>(w.data(), x.data(), n);
        for (const DotKernels* k : kernel_sets()) {
            expect_same(want16, k->f16(w.data(), x.data(), n), "f16", k->name, n, trial);
            expect_same(wantb, k->bf16(w.data(), x.data(), n), "bf16", k->name, n, trial);
        }
        expect_same(want16, dot_f16_f32(w.data(), x.data(), n), "f16", "public", n, trial);
        if (HasFailure()) return;
    }
}

TEST(DotKernels, F32ActivationDotsEqualDequantizeThenDotBitwise) {
    std::mt19937_64 rng(99);
    const ds4_type types[] = {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS};
    for (int trial = 0; trial < 200; ++trial)
        for (ds4_type t : types) {
            const int64_t n = (1 + int64_t(rng() % 6)) * ds4_type_block_elems(t) * (t == DS4_TYPE_Q8_0 ? 5 : 1);
            std::vector<uint8_t> w(size_t(ds4_type_row_bytes(t, n)));
            for (auto& b : w) b = uint8_t(rng());
            if (trial % 2 == 0) {  // sane scales; odd trials keep every f16 bit pattern
                const int64_t bb = ds4_type_block_bytes(t);
                for (int64_t b = 0; b < int64_t(w.size()) / bb; ++b) {
                    uint8_t* blk = w.data() + b * bb;
                    sane_half(rng, t == DS4_TYPE_Q2_K ? blk + 80 : blk);
                    if (t == DS4_TYPE_Q2_K || t == DS4_TYPE_Q4_K) sane_half(rng, t == DS4_TYPE_Q2_K ? blk + 82 : blk + 2);
                }
            }
            std::vector<float> x(static_cast<size_t>(n)), deq(static_cast<size_t>(n));
            for (auto& v : x) v = float(rng() % 2001) / 100.0f - 10.0f;
            ASSERT_TRUE(dequantize_row(t, w.data(), deq.data(), n));
            float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = 0; i < n; ++i) lanes[i % 8] += deq[size_t(i)] * x[size_t(i)];
            const float want = reduce_lanes8(lanes);
            for (const DotKernels* k : kernel_sets()) {
                float got = 0;
                switch (t) {
                case DS4_TYPE_Q8_0: got = k->q8_0_f32(w.data(), x.data(), n); break;
                case DS4_TYPE_Q2_K: got = k->q2_k_f32(w.data(), x.data(), n); break;
                case DS4_TYPE_Q4_K: got = k->q4_k_f32(w.data(), x.data(), n); break;
                default: got = k->iq2_xxs_f32(w.data(), x.data(), n); break;
                }
                expect_same(want, got, ds4_type_name(t), k->name, n, trial);
            }
            expect_same(want, dot_row(t, w.data(), x.data(), n, ActQuant::None), ds4_type_name(t), "dot_row", n, trial);
            if (HasFailure()) return;
        }
}

}  // namespace
}  // namespace ds4::quant
