// HC_PRE / HC_POST / HC_HEAD: fused (cpu-ref) vs decomposed, plus the Sinkhorn sums.
#include "rig.h"

namespace ds4::test {
namespace {

ds4_params_hc hc_params(uint32_t H) {
    ds4_params_hc p{};
    p.n_hc = H;
    p.sinkhorn_iters = 20;
    p.hc_eps = 1e-6f;
    p.norm_eps = 1e-6f;
    return p;
}

// Tensor indices of the HC_PRE case.
enum { kX, kFn, kScale, kBase, kXin, kPost, kComb };

std::vector<Spec> hc_pre_specs(int64_t d, int64_t H, int64_t n, ds4_type fn_type, uint32_t seed) {
    std::mt19937 rng(seed);
    const int64_t n_mix = H * (2 + H);
    std::vector<Spec> s;
    s.push_back(f32_spec({d, H, n}, randn(d * H * n, rng)));
    s.push_back(weight_spec(fn_type, {H * d, n_mix}, rng, 1.0f / std::sqrt(float(H * d))));
    s.push_back(f32_spec({3}, {0.7f, 1.3f, 2.1f}));
    s.push_back(f32_spec({2 * H + H * H}, randn(2 * H + H * H, rng, 0.5f)));
    s.push_back(f32_spec({d, n}, std::vector<float>(d * n)));
    s.push_back(f32_spec({H, n}, std::vector<float>(H * n)));
    s.push_back(f32_spec({H, H, n}, std::vector<float>(H * H * n)));
    return s;
}

void check_hc_pre(int64_t d, int64_t H, int64_t n, ds4_type fn_type) {
    SCOPED_TRACE("hc_pre d=" + std::to_string(d) + " n=" + std::to_string(n));
    Pair p(hc_pre_specs(d, H, n, fn_type, 11 + static_cast<uint32_t>(n)));
    p.run(DS4_OP_HC_PRE, hc_params(H), {kX, kFn, kScale, kBase}, {kXin, kPost, kComb});
    expect_close_rigs(p, kXin, "x_in");
    expect_close_rigs(p, kPost, "post");
    expect_close_rigs(p, kComb, "comb");
    for (uint32_t op : p.decomp.last_ops()) EXPECT_LT(op, 64u) << "decomposition contains a Tier-1 node";

    // Hand checks on the fused output: the last Sinkhorn step is a column normalisation, so
    // Σ_a M[a][c] = S/(S+eps) ≈ 1 - eps; rows are close to 1 (20 iterations need not fully converge); all > 0.
    // Post gates lie in (0, 2).
    const std::vector<float> comb = p.fused.read_f32(kComb), post = p.fused.read_f32(kPost);
    for (int64_t t = 0; t < n; ++t) {
        for (int64_t c = 0; c < H; ++c) {
            double col = 0.0, row = 0.0;
            for (int64_t a = 0; a < H; ++a) {
                col += comb[t * H * H + a * H + c];
                row += comb[t * H * H + c * H + a];
                EXPECT_GT(comb[t * H * H + a * H + c], 0.0f);
            }
            EXPECT_NEAR(col, 1.0, 1e-5) << "column " << c << " of token " << t;
            EXPECT_NEAR(row, 1.0, 2e-2) << "row " << c << " of token " << t;
        }
        for (int64_t s = 0; s < H; ++s) {
            EXPECT_GT(post[t * H + s], 0.0f);
            EXPECT_LT(post[t * H + s], 2.0f);
        }
    }
}

TEST(HcPre, SmallShapesMatchDecomposition) {
    for (int64_t n : {1, 5, 13}) check_hc_pre(64, 4, n, DS4_TYPE_F16);
    check_hc_pre(64, 4, 5, DS4_TYPE_F32);
    check_hc_pre(64, 4, 5, DS4_TYPE_BF16);
}

TEST(HcPre, RealShape) { check_hc_pre(4096, 4, 2, DS4_TYPE_F16); }

// Sinkhorn on a known matrix: with every comb logit equal, M is uniform (1/H) up to eps.
TEST(HcPre, UniformLogitsGiveUniformComb) {
    const int64_t d = 64, H = 4, n = 1;
    std::vector<Spec> s = hc_pre_specs(d, H, n, DS4_TYPE_F32, 3);
    s[kScale] = f32_spec({3}, {0.0f, 0.0f, 0.0f});  // mix·0: gates and logits come from base only
    std::vector<float> base(2 * H + H * H, 0.25f);
    base[0] = 0.0f;  // pre[0] = sigmoid(0) + eps = 0.5 + 1e-6
    s[kBase] = f32_spec({2 * H + H * H}, base);
    Pair p(s);
    p.run(DS4_OP_HC_PRE, hc_params(H), {kX, kFn, kScale, kBase}, {kXin, kPost, kComb});
    for (Rig* r : {&p.fused, &p.decomp}) {
        for (float v : r->read_f32(kComb)) EXPECT_NEAR(v, 0.25f, 1e-6f);
        const std::vector<float> post = r->read_f32(kPost);
        EXPECT_FLOAT_EQ(post[0], 2.0f / (1.0f + std::exp(-0.25f)));
        // x_in = Σ_s pre[s]·X[s] with pre[0] = 0.5+1e-6 and pre[1..3] = sigmoid(0.25)+1e-6.
        const std::vector<float> X = r->read_f32(kX), xin = r->read_f32(kXin);
        const float p0 = 0.5f + 1e-6f, p1 = 1.0f / (1.0f + std::exp(-0.25f)) + 1e-6f;
        for (int64_t i = 0; i < d; ++i) {
            const float want = p0 * X[i] + p1 * X[d + i] + p1 * X[2 * d + i] + p1 * X[3 * d + i];
            EXPECT_NEAR(xin[i], want, 1e-5f * (std::fabs(want) + 1.0f));
        }
    }
}

// ---- HC_POST ----------------------------------------------------------------------------------

void check_hc_post(int64_t d, int64_t H, int64_t n) {
    SCOPED_TRACE("hc_post d=" + std::to_string(d) + " n=" + std::to_string(n));
    std::mt19937 rng(7 + static_cast<uint32_t>(n));
    std::vector<Spec> s;
    s.push_back(f32_spec({d, n}, randn(d * n, rng)));
    s.push_back(f32_spec({d, H, n}, randn(d * H * n, rng)));
    s.push_back(f32_spec({H, n}, randn(H * n, rng)));
    s.push_back(f32_spec({H, H, n}, randn(H * H * n, rng, 0.5f)));
    s.push_back(f32_spec({d, H, n}, std::vector<float>(d * H * n)));
    Pair p(s);
    p.run(DS4_OP_HC_POST, hc_params(H), {0, 1, 2, 3}, {4});
    expect_close_rigs(p, 4, "X_new");
    // Hand check of the transpose: X_new[c][i] = post[c]·y[i] + Σ_a comb[a][c]·X[a][i].
    const auto y = p.fused.read_f32(0), X = p.fused.read_f32(1), post = p.fused.read_f32(2), comb = p.fused.read_f32(3),
               out = p.fused.read_f32(4);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < H; ++c)
            for (int64_t i = 0; i < d; i += 7) {
                double want = double(post[t * H + c]) * y[t * d + i];
                for (int64_t a = 0; a < H; ++a) want += double(comb[t * H * H + a * H + c]) * X[(t * H + a) * d + i];
                EXPECT_NEAR(out[(t * H + c) * d + i], want, 1e-5 * (std::fabs(want) + 1.0));
            }
}

TEST(HcPost, SmallShapesMatchDecomposition) {
    for (int64_t n : {1, 5, 13}) check_hc_post(64, 4, n);
}

TEST(HcPost, RealShape) { check_hc_post(4096, 4, 5); }

// ---- HC_HEAD ----------------------------------------------------------------------------------

void check_hc_head(int64_t d, int64_t H, int64_t n) {
    SCOPED_TRACE("hc_head d=" + std::to_string(d) + " n=" + std::to_string(n));
    std::mt19937 rng(5 + static_cast<uint32_t>(n));
    std::vector<Spec> s;
    s.push_back(f32_spec({d, H, n}, randn(d * H * n, rng)));
    s.push_back(weight_spec(DS4_TYPE_F16, {H * d, H}, rng, 1.0f / std::sqrt(float(H * d))));
    s.push_back(f32_spec({1}, {1.7f}));
    s.push_back(f32_spec({H}, randn(H, rng, 0.5f)));
    s.push_back(f32_spec({d, n}, std::vector<float>(d * n)));
    Pair p(s);
    p.run(DS4_OP_HC_HEAD, hc_params(H), {0, 1, 2, 3}, {4});
    expect_close_rigs(p, 4, "h");
}

TEST(HcHead, SmallShapesMatchDecomposition) {
    for (int64_t n : {1, 5, 13}) check_hc_head(64, 4, n);
}

TEST(HcHead, RealShape) { check_hc_head(4096, 4, 3); }

// Static partitions: the fused kernels give the same bits with 1 or 2 worker threads.
TEST(HcPre, ThreadCountInvariant) {
    const auto specs = hc_pre_specs(64, 4, 13, DS4_TYPE_F16, 2);
    Rig a(specs), b(specs, &cpu_device_1thread());
    for (Rig* r : {&a, &b}) r->run(DS4_OP_HC_PRE, hc_params(4), {kX, kFn, kScale, kBase}, {kXin, kPost, kComb}, false);
    for (int i : {kXin, kPost, kComb}) EXPECT_EQ(a.read(i), b.read(i));
}

}  // namespace
}  // namespace ds4::test
