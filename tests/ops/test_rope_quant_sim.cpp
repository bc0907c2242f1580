// ROPE_TAIL and QUANT_SIM conformance.
//
// RoPE reference: f_k from the documented formula in double, rounded to float once;
// θ = float(pos)·f_k rounded to float (the documented contract: at large positions the
// rounding of θ dominates, so the reference must follow it), cos/sin and the rotation in
// double. Tolerance abs 2e-6 + rel 2e-6 (float cos/sin + one rotation).
// QUANT_SIM reference: the block loops written here on top of ds4::quant's scalar rounding
// primitives (round_e4m3fn, round_e2m1, pow2_ceil_scale, f16 conversion): exact.
#include <gtest/gtest.h>

#include <cmath>

#include "conformance.h"
#include "quant/quant.h"

namespace ds4::conformance {
namespace {

std::vector<float> rope_freqs(const ds4_rope_params& p) {
    std::vector<float> f(p.n_rot / 2);
    const double n = p.n_rot, base = p.freq_base;
    double low = 0, high = 0;
    if (p.yarn_factor > 1) {
        auto corr = [&](double beta) { return n * std::log(p.yarn_orig_ctx / (2 * M_PI * beta)) / (2 * std::log(base)); };
        low = std::max(0.0, std::floor(corr(p.yarn_beta_fast)));
        high = std::min(n - 1, std::ceil(corr(p.yarn_beta_slow)));
    }
    for (size_t k = 0; k < f.size(); ++k) {
        double v = std::pow(base, -2.0 * double(k) / n);
        if (p.yarn_factor > 1) {
            double ramp = std::clamp((double(k) - low) / std::max(0.001, high - low), 0.0, 1.0);
            v *= (1 - ramp) + ramp / p.yarn_factor;
        }
        f[k] = float(v);
    }
    return f;
}

TEST(RopeTail, YarnRangeMatchesTheSpec) {
    // MODEL.md §C.3.3: base 160000, factor 16, 64 dims → pairs ≤ 15 unchanged, ≥ 25 divided by 16.
    ds4_rope_params p{};
    p.n_rot = 64;
    p.freq_base = 160000;
    p.yarn_factor = 16;
    p.yarn_beta_fast = 32;
    p.yarn_beta_slow = 1;
    p.yarn_orig_ctx = 65536;
    auto f = rope_freqs(p);
    EXPECT_FLOAT_EQ(f[15], float(std::pow(160000.0, -30.0 / 64)));
    EXPECT_FLOAT_EQ(f[25], float(std::pow(160000.0, -50.0 / 64) / 16));
    EXPECT_FLOAT_EQ(f[20], float(std::pow(160000.0, -40.0 / 64) * (0.5 + 0.5 / 16)));
}

void rope_case(bool yarn, bool inverse, uint32_t pos_dim, bool inplace) {
    const int64_t hd = 512, heads = 3, tokens = 4;
    ds4_params_rope p{};
    p.inverse = inverse;
    p.pos_dim = pos_dim;
    p.rope.struct_size = sizeof(ds4_rope_params);
    p.rope.n_rot = 64;
    p.rope.freq_base = yarn ? 160000.0f : 10000.0f;
    p.rope.yarn_factor = yarn ? 16.0f : 1.0f;
    p.rope.yarn_beta_fast = 32;
    p.rope.yarn_beta_slow = 1;
    p.rope.yarn_orig_ctx = 65536;
    // x [tokens][heads][hd]: ne = {hd, heads, tokens}; positions along pos_dim.
    auto x = random_floats(hd * heads * tokens, 100 + pos_dim);
    const int64_t npos = pos_dim == 1 ? heads : tokens;
    std::vector<int32_t> pos = {0, 7, 65535, 1000003};
    pos.resize(npos);
    auto f = rope_freqs(p.rope);
    std::vector<double> want(x.begin(), x.end());
    for (int64_t t = 0; t < tokens; ++t)
        for (int64_t h = 0; h < heads; ++h) {
            const int32_t ps = pos[pos_dim == 1 ? h : t];
            double* tail = &want[(t * heads + h) * hd + hd - 64];
            for (int k = 0; k < 32; ++k) {
                const float theta = float(ps) * f[k];
                const double c = std::cos(double(theta)), s = (inverse ? -1 : 1) * std::sin(double(theta));
                const double a = tail[2 * k], b = tail[2 * k + 1];
                tail[2 * k] = a * c - b * s;
                tail[2 * k + 1] = a * s + b * c;
            }
        }
    Case c;
    c.op = DS4_OP_ROPE_TAIL;
    c.name = std::string("rope_tail ") + (yarn ? "yarn" : "plain") + (inverse ? " inverse" : "") + " pos_dim=" +
             std::to_string(pos_dim) + (inplace ? " in place" : "");
    c.variant = std::string(yarn ? "yarn" : "plain") + (inplace ? " in-place" : "");
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({hd, heads, tokens}, x));
    c.srcs.push_back(i32_input({npos}, pos));
    c.dsts.push_back({DS4_TYPE_F32, {hd, heads, tokens}, {}});
    if (inplace) c.inplace_src = 0;
    check_case(c, {within(want, 2e-6, 2e-6)});
}

TEST(RopeTail, PlainYarnInverseAndPosDims) {
    for (bool yarn : {false, true})
        for (bool inverse : {false, true}) rope_case(yarn, inverse, 2, false);
    rope_case(true, false, 1, false);
    rope_case(false, false, 2, true);
}

Case quant_sim_case(uint32_t kind, uint32_t n_nope, int64_t n, int64_t rows, const std::vector<float>& x) {
    ds4_params_quant_sim p{};
    p.kind = kind;
    p.n_nope = n_nope;
    Case c;
    c.op = DS4_OP_QUANT_SIM;
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({n, rows}, x));
    c.dsts.push_back({DS4_TYPE_F32, {n, rows}, {}});
    return c;
}

TEST(QuantSim, Fp8KvOnTheNopeDims) {
    const int64_t n = 512, rows = 3;
    auto x = random_floats(n * rows, 110, -20.0f, 20.0f);
    for (int64_t i = 0; i < 64; ++i) x[n + i] = 0.0f;  // an all-zero block (scale from the 1e-4 floor)
    std::vector<double> want(x.begin(), x.end());
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t b0 = 0; b0 < 448; b0 += 64) {
            float amax = 0;
            for (int64_t i = b0; i < b0 + 64; ++i) amax = std::max(amax, std::fabs(x[r * n + i]));
            const float s = quant::pow2_ceil_scale(std::max(amax, 1e-4f), 448.0f);
            for (int64_t i = b0; i < b0 + 64; ++i) {
                float v = std::clamp(x[r * n + i] / s, -448.0f, 448.0f);
                want[r * n + i] = quant::round_e4m3fn(v) * s;
            }
        }
    Case c = quant_sim_case(DS4_SIM_FP8_KV, 448, n, rows, x);
    c.name = "quant_sim fp8_kv 512/448";
    c.variant = "fp8_kv";
    check_case(c, {exact(want)});
}

TEST(QuantSim, IndexerQat) {
    const int64_t n = 128, rows = 3;
    auto x = random_floats(n * rows, 111, -5.0f, 5.0f);
    std::vector<double> want;
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> v(x.begin() + r * n, x.begin() + (r + 1) * n);
        for (int len = 1; len < 128; len *= 2)  // butterflies, stride 1, 2, ..., 64
            for (int i = 0; i < 128; i += 2 * len)
                for (int j = i; j < i + len; ++j) {
                    float a = v[j], b = v[j + len];
                    v[j] = a + b;
                    v[j + len] = a - b;
                }
        const float norm = float(1.0 / std::sqrt(128.0));
        for (auto& e : v) e *= norm;
        for (int b0 = 0; b0 < 128; b0 += 32) {
            float amax = 0;
            for (int i = b0; i < b0 + 32; ++i) amax = std::max(amax, std::fabs(v[i]));
            const float s = quant::pow2_ceil_scale(std::max(amax, 6.0f * std::ldexp(1.0f, -126)), 6.0f);
            for (int i = b0; i < b0 + 32; ++i) v[i] = quant::round_e2m1(std::clamp(v[i] / s, -6.0f, 6.0f)) * s;
        }
        want.insert(want.end(), v.begin(), v.end());
    }
    Case c = quant_sim_case(DS4_SIM_INDEXER_QAT, 0, n, rows, x);
    c.name = "quant_sim indexer_qat 128";
    c.variant = "indexer_qat";
    check_case(c, {exact(want)});
}

TEST(QuantSim, F16RoundTrip) {
    auto x = random_floats(33 * 2, 112, -70000.0f, 70000.0f);
    x[0] = NAN;
    x[1] = 1e-8f;
    std::vector<double> want;
    for (float v : x) want.push_back(quant::f16_to_f32(quant::f32_to_f16(v)));
    Case c = quant_sim_case(DS4_SIM_F16_ROUND, 0, 33, 2, x);
    c.name = "quant_sim f16_round";
    c.variant = "f16_round";
    check_case(c, {exact(want)});
}

}  // namespace
}  // namespace ds4::conformance
