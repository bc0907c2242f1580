// Recipes vs f32 (KL divergence, top-1 agreement) and the numerics profiles.
#include <gtest/gtest.h>

#include <cstdio>

#include "model_fixture.h"

namespace ds4::model {
namespace {
using namespace test;

constexpr size_t kN = 96;

std::vector<float> run(const Model& m, const SessionOptions& o, const std::vector<int32_t>& toks) {
    Session s(m, o);
    return s.eval(toks, true);
}

TEST(Recipes, CloseToF32) {
    DS4_REQUIRE_DEVICE();
    std::vector<int32_t> toks = test_tokens(kN, 11);
    const uint32_t V = 384;
    std::vector<float> ref = run(tiny_model(Recipe::F32), opts(Numerics::Exact, 64), toks);
    // Loose bounds: the tiny model is random, so quantization noise is large relative to the
    // logit spread; q2 (2-bit experts) is the noisiest.
    struct Bound {
        Recipe r;
        double max_mean_kl;
        double min_top1;
    };
    for (Bound b : {Bound{Recipe::F16, 1e-3, 0.95}, Bound{Recipe::Q8, 0.02, 0.85}, Bound{Recipe::Q4, 0.1, 0.6},
                    Bound{Recipe::Q2, 0.5, 0.15}}) {
        std::vector<float> got = run(tiny_model(b.r), opts(Numerics::Exact, 64), toks);
        double kl = 0;
        size_t agree = 0;
        for (size_t t = 0; t < kN; ++t) {
            kl += kl_divergence(&ref[t * V], &got[t * V], V);
            agree += argmax(&ref[t * V], V) == argmax(&got[t * V], V);
        }
        double mean_kl = kl / kN, top1 = double(agree) / kN;
        std::printf("[ recipe ] %-3s vs f32 (exact): mean KL %.6f, top-1 agreement %.3f\n", recipe_name(b.r), mean_kl,
                    top1);
        EXPECT_LT(mean_kl, b.max_mean_kl) << recipe_name(b.r);
        EXPECT_GE(top1, b.min_top1) << recipe_name(b.r);
        EXPECT_GT(mean_kl, 0.0) << recipe_name(b.r) << " should differ from f32";
    }
}

TEST(Numerics, OfficialDiffersFromExactAndTogglesCompose) {
    DS4_REQUIRE_DEVICE();
    std::vector<int32_t> toks = test_tokens(kN, 13);
    const Model& m = tiny_model(Recipe::Q8);
    std::vector<float> exact = run(m, opts(Numerics::Exact, 64), toks);
    std::vector<float> official = run(m, opts(Numerics::Official, 64), toks);
    EXPECT_GT(max_abs_diff(exact, official), 0.0f);
    double kl = 0;
    for (size_t t = 0; t < kN; ++t) kl += kl_divergence(&exact[t * 384], &official[t * 384], 384);
    std::printf("[ numerics ] q8 official vs exact: mean KL %.6f\n", kl / kN);
    EXPECT_LT(kl / kN, 0.05);

    // Official with every simulation off is exactly Exact.
    SessionOptions off = opts(Numerics::Official, 64);
    off.custom_numerics = true;
    off.numerics_options = NumericsOptions::official();
    off.numerics_options.act_quant_ds4 = false;
    off.numerics_options.fp8_kv = false;
    off.numerics_options.indexer_qat = false;
    off.numerics_options.f16_raw_rows = false;
    off.numerics_options.f16_comp_rows = false;
    off.numerics_options.router_floor = 0.0f;
    EXPECT_EQ(max_abs_diff(run(m, off, toks), exact), 0.0f);
    // Each simulation alone changes the logits.
    for (int which = 0; which < 5; ++which) {
        SessionOptions one = opts(Numerics::Exact, 64);
        one.custom_numerics = true;
        NumericsOptions& n = one.numerics_options;
        n = NumericsOptions::exact();
        const char* name = "";
        switch (which) {
        case 0: n.act_quant_ds4 = true; name = "act_quant_ds4"; break;
        case 1: n.fp8_kv = true; name = "fp8_kv"; break;
        case 2: n.indexer_qat = true; name = "indexer_qat"; break;
        case 3: n.f16_raw_rows = true; name = "f16_raw_rows"; break;
        case 4: n.f16_comp_rows = true; name = "f16_comp_rows"; break;
        }
        EXPECT_GT(max_abs_diff(run(m, one, toks), exact), 0.0f) << name;
    }
}

}  // namespace
}  // namespace ds4::model
