// ds4 activation quantizers (hand-computed ties, zero blocks, first-on-ties max) and the
// row dot products (against dequantized-weights × dequantized-activations in double).
#include <gtest/gtest.h>

#include "quant_test_util.h"

namespace ds4::quant {
namespace {
using namespace test;

block_q8_0_act act_q8_0(const float* x) {
    block_q8_0_act b;
    EXPECT_TRUE(quantize_act_q8_0(x, &b, 32));
    return b;
}

TEST(ActQ8_0, ZeroBlock) {
    float x[32] = {};
    const auto b = act_q8_0(x);
    EXPECT_EQ(b.d, 0.0f);
    for (int8_t q : b.qs) EXPECT_EQ(q, 0);
}

TEST(ActQ8_0, RoundHalfEvenAndF32Scale) {
    float x[32] = {127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f, -127.0f, 126.5f};
    const auto b = act_q8_0(x);  // d = 1 exactly, id = 1
    EXPECT_EQ(b.d, 1.0f);
    const int8_t want[10] = {127, 0, 2, 2, 0, -2, -2, 3, -127, 126};
    for (int i = 0; i < 10; ++i) EXPECT_EQ(b.qs[i], want[i]) << i;
    // d is kept in f32, not rounded to f16: max 1 → 1/127.
    float y[32] = {1.0f};
    EXPECT_EQ(act_q8_0(y).d, 1.0f / 127.0f);
}

TEST(ActQ8_0, MultipliesByTheF32Reciprocal) {
    // Find an input where x·(1/d) and x/d round differently; ds4 multiplies.
    int found = 0;
    for (int k = 1; k < 4000 && found < 3; ++k) {
        float x[32] = {};
        x[0] = 1.0f + float(k) * 0.000731f;  // the block max, so d = x0/127
        const float d = x[0] / 127.0f, id = 1.0f / d;
        for (int i = 1; i < 32; ++i) x[i] = (float(i) + 0.5f) * d * (1.0f + float(k % 7 - 3) * 1e-7f);
        for (int i = 1; i < 32; ++i) {
            if (round_half_even(x[i] * id) == round_half_even(x[i] / d)) continue;
            const auto b = act_q8_0(x);
            EXPECT_EQ(b.qs[i], round_half_even(x[i] * id)) << "k=" << k << " i=" << i;
            ++found;
            break;
        }
    }
    EXPECT_GT(found, 0) << "no multiply/divide disagreement found; the check did not run";
}

TEST(ActQ8_K, FirstOnTiesSignedMax) {
    std::vector<float> x(256, 0.01f);
    x[3] = 2.0f;
    x[7] = -2.0f;
    block_q8_k b;
    ASSERT_TRUE(quantize_act_q8_k(x.data(), &b, 256));
    // v = +2 (first of the tie) → iscale = −63.5, d = 1/−63.5.
    EXPECT_EQ(b.d, 1.0f / (-127.0f / 2.0f));
    EXPECT_EQ(b.qs[3], -127);
    EXPECT_EQ(b.qs[7], 127);
    EXPECT_EQ(b.qs[0], -1);  // round(−0.635)
    x[3] = -2.0f;
    x[7] = 2.0f;
    ASSERT_TRUE(quantize_act_q8_k(x.data(), &b, 256));
    EXPECT_GT(b.d, 0.0f);
    EXPECT_EQ(b.qs[3], -127);
    EXPECT_EQ(b.qs[7], 127);
}

TEST(ActQ8_K, RoundHalfEvenAndBsums) {
    std::vector<float> x(256, 0.0f);
    x[0] = 127.0f;  // v = 127 → iscale = −1, d = −1
    x[1] = 0.5f;    // −0.5 → 0
    x[2] = 1.5f;    // −1.5 → −2
    x[3] = 2.5f;    // −2.5 → −2
    x[4] = -3.5f;   // 3.5 → 4
    x[5] = -0.5f;   // 0.5 → 0
    x[20] = 10.0f;  // block 1 of bsums
    block_q8_k b;
    ASSERT_TRUE(quantize_act_q8_k(x.data(), &b, 256));
    EXPECT_EQ(b.d, -1.0f);
    const int8_t want[6] = {-127, 0, -2, -2, 4, 0};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(b.qs[i], want[i]) << i;
    EXPECT_EQ(b.bsums[0], -127 - 2 - 2 + 4);
    EXPECT_EQ(b.bsums[1], -10);
    for (int k = 2; k < 16; ++k) EXPECT_EQ(b.bsums[k], 0);
}

TEST(ActQ8_K, ZeroBlockAndBadLength) {
    std::vector<float> x(512, 0.0f);
    x[300] = 1.0f;
    block_q8_k b[2];
    std::memset(b, 0x5A, sizeof(b));
    ASSERT_TRUE(quantize_act_q8_k(x.data(), b, 512));
    EXPECT_EQ(b[0].d, 0.0f);
    for (int8_t q : b[0].qs) EXPECT_EQ(q, 0);
    for (int16_t s : b[0].bsums) EXPECT_EQ(s, 0);
    EXPECT_EQ(b[1].qs[44], -127);
    EXPECT_FALSE(quantize_act_q8_k(x.data(), b, 100));
    EXPECT_FALSE(quantize_act_q8_0(x.data(), b, 33));
}

TEST(RoundHalfEven, Cases) {
    EXPECT_EQ(round_half_even(0.5f), 0);
    EXPECT_EQ(round_half_even(1.5f), 2);
    EXPECT_EQ(round_half_even(-2.5f), -2);
    EXPECT_EQ(round_half_even(-3.5f), -4);
    EXPECT_EQ(round_half_even(2.4999998f), 2);
    EXPECT_EQ(round_half_even(NAN), 0);
    EXPECT_EQ(round_half_even(1e20f), INT32_MAX);
    EXPECT_EQ(round_half_even(-1e20f), INT32_MIN);
}

// Reference: Σ dequant(w)·dequant(x) in double; tolerance relative to Σ|w·x|.
void expect_dot_matches(ds4_type wt, const std::vector<uint8_t>& w, ActFormat af, const std::vector<uint8_t>& xa,
                        int64_t n, float got) {
    const auto wd = dequant(wt, w, n);
    std::vector<float> xd(static_cast<size_t>(n));
    if (af == ActFormat::Q8_0Act) {
        for (int64_t b = 0; b < n / 32; ++b) {
            block_q8_0_act blk;
            std::memcpy(&blk, xa.data() + b * 36, 36);
            for (int i = 0; i < 32; ++i) xd[size_t(b * 32 + i)] = blk.d * float(blk.qs[i]);
        }
    } else if (af == ActFormat::Q8_K) {
        xd = dequant(DS4_TYPE_Q8_K, xa, n);
    } else {
        std::memcpy(xd.data(), xa.data(), size_t(n) * 4);
    }
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
        ref += double(wd[size_t(i)]) * xd[size_t(i)];
        mag += std::fabs(double(wd[size_t(i)]) * xd[size_t(i)]);
    }
    EXPECT_NEAR(got, ref, 1e-5 * mag + 1e-30) << ds4_type_name(wt) << " vs " << act_format_name(af);
}

class DotProducts : public ::testing::TestWithParam<ds4_type> {};

TEST_P(DotProducts, MatchDequantizedReference) {
    const ds4_type wt = GetParam();
    const int64_t n = 1024;
    for (uint32_t seed = 1; seed <= 3; ++seed) {
        const auto wf = gaussian(size_t(n), 100 + seed, 0.05f);
        auto xf = gaussian(size_t(n), 200 + seed, 3.0f);
        xf[17] = 0.0f;
        const auto w = quant(wt, wf);
        ASSERT_FALSE(w.empty());
        for (ActQuant mode : {ActQuant::None, ActQuant::Ds4}) {
            const ActFormat af = act_format_for(wt, mode);
            std::vector<uint8_t> xa(size_t(act_row_bytes(af, n)));
            ASSERT_TRUE(quantize_act(af, xf.data(), xa.data(), n));
            const float got = dot_row(wt, w.data(), xa.data(), n, mode);
            expect_dot_matches(wt, w, af, xa, n, got);
        }
        // The exact path equals dot_f32_f32 on the dequantized row, bit for bit.
        const auto wd = dequant(wt, w, n);
        const float a = dot_dequant_f32(wt, w.data(), xf.data(), n);
        const float b = dot_f32_f32(wd.data(), xf.data(), n);
        EXPECT_EQ(std::memcmp(&a, &b, 4), 0) << a << " vs " << b;
    }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, DotProducts,
                         ::testing::Values(DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_Q8_0, DS4_TYPE_Q2_K,
                                           DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS),
                         [](const auto& info) { return std::string(ds4_type_name(info.param)); });

TEST(Dot, ActFormatRules) {
    EXPECT_EQ(act_format_for(DS4_TYPE_Q8_0, ActQuant::Ds4), ActFormat::Q8_0Act);
    EXPECT_EQ(act_format_for(DS4_TYPE_Q2_K, ActQuant::Ds4), ActFormat::Q8_K);
    EXPECT_EQ(act_format_for(DS4_TYPE_Q4_K, ActQuant::Ds4), ActFormat::Q8_K);
    EXPECT_EQ(act_format_for(DS4_TYPE_IQ2_XXS, ActQuant::Ds4), ActFormat::Q8_K);
    EXPECT_EQ(act_format_for(DS4_TYPE_F16, ActQuant::Ds4), ActFormat::F32);
    EXPECT_EQ(act_format_for(DS4_TYPE_Q8_0, ActQuant::None), ActFormat::F32);
    EXPECT_EQ(act_row_bytes(ActFormat::F32, 10), 40);
    EXPECT_EQ(act_row_bytes(ActFormat::Q8_0Act, 64), 72);
    EXPECT_EQ(act_row_bytes(ActFormat::Q8_K, 512), 584);
    EXPECT_EQ(act_row_bytes(ActFormat::Q8_K, 100), -1);
    EXPECT_STREQ(act_format_name(ActFormat::Q8_K), "q8_k");
    EXPECT_EQ(dot_row(DS4_TYPE_I32, nullptr, nullptr, 0, ActQuant::None), 0.0f);
}

TEST(Dot, Q8_0HandExample) {
    std::vector<uint8_t> w(34, 1);
    put_u16(w, 0, 0x3800);  // d_w = 0.5, q_w = 1
    block_q8_0_act x;
    x.d = 2.0f;
    for (auto& q : x.qs) q = 3;
    EXPECT_EQ(dot_q8_0_q8_0act(w.data(), &x, 32), 0.5f * 2.0f * 96.0f);
}

TEST(Dot, FloatLaneOrder) {
    // n = 13: elements 8..12 join lanes 0..4; reduction ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)).
    float w[13], x[13];
    for (int i = 0; i < 13; ++i) {
        w[i] = 1.0f;
        x[i] = i == 0 ? 1e8f : (i == 4 ? -1e8f : 1.0f);
    }
    // lane0 = 1e8 + 1 (x[8]) = 1e8 (absorbed), lane4 = −1e8 + 1 (x[12]) = −1e8; others: lane1..3 = 2,
    // lanes 5..7 = 1. Sum = ((1e8−1e8)+(2+1)) + ((2+1)+(2+1)) = 9.
    EXPECT_EQ(dot_f32_f32(w, x, 13), 9.0f);
    uint16_t wh[13], wb[13];
    f32_to_f16_row(w, wh, 13);
    f32_to_bf16_row(w, wb, 13);
    EXPECT_EQ(dot_f16_f32(wh, x, 13), 9.0f);
    EXPECT_EQ(dot_bf16_f32(wb, x, 13), 9.0f);
}

}  // namespace
}  // namespace ds4::quant
