// COMPRESSOR: fused vs decomposed over multi-step token streams, emission counts/positions,
// the state reset after emission, and prefill == streaming.
#include <limits>

#include "rig.h"

namespace ds4::test {
namespace {

constexpr float kSentinel = 12345.0f;  // initial content of the row store: "never written"
enum { kWkv, kWg, kApe, kNorm, kSkv, kSsc, kRows, kFirstStep };

struct CompressorCase {
    int64_t d = 64, D = 32, ratio = 4, cap = 40, p0 = 0;
    uint32_t n_rot = 8;
    Numerics numerics = Numerics::Exact;
    ds4_type wtype = DS4_TYPE_F16;
    std::vector<int64_t> steps;  // tokens per step
    int64_t coff() const { return ratio == 4 ? 2 : 1; }
    int64_t W() const { return coff() * D; }
    ds4_params_compressor params() const {
        ds4_params_compressor p{};
        p.ratio = static_cast<uint32_t>(ratio);
        p.head_dim = static_cast<uint32_t>(D);
        const bool off = numerics == Numerics::Official;
        p.row_sim = !off ? UINT32_MAX : static_cast<uint32_t>(D == 128 ? DS4_SIM_INDEXER_QAT : DS4_SIM_FP8_KV);
        p.n_nope = static_cast<uint32_t>(D - n_rot);
        p.round_f16 = off ? 1 : 0;
        p.act_quant = off ? DS4_ACT_DS4 : DS4_ACT_F32;
        p.norm_eps = 1e-6f;
        p.rope = rope_params(n_rot, true);
        return p;
    }
};

// Specs: weights, state (fresh at p0 = 0, else "warm": random values in the rows a stream
// would have filled, kv 0 / score -inf in the reset rows), row store, then (a, positions)
// per step.
std::vector<Spec> compressor_specs(const CompressorCase& c, uint32_t seed) {
    std::mt19937 rng(seed);
    const int64_t W = c.W(), rows = c.coff() * c.ratio;
    const float sigma = 1.0f / std::sqrt(float(c.d));
    std::vector<Spec> s;
    s.push_back(weight_spec(c.wtype, {c.d, W}, rng, sigma));
    s.push_back(weight_spec(c.wtype, {c.d, W}, rng, sigma));
    s.push_back(f32_spec({W, c.ratio}, randn(W * c.ratio, rng, 0.3f)));
    std::vector<float> norm = randn(c.D, rng, 0.2f);
    for (auto& v : norm) v += 1.0f;
    s.push_back(f32_spec({c.D}, norm));
    std::vector<float> kv(W * rows, 0.0f), sc(W * rows, -std::numeric_limits<float>::infinity());
    auto warm = [&](int64_t r) {
        std::vector<float> a = randn(W, rng), b = randn(W, rng);
        for (int64_t j = 0; j < W; ++j) kv[r * W + j] = a[j], sc[r * W + j] = b[j];
    };
    const int64_t phase = c.p0 % c.ratio, cur = c.coff() == 2 ? c.ratio : 0;
    if (c.coff() == 2 && c.p0 >= c.ratio)
        for (int64_t r = 0; r < c.ratio; ++r) warm(r);
    for (int64_t r = 0; r < phase; ++r) warm(cur + r);
    s.push_back(f32_spec({W, rows}, kv));
    s.push_back(f32_spec({W, rows}, sc));
    s.push_back(f32_spec({c.D, c.cap}, std::vector<float>(c.D * c.cap, kSentinel)));
    int64_t p = c.p0;
    for (int64_t n : c.steps) {
        s.push_back(f32_spec({c.d, n}, randn(c.d * n, rng)));
        std::vector<int32_t> pos(n);
        for (int64_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(p++);
        s.push_back(i32_spec({n}, pos));
    }
    return s;
}

void run_step(Rig& r, const CompressorCase& c, size_t step, bool decomposed) {
    const int a = kFirstStep + 2 * static_cast<int>(step);
    r.run(DS4_OP_COMPRESSOR, c.params(), {a, kWkv, kWg, kApe, kNorm, a + 1}, {kSkv, kSsc, kRows}, decomposed);
}

// Runs every step on both rigs and compares state and rows after each step.
void check_fused_vs_decomposed(const CompressorCase& c, uint32_t seed) {
    SCOPED_TRACE("compressor ratio=" + std::to_string(c.ratio) + " D=" + std::to_string(c.D) + " p0=" +
                 std::to_string(c.p0) + " " + numerics_name(c.numerics));
    Pair p(compressor_specs(c, seed));
    for (size_t i = 0; i < c.steps.size(); ++i) {
        SCOPED_TRACE("step " + std::to_string(i));
        run_step(p.fused, c, i, false);
        run_step(p.decomp, c, i, true);
        expect_close_rigs(p, kRows, "rows");
        expect_close_rigs(p, kSkv, "state_kv");
        expect_close_rigs(p, kSsc, "state_score");
    }
    // Rows written = exactly the windows completed inside the processed positions.
    int64_t p_end = c.p0;
    for (int64_t n : c.steps) p_end += n;
    const std::vector<float> rows = p.fused.read_f32(kRows);
    for (int64_t r = 0; r < c.cap; ++r) {
        const bool emitted = c.ratio * (r + 1) - 1 >= c.p0 && c.ratio * (r + 1) - 1 < p_end;
        for (int64_t j = 0; j < c.D; ++j)
            ASSERT_EQ(rows[r * c.D + j] != kSentinel, emitted) << "row " << r << " dim " << j;
    }
}

TEST(Compressor, Ratio4SmallMatchesDecomposition) {
    for (Numerics nm : {Numerics::Exact, Numerics::Official}) {
        CompressorCase c;
        c.numerics = nm;
        c.steps = {1, 5, 13, 1, 2};
        check_fused_vs_decomposed(c, 21);
        c.p0 = 41;  // warm state, mid-window start
        check_fused_vs_decomposed(c, 22);
        c.wtype = DS4_TYPE_Q8_0;  // Q8_0 weights: Q8_0 activations under official numerics
        c.d = 64;
        check_fused_vs_decomposed(c, 23);
    }
}

TEST(Compressor, Ratio8SmallMatchesDecomposition) {
    for (Numerics nm : {Numerics::Exact, Numerics::Official}) {
        CompressorCase c;
        c.ratio = 8;
        c.numerics = nm;
        c.steps = {5, 13, 1, 7};
        check_fused_vs_decomposed(c, 31);
        c.p0 = 13;
        check_fused_vs_decomposed(c, 32);
    }
}

TEST(Compressor, IndexerRowsWithQat) {
    CompressorCase c;
    c.D = 128;
    c.n_rot = 64;
    c.numerics = Numerics::Official;
    c.steps = {5, 13};
    check_fused_vs_decomposed(c, 41);
}

TEST(Compressor, Ratio128EmitsOnceAndResets) {
    CompressorCase c;
    c.ratio = 128;
    c.cap = 3;
    c.steps = {5, 13, 1, 109, 2};  // positions 0..129: one emission, at p = 127
    check_fused_vs_decomposed(c, 51);
    Rig r(compressor_specs(c, 51));
    for (size_t i = 0; i < 3; ++i) run_step(r, c, i, false);
    // 19 tokens consumed: nothing emitted, rows 0..18 of the state hold them.
    const auto sc19 = r.read_f32(kSsc);
    for (int64_t row = 0; row < 128; ++row)
        EXPECT_EQ(std::isinf(sc19[row * c.W()]), row >= 19) << "state row " << row;
    run_step(r, c, 3, false);  // ends at p = 127: emission, then the state is reset
    const auto kv = r.read_f32(kSkv), sc = r.read_f32(kSsc);
    for (size_t i = 0; i < kv.size(); ++i) {
        ASSERT_EQ(kv[i], 0.0f) << "state_kv entry " << i << " not reset";
        ASSERT_EQ(sc[i], -std::numeric_limits<float>::infinity()) << "state_score entry " << i << " not reset";
    }
    const auto rows = r.read_f32(kRows);
    for (int64_t j = 0; j < c.D; ++j) {
        EXPECT_NE(rows[j], kSentinel);
        EXPECT_EQ(rows[c.D + j], kSentinel);
    }
}

TEST(Compressor, Ratio4StateAfterEmission) {
    CompressorCase c;
    c.steps = {12};  // positions 0..11: rows 0, 1, 2
    Rig r(compressor_specs(c, 61));
    run_step(r, c, 0, false);
    const auto kv = r.read_f32(kSkv), sc = r.read_f32(kSsc);
    const int64_t W = c.W();
    for (int64_t row = 0; row < 8; ++row)
        for (int64_t j = 0; j < W; ++j) {
            if (row < 4) {  // previous window = tokens 8..11
                EXPECT_TRUE(std::isfinite(sc[row * W + j]));
            } else {  // current window reset
                EXPECT_EQ(kv[row * W + j], 0.0f);
                EXPECT_EQ(sc[row * W + j], -std::numeric_limits<float>::infinity());
            }
        }
}

// A prefill of 13 tokens leaves the same rows and state as 13 single-token steps.
TEST(Compressor, PrefillEqualsStreaming) {
    for (int64_t ratio : {4, 8}) {
        CompressorCase one;
        one.ratio = ratio;
        one.numerics = Numerics::Official;
        one.steps = {13};
        CompressorCase many = one;
        many.steps = std::vector<int64_t>(13, 1);
        // Same weights and inputs: build `many` specs from `one`'s token rows.
        std::vector<Spec> s1 = compressor_specs(one, 71), sm(s1.begin(), s1.begin() + kFirstStep);
        std::vector<float> a;
        {
            const auto& b = s1[kFirstStep].bytes;
            a.resize(b.size() / 4);
            std::memcpy(a.data(), b.data(), b.size());
        }
        for (int64_t i = 0; i < 13; ++i) {
            sm.push_back(f32_spec({one.d, 1}, std::vector<float>(a.begin() + i * one.d, a.begin() + (i + 1) * one.d)));
            sm.push_back(i32_spec({1}, {static_cast<int32_t>(i)}));
        }
        for (bool decomposed : {false, true}) {
            Rig r1(s1), rm(sm);
            run_step(r1, one, 0, decomposed);
            for (size_t i = 0; i < 13; ++i) run_step(rm, many, i, decomposed);
            EXPECT_EQ(r1.read(kRows), rm.read(kRows)) << "ratio " << ratio << (decomposed ? " decomposed" : " fused");
            EXPECT_EQ(r1.read(kSkv), rm.read(kSkv));
            EXPECT_EQ(r1.read(kSsc), rm.read(kSsc));
        }
    }
}

TEST(Compressor, RealShapes) {
    CompressorCase c;  // attention compressor of a ratio-4 layer
    c.d = 4096;
    c.D = 512;
    c.n_rot = 64;
    c.cap = 8;
    c.numerics = Numerics::Official;
    c.steps = {5};
    c.p0 = 2;
    check_fused_vs_decomposed(c, 81);
    CompressorCase h = c;  // HCA (ratio 128) crossing its window end
    h.ratio = 128;
    h.p0 = 120;
    h.steps = {13};
    h.numerics = Numerics::Exact;
    check_fused_vs_decomposed(h, 82);
}

TEST(Compressor, ThreadCountInvariant) {
    CompressorCase c;
    c.numerics = Numerics::Official;
    c.steps = {13};
    const auto specs = compressor_specs(c, 5);
    Rig a(specs), b(specs, &cpu_device_1thread());
    run_step(a, c, 0, false);
    run_step(b, c, 0, false);
    for (int i : {kSkv, kSsc, kRows}) EXPECT_EQ(a.read(i), b.read(i));
}

}  // namespace
}  // namespace ds4::test
