// Official checkpoint decoding: e4m3fn / UE8M0 / e2m1 codes, FP8 weights with 128×128
// scale tiles (ragged edges), FP4 weights with 1×32 scale groups and nibble order.
#include <gtest/gtest.h>

#include "quant_test_util.h"

namespace ds4::quant {
namespace {

TEST(Checkpoint, CodeTables) {
    EXPECT_EQ(e4m3fn_to_f32(0x00), 0.0f);
    EXPECT_EQ(e4m3fn_to_f32(0x01), 0x1p-9f);
    EXPECT_EQ(e4m3fn_to_f32(0x07), 7 * 0x1p-9f);
    EXPECT_EQ(e4m3fn_to_f32(0x08), 0x1p-6f);
    EXPECT_EQ(e4m3fn_to_f32(0x38), 1.0f);
    EXPECT_EQ(e4m3fn_to_f32(0x3c), 1.5f);
    EXPECT_EQ(e4m3fn_to_f32(0x7e), 448.0f);
    EXPECT_EQ(e4m3fn_to_f32(0xb8), -1.0f);
    EXPECT_TRUE(std::isnan(e4m3fn_to_f32(0x7f)));
    EXPECT_TRUE(std::isnan(e4m3fn_to_f32(0xff)));
    EXPECT_EQ(e8m0_to_f32(127), 1.0f);
    EXPECT_EQ(e8m0_to_f32(128), 2.0f);
    EXPECT_EQ(e8m0_to_f32(120), 0x1p-7f);
    EXPECT_EQ(e8m0_to_f32(0), 0x1p-127f);
    EXPECT_EQ(e8m0_to_f32(254), 0x1p127f);
    EXPECT_TRUE(std::isnan(e8m0_to_f32(255)));
    EXPECT_EQ(e2m1_to_f32(0x7), 6.0f);
    EXPECT_EQ(e2m1_to_f32(0x9), -0.5f);
    EXPECT_EQ(e2m1_to_f32(0xF5), 3.0f);  // only the low nibble counts
}

TEST(Checkpoint, Fp8WeightWithRaggedScaleTiles) {
    const int64_t rows = 130, cols = 260;  // scale grid 2 × 3
    std::vector<uint8_t> q(size_t(rows * cols));
    for (int64_t i = 0; i < rows * cols; ++i) q[size_t(i)] = uint8_t(i % 127);  // no NaN codes
    const uint8_t scale[6] = {127, 128, 126, 130, 0, 120};
    std::vector<float> out(size_t(rows * cols));
    ASSERT_TRUE(dequant_fp8_weight(q.data(), scale, out.data(), rows, cols));
    auto at = [&](int64_t r, int64_t c) { return out[size_t(r * cols + c)]; };
    auto code = [&](int64_t r, int64_t c) { return e4m3fn_to_f32(q[size_t(r * cols + c)]); };
    EXPECT_EQ(at(0, 0), code(0, 0));
    EXPECT_EQ(at(127, 127), code(127, 127));
    EXPECT_EQ(at(0, 128), code(0, 128) * 2.0f);
    EXPECT_EQ(at(5, 259), code(5, 259) * 0.5f);
    EXPECT_EQ(at(128, 0), code(128, 0) * 8.0f);
    EXPECT_EQ(at(129, 200), code(129, 200) * 0x1p-127f);
    EXPECT_EQ(at(129, 256), code(129, 256) * 0x1p-7f);
    EXPECT_FALSE(dequant_fp8_weight(q.data(), scale, out.data(), -1, cols));
}

TEST(Checkpoint, Fp4WeightNibbleOrderAndGroups) {
    const int64_t rows = 2, cols = 66;  // 3 scale groups per row (32, 32, 2)
    std::vector<uint8_t> packed(size_t(rows * cols / 2), 0);
    packed[0] = 0x9 << 4 | 0x2;            // col 0 = 1.0, col 1 = −0.5
    packed[16] = 0x7;                      // col 32 = 6 (group 1)
    packed[32] = 0xE << 4 | 0x4;           // col 64 = 2, col 65 = −4 (group 2)
    packed[33 + 0] = 0x5;                  // row 1, col 0 = 3
    const uint8_t scale[6] = {127, 126, 129, 128, 127, 127};
    std::vector<float> out(size_t(rows * cols), NAN);
    ASSERT_TRUE(dequant_fp4_weight(packed.data(), scale, out.data(), rows, cols));
    EXPECT_EQ(out[0], 1.0f);
    EXPECT_EQ(out[1], -0.5f);
    EXPECT_EQ(out[2], 0.0f);
    EXPECT_EQ(out[32], 3.0f);   // 6 · 2^-1
    EXPECT_EQ(out[64], 8.0f);   // 2 · 2^2
    EXPECT_EQ(out[65], -16.0f);
    EXPECT_EQ(out[66], 6.0f);   // row 1 col 0: 3 · 2
    EXPECT_FALSE(dequant_fp4_weight(packed.data(), scale, out.data(), rows, 65));
}

}  // namespace
}  // namespace ds4::quant
