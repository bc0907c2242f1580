// MATMUL, MATMUL_ID, MATMUL_F32 conformance: every weight type × both activation modes, odd
// shapes, strided/batched activations, and the real DS4 shapes (one of each kind, plus the
// 4096 × 129280 Q8_0 LM head and a 256-expert MATMUL_ID).
#include <gtest/gtest.h>

#include <cmath>

#include "conformance.h"
#include "matmul_reference.h"

namespace ds4::conformance {
namespace {

const ds4_type kAllWeightTypes[] = {DS4_TYPE_F32,  DS4_TYPE_F16,  DS4_TYPE_BF16,   DS4_TYPE_Q8_0,
                                    DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS};

const char* act_name(uint32_t a) { return a == DS4_ACT_DS4 ? "ds4" : "f32"; }

std::string variant(ds4_type t, uint32_t act) { return std::string(ds4_type_name(t)) + "/act=" + act_name(act); }

// y = W·x for n rows of x; x may be given as a strided view via `x_input`.
void matmul_case(const std::string& label, Input w, const std::vector<float>& x, int64_t n, uint32_t act,
                 bool check_determinism = true, const Input* x_input = nullptr) {
    const int64_t in = w.ne[0], out = w.ne[1];
    DotRef ref = matmul_reference(w, 0, out, x, n, act);
    ds4_params_matmul p{};
    p.act_quant = act;
    Case c;
    c.op = DS4_OP_MATMUL;
    c.name = "matmul " + variant(w.type, act) + " " + label + " IN=" + std::to_string(in) + " OUT=" + std::to_string(out) +
             " n=" + std::to_string(n);
    c.variant = variant(w.type, act);
    c.params = params_bytes(p);
    c.srcs.push_back(std::move(w));
    c.srcs.push_back(x_input ? *x_input : f32_input({in, n}, x));
    c.dsts.push_back({DS4_TYPE_F32, {out, n}, {}});
    c.check_determinism = check_determinism;
    check_case(c, {within_magnitude(ref.value, ref.mag, matmul_tolerance(in), 1e-30)});
}

TEST(Matmul, OddShapesFloatWeights) {
    for (ds4_type t : {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16})
        for (int64_t in : {1, 3, 33, 257})
            for (int64_t out : {1, 3, 33})
                for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
                    const int64_t n = in == 33 ? 3 : 1;
                    Input w = weight_input(t, {in, out}, random_floats(in * out, in * 100 + out));
                    matmul_case("odd", w, random_floats(in * n, 7 + in), n, act);
                }
}

TEST(Matmul, OddShapesQuantizedWeights) {
    for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS}) {
        const int64_t be = ds4_type_block_elems(t);
        for (int64_t in : {be, 3 * be})
            for (int64_t out : {1, 3, 33})
                for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
                    const int64_t n = out == 3 ? 3 : 1;
                    Input w = random_weight_input(t, {in, out}, in + out);
                    matmul_case("odd", w, random_floats(in * n, 5 + out, -2.0f, 2.0f), n, act);
                }
    }
}

TEST(Matmul, NaNAndInfPropagate) {
    // A NaN in x makes every output NaN; an Inf in x with a nonzero weight gives ±Inf or NaN
    // (float weights, f32 activations: the quantized paths saturate instead and are skipped).
    const int64_t in = 64, out = 5;
    Input w = weight_input(DS4_TYPE_F32, {in, out}, random_floats(in * out, 3, 0.5f, 1.0f));
    auto x = random_floats(in * 2, 4);
    x[10] = NAN;           // row 0
    x[in + 3] = INFINITY;  // row 1, all weights positive → +Inf
    DotRef ref = matmul_reference(w, 0, out, x, 2, DS4_ACT_F32);
    for (int64_t o = 0; o < out; ++o) {
        EXPECT_TRUE(std::isnan(ref.value[o]));
        EXPECT_EQ(ref.value[out + o], INFINITY);
    }
    matmul_case("nan/inf", w, x, 2, DS4_ACT_F32);
}

TEST(Matmul, StridedAndBatchedActivations) {
    // x rows padded to 80 floats (a view), and batch dims 2,3 broadcast over W.
    const int64_t in = 64, out = 9, n = 3;
    for (ds4_type t : {DS4_TYPE_F16, DS4_TYPE_Q8_0}) {
        Input w = weight_input(t, {in, out}, random_floats(in * out, 8));
        auto x = random_floats(in * n, 9);
        Input xv = f32_view({in, n}, {4, 80 * 4}, 16, x);
        matmul_case("strided-x", w, x, n, DS4_ACT_DS4, true, &xv);
    }
    Input w = weight_input(DS4_TYPE_Q4_K, {256, 4}, random_floats(256 * 4, 10));
    auto x = random_floats(256 * 2 * 3 * 2, 11);
    DotRef ref = matmul_reference(w, 0, 4, x, 12, DS4_ACT_DS4);
    ds4_params_matmul p{};
    p.act_quant = DS4_ACT_DS4;
    Case c;
    c.op = DS4_OP_MATMUL;
    c.name = "matmul q4_k batched x [2][3][2][256]";
    c.variant = variant(DS4_TYPE_Q4_K, DS4_ACT_DS4);
    c.params = params_bytes(p);
    c.srcs.push_back(w);
    c.srcs.push_back(f32_input({256, 2, 3, 2}, x));
    c.dsts.push_back({DS4_TYPE_F32, {4, 2, 3, 2}, {}});
    check_case(c, {within_magnitude(ref.value, ref.mag, matmul_tolerance(256), 1e-30)});
}

// Real DS4 projections (MODEL.md §B): one per weight type, decode (n = 1) and a small prefill.
TEST(Matmul, RealShapes) {
    struct Shape {
        ds4_type type;
        int64_t in, out;
        uint32_t act;
    };
    const Shape shapes[] = {
        {DS4_TYPE_Q8_0, 4096, 1024, DS4_ACT_DS4},     // attn_q_a
        {DS4_TYPE_Q8_0, 1024, 4096, DS4_ACT_DS4},     // q_b slice
        {DS4_TYPE_Q8_0, 8192, 4096, DS4_ACT_DS4},     // attn output b
        {DS4_TYPE_F16, 4096, 512, DS4_ACT_DS4},       // kv projection
        {DS4_TYPE_BF16, 4096, 512, DS4_ACT_F32},
        {DS4_TYPE_F32, 2048, 1024, DS4_ACT_F32},
        {DS4_TYPE_Q2_K, 4096, 2048, DS4_ACT_DS4},     // expert gate/up
        {DS4_TYPE_IQ2_XXS, 4096, 2048, DS4_ACT_DS4},  // expert gate/up
        {DS4_TYPE_Q4_K, 2048, 4096, DS4_ACT_DS4},     // expert down
        {DS4_TYPE_Q8_0, 4096, 2048, DS4_ACT_F32},
    };
    for (const Shape& s : shapes) {
        Input w = random_weight_input(s.type, {s.in, s.out}, s.in ^ s.out);
        const int64_t n = s.type == DS4_TYPE_Q8_0 && s.in == 4096 ? 4 : 1;
        matmul_case("real", std::move(w), random_floats(s.in * n, s.out, -2.0f, 2.0f), n, s.act);
    }
}

TEST(Matmul, PrefillTokenTiles) {
    // More tokens than one tile of a GPU kernel (8), a remainder tile, rows not a multiple of 8,
    // and a float row length that is not a multiple of 16.
    struct Shape {
        ds4_type type;
        int64_t in, out, n;
        uint32_t act;
    };
    const Shape shapes[] = {
        {DS4_TYPE_Q8_0, 1024, 40, 37, DS4_ACT_DS4},   {DS4_TYPE_Q4_K, 512, 24, 21, DS4_ACT_F32},
        {DS4_TYPE_IQ2_XXS, 512, 19, 13, DS4_ACT_DS4}, {DS4_TYPE_Q2_K, 768, 17, 9, DS4_ACT_DS4},
        {DS4_TYPE_F16, 100, 9, 11, DS4_ACT_DS4},      {DS4_TYPE_BF16, 48, 33, 17, DS4_ACT_F32},
    };
    for (const Shape& s : shapes) {
        Input w = random_weight_input(s.type, {s.in, s.out}, s.in + 3 * s.out);
        matmul_case("prefill", std::move(w), random_floats(s.in * s.n, s.n, -2.0f, 2.0f), s.n, s.act);
    }
}

TEST(Matmul, ManyTokensEveryQuantizedType) {
    // Prefill-sized products of quantized weights and activations (GPU backends move these to
    // integer tensor cores): several 256-element steps, row and token tiles with remainders
    // (136 rows, 70 and 150 tokens), and blocks scaled from tiny to large.
    for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS}) {
        Input w = random_weight_input(t, {512, 136}, 41 + t);
        matmul_case("many-tokens", std::move(w), random_floats(512 * 70, 43 + t, -3.0f, 3.0f), 70, DS4_ACT_DS4);
        Input w2 = random_weight_input(t, {1024, 40}, 47 + t);
        auto x2 = random_floats(1024 * 150, 53 + t, -2.0f, 2.0f);
        for (int64_t i = 0; i < 1024 * 150; i += 1024 * 7) x2[i] *= 1000.0f;  // some rows with one huge element
        matmul_case("many-tokens", std::move(w2), x2, 150, DS4_ACT_DS4);
    }
}

TEST(Matmul, ManyTokensFloatWeights) {
    // Prefill-sized products of float weights and f32 activations (the router, compressor and
    // indexer projections; GPU backends use register-tiled kernels): several K chunks, row and
    // token tiles with remainders, both activation modes (float weights take f32 in both).
    for (ds4_type t : {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16})
        for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
            Input w = weight_input(t, {96, 70}, random_floats(96 * 70, 61 + t));
            matmul_case("many-tokens", std::move(w), random_floats(96 * 45, 67 + t, -3.0f, 3.0f), 45, act);
            Input w2 = weight_input(t, {512, 130}, random_floats(512 * 130, 71 + t));
            matmul_case("many-tokens", std::move(w2), random_floats(512 * 100, 73 + t, -2.0f, 2.0f), 100, act);
        }
}

TEST(Matmul, LmHead4096x129280Q8_0) {
    const int64_t in = 4096, out = 129280;
    Input w = random_weight_input(DS4_TYPE_Q8_0, {in, out}, 129280);
    matmul_case("lm-head", std::move(w), random_floats(in, 99, -3.0f, 3.0f), 1, DS4_ACT_DS4, /*check_determinism=*/false);
}

// ---- MATMUL_ID ---------------------------------------------------------------------------------

void matmul_id_case(const std::string& label, ds4_type t, int64_t E, int64_t in, int64_t out, int64_t n, int64_t k,
                    bool shared_x, uint32_t act, const std::vector<int32_t>& ids) {
    Input w = random_weight_input(t, {in, out, E}, E * 7 + in);
    const int64_t kx = shared_x ? 1 : k;
    auto x = random_floats(in * kx * n, 17 + k, -2.0f, 2.0f);
    std::vector<double> want(static_cast<size_t>(n * k * out)), mag(want.size());
    for (int64_t t2 = 0; t2 < n; ++t2)
        for (int64_t j = 0; j < k; ++j) {
            const int32_t e = ids[t2 * k + j];
            if (e < 0) continue;  // zero row
            std::vector<float> xr(x.begin() + (t2 * kx + (shared_x ? 0 : j)) * in,
                                  x.begin() + (t2 * kx + (shared_x ? 0 : j) + 1) * in);
            DotRef r = matmul_reference(w, int64_t(e) * out, out, xr, 1, act);
            for (int64_t o = 0; o < out; ++o) {
                want[(t2 * k + j) * out + o] = r.value[o];
                mag[(t2 * k + j) * out + o] = r.mag[o];
            }
        }
    ds4_params_matmul p{};
    p.act_quant = act;
    Case c;
    c.op = DS4_OP_MATMUL_ID;
    c.name = "matmul_id " + variant(t, act) + " " + label;
    c.variant = variant(t, act);
    c.params = params_bytes(p);
    c.srcs.push_back(w);
    c.srcs.push_back(f32_input({in, kx, n}, x));
    c.srcs.push_back(i32_input({k, n}, ids));
    c.dsts.push_back({DS4_TYPE_F32, {out, k, n}, {}});
    check_case(c, {within_magnitude(want, mag, matmul_tolerance(in), 1e-30)});
}

TEST(MatmulId, EveryWeightTypeSmall) {
    for (ds4_type t : kAllWeightTypes)
        for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
            const int64_t in = ds4_type_block_elems(t) > 1 ? 256 : 33;
            // 4 experts, 2 tokens × 3 slots, with a repeated expert and a -1.
            matmul_id_case("E=4 n=2 k=3 per-slot x", t, 4, in, 5, 2, 3, false, act, {2, 0, -1, 3, 2, 2});
            matmul_id_case("E=4 n=2 k=3 shared x", t, 4, in, 5, 2, 3, true, act, {1, 3, 0, 0, -1, 2});
        }
}

TEST(MatmulId, TwoHundredFiftySixExperts) {
    // Routed experts as DS4 uses them: 256 experts, 6 slots, shared x of 4096 (rows trimmed
    // to 64 outputs per expert to keep the fixture small).
    std::vector<int32_t> ids = {0, 255, 17, 128, 254, 1, 255, 3, 77, 0, 200, 128, 5, -1, 100, 99, 98, 97};
    matmul_id_case("E=256 IN=4096 OUT=64 n=3 k=6", DS4_TYPE_IQ2_XXS, 256, 4096, 64, 3, 6, true, DS4_ACT_DS4, ids);
    matmul_id_case("E=256 IN=4096 OUT=64 n=3 k=6", DS4_TYPE_Q2_K, 256, 4096, 64, 3, 6, true, DS4_ACT_DS4, ids);
    // Down projection: per-slot x of 2048 (the weighted mid vectors).
    matmul_id_case("E=256 IN=2048 OUT=32 n=3 k=6", DS4_TYPE_Q4_K, 256, 2048, 32, 3, 6, false, DS4_ACT_DS4, ids);
}

TEST(MatmulId, ManyPairsPrefill) {
    // A prefill chunk: 40 tokens × 4 slots (more pairs than a GPU backend handles one by one,
    // so they are grouped by expert), repeated experts, unused experts and -1 slots.
    const int64_t n = 40, k = 4, E = 16;
    std::vector<int32_t> ids(static_cast<size_t>(n * k));
    for (int64_t i = 0; i < n * k; ++i) ids[i] = i % 11 == 5 ? -1 : static_cast<int32_t>((i * 7 + i / 5) % (E - 3));
    matmul_id_case("E=16 n=40 k=4 shared x", DS4_TYPE_Q2_K, E, 256, 24, n, k, true, DS4_ACT_DS4, ids);
    matmul_id_case("E=16 n=40 k=4 per-slot x", DS4_TYPE_IQ2_XXS, E, 256, 19, n, k, false, DS4_ACT_DS4, ids);
    matmul_id_case("E=16 n=40 k=4 per-slot x", DS4_TYPE_Q8_0, E, 64, 9, n, k, false, DS4_ACT_F32, ids);
    matmul_id_case("E=16 n=40 k=4 shared x", DS4_TYPE_F16, E, 40, 12, n, k, true, DS4_ACT_DS4, ids);
    // Few experts with long lists (like the 8 output groups of a prefill chunk): a GPU backend
    // may spread one list's tiles over several blocks.
    const int64_t n2 = 200, k2 = 2;
    std::vector<int32_t> ids2(static_cast<size_t>(n2 * k2));
    for (int64_t i = 0; i < n2 * k2; ++i) ids2[i] = i % 37 == 11 ? -1 : static_cast<int32_t>(i % 2);
    matmul_id_case("E=2 n=200 k=2 per-slot x", DS4_TYPE_Q8_0, 2, 256, 24, n2, k2, false, DS4_ACT_DS4, ids2);
}

TEST(MatmulId, ManyPairsEveryQuantizedType) {
    // Prefill-sized expert lists for each quantized type (GPU backends run these on integer
    // tensor cores): 5 experts with ~36 pairs each and 2 experts with ~200 each, -1 slots.
    const int64_t n = 60, k = 3;
    std::vector<int32_t> ids(static_cast<size_t>(n * k));
    for (int64_t i = 0; i < n * k; ++i) ids[i] = i % 13 == 4 ? -1 : static_cast<int32_t>((i * 3 + i / 7) % 5);
    const int64_t n2 = 200, k2 = 2;
    std::vector<int32_t> ids2(static_cast<size_t>(n2 * k2));
    for (int64_t i = 0; i < n2 * k2; ++i) ids2[i] = i % 29 == 3 ? -1 : static_cast<int32_t>((i + i / 3) % 2);
    for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS}) {
        matmul_id_case("E=5 n=60 k=3 shared x", t, 5, 512, 136, n, k, true, DS4_ACT_DS4, ids);
        matmul_id_case("E=2 n=200 k=2 per-slot x", t, 2, 512, 40, n2, k2, false, DS4_ACT_DS4, ids2);
    }
}

TEST(MatmulId, OutOfRangeExpertFailsTheSubmit) {
    ds4_params_matmul p{};
    Case c;
    c.op = DS4_OP_MATMUL_ID;
    c.params = params_bytes(p);
    c.srcs.push_back(weight_input(DS4_TYPE_F32, {4, 2, 3}, random_floats(24, 1)));
    c.srcs.push_back(f32_input({4, 1, 1}, random_floats(4, 2)));
    c.srcs.push_back(i32_input({2, 1}, {0, 3}));
    c.dsts.push_back({DS4_TYPE_F32, {2, 2, 1}, {}});
    RunResult r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
    // The same among many pairs (a prefill: GPU backends group the pairs by expert first).
    std::vector<int32_t> many(2 * 30, 1);
    many[37] = 3;
    c.srcs[1] = f32_input({4, 1, 30}, random_floats(4 * 30, 2));
    c.srcs[2] = i32_input({2, 30}, many);
    c.dsts[0].ne = {2, 2, 30};
    r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

// ---- MATMUL_F32 --------------------------------------------------------------------------------

TEST(MatmulF32, BatchedBroadcastAndTransposedViews) {
    // A [2][2][3][K], B [1][2][N][K] broadcast over dim 2 (b mod 1) — plus a transposed view of B
    // (the P·V pattern: V stored [K][N], seen as [N][K]).
    const int64_t K = 33, M = 3, N = 5, B2 = 2, B3 = 2;
    auto a = random_floats(K * M * B2 * B3, 41);
    auto b = random_floats(K * N * 1 * B3, 42);
    for (bool transposed : {false, true}) {
        Case c;
        c.op = DS4_OP_MATMUL_F32;
        c.name = std::string("matmul_f32 K=33 M=3 N=5 batch 2x2 ") + (transposed ? "B transposed view" : "contiguous");
        c.variant = transposed ? "f32 strided" : "f32";
        c.srcs.push_back(f32_input({K, M, B2, B3}, a));
        if (transposed) {
            // Storage per batch: [K][N] rows (element (k, n) at k·N + n), view ne {K, N} nb {N·4, 4}.
            c.srcs.push_back(f32_view({K, N, 1, B3}, {N * 4, 4, K * N * 4, K * N * 4}, 0, b));
        } else {
            c.srcs.push_back(f32_input({K, N, 1, B3}, b));
        }
        c.dsts.push_back({DS4_TYPE_F32, {N, M, B2, B3}, {}});
        std::vector<double> want, mag;
        for (int64_t b3 = 0; b3 < B3; ++b3)
            for (int64_t b2 = 0; b2 < B2; ++b2)
                for (int64_t m = 0; m < M; ++m)
                    for (int64_t n = 0; n < N; ++n) {
                        double s = 0, g = 0;
                        for (int64_t k = 0; k < K; ++k) {
                            double t = double(a[((b3 * B2 + b2) * M + m) * K + k]) * double(b[((b3 * 1 + 0) * N + n) * K + k]);
                            s += t;
                            g += std::fabs(t);
                        }
                        want.push_back(s);
                        mag.push_back(g);
                    }
        check_case(c, {within_magnitude(want, mag, 4.0 * K * 5.96e-8, 1e-30)});
    }
}

}  // namespace
}  // namespace ds4::conformance
