// Weight quantizers: valid blocks, quantize→dequantize error on seeded Gaussian data,
// importance weighting, degenerate and bad input.
#include <gtest/gtest.h>

#include <cstdio>

#include "quant_test_util.h"

namespace ds4::quant {
namespace {
using namespace test;

struct QualityCase {
    ds4_type type;
    double bound;  // measured value + a small margin (docs/quant.md lists the measurements)
};

class QuantizeQuality : public ::testing::TestWithParam<QualityCase> {};

TEST_P(QuantizeQuality, RelativeRmseOnGaussianData) {
    const auto [type, bound] = GetParam();
    const int64_t n = 256 * 32;
    const auto x = gaussian(size_t(n), 1234, 0.02f);  // typical weight magnitude
    const auto q = quant(type, x);
    ASSERT_FALSE(q.empty());
    const auto y = dequant(type, q, n);
    ASSERT_EQ(y.size(), x.size());
    const double e = rel_rmse(x, y);
    std::printf("[ quality ] %-8s relative RMSE %.4f (bound %.3f)\n", ds4_type_name(type), e, bound);
    RecordProperty("rel_rmse", std::to_string(e));
    EXPECT_LT(e, bound);
    for (float v : y) ASSERT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantizeQuality,
                         ::testing::Values(QualityCase{DS4_TYPE_F32, 1e-12}, QualityCase{DS4_TYPE_F16, 3e-4},
                                           QualityCase{DS4_TYPE_BF16, 2.5e-3}, QualityCase{DS4_TYPE_Q8_0, 0.0065},
                                           QualityCase{DS4_TYPE_Q4_K, 0.078}, QualityCase{DS4_TYPE_Q2_K, 0.29},
                                           QualityCase{DS4_TYPE_IQ2_XXS, 0.35}),
                         [](const auto& info) { return std::string(ds4_type_name(info.param.type)); });

TEST_P(QuantizeQuality, OtherSeedsAndScales) {
    const auto [type, bound] = GetParam();
    for (const float sigma : {1e-4f, 1.0f, 300.0f}) {
        const auto x = gaussian(256 * 4, 77 + uint32_t(sigma), sigma);
        const auto y = dequant(type, quant(type, x), int64_t(x.size()));
        ASSERT_EQ(y.size(), x.size());
        EXPECT_LT(rel_rmse(x, y), bound * 1.1) << "sigma " << sigma;
    }
}

constexpr ds4_type kBlockTypes[] = {DS4_TYPE_Q8_0, DS4_TYPE_Q4_K, DS4_TYPE_Q2_K, DS4_TYPE_IQ2_XXS};

TEST(Quantize, ZeroAndNonFiniteInput) {
    for (ds4_type t : kBlockTypes) {
        std::vector<float> x(256, 0.0f);
        auto y = dequant(t, quant(t, x), 256);
        ASSERT_EQ(y.size(), 256u) << ds4_type_name(t);
        for (float v : y) EXPECT_EQ(v, 0.0f) << ds4_type_name(t);
        // NaN / inf are treated as 0; the rest of the block still quantizes sensibly.
        x = gaussian(256, 5);
        auto bad = x;
        bad[3] = NAN;
        bad[100] = INFINITY;
        bad[200] = -INFINITY;
        y = dequant(t, quant(t, bad), 256);
        ASSERT_EQ(y.size(), 256u);
        for (float v : y) ASSERT_TRUE(std::isfinite(v)) << ds4_type_name(t);
        bad[3] = bad[100] = bad[200] = 0.0f;
        EXPECT_LT(rel_rmse(bad, y), 0.4) << ds4_type_name(t);
    }
}

TEST(Quantize, ConstantAndOneSidedBlocks) {
    for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_Q4_K, DS4_TYPE_Q2_K}) {
        for (float c : {0.5f, -0.5f}) {
            std::vector<float> x(256, c);
            const auto y = dequant(t, quant(t, x), 256);
            for (float v : y) EXPECT_NEAR(v, c, 0.01f) << ds4_type_name(t) << " c=" << c;
        }
        std::vector<float> pos(256);
        for (int i = 0; i < 256; ++i) pos[i] = 1.0f + float(i % 16) * 0.1f;  // all positive, offset
        const auto y = dequant(t, quant(t, pos), 256);
        // Mins only subtract, so a positive offset costs Q2_K's 4 levels some range.
        EXPECT_LT(rel_rmse(pos, y), t == DS4_TYPE_Q2_K ? 0.13 : 0.05) << ds4_type_name(t);
    }
}

TEST(Quantize, Q8_0ExactlyRepresentableData) {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[i] = float(i - 16) * 0.25f;  // amax 4 → d = 4/127
    x[0] = 127 * 0.25f;                                          // now d = 0.25 exactly
    const auto q = quant(DS4_TYPE_Q8_0, x);
    EXPECT_EQ(dequant(DS4_TYPE_Q8_0, q, 32), x);
}

TEST(Quantize, Iq2XxsSignParityRule) {
    // One group of 8 with three negatives: the smallest |w| (element 5) gets its sign flipped,
    // all other signs follow the data.
    std::vector<float> x(256, 0.3f);
    const float g[8] = {-1.0f, 0.8f, -0.6f, 0.9f, -0.7f, 0.05f, 1.1f, 0.4f};
    for (int j = 0; j < 8; ++j) x[j] = g[j];
    const auto y = dequant(DS4_TYPE_IQ2_XXS, quant(DS4_TYPE_IQ2_XXS, x), 256);
    ASSERT_EQ(y.size(), 256u);
    int neg = 0;
    for (int j = 0; j < 8; ++j) {
        neg += y[j] < 0;
        if (j != 5) {
            EXPECT_EQ(std::signbit(y[j]), std::signbit(g[j])) << j;
        }
    }
    EXPECT_TRUE(std::signbit(y[5]));
    EXPECT_EQ(neg % 2, 0);
}

TEST(Quantize, ImportanceWeightsLowerTheWeightedError) {
    const int64_t n = 256 * 8;
    const auto x = gaussian(size_t(n), 99);
    std::vector<float> imp(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) imp[size_t(i)] = (i % 7 == 0) ? 20.0f : 0.2f;
    for (ds4_type t : {DS4_TYPE_Q4_K, DS4_TYPE_Q2_K, DS4_TYPE_IQ2_XXS}) {
        const auto plain = dequant(t, quant(t, x), n);
        const auto weighted = dequant(t, quant(t, x, imp.data()), n);
        double ep = 0, ew = 0;
        for (int64_t i = 0; i < n; ++i) {
            ep += imp[size_t(i)] * (x[size_t(i)] - plain[size_t(i)]) * (x[size_t(i)] - plain[size_t(i)]);
            ew += imp[size_t(i)] * (x[size_t(i)] - weighted[size_t(i)]) * (x[size_t(i)] - weighted[size_t(i)]);
        }
        EXPECT_LT(ew, ep * 0.9) << ds4_type_name(t);
    }
}

TEST(Quantize, RejectsBadTypeAndLengthAndIsDeterministic) {
    std::vector<float> x(256, 1.0f);
    std::vector<uint8_t> out(1024, 0);
    EXPECT_FALSE(quantize_row(DS4_TYPE_Q8_K, x.data(), out.data(), 256));
    EXPECT_FALSE(quantize_row(DS4_TYPE_I32, x.data(), out.data(), 4));
    EXPECT_FALSE(quantize_row(DS4_TYPE_Q4_K, x.data(), out.data(), 100));
    EXPECT_FALSE(quantize_row(DS4_TYPE_Q8_0, x.data(), out.data(), -32));
    EXPECT_FALSE(can_quantize(DS4_TYPE_Q8_K));
    EXPECT_TRUE(can_quantize(DS4_TYPE_IQ2_XXS));
    const auto g = gaussian(512, 3);
    for (ds4_type t : kBlockTypes) EXPECT_EQ(quant(t, g), quant(t, g)) << ds4_type_name(t);
}

}  // namespace
}  // namespace ds4::quant
