// Dequantizers on hand-built blocks: every expected value below is computed by hand from
// MODEL.md §E (the bytes are packed by hand too, so a layout mistake cannot cancel out).
#include <gtest/gtest.h>

#include "quant_test_util.h"

namespace ds4::quant {
namespace {
using namespace test;

constexpr uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800;

TEST(Dequant, Q8_0) {
    std::vector<uint8_t> b(68);
    put_u16(b, 0, kHalfHalf);
    for (int i = 0; i < 32; ++i) b[2 + i] = uint8_t(int8_t(i - 16));
    put_u16(b, 34, 0xc000);  // d = -2
    b[36] = uint8_t(int8_t(-128));
    b[37] = 127;
    const auto y = dequant(DS4_TYPE_Q8_0, b, 64);
    ASSERT_EQ(y.size(), 64u);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.5f * float(i - 16)) << i;
    EXPECT_EQ(y[32], 256.0f);
    EXPECT_EQ(y[33], -254.0f);
    EXPECT_EQ(y[34], 0.0f);
}

TEST(Dequant, Q2_K_PlanesAndMins) {
    std::vector<uint8_t> b(84, 0);
    for (int sb = 0; sb < 16; ++sb) b[sb] = 0x21;   // scale 1, min 2
    for (int i = 0; i < 64; ++i) b[16 + i] = 0xE4;  // planes j=0..3 hold q = 0,1,2,3
    put_u16(b, 80, kHalfOne);                      // d = 1
    put_u16(b, 82, kHalfHalf);                     // dmin = 0.5
    const auto y = dequant(DS4_TYPE_Q2_K, b, 256);
    ASSERT_EQ(y.size(), 256u);
    // w = 1·1·q − 0.5·2 = q − 1 with q = plane index = (n % 128) / 32.
    for (int n = 0; n < 256; ++n) EXPECT_EQ(y[n], float((n % 128) / 32) - 1.0f) << n;
}

TEST(Dequant, Q2_K_ElementPlacementAndPerSubBlockScales) {
    std::vector<uint8_t> b(84, 0);
    for (int sb = 0; sb < 16; ++sb) b[sb] = uint8_t(sb);  // scale = sb, min 0
    b[16 + 33] = 0x08;  // qs[33]: half 1, l = 1, plane 1 → element 128 + 32 + 1 = 161, q = 2
    put_u16(b, 80, kHalfOne);
    put_u16(b, 82, kHalfOne);
    const auto y = dequant(DS4_TYPE_Q2_K, b, 256);
    for (int n = 0; n < 256; ++n) EXPECT_EQ(y[n], n == 161 ? 2.0f * 10.0f : 0.0f) << n;  // sb(161) = 10
}

TEST(Dequant, Q4_K_SixBitScalesAndNibbles) {
    // Sub-block scales {1,2,3,4,17,33,49,63}, mins {0,1,2,3,16,32,48,5}, packed by hand.
    const uint8_t scales[12] = {65, 130, 195, 196, 64, 129, 194, 3, 1, 1, 1, 95};
    std::vector<uint8_t> b(144, 0);
    put_u16(b, 0, kHalfOne);
    put_u16(b, 2, kHalfOne);
    std::memcpy(&b[4], scales, 12);
    for (int i = 0; i < 128; ++i) b[16 + i] = 0x21;  // low nibble 1 (even j), high 2 (odd j)
    b[16 + 32 + 5] = 0xF0;                           // element 69 (j=2) q=0, element 101 (j=3) q=15
    const auto y = dequant(DS4_TYPE_Q4_K, b, 256);
    ASSERT_EQ(y.size(), 256u);
    const float expect_j[8] = {1, 3, 1, 5, 1, 34, 1, 121};  // sc·q − m
    for (int n = 0; n < 256; ++n) {
        float e = expect_j[n / 32];
        if (n == 69) e = -2.0f;   // 3·0 − 2
        if (n == 101) e = 57.0f;  // 4·15 − 3
        EXPECT_EQ(y[n], e) << n;
    }
}

TEST(Dequant, IQ2_XXS_GridSignsAndScale) {
    std::vector<uint8_t> b(66, 0);
    put_u16(b, 0, kHalfOne);
    // Group 0: grid entries 0, 1, 2, 255; sign indices 0, 1, 3, 127; scale s = 3.
    put_u32(b, 2, 0u | (1u << 8) | (2u << 16) | (255u << 24));
    put_u32(b, 6, 0u | (1u << 7) | (3u << 14) | (127u << 21) | (3u << 28));
    const auto y = dequant(DS4_TYPE_IQ2_XXS, b, 256);
    ASSERT_EQ(y.size(), 256u);
    const float u = 0.875f;  // d·(0.5 + 3)·0.25
    const float expect[32] = {
        // entry 0 = all 8, no signs
        8 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u,
        // entry 1 = 0x080808080808082b, signs 129 = elements 0 and 7 negative
        -43 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u, -8 * u,
        // entry 2 = 0x0808080808081919, signs 3 = elements 0, 1 negative
        -25 * u, -25 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u, 8 * u,
        // entry 255 = 0x2b2b2b1908081908, signs 255 = all negative
        -8 * u, -25 * u, -8 * u, -8 * u, -25 * u, -43 * u, -43 * u, -43 * u};
    for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], expect[i]) << i;
    // Groups 1..7 are all-zero bytes: grid 0 (all 8), scale 0 → 1·(0.5)·0.25·8 = 1.
    for (int i = 32; i < 256; ++i) EXPECT_EQ(y[i], 1.0f) << i;
}

TEST(Dequant, Q8_K) {
    std::vector<uint8_t> b(292, 0);
    put_f32(b, 0, 0.25f);
    for (int i = 0; i < 256; ++i) b[4 + i] = uint8_t(int8_t(i - 128));
    const auto y = dequant(DS4_TYPE_Q8_K, b, 256);
    for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], 0.25f * float(i - 128)) << i;
}

TEST(Dequant, FloatTypes) {
    std::vector<uint8_t> f16(6), bf16(6), f32(12);
    put_u16(f16, 0, 0x3c00);
    put_u16(f16, 2, 0xc200);
    put_u16(f16, 4, 0x0001);
    put_u16(bf16, 0, 0x3f80);
    put_u16(bf16, 2, 0xc040);
    put_u16(bf16, 4, 0x7f80);
    put_f32(f32, 0, 1.5f);
    put_f32(f32, 4, -0.0f);
    put_f32(f32, 8, 1e30f);
    EXPECT_EQ(dequant(DS4_TYPE_F16, f16, 3), (std::vector<float>{1.0f, -3.0f, 0x1p-24f}));
    EXPECT_EQ(dequant(DS4_TYPE_BF16, bf16, 3), (std::vector<float>{1.0f, -3.0f, INFINITY}));
    EXPECT_EQ(dequant(DS4_TYPE_F32, f32, 3), (std::vector<float>{1.5f, -0.0f, 1e30f}));
}

TEST(Dequant, RejectsBadTypeAndLength) {
    std::vector<uint8_t> b(1024, 0);
    float out[300];
    out[0] = 42.0f;
    EXPECT_FALSE(dequantize_row(DS4_TYPE_Q8_0, b.data(), out, 33));
    EXPECT_FALSE(dequantize_row(DS4_TYPE_Q4_K, b.data(), out, 128));
    EXPECT_FALSE(dequantize_row(DS4_TYPE_I32, b.data(), out, 4));
    EXPECT_FALSE(dequantize_row(ds4_type(99), b.data(), out, 4));
    EXPECT_FALSE(dequantize_row(DS4_TYPE_F32, b.data(), out, -1));
    EXPECT_EQ(out[0], 42.0f);  // untouched
    EXPECT_TRUE(dequantize_row(DS4_TYPE_Q8_0, b.data(), out, 0));
    EXPECT_FALSE(can_dequantize(DS4_TYPE_I32));
    EXPECT_TRUE(can_dequantize(DS4_TYPE_Q8_K));
}

}  // namespace
}  // namespace ds4::quant
