// Tier-1 conformance of HC_PRE, HC_POST, HC_HEAD, MOE_ROUTER and MOE_FFN: tiny shapes, odd
// strides, edge cases (ties, -1 ids, the router floor, the SwiGLU clamps) and the real DS4
// shapes (n_hc = 4, d = 4096, 256 experts of 2048, top-6 and hash routing, Q2_K / IQ2_XXS /
// Q4_K / Q8_0 experts), each checked against an independent double-precision reference
// written here from backend.h / MODEL.md, and (check_case) against cpu-ref's fused op for any
// other plugin. The fused-vs-decomposed agreement of cpu-ref is tests/decompose's job.
//
// References: every sum in double; quantized activations (DS4_ACT_DS4) are made by ds4::quant
// exactly as the contract says and then used as exact values (d·q); the router's top-k inputs
// are regenerated until no two competing scores are within float noise of each other, so any
// correct float implementation must pick the same ids.
//
// A plugin that does not claim an op skips its tests (core decomposes the op for it). With
// DS4_CONFORMANCE_TIMING=1 the Tier1Timing test prints per-node times at the decode shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <random>

#include "conformance.h"
#include "host/plugin_loader.h"
#include "quant/quant.h"

namespace ds4::conformance {
namespace {

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// Row r of matrix e of a weight input (any row / matrix strides), dequantized by ds4::quant.
std::vector<float> weight_row(const Input& w, int64_t r, int64_t e = 0) {
    const int64_t cols = w.ne[0], rb = ds4_type_row_bytes(w.type, cols);
    const int64_t nb1 = w.nb.size() > 1 ? w.nb[1] : rb;
    const int64_t nb2 = w.nb.size() > 2 ? w.nb[2] : nb1 * w.ne[1];
    std::vector<float> out(static_cast<size_t>(cols));
    const uint8_t* p = w.storage.data() + w.offset + e * nb2 + r * nb1;
    if (!quant::dequantize_row(w.type, p, out.data(), cols)) ADD_FAILURE() << "cannot dequantize " << ds4_type_name(w.type);
    return out;
}

// The activation row a weight type sees (backend.h ds4_act_quant), as exact values d·q.
std::vector<double> act_values(ds4_type wtype, uint32_t act, const std::vector<float>& x) {
    const auto fmt = quant::act_format_for(wtype, act == DS4_ACT_DS4 ? quant::ActQuant::Ds4 : quant::ActQuant::None);
    const int64_t n = static_cast<int64_t>(x.size());
    if (fmt == quant::ActFormat::F32) return to_double(x);
    std::vector<uint8_t> buf(static_cast<size_t>(quant::act_row_bytes(fmt, n)));
    EXPECT_TRUE(quant::quantize_act(fmt, x.data(), buf.data(), n));
    const int64_t bs = fmt == quant::ActFormat::Q8_K ? 256 : 32, bb = fmt == quant::ActFormat::Q8_K ? 292 : 36;
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t b = 0; b < n / bs; ++b) {
        float d;
        std::memcpy(&d, buf.data() + b * bb, 4);
        const auto* q = reinterpret_cast<const int8_t*>(buf.data() + b * bb + 4);
        for (int64_t i = 0; i < bs; ++i) out[b * bs + i] = double(d) * q[i];
    }
    return out;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus(double x) { return x > 20.0 ? x : (x < -20.0 ? std::exp(x) : std::log1p(std::exp(x))); }

// ---- HC_PRE / HC_HEAD / HC_POST ----------------------------------------------------------------

ds4_params_hc hc_params(uint32_t H) {
    ds4_params_hc p{};
    p.n_hc = H;
    p.sinkhorn_iters = 20;
    p.hc_eps = 1e-6f;
    p.norm_eps = 1e-6f;
    return p;
}

// HC state X [n][H][d] with per-stream magnitudes, and fn rows with |mix| ≈ 1.
struct HcInputs {
    int64_t d, H, n;
    std::vector<float> X;
    Input Xin, fn;
    std::vector<float> fn_vals;  // dequantized fn
};

HcInputs hc_inputs(int64_t d, int64_t H, int64_t n, int64_t n_mix, ds4_type fn_type, uint64_t seed, bool strided) {
    HcInputs in{d, H, n, {}, {}, {}, {}};
    in.X = random_floats(static_cast<size_t>(n * H * d), seed, -1.5f, 1.5f);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t s = 0; s < H; ++s)
            for (int64_t i = 0; i < d; ++i) in.X[(t * H + s) * d + i] *= 0.5f + 0.4f * static_cast<float>(s % 4);
    if (strided) {
        // Rows padded by 8 floats, streams by one more row: a view into a larger state.
        const int64_t rs = (d + 8) * 4, ss = rs * (H + 1);
        in.Xin = f32_view({d, H, n}, {4, rs, ss}, 32, in.X);
    } else {
        in.Xin = f32_input({d, H, n}, in.X);
    }
    const float a = std::sqrt(3.0f / static_cast<float>(H * d));
    in.fn = weight_input(fn_type, {H * d, n_mix}, random_floats(static_cast<size_t>(n_mix * H * d), seed + 1, -a, a));
    in.fn_vals = dequantized(in.fn);
    return in;
}

// mix[t][m] = fn[m]·(X_t·r_t), r = 1/sqrt(mean(X_t²) + eps).
std::vector<double> hc_mix_ref(const HcInputs& in, int64_t n_mix, double eps) {
    const int64_t N = in.H * in.d;
    std::vector<double> mix(static_cast<size_t>(in.n * n_mix));
    for (int64_t t = 0; t < in.n; ++t) {
        const float* x = in.X.data() + t * N;
        double ss = 0.0;
        for (int64_t i = 0; i < N; ++i) ss += double(x[i]) * x[i];
        const double r = 1.0 / std::sqrt(ss / N + eps);
        for (int64_t m = 0; m < n_mix; ++m) {
            double acc = 0.0;
            for (int64_t i = 0; i < N; ++i) acc += double(in.fn_vals[m * N + i]) * x[i] * r;
            mix[t * n_mix + m] = acc;
        }
    }
    return mix;
}

// x_out[t][i] = Σ_s w[t][s]·X[t][s][i], with its magnitude Σ|w·X|.
void hc_collapse_ref(const HcInputs& in, const std::vector<double>& w, std::vector<double>& out, std::vector<double>& mag) {
    out.assign(static_cast<size_t>(in.n * in.d), 0.0);
    mag.assign(out.size(), 0.0);
    for (int64_t t = 0; t < in.n; ++t)
        for (int64_t i = 0; i < in.d; ++i)
            for (int64_t s = 0; s < in.H; ++s) {
                const double v = w[t * in.H + s] * in.X[(t * in.H + s) * in.d + i];
                out[t * in.d + i] += v;
                mag[t * in.d + i] += std::fabs(v);
            }
}

// HC_PRE / HC_HEAD case up to its src1: name, variant, params, X and fn (the rest differs).
Case hc_mix_case(uint32_t op, const char* op_name, const ds4_params_hc& p, const HcInputs& in, bool strided) {
    const char* fn_type = ds4_type_name(in.fn.type);
    Case c;
    c.op = op;
    c.name = std::string(op_name) + " d=" + std::to_string(in.d) + " n_hc=" + std::to_string(in.H) +
             " n=" + std::to_string(in.n) + " fn=" + fn_type + (strided ? " strided X" : "");
    c.variant = std::string(fn_type) + (in.d == 4096 ? " real" : "");
    c.params = params_bytes(p);
    c.srcs.push_back(in.Xin);
    c.srcs.push_back(in.fn);
    return c;
}

void hc_pre_case(int64_t d, int64_t H, int64_t n, ds4_type fn_type, uint64_t seed, bool strided = false) {
    const int64_t n_mix = H * (2 + H);
    const ds4_params_hc p = hc_params(static_cast<uint32_t>(H));
    HcInputs in = hc_inputs(d, H, n, n_mix, fn_type, seed, strided);
    const std::vector<float> scale = {0.8f, 1.2f, 1.7f};
    const std::vector<float> base = random_floats(static_cast<size_t>(2 * H + H * H), seed + 2, -0.5f, 0.5f);
    const std::vector<double> mix = hc_mix_ref(in, n_mix, p.norm_eps);

    std::vector<double> pre(static_cast<size_t>(n * H)), post(pre.size()), comb(static_cast<size_t>(n * H * H));
    for (int64_t t = 0; t < n; ++t) {
        const double* mx = mix.data() + t * n_mix;
        for (int64_t s = 0; s < H; ++s) {
            pre[t * H + s] = sigmoid(mx[s] * scale[0] + base[s]) + p.hc_eps;
            post[t * H + s] = 2.0 * sigmoid(mx[H + s] * scale[1] + base[H + s]);
        }
        // Sinkhorn (MODEL.md §C.2): row softmax + eps, column norm, then (row, column) × (iters-1).
        std::vector<double> M(static_cast<size_t>(H * H));
        for (int64_t j = 0; j < H * H; ++j) M[j] = mx[2 * H + j] * scale[2] + base[2 * H + j];
        for (int64_t a = 0; a < H; ++a) {
            double m = M[a * H], sum = 0.0;
            for (int64_t c = 1; c < H; ++c) m = std::max(m, M[a * H + c]);
            for (int64_t c = 0; c < H; ++c) sum += (M[a * H + c] = std::exp(M[a * H + c] - m));
            for (int64_t c = 0; c < H; ++c) M[a * H + c] = M[a * H + c] / sum + p.hc_eps;
        }
        for (uint32_t it = 0; it < p.sinkhorn_iters; ++it) {
            for (int64_t a = 0; it > 0 && a < H; ++a) {
                double sum = 0.0;
                for (int64_t c = 0; c < H; ++c) sum += M[a * H + c];
                for (int64_t c = 0; c < H; ++c) M[a * H + c] /= sum + p.hc_eps;
            }
            for (int64_t c = 0; c < H; ++c) {
                double sum = 0.0;
                for (int64_t a = 0; a < H; ++a) sum += M[a * H + c];
                for (int64_t a = 0; a < H; ++a) M[a * H + c] /= sum + p.hc_eps;
            }
        }
        std::copy(M.begin(), M.end(), comb.begin() + t * H * H);
    }
    std::vector<double> x_in, mag;
    hc_collapse_ref(in, pre, x_in, mag);

    Case c = hc_mix_case(DS4_OP_HC_PRE, "hc_pre", p, in, strided);
    c.srcs.push_back(f32_input({3}, scale));
    c.srcs.push_back(f32_input({2 * H + H * H}, base));
    c.dsts.push_back({DS4_TYPE_F32, {d, n}, {}});
    c.dsts.push_back({DS4_TYPE_F32, {H, n}, {}});
    c.dsts.push_back({DS4_TYPE_F32, {H, H, n}, {}});
    // Float rounding of the mixing dots moves the gates by ~1e-7; the tolerances are ~100× that.
    Outputs out = check_case(c, {within_magnitude(x_in, mag, 2e-5, 1e-6), within(post, 1e-5, 1e-5), within(comb, 2e-5, 1e-4)});
    if (out.empty()) return;
    // Invariants independent of the reference: columns of comb sum to S/(S+eps) ≈ 1.
    const std::vector<double> got = as_doubles(DS4_TYPE_F32, out[2]);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t col = 0; col < H; ++col) {
            double s = 0.0;
            for (int64_t a = 0; a < H; ++a) s += got[(t * H + a) * H + col];
            EXPECT_NEAR(s, 1.0, 1e-5) << c.name << " token " << t << " column " << col;
        }
}

TEST(HcPre, TinyShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_HC_PRE);
    for (int64_t n : {1, 3}) hc_pre_case(64, 4, n, DS4_TYPE_F16, 10 + n);
    hc_pre_case(64, 4, 2, DS4_TYPE_F32, 20);
    hc_pre_case(64, 4, 2, DS4_TYPE_BF16, 21);
    hc_pre_case(32, 2, 3, DS4_TYPE_F16, 22);   // other stream counts
    hc_pre_case(16, 7, 2, DS4_TYPE_F32, 23);
    hc_pre_case(48, 4, 20, DS4_TYPE_F16, 24);  // a prefill (several mixing rows per block on the GPU)
    hc_pre_case(64, 4, 3, DS4_TYPE_F16, 25, /*strided=*/true);
}

TEST(HcPre, RealShape) {
    SKIP_UNLESS_CLAIMED(DS4_OP_HC_PRE);
    hc_pre_case(4096, 4, 1, DS4_TYPE_F16, 30);
    hc_pre_case(4096, 4, 5, DS4_TYPE_BF16, 31);
}

TEST(HcPre, ManyTokens) {
    // Prefill-sized token counts over several 1024-column mixing segments (GPU backends switch
    // to a kernel that reads fn once per block of tokens): partial token blocks, each fn type,
    // another stream count.
    SKIP_UNLESS_CLAIMED(DS4_OP_HC_PRE);
    hc_pre_case(1024, 4, 20, DS4_TYPE_F16, 26);
    hc_pre_case(512, 4, 17, DS4_TYPE_BF16, 27);
    hc_pre_case(512, 4, 16, DS4_TYPE_F32, 28);
    hc_pre_case(512, 2, 33, DS4_TYPE_F16, 29);
}

void hc_head_case(int64_t d, int64_t H, int64_t n, ds4_type fn_type, uint64_t seed, bool strided = false) {
    const ds4_params_hc p = hc_params(static_cast<uint32_t>(H));
    HcInputs in = hc_inputs(d, H, n, H, fn_type, seed, strided);
    const std::vector<float> scale = {1.3f};
    const std::vector<float> base = random_floats(static_cast<size_t>(H), seed + 2, -0.5f, 0.5f);
    const std::vector<double> mix = hc_mix_ref(in, H, p.norm_eps);
    std::vector<double> w(static_cast<size_t>(n * H));
    for (int64_t t = 0; t < n; ++t)
        for (int64_t s = 0; s < H; ++s) w[t * H + s] = sigmoid(mix[t * H + s] * scale[0] + base[s]) + p.hc_eps;
    std::vector<double> h, mag;
    hc_collapse_ref(in, w, h, mag);
    Case c = hc_mix_case(DS4_OP_HC_HEAD, "hc_head", p, in, strided);
    c.srcs.push_back(f32_input({1}, scale));
    c.srcs.push_back(f32_input({H}, base));
    c.dsts.push_back({DS4_TYPE_F32, {d, n}, {}});
    check_case(c, {within_magnitude(h, mag, 2e-5, 1e-6)});
}

TEST(HcHead, TinyAndRealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_HC_HEAD);
    hc_head_case(64, 4, 1, DS4_TYPE_F16, 40);
    hc_head_case(64, 4, 3, DS4_TYPE_F32, 41, /*strided=*/true);
    hc_head_case(32, 3, 18, DS4_TYPE_BF16, 42);
    hc_head_case(4096, 4, 1, DS4_TYPE_F16, 43);
    hc_head_case(4096, 4, 3, DS4_TYPE_F16, 44);
    hc_head_case(1024, 4, 19, DS4_TYPE_F16, 45);  // many tokens, several mixing segments
}

void hc_post_case(int64_t d, int64_t H, int64_t n, uint64_t seed, bool strided = false) {
    const ds4_params_hc p = hc_params(static_cast<uint32_t>(H));
    const auto y = random_floats(static_cast<size_t>(n * d), seed, -2.0f, 2.0f);
    const auto X = random_floats(static_cast<size_t>(n * H * d), seed + 1, -1.5f, 1.5f);
    const auto post = random_floats(static_cast<size_t>(n * H), seed + 2, 0.0f, 2.0f);
    const auto comb = random_floats(static_cast<size_t>(n * H * H), seed + 3, 0.0f, 0.6f);
    std::vector<double> want(static_cast<size_t>(n * H * d)), mag(want.size());
    for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < H; ++c)
            for (int64_t i = 0; i < d; ++i) {
                double v = double(post[t * H + c]) * y[t * d + i], m = std::fabs(v);
                for (int64_t a = 0; a < H; ++a) {
                    const double u = double(comb[(t * H + a) * H + c]) * X[(t * H + a) * d + i];
                    v += u;
                    m += std::fabs(u);
                }
                want[(t * H + c) * d + i] = v;
                mag[(t * H + c) * d + i] = m;
            }
    Case c;
    c.op = DS4_OP_HC_POST;
    c.name = "hc_post d=" + std::to_string(d) + " n_hc=" + std::to_string(H) + " n=" + std::to_string(n) +
             (strided ? " strided X" : "");
    c.variant = d == 4096 ? "f32 real" : "f32";
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({d, n}, y));
    if (strided) c.srcs.push_back(f32_view({d, H, n}, {4, (d + 4) * 4, (d + 4) * 4 * H}, 16, X));
    else c.srcs.push_back(f32_input({d, H, n}, X));
    c.srcs.push_back(f32_input({H, n}, post));
    c.srcs.push_back(f32_input({H, H, n}, comb));
    c.dsts.push_back({DS4_TYPE_F32, {d, H, n}, {}});
    check_case(c, {within_magnitude(want, mag, 4 * 6e-8, 1e-30)});
}

TEST(HcPost, TinyAndRealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_HC_POST);
    hc_post_case(64, 4, 1, 50);
    hc_post_case(33, 3, 4, 51, /*strided=*/true);
    hc_post_case(4096, 4, 1, 52);
    hc_post_case(4096, 4, 6, 53);
}

// ---- MOE_ROUTER --------------------------------------------------------------------------------

struct RouterSetup {
    int64_t d = 64, E = 8, k = 3, n = 2, vocab = 0;  // vocab > 0: hash routing
    ds4_type wtype = DS4_TYPE_F16;
    bool bias = true;
    float denom_floor = 0.0f, denom_eps = 0.0f, scale = 1.5f;
    float z_lo = -2.0f, z_hi = 2.0f, w_scale = 1.0f;  // w_gate ~ U(-1, 1)·w_scale/sqrt(d)
    std::string label;
};

struct RouterRef {
    std::vector<double> ids, weights;
    bool clear = true;  // no near-ties among the competing scores
};

RouterRef router_ref(const RouterSetup& s, const std::vector<float>& z, const Input& wg, const std::vector<float>& bias,
                     const std::vector<int32_t>& table, const std::vector<int32_t>& tok) {
    RouterRef r;
    std::vector<std::vector<float>> rows;
    for (int64_t e = 0; e < s.E; ++e) rows.push_back(weight_row(wg, e));
    for (int64_t t = 0; t < s.n; ++t) {
        std::vector<double> p(static_cast<size_t>(s.E)), v(p.size());
        for (int64_t e = 0; e < s.E; ++e) {
            double acc = 0.0;
            for (int64_t i = 0; i < s.d; ++i) acc += double(rows[e][i]) * z[t * s.d + i];
            p[e] = std::sqrt(softplus(acc));
            v[e] = p[e] + (s.bias ? bias[e] : 0.0);
        }
        std::vector<int64_t> ids;
        if (s.vocab > 0) {
            for (int64_t j = 0; j < s.k; ++j) ids.push_back(table[tok[t] * s.k + j]);
        } else {
            std::vector<int64_t> order(static_cast<size_t>(s.E));
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
            for (int64_t j = 0; j < s.k; ++j) ids.push_back(order[j]);
            // Scores competing for a slot must be apart by far more than float noise.
            for (int64_t j = 0; j < std::min(s.k, s.E - 1); ++j) {
                const double a = v[order[j]], b = v[order[j + 1]];
                if (std::fabs(a - b) <= 1e-5 * (std::fabs(a) + std::fabs(b))) r.clear = false;
            }
        }
        double sum = 0.0;
        for (int64_t e : ids) sum += e < 0 ? 0.0 : p[e];
        const double den = std::max(sum + s.denom_eps, double(s.denom_floor));
        for (int64_t e : ids) {
            r.ids.push_back(double(e));
            r.weights.push_back((e < 0 ? 0.0 : p[e]) / den * s.scale);
        }
    }
    return r;
}

void router_case(const RouterSetup& s, uint64_t seed) {
    std::vector<float> z, bias;
    Input wg;
    std::vector<int32_t> table, tok;
    RouterRef ref;
    for (int attempt = 0; attempt < 20; ++attempt, seed += 1000) {
        z = random_floats(static_cast<size_t>(s.n * s.d), seed, s.z_lo, s.z_hi);
        const float a = s.w_scale / std::sqrt(static_cast<float>(s.d));
        wg = weight_input(s.wtype, {s.d, s.E}, random_floats(static_cast<size_t>(s.E * s.d), seed + 1, -a, a));
        bias = random_floats(static_cast<size_t>(s.E), seed + 2, -0.3f, 0.3f);
        if (s.vocab > 0) {
            // Rows of distinct experts in random order, some -1 (unused slots).
            std::mt19937_64 rng(seed + 3);
            for (int64_t v = 0; v < s.vocab; ++v) {
                std::vector<int32_t> e(static_cast<size_t>(s.E));
                std::iota(e.begin(), e.end(), 0);
                std::shuffle(e.begin(), e.end(), rng);
                for (int64_t j = 0; j < s.k; ++j) table.push_back(v % 7 == 3 && j == s.k - 1 ? -1 : e[j]);
            }
            tok = random_ints(static_cast<size_t>(s.n), seed + 4, 0, static_cast<int32_t>(s.vocab - 1));
            tok[0] = 3;  // a row with a -1 slot
        } else {
            tok = random_ints(static_cast<size_t>(s.n), seed + 4, 0, 1000);
        }
        ref = router_ref(s, z, wg, bias, table, tok);
        if (ref.clear) break;
        table.clear();
    }
    ASSERT_TRUE(ref.clear) << s.label << ": could not draw inputs without near-ties";
    ds4_params_router p{};
    p.k = static_cast<uint32_t>(s.k);
    p.scale = s.scale;
    p.denom_floor = s.denom_floor;
    p.denom_eps = s.denom_eps;
    Case c;
    c.op = DS4_OP_MOE_ROUTER;
    c.name = "moe_router " + s.label + " E=" + std::to_string(s.E) + " d=" + std::to_string(s.d) + " k=" +
             std::to_string(s.k) + " n=" + std::to_string(s.n) + " w_gate=" + ds4_type_name(s.wtype);
    c.variant = std::string(s.vocab > 0 ? "hash" : "topk") + "/" + ds4_type_name(s.wtype);
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({s.d, s.n}, z));
    c.srcs.push_back(wg);
    if (s.bias) c.srcs.push_back(f32_input({s.E}, bias));
    else c.srcs.push_back(std::nullopt);
    if (s.vocab > 0) c.srcs.push_back(i32_input({s.k, s.vocab}, table));
    else c.srcs.push_back(std::nullopt);
    c.srcs.push_back(i32_input({s.n}, tok));
    c.dsts.push_back({DS4_TYPE_I32, {s.k, s.n}, {}});
    c.dsts.push_back({DS4_TYPE_F32, {s.k, s.n}, {}});
    check_case(c, {exact(ref.ids), within(ref.weights, 1e-9, 2e-5)});
}

TEST(MoeRouter, TopKTiny) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_ROUTER);
    for (ds4_type t : {DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_F32}) {
        RouterSetup s;
        s.wtype = t;
        s.label = "topk+bias";
        router_case(s, 100);
    }
    RouterSetup s;
    s.bias = false;
    s.E = 37;
    s.k = 5;
    s.n = 3;
    s.d = 96;
    s.label = "topk no bias";
    router_case(s, 110);
    s.k = 37;  // every expert selected
    s.label = "k = E";
    router_case(s, 111);
}

TEST(MoeRouter, HashTiny) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_ROUTER);
    RouterSetup s;
    s.vocab = 20;
    s.n = 5;
    s.label = "hash";
    router_case(s, 120);
    s.denom_eps = 1e-3f;  // transformers-style epsilon in the denominator
    s.label = "hash eps";
    router_case(s, 121);
}

TEST(MoeRouter, DenominatorFloor) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_ROUTER);
    // Logits around -30: p ≈ e^-15, Σp far below 2^-14, so den = floor (ds4 numerics).
    RouterSetup s;
    s.bias = false;
    s.E = 16;
    s.k = 6;
    s.n = 2;
    s.z_lo = 0.5f;
    s.z_hi = 1.5f;
    s.denom_floor = 6.103515625e-5f;
    s.label = "floor";
    std::vector<float> z = random_floats(static_cast<size_t>(s.n * s.d), 130, s.z_lo, s.z_hi);
    // Every weight negative: w·z ≈ -30 ± a few.
    std::vector<float> w = random_floats(static_cast<size_t>(s.E * s.d), 131, -0.6f, -0.35f);
    Input wg = weight_input(DS4_TYPE_F32, {s.d, s.E}, w);
    RouterRef ref = router_ref(s, z, wg, {}, {}, {0, 0});
    ASSERT_TRUE(ref.clear);
    for (double wt : ref.weights) ASSERT_LT(wt, 0.05) << "the floor case must be floor-dominated";
    ds4_params_router p{};
    p.k = 6;
    p.scale = s.scale;
    p.denom_floor = s.denom_floor;
    Case c;
    c.op = DS4_OP_MOE_ROUTER;
    c.name = "moe_router floor-dominated denominator";
    c.variant = "topk/f32";
    c.params = params_bytes(p);
    c.srcs = {f32_input({s.d, s.n}, z), wg, std::nullopt, std::nullopt, i32_input({s.n}, {0, 0})};
    c.dsts.push_back({DS4_TYPE_I32, {s.k, s.n}, {}});
    c.dsts.push_back({DS4_TYPE_F32, {s.k, s.n}, {}});
    check_case(c, {exact(ref.ids), within(ref.weights, 1e-12, 2e-5)});
}

TEST(MoeRouter, TiesPickTheLowestIndex) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_ROUTER);
    // Experts 5, 2, 7 share one gate row (equal scores); no bias: the order is 2, 5, 7, then
    // the best of the rest. Expert 0 gets -inf bias: never selected even with k = E - 0.
    const int64_t d = 32, E = 8, k = 4;
    auto w = random_floats(static_cast<size_t>(E * d), 140, -0.3f, 0.3f);
    for (int64_t i = 0; i < d; ++i) {
        w[5 * d + i] = w[2 * d + i] = w[7 * d + i] = 0.5f;
        w[0 * d + i] = 0.6f;
    }
    std::vector<float> z(d, 1.0f), bias(E, 0.0f);
    bias[0] = -INFINITY;
    ds4_params_router p{};
    p.k = k;
    p.scale = 1.0f;
    Case c;
    c.op = DS4_OP_MOE_ROUTER;
    c.name = "moe_router ties and -inf bias";
    c.variant = "topk/f32";
    c.params = params_bytes(p);
    Input wg = weight_input(DS4_TYPE_F32, {d, E}, w);
    c.srcs = {f32_input({d, 1}, z), wg, f32_input({E}, bias), std::nullopt, i32_input({1}, {0})};
    c.dsts.push_back({DS4_TYPE_I32, {k, 1}, {}});
    c.dsts.push_back({DS4_TYPE_F32, {k, 1}, {}});
    // Expected ids from the reference (which sorts stably: ties by index), then checked by hand.
    RouterSetup s;
    s.d = d;
    s.E = E;
    s.k = k;
    s.n = 1;
    s.scale = 1.0f;
    RouterRef ref = router_ref(s, z, wg, bias, {}, {0});
    ASSERT_EQ(ref.ids[0], 2);
    ASSERT_EQ(ref.ids[1], 5);
    ASSERT_EQ(ref.ids[2], 7);
    check_case(c, {exact(ref.ids), within(ref.weights, 1e-9, 2e-5)});
}

TEST(MoeRouter, RealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_ROUTER);
    RouterSetup s;
    s.d = 4096;
    s.E = 256;
    s.k = 6;
    s.n = 1;
    s.denom_floor = 6.103515625e-5f;
    s.w_scale = 3.0f;
    s.label = "real topk+bias";
    router_case(s, 150);
    s.n = 4;
    s.wtype = DS4_TYPE_BF16;
    router_case(s, 151);
    s.vocab = 129280;
    s.n = 3;
    s.wtype = DS4_TYPE_F16;
    s.label = "real hash";
    router_case(s, 152);
}

TEST(MoeRouter, BadTokenIdFailsTheSubmit) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_ROUTER);
    ds4_params_router p{};
    p.k = 2;
    p.scale = 1.0f;
    Case c;
    c.op = DS4_OP_MOE_ROUTER;
    c.params = params_bytes(p);
    c.srcs = {f32_input({32, 1}, random_floats(32, 1)), weight_input(DS4_TYPE_F32, {32, 4}, random_floats(128, 2)),
              std::nullopt, i32_input({2, 3}, {0, 1, 2, 3, 1, 2}), i32_input({1}, {3})};
    c.dsts.push_back({DS4_TYPE_I32, {2, 1}, {}});
    c.dsts.push_back({DS4_TYPE_F32, {2, 1}, {}});
    RunResult r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

// ---- MOE_FFN -----------------------------------------------------------------------------------

struct FfnSetup {
    int64_t d = 256, F = 256, E = 4, n = 2, k = 3;
    ds4_type gu = DS4_TYPE_Q8_0, down = DS4_TYPE_Q8_0;
    uint32_t act = DS4_ACT_DS4;
    float clamp = 10.0f;
    int64_t expert_shift = 0;  // > 0: experts are overlapping views, expert e at storage row e·shift
    std::vector<int32_t> ids;  // [n][k]; empty: distinct random experts
    float z_amp = 2.0f;
    bool check_determinism = true;
    std::string label;
};

// An expert stack [E][rows][cols]: contiguous, or (shift > 0) experts overlapping in a
// storage of (E-1)·shift + rows rows, which gives many distinct experts at real dims for the
// storage of ~2.
Input expert_stack(ds4_type type, int64_t cols, int64_t rows, int64_t E, int64_t shift, uint64_t seed) {
    const bool quantized = ds4_type_block_elems(type) > 1;
    if (shift == 0) {
        if (quantized) return random_weight_input(type, {cols, rows, E}, seed);
        const float a = 1.0f / std::sqrt(static_cast<float>(cols));
        return weight_input(type, {cols, rows, E}, random_floats(static_cast<size_t>(cols * rows * E), seed, -a, a));
    }
    const int64_t total = (E - 1) * shift + rows;
    Input in = random_weight_input(type, {cols, total}, seed);
    const int64_t rb = ds4_type_row_bytes(type, cols);
    in.ne = {cols, rows, E};
    in.nb = {ds4_type_block_bytes(type), rb, shift * rb};
    return in;
}

void moe_ffn_case(FfnSetup s, uint64_t seed) {
    const int64_t d = s.d, F = s.F, E = s.E, n = s.n, k = s.k;
    Input gate = expert_stack(s.gu, d, F, E, s.expert_shift, seed);
    Input up = expert_stack(s.gu, d, F, E, s.expert_shift, seed + 1);
    Input down = expert_stack(s.down, F, d, E, s.expert_shift, seed + 2);
    const auto z = random_floats(static_cast<size_t>(n * d), seed + 3, -s.z_amp, s.z_amp);
    if (s.ids.empty()) {
        std::mt19937_64 rng(seed + 4);
        for (int64_t t = 0; t < n; ++t) {
            std::vector<int32_t> e(static_cast<size_t>(E));
            std::iota(e.begin(), e.end(), 0);
            std::shuffle(e.begin(), e.end(), rng);
            s.ids.insert(s.ids.end(), e.begin(), e.begin() + k);
        }
    }
    const auto wts = random_floats(static_cast<size_t>(n * k), seed + 5, 0.05f, 0.5f);

    // Reference: per selection g, u in double on the quantized activation, the clamped SwiGLU
    // times the weight, rounded to float (the tensor the contract quantizes), then the down
    // projection on its activation quantization; out = Σ_j, with the magnitude Σ|terms|.
    std::vector<double> want(static_cast<size_t>(n * d), 0.0), mag(want.size(), 0.0);
    std::map<std::pair<int, int64_t>, std::vector<float>> rows;  // (matrix, expert·rows + row) → values
    auto row = [&](int m, const Input& w, int64_t e, int64_t r) -> const std::vector<float>& {
        auto key = std::make_pair(m, e * w.ne[1] + r);
        auto it = rows.find(key);
        if (it == rows.end()) it = rows.emplace(key, weight_row(w, r, e)).first;
        return it->second;
    };
    for (int64_t t = 0; t < n; ++t) {
        const std::vector<float> zt(z.begin() + t * d, z.begin() + (t + 1) * d);
        const std::vector<double> xg = act_values(s.gu, s.act, zt);
        for (int64_t j = 0; j < k; ++j) {
            const int32_t e = s.ids[t * k + j];
            if (e < 0) continue;
            std::vector<float> h(static_cast<size_t>(F));
            for (int64_t f = 0; f < F; ++f) {
                const std::vector<float>& wg = row(0, gate, e, f);
                const std::vector<float>& wu = row(1, up, e, f);
                double g = 0.0, u = 0.0;
                for (int64_t i = 0; i < d; ++i) {
                    g += double(wg[i]) * xg[i];
                    u += double(wu[i]) * xg[i];
                }
                const double gc = std::min(g, double(s.clamp)), uc = std::clamp(u, -double(s.clamp), double(s.clamp));
                h[f] = static_cast<float>(gc * sigmoid(gc) * uc * wts[t * k + j]);
            }
            const std::vector<double> xd = act_values(s.down, s.act, h);
            for (int64_t o = 0; o < d; ++o) {
                const std::vector<float>& wd = row(2, down, e, o);
                double y = 0.0, m = 0.0;
                for (int64_t f = 0; f < F; ++f) {
                    y += double(wd[f]) * xd[f];
                    m += std::fabs(double(wd[f]) * xd[f]);
                }
                want[t * d + o] += y;
                mag[t * d + o] += m;
            }
        }
    }

    ds4_params_moe_ffn p{};
    p.act_quant = s.act;
    p.clamp = s.clamp;
    Case c;
    c.op = DS4_OP_MOE_FFN;
    const std::string act = s.act == DS4_ACT_DS4 ? "ds4" : "f32";
    c.name = "moe_ffn " + s.label + " gate/up=" + ds4_type_name(s.gu) + " down=" + ds4_type_name(s.down) + " act=" + act +
             " d=" + std::to_string(d) + " F=" + std::to_string(F) + " E=" + std::to_string(E) + " n=" + std::to_string(n) +
             " k=" + std::to_string(k);
    c.variant = std::string(ds4_type_name(s.gu)) + "+" + ds4_type_name(s.down) + "/act=" + act;
    c.params = params_bytes(p);
    c.srcs = {f32_input({d, n}, z), gate, up, down, i32_input({k, n}, s.ids), f32_input({k, n}, wts)};
    c.dsts.push_back({DS4_TYPE_F32, {d, n}, {}});
    c.check_determinism = s.check_determinism;
    // A last-bit difference in g or u can move one code of the quantized mid vector by one
    // step (~1e-5 of the magnitude each); wrong blocks, scales or experts are ~1e-1.
    check_case(c, {within_magnitude(want, mag, s.act == DS4_ACT_DS4 ? 2e-4 : 2e-5, 1e-6)});
}

TEST(MoeFfn, EveryWeightTypeTiny) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_FFN);
    const ds4_type types[] = {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_Q8_0,
                              DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS};
    for (ds4_type t : types)
        for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
            FfnSetup s;
            s.gu = s.down = t;
            s.act = act;
            s.label = "tiny";
            // Tokens with a repeated expert and an unused (-1) slot.
            s.ids = {2, 0, 2, -1, 3, 1};
            moe_ffn_case(s, 200 + t);
        }
}

TEST(MoeFfn, MixedTypesAndClamps) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_FFN);
    FfnSetup s;
    s.label = "mixed";
    s.gu = DS4_TYPE_IQ2_XXS;
    s.down = DS4_TYPE_Q2_K;
    moe_ffn_case(s, 210);
    s.gu = DS4_TYPE_Q4_K;
    s.down = DS4_TYPE_Q8_0;
    moe_ffn_case(s, 211);
    // A small clamp with large activations: the gate clamp (above only) and the up clamp (both
    // sides) are active on many rows.
    s.label = "clamped";
    s.gu = DS4_TYPE_Q8_0;
    s.down = DS4_TYPE_Q4_K;
    s.clamp = 0.3f;
    s.z_amp = 8.0f;
    moe_ffn_case(s, 212);
    s.gu = DS4_TYPE_F16;
    s.down = DS4_TYPE_F16;
    s.act = DS4_ACT_F32;
    moe_ffn_case(s, 213);
    // Many tokens, all slots -1 for one token.
    s = FfnSetup{};
    s.label = "prefill";
    s.n = 9;
    s.k = 2;
    s.gu = DS4_TYPE_Q2_K;
    s.down = DS4_TYPE_Q4_K;
    s.ids = {0, 1, 1, 2, 3, 0, -1, -1, 2, 3, 1, 0, 3, 2, 0, 2, 1, 3};
    moe_ffn_case(s, 214);
}

// 256 experts of d = 4096, F = 2048 (as overlapping views: one storage row shift per expert).
void real_ffn(ds4_type gu, ds4_type down, uint32_t act, int64_t n, uint64_t seed, bool determinism = true) {
    FfnSetup s;
    s.label = "real";
    s.d = 4096;
    s.F = 2048;
    s.E = 256;
    s.k = 6;
    s.n = n;
    s.gu = gu;
    s.down = down;
    s.act = act;
    s.expert_shift = 7;
    s.check_determinism = determinism;
    std::mt19937_64 rng(seed);
    for (int64_t t = 0; t < n; ++t) {
        std::vector<int32_t> e(256);
        std::iota(e.begin(), e.end(), 0);
        std::shuffle(e.begin(), e.end(), rng);
        if (t == 0) e[0] = 255;  // the last expert
        s.ids.insert(s.ids.end(), e.begin(), e.begin() + 6);
    }
    moe_ffn_case(s, seed);
}

TEST(MoeFfn, RealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_FFN);
    real_ffn(DS4_TYPE_IQ2_XXS, DS4_TYPE_Q2_K, DS4_ACT_DS4, 1, 300);
    real_ffn(DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_ACT_DS4, 3, 301);
    real_ffn(DS4_TYPE_Q4_K, DS4_TYPE_Q4_K, DS4_ACT_DS4, 1, 302);
    real_ffn(DS4_TYPE_Q8_0, DS4_TYPE_Q8_0, DS4_ACT_DS4, 2, 303);
    real_ffn(DS4_TYPE_IQ2_XXS, DS4_TYPE_Q2_K, DS4_ACT_F32, 1, 304, /*determinism=*/false);
}

TEST(MoeFfn, OutOfRangeExpertFailsTheSubmit) {
    SKIP_UNLESS_CLAIMED(DS4_OP_MOE_FFN);
    ds4_params_moe_ffn p{};
    p.act_quant = DS4_ACT_F32;
    p.clamp = 10.0f;
    Case c;
    c.op = DS4_OP_MOE_FFN;
    c.params = params_bytes(p);
    c.srcs = {f32_input({32, 1}, random_floats(32, 1)),
              weight_input(DS4_TYPE_F32, {32, 8, 2}, random_floats(512, 2)),
              weight_input(DS4_TYPE_F32, {32, 8, 2}, random_floats(512, 3)),
              weight_input(DS4_TYPE_F32, {8, 32, 2}, random_floats(512, 4)),
              i32_input({2, 1}, {1, 2}),
              f32_input({2, 1}, {0.5f, 0.5f})};
    c.dsts.push_back({DS4_TYPE_F32, {32, 1}, {}});
    RunResult r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

// ---- timing (informative, opt-in) --------------------------------------------------------------

TEST(Tier1Timing, DecodeShapes) {
    if (!std::getenv("DS4_CONFORMANCE_TIMING")) GTEST_SKIP() << "set DS4_CONFORMANCE_TIMING=1 to time the decode shapes";
    const host::Device& dev = Harness::get().device();
    struct Item {
        std::string name;
        Case c;
    };
    std::vector<Item> items;
    {
        HcInputs in = hc_inputs(4096, 4, 1, 24, DS4_TYPE_F16, 1, false);
        Case c;
        c.op = DS4_OP_HC_PRE;
        c.params = params_bytes(hc_params(4));
        c.srcs = {in.Xin, in.fn, f32_input({3}, {1, 1, 1}), f32_input({24}, std::vector<float>(24, 0.1f))};
        c.dsts = {{DS4_TYPE_F32, {4096, 1}, {}}, {DS4_TYPE_F32, {4, 1}, {}}, {DS4_TYPE_F32, {4, 4, 1}, {}}};
        items.push_back({"hc_pre d=4096 n=1", c});
        Case h;
        h.op = DS4_OP_HC_POST;
        h.params = params_bytes(hc_params(4));
        h.srcs = {f32_input({4096, 1}, random_floats(4096, 2)), in.Xin, f32_input({4, 1}, {1, 1, 1, 1}),
                  f32_input({4, 4, 1}, std::vector<float>(16, 0.25f))};
        h.dsts = {{DS4_TYPE_F32, {4096, 4, 1}, {}}};
        items.push_back({"hc_post d=4096 n=1", h});
    }
    {
        ds4_params_router p{};
        p.k = 6;
        p.scale = 1.5f;
        Case c;
        c.op = DS4_OP_MOE_ROUTER;
        c.params = params_bytes(p);
        c.srcs = {f32_input({4096, 1}, random_floats(4096, 3)), random_weight_input(DS4_TYPE_F16, {4096, 256}, 4),
                  f32_input({256}, random_floats(256, 5)), std::nullopt, i32_input({1}, {0})};
        c.dsts = {{DS4_TYPE_I32, {6, 1}, {}}, {DS4_TYPE_F32, {6, 1}, {}}};
        items.push_back({"moe_router E=256 d=4096 n=1", c});
    }
    const std::pair<ds4_type, ds4_type> ffn_types[] = {{DS4_TYPE_IQ2_XXS, DS4_TYPE_Q2_K},
                                                       {DS4_TYPE_Q4_K, DS4_TYPE_Q4_K},
                                                       {DS4_TYPE_Q8_0, DS4_TYPE_Q8_0}};
    for (auto [gu, dn] : ffn_types)
        for (uint32_t act : {DS4_ACT_DS4, DS4_ACT_F32}) {
            ds4_params_moe_ffn p{};
            p.act_quant = act;
            p.clamp = 10.0f;
            Case c;
            c.op = DS4_OP_MOE_FFN;
            c.params = params_bytes(p);
            c.srcs = {f32_input({4096, 1}, random_floats(4096, 6)), expert_stack(gu, 4096, 2048, 256, 7, 7),
                      expert_stack(gu, 4096, 2048, 256, 7, 8), expert_stack(dn, 2048, 4096, 256, 7, 9),
                      i32_input({6, 1}, {3, 17, 255, 100, 42, 0}), f32_input({6, 1}, std::vector<float>(6, 0.2f))};
            c.dsts = {{DS4_TYPE_F32, {4096, 1}, {}}};
            items.push_back({std::string("moe_ffn ") + ds4_type_name(gu) + "+" + ds4_type_name(dn) +
                                 (act == DS4_ACT_DS4 ? " act=ds4" : " act=f32") + " n=1 k=6",
                             c});
        }
    for (const Item& it : items) {
        const double one = time_case(dev, it.c, 1, 50), many = time_case(dev, it.c, 21, 20);
        std::printf("[timing] %-44s %9.1f us/node (submit of 1 node: %.1f us)\n", it.name.c_str(), (many - one) / 20.0, one);
    }
}

}  // namespace
}  // namespace ds4::conformance
