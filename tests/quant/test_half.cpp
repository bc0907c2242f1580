// f16 / bf16 conversions: exact values, round-to-nearest-even ties, subnormals, inf, NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "quant/quant.h"

namespace ds4::quant {
namespace {

float from_bits(uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

TEST(Half, ExactValues) {
    EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
    EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(0x1p-14f), 0x0400);  // min normal
    EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);  // min subnormal
    EXPECT_EQ(f32_to_f16(0x1p-15f), 0x0200);
    EXPECT_EQ(f16_to_f32(0x3555), 0x1.554p-2f);
    EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);
    EXPECT_EQ(f16_to_f32(0x03ff), 0x3ffp-24f);
    EXPECT_EQ(f16_to_f32(0x8000), -0.0f);
    EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(Half, RoundToNearestEvenTies) {
    // 1 + 2^-11 is the midpoint of 1 and 1 + 2^-10: tie to the even mantissa (1.0).
    EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    // 1 + 3·2^-11 is the midpoint of 1+2^-10 (odd) and 1+2^-9 (even): goes up.
    EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);  // above the tie
    // Subnormal ties: 2^-25 (between 0 and 2^-24) → 0; 3·2^-25 → 2·2^-24.
    EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);
    EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);
    EXPECT_EQ(f32_to_f16(0x1.000002p-25f), 0x0001);
    EXPECT_EQ(f32_to_f16(0x1p-26f), 0x0000);
    // Largest subnormal rounding up into the min normal.
    EXPECT_EQ(f32_to_f16(0x3ffp-24f + 0x1p-25f), 0x0400);
    // Overflow: 65519.99 → 65504, 65520 (tie with 2^16, 65504 odd) → inf.
    EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
    EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);
    EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
}

TEST(Half, InfNan) {
    EXPECT_EQ(f32_to_f16(INFINITY), 0x7c00);
    EXPECT_EQ(f32_to_f16(-INFINITY), 0xfc00);
    const uint16_t h = f32_to_f16(NAN);
    EXPECT_EQ(h & 0x7c00, 0x7c00);
    EXPECT_NE(h & 0x03ff, 0);
    // A signalling NaN whose payload lives only in low bits must not become inf.
    const uint16_t s = f32_to_f16(from_bits(0x7f800001u));
    EXPECT_TRUE(std::isnan(f16_to_f32(s)));
    EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
    EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
}

TEST(Half, EveryHalfRoundTripsExactly) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16_to_f32(uint16_t(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
            continue;
        }
        ASSERT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
    }
}

TEST(Half, MatchesDoubleReferenceRounding) {
    // Compare with rounding done in double arithmetic on a dense sweep of f32 bit patterns.
    for (uint32_t b = 0x33000000u; b < 0x477ff000u; b += 0x1357u) {  // (2^-25, 65520)
        const float f = from_bits(b);
        const uint16_t h = f32_to_f16(f);
        const double lo = f16_to_f32(h);
        // The neighbours of h must not be strictly closer.
        const double up = f16_to_f32(uint16_t(h + 1)), dn = h > 0 ? f16_to_f32(uint16_t(h - 1)) : -1.0;
        ASSERT_LE(std::fabs(lo - f), std::fabs(up - f)) << f;
        if (h > 0) {
            ASSERT_LE(std::fabs(lo - f), std::fabs(dn - f)) << f;
        }
    }
}

TEST(BFloat16, RoundingAndSpecials) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_bf16(from_bits(0x3f808000u)), 0x3f80);  // tie, even stays
    EXPECT_EQ(f32_to_bf16(from_bits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
    EXPECT_EQ(f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);  // above tie
    EXPECT_EQ(f32_to_bf16(INFINITY), 0x7f80);
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
    EXPECT_EQ(f32_to_bf16(from_bits(0x00000001u)), 0x0000);           // tiny subnormal → 0
    EXPECT_EQ(f32_to_bf16(from_bits(0x00018000u)), 0x0002);           // subnormal tie → even
    // NaN whose payload is only in the dropped bits stays NaN.
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(from_bits(0x7f800001u)))));
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(from_bits(0xffc00000u)))));
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = bf16_to_f32(uint16_t(h));
        if (!std::isnan(f)) {
            ASSERT_EQ(f32_to_bf16(f), h);
        }
    }
}

TEST(Half, RowHelpersAndRoundTrip) {
    float row[5] = {1.0f + 0x1p-11f, 3.14159265f, -0x1p-30f, 70000.0f, 0.1f};
    uint16_t h[5];
    float back[5];
    f32_to_f16_row(row, h, 5);
    f16_to_f32_row(h, back, 5);
    f16_round_trip_row(row, 5);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(std::memcmp(&row[i], &back[i], 4), 0) << i;
    EXPECT_EQ(row[0], 1.0f);
    EXPECT_EQ(row[1], 3.140625f);
    EXPECT_EQ(row[2], 0.0f);
    EXPECT_TRUE(std::signbit(row[2]));
    EXPECT_TRUE(std::isinf(row[3]));
    EXPECT_EQ(row[4], 0.0999755859375f);
    uint16_t b[2];
    float bb[2] = {1.0f, -3.0f}, out[2];
    f32_to_bf16_row(bb, b, 2);
    bf16_to_f32_row(b, out, 2);
    EXPECT_EQ(out[0], 1.0f);
    EXPECT_EQ(out[1], -3.0f);
}

}  // namespace
}  // namespace ds4::quant
