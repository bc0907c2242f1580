// MOE_ROUTER and MOE_FFN: fused vs decomposed, hash vs top-k selection, unbiased weights,
// the denominator floor, and the exact SwiGLU clamps.
#include <algorithm>
#include <limits>

#include "rig.h"

namespace ds4::test {
namespace {

// ---- MOE_ROUTER -------------------------------------------------------------------------------

enum { kZ, kWg, kBias, kHash, kTok, kIds, kW };

struct RouterCase {
    int64_t d = 64, E = 8, k = 3, vocab = 10, n = 5;
    bool hash = false, bias = true;
    Numerics numerics = Numerics::Exact;
    ds4_params_router params() const {
        ds4_params_router p{};
        p.k = static_cast<uint32_t>(k);
        p.scale = 1.5f;
        p.denom_floor = numerics == Numerics::Official ? 6.103515625e-5f : 0.0f;
        p.denom_eps = 0.0f;
        return p;
    }
    std::vector<int> srcs() const { return {kZ, kWg, bias ? kBias : -1, hash ? kHash : -1, kTok}; }
};

std::vector<Spec> router_specs(const RouterCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<Spec> s;
    s.push_back(f32_spec({c.d, c.n}, randn(c.d * c.n, rng)));
    s.push_back(weight_spec(DS4_TYPE_F16, {c.d, c.E}, rng, 1.0f / std::sqrt(float(c.d))));
    s.push_back(f32_spec({c.E}, randn(c.E, rng, 0.3f)));
    std::vector<int32_t> table;
    for (int64_t v = 0; v < c.vocab; ++v) {
        std::vector<int32_t> e(c.E);
        for (int64_t i = 0; i < c.E; ++i) e[i] = static_cast<int32_t>(i);
        std::shuffle(e.begin(), e.end(), rng);
        table.insert(table.end(), e.begin(), e.begin() + c.k);
    }
    s.push_back(i32_spec({c.k, c.vocab}, table));
    std::vector<int32_t> tok(c.n);
    for (auto& t : tok) t = static_cast<int32_t>(rng() % c.vocab);
    s.push_back(i32_spec({c.n}, tok));
    s.push_back(i32_spec({c.k, c.n}, std::vector<int32_t>(c.k * c.n, -7)));
    s.push_back(f32_spec({c.k, c.n}, std::vector<float>(c.k * c.n)));
    return s;
}

void check_router(const RouterCase& c, uint32_t seed) {
    SCOPED_TRACE("router E=" + std::to_string(c.E) + " n=" + std::to_string(c.n) + (c.hash ? " hash" : " topk") +
                 (c.bias ? " bias " : " ") + numerics_name(c.numerics));
    const std::vector<Spec> specs = router_specs(c, seed);
    Pair p(specs);
    p.run(DS4_OP_MOE_ROUTER, c.params(), c.srcs(), {kIds, kW});
    expect_equal_i32(p, kIds, "ids");
    expect_close_rigs(p, kW, "weights");
    const auto ids = p.fused.read_i32(kIds);
    const auto w = p.fused.read_f32(kW);
    for (int64_t t = 0; t < c.n; ++t) {
        double sum = 0.0;
        for (int64_t j = 0; j < c.k; ++j) sum += w[t * c.k + j];
        EXPECT_NEAR(sum, 1.5, 1e-5) << "weights of token " << t << " must sum to the routed scale";
        if (c.hash) {  // hash routing: the table row of the token, in stored order
            int32_t tok;
            std::memcpy(&tok, specs[kTok].bytes.data() + 4 * t, 4);
            for (int64_t j = 0; j < c.k; ++j) {
                int32_t want;
                std::memcpy(&want, specs[kHash].bytes.data() + 4 * (tok * c.k + j), 4);
                EXPECT_EQ(ids[t * c.k + j], want);
            }
        } else {  // distinct experts
            std::vector<int32_t> row(ids.begin() + t * c.k, ids.begin() + (t + 1) * c.k);
            std::sort(row.begin(), row.end());
            EXPECT_TRUE(std::adjacent_find(row.begin(), row.end()) == row.end());
        }
    }
}

TEST(MoeRouter, SmallShapesMatchDecomposition) {
    for (Numerics nm : {Numerics::Exact, Numerics::Official})
        for (int64_t n : {1, 5, 13})
            for (bool hash : {false, true}) {
                RouterCase c;
                c.numerics = nm;
                c.n = n;
                c.hash = hash;
                check_router(c, 40 + static_cast<uint32_t>(n));
                c.bias = false;
                check_router(c, 41);
            }
}

TEST(MoeRouter, RealShape) {
    for (bool hash : {false, true}) {
        RouterCase c;
        c.d = 4096;
        c.E = 256;
        c.k = 6;
        c.vocab = 50;
        c.n = 5;
        c.hash = hash;
        c.numerics = Numerics::Official;
        check_router(c, 77);
    }
}

// The bias only chooses: a huge bias on expert 5 puts it first, but its weight comes from the
// unbiased score. With F32 gate rows we know p exactly: row e = s_e·(1, 0, ...) and z = e_0.
TEST(MoeRouter, BiasChoosesUnbiasedWeights) {
    RouterCase c;
    c.n = 1;
    std::vector<Spec> s = router_specs(c, 3);
    std::vector<float> wg(c.d * c.E, 0.0f), logit = {0.5f, 3.0f, -1.0f, 2.0f, 1.0f, -4.0f, 0.0f, 2.5f};
    for (int64_t e = 0; e < c.E; ++e) wg[e * c.d] = logit[e];
    s[kWg] = f32_spec({c.d, c.E}, wg);
    std::vector<float> z(c.d, 0.0f);
    z[0] = 1.0f;
    s[kZ] = f32_spec({c.d, 1}, z);
    std::vector<float> bias(c.E, 0.0f);
    bias[5] = 100.0f;
    s[kBias] = f32_spec({c.E}, bias);
    Pair p(s);
    p.run(DS4_OP_MOE_ROUTER, c.params(), c.srcs(), {kIds, kW});
    auto prob = [](float x) { return std::sqrt(std::log1p(std::exp(x))); };
    const float den = prob(-4.0f) + prob(3.0f) + prob(2.5f);
    for (Rig* r : {&p.fused, &p.decomp}) {
        EXPECT_EQ(r->read_i32(kIds), (std::vector<int32_t>{5, 1, 7}));
        const auto w = r->read_f32(kW);
        EXPECT_NEAR(w[0], prob(-4.0f) / den * 1.5f, 1e-6f);
        EXPECT_NEAR(w[1], prob(3.0f) / den * 1.5f, 1e-6f);
        EXPECT_NEAR(w[2], prob(2.5f) / den * 1.5f, 1e-6f);
    }
}

// ds4's 2^-14 floor on the denominator: tiny scores give weights far below the routed scale.
TEST(MoeRouter, DenominatorFloor) {
    RouterCase c;
    c.n = 1;
    c.bias = false;
    c.numerics = Numerics::Official;
    std::vector<Spec> s = router_specs(c, 4);
    std::vector<float> wg(c.d * c.E, 0.0f);
    for (int64_t e = 0; e < c.E; ++e) wg[e * c.d] = -30.0f - float(e);  // p ≈ e^-15 .. tiny
    s[kWg] = f32_spec({c.d, c.E}, wg);
    std::vector<float> z(c.d, 0.0f);
    z[0] = 1.0f;
    s[kZ] = f32_spec({c.d, 1}, z);
    Pair p(s);
    p.run(DS4_OP_MOE_ROUTER, c.params(), c.srcs(), {kIds, kW});
    for (Rig* r : {&p.fused, &p.decomp}) {
        EXPECT_EQ(r->read_i32(kIds), (std::vector<int32_t>{0, 1, 2}));
        const auto w = r->read_f32(kW);
        const float p0 = std::sqrt(std::exp(-30.0f));
        EXPECT_NEAR(w[0], p0 / 6.103515625e-5f * 1.5f, 1e-6f);
        EXPECT_LT(w[0] + w[1] + w[2], 0.02f);  // unfloored, the weights would sum to 1.5
    }
}

// ---- MOE_FFN ----------------------------------------------------------------------------------

enum { kFz, kGate, kUp, kDown, kFids, kFw, kOut };

struct FfnCase {
    int64_t d = 256, F = 256, E = 4, k = 2, n = 5;
    Numerics numerics = Numerics::Exact;
    ds4_type gate_type = DS4_TYPE_F16, down_type = DS4_TYPE_F16;
    bool random_blocks = false;
    ds4_params_moe_ffn params() const {
        ds4_params_moe_ffn p{};
        p.act_quant = numerics == Numerics::Official ? DS4_ACT_DS4 : DS4_ACT_F32;
        p.clamp = 10.0f;
        return p;
    }
};

std::vector<Spec> ffn_specs(const FfnCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<Spec> s;
    s.push_back(f32_spec({c.d, c.n}, randn(c.d * c.n, rng)));
    auto weights = [&](ds4_type t, std::vector<int64_t> ne, float sigma) {
        return c.random_blocks ? random_blocks_spec(t, ne, rng) : weight_spec(t, ne, rng, sigma);
    };
    // Gate/up scaled so that some g, u exceed the clamp of 10.
    s.push_back(weights(c.gate_type, {c.d, c.F, c.E}, 8.0f / std::sqrt(float(c.d))));
    s.push_back(weights(c.gate_type, {c.d, c.F, c.E}, 8.0f / std::sqrt(float(c.d))));
    s.push_back(weights(c.down_type, {c.F, c.d, c.E}, 1.0f / std::sqrt(float(c.F))));
    std::vector<int32_t> ids;
    for (int64_t t = 0; t < c.n; ++t) {
        std::vector<int32_t> e(c.E);
        for (int64_t i = 0; i < c.E; ++i) e[i] = static_cast<int32_t>(i);
        std::shuffle(e.begin(), e.end(), rng);
        ids.insert(ids.end(), e.begin(), e.begin() + c.k);
    }
    if (c.n > 1) ids[c.k + 1] = -1;  // an absent selection contributes 0
    s.push_back(i32_spec({c.k, c.n}, ids));
    std::vector<float> w = randn(c.k * c.n, rng, 0.5f);
    for (auto& v : w) v = std::fabs(v);
    s.push_back(f32_spec({c.k, c.n}, w));
    s.push_back(f32_spec({c.d, c.n}, std::vector<float>(c.d * c.n)));
    return s;
}

void check_ffn(const FfnCase& c, uint32_t seed) {
    SCOPED_TRACE(std::string("moe_ffn ") + ds4_type_name(c.gate_type) + "/" + ds4_type_name(c.down_type) + " n=" +
                 std::to_string(c.n) + " d=" + std::to_string(c.d) + " " + numerics_name(c.numerics));
    Pair p(ffn_specs(c, seed));
    p.run(DS4_OP_MOE_FFN, c.params(), {kFz, kGate, kUp, kDown, kFids, kFw}, {kOut});
    expect_close_rigs(p, kOut, "out");
}

TEST(MoeFfn, SmallShapesMatchDecomposition) {
    for (int64_t n : {1, 5, 13}) {
        FfnCase c;
        c.n = n;
        check_ffn(c, 90 + static_cast<uint32_t>(n));
        c.numerics = Numerics::Official;
        c.gate_type = DS4_TYPE_Q8_0;
        c.down_type = DS4_TYPE_Q8_0;
        check_ffn(c, 93);
    }
    // The K-quants and IQ2_XXS see Q8_K activations under official numerics (quantizing
    // these weights is slow: random blocks for the 2-bit types, one batch size).
    FfnCase c;
    c.numerics = Numerics::Official;
    c.random_blocks = true;
    c.gate_type = DS4_TYPE_IQ2_XXS;
    c.down_type = DS4_TYPE_Q2_K;
    check_ffn(c, 91);
    c.random_blocks = false;
    c.gate_type = DS4_TYPE_Q4_K;
    c.down_type = DS4_TYPE_Q4_K;
    check_ffn(c, 92);
    c.numerics = Numerics::Exact;
    check_ffn(c, 94);
}

TEST(MoeFfn, RealShape) {
    FfnCase c;  // 4 experts of 4096 → 2048 (the expert count does not change the math)
    c.d = 4096;
    c.F = 2048;
    c.E = 4;
    c.k = 2;
    c.n = 2;
    c.numerics = Numerics::Official;
    c.gate_type = DS4_TYPE_IQ2_XXS;
    c.down_type = DS4_TYPE_Q2_K;
    c.random_blocks = true;
    check_ffn(c, 5);
}

// SwiGLU clamps: gate clamped from above only, up on both sides. One expert with F32 weights
// that pick g[f] and u[f] out of z, and an identity down projection: out = h exactly.
TEST(MoeFfn, SwigluClampsAreExact) {
    const std::vector<float> g = {-20.0f, -5.0f, 0.0f, 5.0f, 9.5f, 10.0f, 15.0f, 30.0f};
    const std::vector<float> u = {-30.0f, -10.0f, -3.0f, 0.5f, 10.0f, 12.0f, 40.0f, 2.0f};
    const int64_t F = 8, d = 8;
    FfnCase c;
    c.d = d;
    c.F = F;
    c.E = 1;
    c.k = 1;
    c.n = 1;
    std::vector<Spec> s = ffn_specs(c, 1);  // replaced below (F32 weights accept any width)
    // z = (1, 1, ..., 1)/1: gate row f = g[f]·e_f, up row f = u[f]·e_f, down = identity.
    std::vector<float> gate(F * d, 0.0f), up(F * d, 0.0f), down(d * F, 0.0f);
    for (int64_t f = 0; f < F; ++f) {
        gate[f * d + f] = g[f];
        up[f * d + f] = u[f];
        down[f * F + f] = 1.0f;
    }
    s[kFz] = f32_spec({d, 1}, std::vector<float>(d, 1.0f));
    s[kGate] = f32_spec({d, F, 1}, gate);
    s[kUp] = f32_spec({d, F, 1}, up);
    s[kDown] = f32_spec({F, d, 1}, down);
    s[kFids] = i32_spec({1, 1}, {0});
    s[kFw] = f32_spec({1, 1}, {0.75f});
    s[kOut] = f32_spec({d, 1}, std::vector<float>(d));
    Pair p(s);
    p.run(DS4_OP_MOE_FFN, c.params(), {kFz, kGate, kUp, kDown, kFids, kFw}, {kOut});
    auto silu = [](float x) { return x < 0 ? x * (std::exp(x) / (1.0f + std::exp(x))) : x * (1.0f / (1.0f + std::exp(-x))); };
    for (Rig* r : {&p.fused, &p.decomp}) {
        const auto out = r->read_f32(kOut);
        for (int64_t f = 0; f < F; ++f) {
            const float gc = std::min(g[f], 10.0f), uc = std::clamp(u[f], -10.0f, 10.0f);
            EXPECT_FLOAT_EQ(out[f], silu(gc) * uc * 0.75f) << "g " << g[f] << " u " << u[f];
        }
        EXPECT_FLOAT_EQ(out[0], silu(-20.0f) * -10.0f * 0.75f);  // gate NOT clamped below
        EXPECT_FLOAT_EQ(out[6], silu(10.0f) * 10.0f * 0.75f);    // both clamped above
    }
}

TEST(MoeFfn, ThreadCountInvariant) {
    FfnCase c;
    c.n = 13;
    c.numerics = Numerics::Official;
    c.gate_type = DS4_TYPE_Q8_0;
    c.down_type = DS4_TYPE_Q8_0;
    const auto specs = ffn_specs(c, 8);
    Rig a(specs), b(specs, &cpu_device_1thread());
    for (Rig* r : {&a, &b}) r->run(DS4_OP_MOE_FFN, c.params(), {kFz, kGate, kUp, kDown, kFids, kFw}, {kOut}, false);
    EXPECT_EQ(a.read(kOut), b.read(kOut));
}

TEST(MoeRouter, ThreadCountInvariant) {
    RouterCase c;
    c.n = 13;
    const auto specs = router_specs(c, 8);
    Rig a(specs), b(specs, &cpu_device_1thread());
    for (Rig* r : {&a, &b}) r->run(DS4_OP_MOE_ROUTER, c.params(), c.srcs(), {kIds, kW}, false);
    EXPECT_EQ(a.read(kIds), b.read(kIds));
    EXPECT_EQ(a.read(kW), b.read(kW));
}

}  // namespace
}  // namespace ds4::test
