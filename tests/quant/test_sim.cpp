// QAT simulations: E4M3FN / E2M1 rounding tables, power-of-two scales (and where ds4's
// log2f formulation differs), FP8 KV, Hadamard-128, FP4 and the indexer QAT composition.
#include <gtest/gtest.h>

#include <cstdio>

#include "quant_test_util.h"

namespace ds4::quant {
namespace {
using namespace test;

// Brute-force reference: nearest of the 127 finite magnitudes, ties to the even code.
float e4m3_reference(float x) {
    const float a = std::fmin(std::fabs(x), 448.0f);
    int best = 0;
    for (int c = 1; c <= 126; ++c) {
        const float dc = std::fabs(a - e4m3fn_to_f32(uint8_t(c))), db = std::fabs(a - e4m3fn_to_f32(uint8_t(best)));
        if (dc < db || (dc == db && (c & 1) == 0)) best = c;
    }
    return std::copysign(e4m3fn_to_f32(uint8_t(best)), x);
}

TEST(E4M3, EveryValueMapsToItself) {
    for (int c = 0; c < 256; ++c) {
        if ((c & 0x7f) == 0x7f) continue;  // NaN codes
        const float v = e4m3fn_to_f32(uint8_t(c));
        EXPECT_EQ(round_e4m3fn(v), v) << c;
        EXPECT_EQ(f32_to_e4m3fn(v), c) << c;
    }
}

TEST(E4M3, MidpointsGoToTheEvenCode) {
    for (int c = 0; c < 126; ++c) {
        const float lo = e4m3fn_to_f32(uint8_t(c)), hi = e4m3fn_to_f32(uint8_t(c + 1));
        const float mid = 0.5f * (lo + hi);  // exact: the values have ≤ 4 significant bits
        const float even = (c % 2 == 0) ? lo : hi;
        EXPECT_EQ(round_e4m3fn(mid), even) << "between codes " << c << " and " << c + 1;
        EXPECT_EQ(round_e4m3fn(-mid), -even);
    }
}

TEST(E4M3, SaturationSubnormalsAndSpecials) {
    EXPECT_EQ(round_e4m3fn(448.0f), 448.0f);
    EXPECT_EQ(round_e4m3fn(464.0f), 448.0f);  // would be the NaN code in e4m3fn: saturates
    EXPECT_EQ(round_e4m3fn(1e9f), 448.0f);
    EXPECT_EQ(round_e4m3fn(-INFINITY), -448.0f);
    EXPECT_EQ(round_e4m3fn(0x1p-9f), 0x1p-9f);
    EXPECT_EQ(round_e4m3fn(0x1p-10f), 0.0f);            // tie 0 / 2^-9 → 0
    EXPECT_EQ(round_e4m3fn(3 * 0x1p-10f), 0x1p-8f);     // tie code 1 / code 2 → 2
    EXPECT_EQ(round_e4m3fn(15 * 0x1p-10f), 0x1p-6f);    // tie code 7 / code 8 (min normal)
    EXPECT_EQ(round_e4m3fn(1e-5f), 0.0f);
    EXPECT_EQ(round_e4m3fn(300.0f), 288.0f);
    EXPECT_EQ(round_e4m3fn(1.0626f), 1.125f);
    EXPECT_TRUE(std::signbit(round_e4m3fn(-1e-6f)));  // as ds4: −1 · 0
    EXPECT_FALSE(std::signbit(round_e4m3fn(-0.0f)));  // as ds4: x < 0 is false for −0
    EXPECT_FALSE(std::signbit(round_e2m1(-0.0f)));
    EXPECT_TRUE(std::isnan(round_e4m3fn(NAN)));
    EXPECT_EQ(f32_to_e4m3fn(NAN), 0x7f);
}

TEST(E4M3, MatchesBruteForceOnASweep) {
    for (float x = -500.0f; x < 500.0f; x += 0.0371f) ASSERT_EQ(round_e4m3fn(x), e4m3_reference(x)) << x;
    for (float x = 1e-4f; x < 0.1f; x *= 1.013f) ASSERT_EQ(round_e4m3fn(x), e4m3_reference(x)) << x;
}

TEST(E2M1, TableTiesAndSaturation) {
    const float values[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    for (int c = 0; c < 16; ++c) {
        const float v = e2m1_to_f32(uint8_t(c));
        EXPECT_EQ(v, c < 8 ? values[c] : -values[c - 8]);
        EXPECT_EQ(round_e2m1(v), v);
        if (c != 8) {
            EXPECT_EQ(f32_to_e2m1(v), c);
        }
        EXPECT_EQ(f32_to_e2m1(-0.0f), 8);  // −0 keeps its sign bit
    }
    const float ties[7][2] = {{0.25f, 0}, {0.75f, 1}, {1.25f, 1}, {1.75f, 2}, {2.5f, 2}, {3.5f, 4}, {5.0f, 4}};
    for (const auto& t : ties) {
        EXPECT_EQ(round_e2m1(t[0]), t[1]) << t[0];
        EXPECT_EQ(round_e2m1(-t[0]), -t[1]) << t[0];
    }
    EXPECT_EQ(round_e2m1(0.26f), 0.5f);
    EXPECT_EQ(round_e2m1(5.01f), 6.0f);
    EXPECT_EQ(round_e2m1(7.0f), 6.0f);
    EXPECT_EQ(round_e2m1(-100.0f), -6.0f);
    EXPECT_TRUE(std::isnan(round_e2m1(NAN)));
}

TEST(Pow2Scale, ExactPowersAndBoundaries) {
    for (int k = -40; k <= 20; ++k) {
        const float p = std::ldexp(1.0f, k);
        EXPECT_EQ(pow2_ceil_scale(448.0f * p, 448.0f), p) << k;
        EXPECT_EQ(pow2_ceil_scale_log2f(448.0f * p, 448.0f), p) << k;  // ds4 agrees here
        EXPECT_EQ(pow2_ceil_scale(std::nextafter(448.0f * p, INFINITY), 448.0f), 2 * p) << k;
        EXPECT_EQ(pow2_ceil_scale(std::nextafter(448.0f * p, 0.0f), 448.0f), p) << k;
        EXPECT_EQ(pow2_ceil_scale(6.0f * p * 0.75f, 6.0f), p) << k;
    }
    EXPECT_EQ(pow2_ceil_scale(6.0f * 0x1p-126f, 6.0f), 0x1p-126f);  // the FP4 amax floor
}

TEST(Pow2Scale, DocumentedDisagreementWithLog2f) {
    // r = 2^k·(1 + m·2^-23): exact answer 2^(k+1). ds4's ceilf(log2f(r)) may say 2^k.
    int disagree = 0, total = 0;
    for (int k = -30; k <= 30; ++k)
        for (int m = 1; m <= 8; ++m) {
            const float r = std::ldexp(1.0f + float(m) * 0x1p-23f, k);
            const float exact = pow2_ceil_scale(r, 1.0f), ds4 = pow2_ceil_scale_log2f(r, 1.0f);
            ASSERT_EQ(exact, std::ldexp(1.0f, k + 1));
            ++total;
            if (exact != ds4) {
                ++disagree;
                EXPECT_EQ(ds4, std::ldexp(1.0f, k)) << "k=" << k << " m=" << m;  // only ever one lower
                EXPECT_GE(std::abs(k), 2) << "k=" << k << " m=" << m;
            }
        }
    std::printf("[ pow2    ] log2f disagrees on %d of %d just-above-a-power quotients\n", disagree, total);
    // Away from powers of two the two formulations agree.
    for (float r = 1e-6f; r < 1e6f; r *= 1.37f) EXPECT_EQ(pow2_ceil_scale(r, 1.0f), pow2_ceil_scale_log2f(r, 1.0f)) << r;
}

TEST(Fp8KvSim, HandComputedRow) {
    std::vector<float> row(512, 0.0f);
    row[0] = 448.0f;    // block 0: s = 1
    row[1] = 1.0626f;   // → 1.125
    row[2] = 300.0f;    // → 288
    row[128] = 1e-3f;   // block 2: s = 2^-18, 262.144 → 256 → 2^-10
    row[192] = 3.0f;    // block 3: s = 2^-7, 384 → 384
    row[193] = -0.01f;  // −1.28 → −1.25 → −0.009765625
    row[500] = 0.123456f;  // RoPE dims are untouched
    fp8_kv_sim_row(row.data(), 448, 64);
    EXPECT_EQ(row[0], 448.0f);
    EXPECT_EQ(row[1], 1.125f);
    EXPECT_EQ(row[2], 288.0f);
    EXPECT_EQ(row[64], 0.0f);  // all-zero block 1: the 1e-4 floor keeps zeros zero
    EXPECT_EQ(row[128], 0x1p-10f);
    EXPECT_EQ(row[192], 3.0f);
    EXPECT_EQ(row[193], -0.009765625f);
    EXPECT_EQ(row[500], 0.123456f);
    // The scale floor: a block with max 1e-6 uses s = 2^-22 (not a finer one).
    std::vector<float> tiny(64, 0.0f);
    tiny[0] = 1e-6f;
    fp8_kv_sim_row(tiny.data(), 64, 64);
    EXPECT_EQ(tiny[0], round_e4m3fn(1e-6f / 0x1p-22f) * 0x1p-22f);
}

TEST(Hadamard, UnitVectorsAndInvolution) {
    const float s = 0.08838834764831845f;
    for (int j : {0, 5, 64, 127}) {
        float x[128] = {};
        x[j] = 1.0f;
        hadamard128_inplace(x);
        for (int i = 0; i < 128; ++i) ASSERT_EQ(x[i], (__builtin_popcount(unsigned(i & j)) & 1) ? -s : s) << j << "," << i;
    }
    auto v = gaussian(128, 7);
    auto w = v;
    hadamard128_inplace(w.data());
    hadamard128_inplace(w.data());
    for (int i = 0; i < 128; ++i) EXPECT_NEAR(w[i], v[i], 1e-5f * (1.0f + std::fabs(v[i])));
}

TEST(Fp4Sim, HandComputedBlocks) {
    std::vector<float> row(96, 0.0f);
    const float b0[6] = {6.0f, 0.75f, 1.25f, 2.5f, -5.0f, 0.2f};  // amax 6 → s = 1
    const float w0[6] = {6.0f, 1.0f, 1.0f, 2.0f, -4.0f, 0.0f};
    for (int i = 0; i < 6; ++i) row[i] = b0[i];
    row[32] = 3.0f;  // amax 3 → s = 0.5: 6, 2, 0.6→0.5 → 3, 1, 0.25
    row[33] = 1.0f;
    row[34] = 0.3f;
    fp4_sim_row(row.data(), 96, 32);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(row[i], w0[i]) << i;
    EXPECT_EQ(row[32], 3.0f);
    EXPECT_EQ(row[33], 1.0f);
    EXPECT_EQ(row[34], 0.25f);
    for (int i = 64; i < 96; ++i) EXPECT_EQ(row[i], 0.0f);  // zero block stays zero
}

TEST(IndexerQat, UnitVectorAndComposition) {
    float x[128] = {};
    x[0] = 1.0f;
    indexer_qat_row(x);
    // Hadamard → all 1/√128 ≈ 0.0884; s = 2^-6; 5.657 → e2m1 6 → 0.09375.
    for (float v : x) EXPECT_EQ(v, 0.09375f);
    auto a = gaussian(128, 9), b = a;
    indexer_qat_row(a.data());
    hadamard128_inplace(b.data());
    fp4_sim_row(b.data(), 128, 32);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), 128 * 4), 0);
}

}  // namespace
}  // namespace ds4::quant
