// Tier-1 conformance of COMPRESSOR, INDEXER_TOPK and ATTENTION: tiny shapes with the edge
// cases (fresh and mid-window states, chunks crossing several windows, ratio 4 / 8 / 128,
// `selected` with duplicates, -1, unsorted and not-yet-visible entries, sinks that dominate,
// ties, tokens with n_c <= top_k next to scored ones) and the real DS4 shapes (head_dim 512,
// 64 heads, n_rot 64, window 128, ratio-4 and ratio-128 compressors of a 4096-wide input,
// indexer 64 heads × 128 dims with top-512 over thousands of rows, decode n = 1 and prefill
// chunks n = 64 at positions that do not start at 0).
//
// References:
//   * ATTENTION: an independent double-precision evaluation of the contract written here.
//   * INDEXER_TOPK: the scores recomputed here in cpu-ref's float arithmetic (quant::dot_row
//     projections, RoPE with float cos/sin, quant::indexer_qat_row, one-accumulator dots),
//     then top-k by (score desc, index asc) as backend.h says, output ascending. The plugin
//     must match that selection exactly except where a kept and a dropped row have scores
//     within a tie margin of the k-th score: 1e-5·rms(scores), 2e-3·rms with qat (last-bit
//     differences of a cos/sin, amplified by the FP4 simulation, may reorder such rows; any
//     difference is printed as "[tier1] ...").
//   * COMPRESSOR: cpu-ref's fused op (the semantics are checked against the Tier-0
//     decomposition in tests/decompose); emitted rows within 2e-5·(|e| + rms), plus one F16
//     step where rows are F16-rounded; the state within 1e-6 relative.
// check_case() additionally compares any plugin other than cpu-ref with cpu-ref's output and
// runs every case twice for bit-identical results. A plugin that does not claim an op skips
// its tests (core decomposes the op for it). With DS4_CONFORMANCE_TIMING=1,
// Tier1AttentionTiming prints per-node times at the real shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "conformance.h"
#include "host/plugin_loader.h"
#include "quant/quant.h"

namespace ds4::conformance {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr uint32_t kNoSim = UINT32_MAX;

ds4_rope_params rope_params(uint32_t n_rot, bool yarn) {
    ds4_rope_params r{};
    r.struct_size = sizeof(r);
    r.n_rot = n_rot;
    r.freq_base = yarn ? 160000.0f : 10000.0f;
    r.yarn_factor = yarn ? 16.0f : 1.0f;
    r.yarn_beta_fast = 32.0f;
    r.yarn_beta_slow = 1.0f;
    r.yarn_orig_ctx = 65536;
    return r;
}

std::vector<int32_t> range(int64_t from, int64_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<int32_t>(from + i);
    return v;
}

std::string pos_label(const std::vector<int32_t>& pos) {
    return "n=" + std::to_string(pos.size()) + " p0=" + std::to_string(pos.empty() ? 0 : pos[0]);
}

// Runs fn(i) for i in [0, n) on all cores (the references at real shapes are heavy).
template <class F>
void parallel_for(int64_t n, F fn) {
    const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(n, std::thread::hardware_concurrency()));
    std::atomic<int64_t> next{0};
    std::vector<std::thread> pool;
    for (int64_t w = 0; w < workers; ++w)
        pool.emplace_back([&] {
            for (int64_t i; (i = next.fetch_add(1)) < n;) fn(i);
        });
    for (auto& t : pool) t.join();
}

// cpu-ref when it is the plugin under test, else the reference device of the harness.
const host::Device& reference_device() {
    Harness& h = Harness::get();
    return h.reference_device() ? *h.reference_device() : h.device();
}

std::vector<float> floats_of(const std::vector<uint8_t>& bytes) {
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}
std::vector<int32_t> ints_of(const std::vector<uint8_t>& bytes) {
    std::vector<int32_t> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}
template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

double rms_of(const std::vector<double>& v) {
    double ss = 0.0;
    size_t n = 0;
    for (double x : v)
        if (std::isfinite(x)) {
            ss += x * x;
            ++n;
        }
    return n ? std::sqrt(ss / double(n)) : 0.0;
}

// |a − e| <= rel·(|e| + rms(e)) + rel_abs·|e|: for values whose rounding error scales with
// the row's magnitude (dot products, softmax-weighted sums).
Expected within_rms(std::vector<double> v, double rel, double rel_abs = 0.0) {
    Expected e;
    const double r = rms_of(v);
    e.tol.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) e.tol[i] = rel * (std::fabs(v[i]) + r) + rel_abs * std::fabs(v[i]);
    e.value = std::move(v);
    return e;
}

// ---- COMPRESSOR ---------------------------------------------------------------------------------

struct CompSpec {
    std::string label;
    int64_t d = 64, D = 64, ratio = 4, cap = 16;
    uint32_t n_rot = 16;
    ds4_type wtype = DS4_TYPE_F16;
    uint32_t act = DS4_ACT_F32;
    uint32_t row_sim = kNoSim;
    uint32_t n_nope = 0;
    bool round_f16 = false;
    bool fresh_state = false;  // kv = 0, score = -inf everywhere (a new session)
    float a_scale = 1.0f;
    std::vector<int32_t> pos;
    uint64_t seed = 1;
};

Case make_compressor_case(const CompSpec& s) {
    const int64_t n = static_cast<int64_t>(s.pos.size()), coff = s.ratio == 4 ? 2 : 1, W = coff * s.D;
    const int64_t rows = coff * s.ratio;
    ds4_params_compressor p{};
    p.ratio = static_cast<uint32_t>(s.ratio);
    p.head_dim = static_cast<uint32_t>(s.D);
    p.row_sim = s.row_sim;
    p.n_nope = s.n_nope;
    p.round_f16 = s.round_f16 ? 1 : 0;
    p.act_quant = s.act;
    p.norm_eps = 1e-6f;
    p.rope = rope_params(s.n_rot, true);

    Case c;
    c.op = DS4_OP_COMPRESSOR;
    c.variant = std::string(ds4_type_name(s.wtype)) + (s.act == DS4_ACT_DS4 ? "/ds4" : "/f32") + " ratio " +
                std::to_string(s.ratio) +
                (s.row_sim == DS4_SIM_FP8_KV ? " fp8" : s.row_sim == DS4_SIM_INDEXER_QAT ? " qat" : "") +
                (s.round_f16 ? " f16" : "");
    c.name = "compressor " + s.label + " " + c.variant + " D=" + std::to_string(s.D) + " d=" + std::to_string(s.d) + " " +
             pos_label(s.pos);
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({s.d, n}, random_floats(static_cast<size_t>(s.d * n), s.seed, -s.a_scale, s.a_scale)));
    c.srcs.push_back(random_weight_input(s.wtype, {s.d, W}, s.seed + 1));
    c.srcs.push_back(random_weight_input(s.wtype, {s.d, W}, s.seed + 2));
    c.srcs.push_back(f32_input({W, s.ratio}, random_floats(static_cast<size_t>(W * s.ratio), s.seed + 3, -0.5f, 0.5f)));
    c.srcs.push_back(f32_input({s.D}, random_floats(static_cast<size_t>(s.D), s.seed + 4, 0.5f, 1.5f)));
    c.srcs.push_back(i32_input({n}, s.pos));

    // A state as streaming leaves it: rows of positions before p0 in the current window hold
    // projections, the rest of the current window is reset; the previous window (ratio 4) holds
    // the last window. A fresh state is all reset.
    std::vector<float> kv = random_floats(static_cast<size_t>(rows * W), s.seed + 5, -1.0f, 1.0f);
    std::vector<float> sc = random_floats(static_cast<size_t>(rows * W), s.seed + 6, -2.0f, 2.0f);
    const int64_t p0 = s.pos[0], cur = coff == 2 ? s.ratio : 0;
    for (int64_t r = 0; r < s.ratio; ++r) {
        const bool reset = s.fresh_state || r >= p0 % s.ratio;
        if (!reset) continue;
        for (int64_t j = 0; j < W; ++j) {
            kv[(cur + r) * W + j] = 0.0f;
            sc[(cur + r) * W + j] = -kInf;
        }
    }
    if (s.fresh_state)
        for (size_t i = 0; i < kv.size(); ++i) {
            kv[i] = 0.0f;
            sc[i] = -kInf;
        }
    c.dsts.push_back({DS4_TYPE_F32, {W, rows}, bytes_of(kv)});
    c.dsts.push_back({DS4_TYPE_F32, {W, rows}, bytes_of(sc)});
    c.dsts.push_back({DS4_TYPE_F32, {s.D, s.cap},
                      bytes_of(random_floats(static_cast<size_t>(s.D * s.cap), s.seed + 7, -3.0f, 3.0f))});
    return c;
}

void compressor_case(const CompSpec& s) {
    const Case c = make_compressor_case(s);
    RunResult ref = run_case(reference_device(), c);
    ASSERT_TRUE(ref.error.empty()) << c.name << ": reference failed: " << ref.error;
    ASSERT_EQ(ref.outputs.size(), 3u);
    std::vector<Expected> want;
    for (int i = 0; i < 2; ++i) {
        auto v = floats_of(ref.outputs[i]);
        want.push_back(within(std::vector<double>(v.begin(), v.end()), 1e-30, 1e-6));
    }
    auto rows_v = floats_of(ref.outputs[2]);
    want.push_back(within_rms(std::vector<double>(rows_v.begin(), rows_v.end()), 2e-5, s.round_f16 ? 1e-3 : 0.0));
    check_case(c, want);
}

TEST(Tier1Compressor, TinyShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_COMPRESSOR);
    for (int64_t ratio : {4, 8}) {
        CompSpec s;
        s.ratio = ratio;
        s.cap = 40 / ratio + 4;
        // Fresh session prefill from 0 across several windows, then decode steps at and
        // between window ends, then a mid-window chunk crossing two windows.
        s.label = "fresh";
        s.fresh_state = true;
        s.pos = range(0, 13);
        compressor_case(s);
        s.fresh_state = false;
        for (int64_t p : {ratio - 1, 2 * ratio + 1, 5 * ratio - 1}) {
            s.label = "decode";
            s.pos = range(p, 1);
            s.seed = 10 + p;
            compressor_case(s);
        }
        s.label = "chunk";
        s.pos = range(ratio + 2, 2 * ratio + 3);
        compressor_case(s);
        // Chunks that start exactly at a window boundary (the previous window is in the
        // state's previous-window rows, the current rows are reset).
        s.label = "aligned";
        s.pos = range(2 * ratio, ratio + 1);
        compressor_case(s);
        s.pos = range(3 * ratio, 1);
        compressor_case(s);
    }
    // The official numerics: Q8_0 weights with Q8_0 activations, FP8 rows with F16 rounding.
    CompSpec o;
    o.label = "official";
    o.wtype = DS4_TYPE_Q8_0;
    o.act = DS4_ACT_DS4;
    o.row_sim = DS4_SIM_FP8_KV;
    o.n_nope = 48;
    o.round_f16 = true;
    for (auto pos : {range(3, 1), range(6, 11)}) {
        o.pos = pos;
        compressor_case(o);
    }
    // Indexer rows: D = 128 with the Hadamard + FP4 simulation, K-quant weights (Q8_K acts).
    CompSpec q;
    q.label = "indexer";
    q.d = 256;
    q.D = 128;
    q.n_rot = 64;
    q.wtype = DS4_TYPE_Q4_K;
    q.act = DS4_ACT_DS4;
    q.row_sim = DS4_SIM_INDEXER_QAT;
    q.a_scale = 0.2f;
    q.pos = range(9, 7);
    compressor_case(q);
    q.wtype = DS4_TYPE_Q2_K;
    q.pos = range(11, 1);
    compressor_case(q);
    q.wtype = DS4_TYPE_IQ2_XXS;
    q.pos = range(14, 3);
    compressor_case(q);
    // Quantized weights with f32 activations (dequantize-then-dot in cpu-ref's lane order).
    q.wtype = DS4_TYPE_Q4_K;
    q.act = DS4_ACT_F32;
    q.pos = range(17, 4);
    compressor_case(q);
}

// Attention compressor of a ratio-4 layer (D 512, overlapping windows), official numerics.
CompSpec real_compressor() {
    CompSpec s;
    s.d = 4096;
    s.D = 512;
    s.n_rot = 64;
    s.ratio = 4;
    s.wtype = DS4_TYPE_Q8_0;
    s.act = DS4_ACT_DS4;
    s.row_sim = DS4_SIM_FP8_KV;
    s.n_nope = 448;
    s.round_f16 = true;
    s.a_scale = 0.1f;
    return s;
}

TEST(Tier1Compressor, RealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_COMPRESSOR);
    CompSpec s = real_compressor();
    s.label = "csa";
    s.cap = 1024;
    s.pos = range(2043, 1);  // decode step that ends a window
    compressor_case(s);
    s.pos = range(2045, 64);  // prefill chunk starting mid-window
    s.seed = 2;
    compressor_case(s);
    // Its indexer compressor (D 128, QAT rows, never F16-rounded).
    s.label = "csa-indexer";
    s.D = 128;
    s.row_sim = DS4_SIM_INDEXER_QAT;
    s.n_nope = 0;
    s.round_f16 = false;
    s.seed = 3;
    compressor_case(s);
    // Ratio-128 layer (HCA): a chunk that completes a window, and a decode step that ends one.
    s.label = "hca";
    s.D = 512;
    s.ratio = 128;
    s.cap = 128;
    s.row_sim = DS4_SIM_FP8_KV;
    s.n_nope = 448;
    s.round_f16 = true;
    s.pos = range(8150, 64);
    s.seed = 4;
    compressor_case(s);
    s.pos = range(8319, 1);
    s.seed = 5;
    compressor_case(s);
    // Exact numerics (F16 weights, f32 activations, no simulation).
    s.label = "hca-exact";
    s.wtype = DS4_TYPE_F16;
    s.act = DS4_ACT_F32;
    s.row_sim = kNoSim;
    s.round_f16 = false;
    s.pos = range(1000, 64);
    s.seed = 6;
    compressor_case(s);
}

TEST(Tier1Compressor, BadPositionsFailTheSubmit) {
    SKIP_UNLESS_CLAIMED(DS4_OP_COMPRESSOR);
    CompSpec s;
    s.pos = {5, 6, 8};  // not consecutive
    ds4_params_compressor p{};
    p.ratio = 4;
    p.head_dim = 64;
    p.row_sim = kNoSim;
    p.norm_eps = 1e-6f;
    p.rope = rope_params(16, true);
    for (auto pos : {std::vector<int32_t>{5, 6, 8}, std::vector<int32_t>{-1}, std::vector<int32_t>{79}}) {
        Case c;
        c.op = DS4_OP_COMPRESSOR;
        c.name = "compressor bad positions";
        c.params = params_bytes(p);
        const int64_t n = static_cast<int64_t>(pos.size());
        c.srcs.push_back(f32_input({64, n}, random_floats(64 * n, 1)));
        c.srcs.push_back(random_weight_input(DS4_TYPE_F16, {64, 128}, 2));
        c.srcs.push_back(random_weight_input(DS4_TYPE_F16, {64, 128}, 3));
        c.srcs.push_back(f32_input({128, 4}, random_floats(512, 4)));
        c.srcs.push_back(f32_input({64}, random_floats(64, 5)));
        c.srcs.push_back(i32_input({n}, pos));
        const std::vector<float> kv = random_floats(8 * 128, 6);
        c.dsts.push_back({DS4_TYPE_F32, {128, 8}, bytes_of(kv)});
        c.dsts.push_back({DS4_TYPE_F32, {128, 8}, bytes_of(kv)});
        c.dsts.push_back({DS4_TYPE_F32, {64, 16}, bytes_of(random_floats(64 * 16, 7))});  // row 19 of p=79 is >= cap 16
        RunResult r = run_case(Harness::get().device(), c);
        EXPECT_FALSE(r.error.empty()) << "positions " << pos[0] << "...: the submit must fail";
        EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
    }
}

// ---- INDEXER_TOPK -------------------------------------------------------------------------------

struct IdxSpec {
    std::string label;
    int64_t H = 4, hd = 128, q_rank = 64, d = 64, top_k = 8, ratio = 4, cap = 64;
    ds4_type wtype = DS4_TYPE_F16;
    uint32_t act = DS4_ACT_F32;
    bool qat = false;
    bool qat_rows = false;  // index rows FP4-simulated, as the indexer compressor stores them
    std::vector<int32_t> pos;
    uint64_t seed = 1;
    std::vector<float> rows;  // optional fixed index rows [cap][hd]
};

// cpu-ref's float arithmetic for the query of one token (see the file comment).
struct RopeHost {
    explicit RopeHost(const ds4_rope_params& p) : n_rot(p.n_rot), f(p.n_rot / 2) {
        const double n = p.n_rot, base = p.freq_base;
        double low = 0, high = 0;
        if (p.yarn_factor > 1.0f) {
            auto corr = [&](double beta) { return n * std::log(p.yarn_orig_ctx / (2 * M_PI * beta)) / (2 * std::log(base)); };
            low = std::max(0.0, std::floor(corr(p.yarn_beta_fast)));
            high = std::min(n - 1, std::ceil(corr(p.yarn_beta_slow)));
        }
        for (size_t k = 0; k < f.size(); ++k) {
            double v = std::pow(base, -2.0 * double(k) / n);
            if (p.yarn_factor > 1.0f) {
                const double ramp = std::clamp((double(k) - low) / std::max(0.001, high - low), 0.0, 1.0);
                v *= (1 - ramp) + ramp / p.yarn_factor;
            }
            f[k] = float(v);
        }
    }
    void apply(float* row, int64_t hd, int64_t pos) const {
        float* t = row + hd - n_rot;
        for (size_t k = 0; k < f.size(); ++k) {
            const float theta = float(pos) * f[k];
            const float c = std::cos(theta), s = std::sin(theta);
            const float a = t[2 * k], b = t[2 * k + 1];
            t[2 * k] = a * c - b * s;
            t[2 * k + 1] = a * s + b * c;
        }
    }
    uint32_t n_rot;
    std::vector<float> f;
};

std::vector<float> matvec_host(const Input& w, const std::vector<float>& x, uint32_t act) {
    const int64_t in = w.ne[0], out = w.ne[1], rb = ds4_type_row_bytes(w.type, in);
    const auto mode = act == DS4_ACT_DS4 ? quant::ActQuant::Ds4 : quant::ActQuant::None;
    const auto fmt = quant::act_format_for(w.type, mode);
    std::vector<uint8_t> buf(static_cast<size_t>(quant::act_row_bytes(fmt, in)));
    EXPECT_TRUE(quant::quantize_act(fmt, x.data(), buf.data(), in));
    std::vector<float> y(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o) y[o] = quant::dot_row(w.type, w.storage.data() + o * rb, buf.data(), in, mode);
    return y;
}

struct IdxCase {
    Case c;
    std::vector<std::vector<float>> scores;  // per token (empty when n_c <= top_k)
    std::vector<int32_t> want;               // [n][top_k]
};

IdxCase indexer_case(const IdxSpec& s, bool with_reference = true) {
    const int64_t n = static_cast<int64_t>(s.pos.size());
    ds4_params_indexer p{};
    p.n_heads = static_cast<uint32_t>(s.H);
    p.head_dim = static_cast<uint32_t>(s.hd);
    p.top_k = static_cast<uint32_t>(s.top_k);
    p.ratio = static_cast<uint32_t>(s.ratio);
    p.qat = s.qat ? 1 : 0;
    p.act_quant = s.act;
    p.weight_scale = static_cast<float>(1.0 / std::sqrt(double(s.hd) * double(s.H)));
    p.rope = rope_params(64, true);

    IdxCase k;
    Case& c = k.c;
    c.op = DS4_OP_INDEXER_TOPK;
    c.variant = std::string(ds4_type_name(s.wtype)) + (s.act == DS4_ACT_DS4 ? "/ds4" : "/f32") + (s.qat ? " qat" : "");
    c.name = "indexer_topk " + s.label + " " + c.variant + " H=" + std::to_string(s.H) + " top_k=" + std::to_string(s.top_k) +
             " cap=" + std::to_string(s.cap) + " " + pos_label(s.pos);
    c.params = params_bytes(p);
    const auto qr = random_floats(static_cast<size_t>(s.q_rank * n), s.seed, -1.0f, 1.0f);
    const auto a = random_floats(static_cast<size_t>(s.d * n), s.seed + 1, -1.0f, 1.0f);
    std::vector<float> rows = s.rows;
    if (rows.empty()) {
        rows = random_floats(static_cast<size_t>(s.hd * s.cap), s.seed + 2, -1.0f, 1.0f);
        if (s.qat_rows)
            for (int64_t r = 0; r < s.cap; ++r) quant::indexer_qat_row(rows.data() + r * s.hd);
    }
    c.srcs.push_back(f32_input({s.q_rank, n}, qr));
    c.srcs.push_back(f32_input({s.d, n}, a));
    c.srcs.push_back(random_weight_input(s.wtype, {s.q_rank, s.H * s.hd}, s.seed + 3));
    c.srcs.push_back(random_weight_input(s.wtype, {s.d, s.H}, s.seed + 4));
    c.srcs.push_back(f32_input({s.hd, s.cap}, rows));
    c.srcs.push_back(i32_input({n}, s.pos));
    c.dsts.push_back({DS4_TYPE_I32, {s.top_k, n}, {}});

    if (!with_reference) return k;
    const RopeHost rope(p.rope);
    k.scores.resize(static_cast<size_t>(n));
    k.want.assign(static_cast<size_t>(n * s.top_k), -1);
    parallel_for(n, [&](int64_t t) {
        const int64_t n_c = (int64_t(s.pos[t]) + 1) / s.ratio;
        int32_t* sel = k.want.data() + t * s.top_k;
        if (n_c <= s.top_k) {
            for (int64_t i = 0; i < n_c; ++i) sel[i] = static_cast<int32_t>(i);
            return;
        }
        std::vector<float> q = matvec_host(*c.srcs[2], std::vector<float>(qr.begin() + t * s.q_rank, qr.begin() + (t + 1) * s.q_rank), s.act);
        for (int64_t h = 0; h < s.H; ++h) {
            rope.apply(q.data() + h * s.hd, s.hd, s.pos[t]);
            if (s.qat) quant::indexer_qat_row(q.data() + h * s.hd);
        }
        std::vector<float> w = matvec_host(*c.srcs[3], std::vector<float>(a.begin() + t * s.d, a.begin() + (t + 1) * s.d), s.act);
        for (auto& v : w) v *= p.weight_scale;
        std::vector<float>& sc = k.scores[t];
        sc.assign(static_cast<size_t>(n_c), 0.0f);
        for (int64_t r = 0; r < n_c; ++r) {
            float acc = 0.0f;
            for (int64_t h = 0; h < s.H; ++h) {
                float dot = 0.0f;
                for (int64_t i = 0; i < s.hd; ++i) dot += q[h * s.hd + i] * rows[r * s.hd + i];
                acc += w[h] * std::max(0.0f, dot);
            }
            sc[r] = acc;
        }
        std::vector<int32_t> order;
        for (int64_t r = 0; r < n_c; ++r)
            if (!std::isnan(sc[r]) && sc[r] != -kInf) order.push_back(static_cast<int32_t>(r));
        const int64_t kk = std::min<int64_t>(s.top_k, static_cast<int64_t>(order.size()));
        std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                          [&](int32_t i, int32_t j) { return sc[i] > sc[j] || (sc[i] == sc[j] && i < j); });
        order.resize(static_cast<size_t>(kk));
        std::sort(order.begin(), order.end());
        std::copy(order.begin(), order.end(), sel);
    });
    return k;
}

// Exact agreement except for rows within `margin`·rms(scores) of the k-th score. Reports
// gtest failures and returns how many.
int compare_selection(const IdxSpec& s, const IdxCase& k, const std::vector<int32_t>& got, const char* who,
                      double margin) {
    int differing = 0, failures = 0;
    double worst = 0.0;
    auto fail = [&](const std::string& what) {
        ++failures;
        ADD_FAILURE() << k.c.name << " (" << who << "): " << what;
    };
    for (size_t t = 0; t < s.pos.size(); ++t) {
        const int32_t* g = got.data() + t * s.top_k;
        const int32_t* w = k.want.data() + t * s.top_k;
        if (std::equal(g, g + s.top_k, w)) continue;
        ++differing;
        const auto& sc = k.scores[t];
        if (sc.empty()) {
            fail("token " + std::to_string(t) + " has n_c <= top_k and must select every row");
            continue;
        }
        std::vector<float> kept;
        for (int32_t i = 0; i < s.top_k && w[i] >= 0; ++i) kept.push_back(sc[w[i]]);
        const float kth = *std::min_element(kept.begin(), kept.end());
        const double rms = std::max(rms_of(std::vector<double>(sc.begin(), sc.end())), 1e-30);
        std::set<int32_t> a(g, g + s.top_k), b(w, w + s.top_k);
        a.erase(-1);
        b.erase(-1);
        if (a.size() != b.size()) fail("token " + std::to_string(t) + " selects " + std::to_string(a.size()) + " rows, want " + std::to_string(b.size()));
        std::vector<int32_t> diff;
        std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(diff));
        for (int32_t r : diff) {
            if (r < 0 || r >= static_cast<int32_t>(sc.size())) {
                fail("token " + std::to_string(t) + " selects invalid row " + std::to_string(r));
                continue;
            }
            const double off = std::fabs(double(sc[r]) - double(kth)) / rms;
            worst = std::max(worst, off);
            if (off > margin)
                fail("token " + std::to_string(t) + " row " + std::to_string(r) + " score " + std::to_string(sc[r]) +
                     " is not tied with the k-th score " + std::to_string(kth));
        }
        for (int32_t i = 1; i < s.top_k && g[i] >= 0; ++i)
            if (g[i] <= g[i - 1]) {
                fail("token " + std::to_string(t) + " selection not ascending");
                break;
            }
    }
    if (differing)
        std::printf("[tier1] %s (%s): %d of %zu tokens differ from the recomputed selection (worst |score - kth| = %.3g rms)\n",
                    k.c.name.c_str(), who, differing, s.pos.size(), worst);
    return failures;
}

void run_indexer(const IdxSpec& s) {
    IdxCase k = indexer_case(s);
    const Case& c = k.c;
    Harness& h = Harness::get();
    const std::string op = host::op_name(c.op);
    const double margin = s.qat ? 2e-3 : 1e-5;
    RunResult r = run_case(h.device(), c);
    if (!r.supported) {
        record(op, c.variant, "unsupported");
        std::printf("[tier1] %s: node_supported() refused it (core decomposes it)\n", c.name.c_str());
        return;
    }
    std::string failure = r.error.empty() ? "" : "run failed: " + r.error;
    for (auto& v : r.guard_violations) failure += (failure.empty() ? "" : "; ") + std::string("sentinel: ") + v;
    int mismatches = 0;
    if (failure.empty()) {
        mismatches += compare_selection(s, k, ints_of(r.outputs[0]), h.plugin().name().c_str(), margin);
        RunResult again = run_case(h.device(), c);
        if (again.outputs != r.outputs) failure = "two runs of the same plan inputs gave different bits";
    }
    if (failure.empty() && h.reference_device()) {
        RunResult ref = run_case(*h.reference_device(), c);
        if (!ref.error.empty()) failure = "cpu-ref failed: " + ref.error;
        else mismatches += compare_selection(s, k, ints_of(ref.outputs[0]), "cpu-ref", margin);
    }
    if (!failure.empty()) ADD_FAILURE() << c.name << ": " << failure;
    const bool failed = !failure.empty() || mismatches > 0;
    record(op, c.variant, failed ? "failed" : "passed", failed ? c.name : "");
}

TEST(Tier1IndexerTopk, TinyShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_INDEXER_TOPK);
    for (bool official : {false, true}) {
        IdxSpec s;
        s.label = "tiny";
        s.qat = official;
        s.qat_rows = official;
        s.wtype = official ? DS4_TYPE_Q8_0 : DS4_TYPE_F16;
        s.act = official ? DS4_ACT_DS4 : DS4_ACT_F32;
        for (auto pos : {range(0, 1), range(28, 5), range(30, 13), range(200, 13), range(251, 5)}) {
            s.pos = pos;
            s.seed = 100 + pos[0];
            run_indexer(s);
        }
    }
    // Narrow heads without qat, more heads than one thread group.
    IdxSpec s;
    s.label = "narrow";
    s.hd = 64;
    s.H = 96;
    s.q_rank = 32;
    s.top_k = 5;
    s.cap = 40;
    s.wtype = DS4_TYPE_BF16;
    s.pos = range(30, 9);
    run_indexer(s);
    // A head width that is not a multiple of 4 and a head count that does not divide 256.
    s.label = "odd";
    s.hd = 66;
    s.H = 5;
    s.wtype = DS4_TYPE_F32;
    s.pos = range(33, 4);
    run_indexer(s);
}

TEST(Tier1IndexerTopk, TiesPickTheLowestIndex) {
    SKIP_UNLESS_CLAIMED(DS4_OP_INDEXER_TOPK);
    // Rows in blocks of 3 identical rows: every score appears three times, so the k-th score
    // is tied and cpu-ref's rule (lowest index first) decides. Scores are equal bit for bit on
    // every backend (same dot, same order), so the selection must match exactly.
    IdxSpec s;
    s.label = "ties";
    s.cap = 64;
    const auto u = random_floats(static_cast<size_t>(s.hd * 22), 5, -1.0f, 1.0f);
    for (int64_t r = 0; r < s.cap; ++r)
        s.rows.insert(s.rows.end(), u.begin() + (r / 3) * s.hd, u.begin() + (r / 3 + 1) * s.hd);
    s.pos = range(99, 3);
    IdxCase k = indexer_case(s);
    RunResult r = run_case(Harness::get().device(), k.c);
    if (!r.supported) GTEST_SKIP() << "node_supported() refused the case";
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.guard_violations.empty()) << r.guard_violations[0];
    EXPECT_EQ(ints_of(r.outputs[0]), k.want);
    // All rows identical: the first top_k rows.
    s.rows.clear();
    for (int64_t i = 0; i < s.cap; ++i) s.rows.insert(s.rows.end(), u.begin(), u.begin() + s.hd);
    k = indexer_case(s);
    r = run_case(Harness::get().device(), k.c);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.guard_violations.empty()) << r.guard_violations[0];
    const auto got = ints_of(r.outputs[0]);
    for (size_t t = 0; t < s.pos.size(); ++t)
        for (int64_t j = 0; j < s.top_k; ++j) EXPECT_EQ(got[t * s.top_k + j], j);
}

IdxSpec real_indexer(bool official) {
    IdxSpec s;
    s.H = 64;
    s.hd = 128;
    s.q_rank = 1024;
    s.d = 4096;
    s.top_k = 512;
    s.ratio = 4;
    s.cap = 4608;
    s.qat = official;
    s.qat_rows = official;
    s.wtype = official ? DS4_TYPE_Q8_0 : DS4_TYPE_F16;
    s.act = official ? DS4_ACT_DS4 : DS4_ACT_F32;
    return s;
}

TEST(Tier1IndexerTopk, RealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_INDEXER_TOPK);
    for (bool official : {true, false}) {
        IdxSpec s = real_indexer(official);
        s.label = "decode";
        s.pos = range(16001, 1);  // n_c = 4000
        s.seed = 21;
        run_indexer(s);
        s.label = "prefill";
        s.pos = range(16010, 64);
        s.seed = 22;
        run_indexer(s);
    }
    // A chunk where n_c crosses top_k: early tokens take every row, later ones are scored.
    IdxSpec s = real_indexer(true);
    s.label = "crossing";
    s.cap = 600;
    s.pos = range(2020, 64);  // n_c 505 .. 521
    s.seed = 23;
    run_indexer(s);
}

// ---- ATTENTION ----------------------------------------------------------------------------------

struct AttnSpec {
    std::string label;
    int64_t hd = 32, H = 4, window = 8, raw_cap = 24, ratio = 4, cap = 16, k = 6;
    bool with_comp = true, with_sel = false;
    std::vector<int32_t> pos;
    std::vector<int32_t> sel;  // [n][k]; empty: random (see attention_case)
    float sink_lo = -2.0f, sink_hi = 2.0f;
    uint64_t seed = 1;
};

Case make_attention_case(AttnSpec s, std::vector<double>* want_out) {
    const int64_t n = static_cast<int64_t>(s.pos.size()), hd = s.hd, H = s.H;
    ds4_params_attention p{};
    p.window = static_cast<uint32_t>(s.window);
    p.raw_cap = static_cast<uint32_t>(s.raw_cap);
    p.ratio = s.with_comp ? static_cast<uint32_t>(s.ratio) : 0;
    p.scale = static_cast<float>(1.0 / std::sqrt(double(hd)));
    const auto q = random_floats(static_cast<size_t>(n * H * hd), s.seed, -1.0f, 1.0f);
    const auto raw = random_floats(static_cast<size_t>(s.raw_cap * hd), s.seed + 1, -1.0f, 1.0f);
    const auto comp = random_floats(static_cast<size_t>(s.cap * hd), s.seed + 2, -1.0f, 1.0f);
    const auto sinks = random_floats(static_cast<size_t>(H), s.seed + 3, s.sink_lo, s.sink_hi);
    if (s.with_sel && s.sel.empty()) {
        // Distinct ascending visible rows padded with -1 (what INDEXER_TOPK writes).
        std::mt19937_64 rng(s.seed + 4);
        for (int64_t t = 0; t < n; ++t) {
            const int64_t n_c = std::min<int64_t>((int64_t(s.pos[t]) + 1) / s.ratio, s.cap);
            std::vector<int32_t> all = range(0, n_c);
            std::shuffle(all.begin(), all.end(), rng);
            all.resize(static_cast<size_t>(std::min<int64_t>(n_c, s.k)));
            std::sort(all.begin(), all.end());
            all.resize(static_cast<size_t>(s.k), -1);
            s.sel.insert(s.sel.end(), all.begin(), all.end());
        }
    }

    Case c;
    c.op = DS4_OP_ATTENTION;
    c.variant = std::string(s.with_comp ? (s.with_sel ? "selected" : "compressed") : "raw only") + " hd " + std::to_string(hd);
    c.name = "attention " + s.label + " " + c.variant + " H=" + std::to_string(H) + " window=" + std::to_string(s.window) +
             (s.with_comp ? " ratio=" + std::to_string(s.ratio) + " cap=" + std::to_string(s.cap) : "") +
             (s.with_sel ? " k=" + std::to_string(s.k) : "") + " " + pos_label(s.pos);
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({hd, H, n}, q));
    c.srcs.push_back(f32_input({hd, s.raw_cap}, raw));
    if (s.with_comp) c.srcs.push_back(f32_input({hd, s.cap}, comp));
    else c.srcs.push_back(std::nullopt);
    if (s.with_sel) c.srcs.push_back(i32_input({s.k, n}, s.sel));
    else c.srcs.push_back(std::nullopt);
    c.srcs.push_back(f32_input({H}, sinks));
    c.srcs.push_back(i32_input({n}, s.pos));
    c.dsts.push_back({DS4_TYPE_F32, {hd, H, n}, {}});
    if (!want_out) return c;

    // Independent double-precision reference.
    std::vector<double>& want = *want_out;
    want.assign(static_cast<size_t>(n * H * hd), 0.0);
    parallel_for(n, [&](int64_t t) {
        const int64_t pt = s.pos[t];
        std::vector<const float*> rows;
        for (int64_t pp = std::max<int64_t>(0, pt - s.window + 1); pp <= pt; ++pp) rows.push_back(&raw[(pp % s.raw_cap) * hd]);
        if (s.with_comp) {
            const int64_t n_c = (pt + 1) / s.ratio;
            std::set<int32_t> vis;
            if (s.with_sel) {
                for (int64_t j = 0; j < s.k; ++j) {
                    const int32_t r = s.sel[t * s.k + j];
                    if (r >= 0 && r < n_c) vis.insert(r);
                }
            } else {
                for (int64_t r = 0; r < n_c; ++r) vis.insert(static_cast<int32_t>(r));
            }
            for (int32_t r : vis) rows.push_back(&comp[r * hd]);
        }
        for (int64_t hh = 0; hh < H; ++hh) {
            const float* qv = &q[(t * H + hh) * hd];
            std::vector<double> sc(rows.size());
            double m = sinks[hh];
            for (size_t j = 0; j < rows.size(); ++j) {
                double dot = 0.0;
                for (int64_t i = 0; i < hd; ++i) dot += double(qv[i]) * rows[j][i];
                sc[j] = dot * p.scale;
                m = std::max(m, sc[j]);
            }
            double den = std::exp(double(sinks[hh]) - m);
            std::vector<double> o(static_cast<size_t>(hd), 0.0);
            for (size_t j = 0; j < rows.size(); ++j) {
                const double e = std::exp(sc[j] - m);
                den += e;
                for (int64_t i = 0; i < hd; ++i) o[i] += e * rows[j][i];
            }
            for (int64_t i = 0; i < hd; ++i) want[(t * H + hh) * hd + i] = o[i] / den;
        }
    });
    return c;
}

void attention_case(const AttnSpec& s) {
    std::vector<double> want;
    const Case c = make_attention_case(s, &want);
    check_case(c, {within_rms(want, 2e-5)});
}

TEST(Tier1Attention, TinyShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_ATTENTION);
    AttnSpec s;
    s.label = "raw";
    s.with_comp = false;
    for (auto pos : {range(0, 1), range(3, 1), range(20, 1), range(2, 5), range(13, 5)}) {
        s.pos = pos;
        attention_case(s);
    }
    s.label = "all compressed";
    s.with_comp = true;
    for (auto pos : {range(2, 1), range(40, 1), range(30, 5), range(60, 5)}) {
        s.pos = pos;
        attention_case(s);
    }
    s.label = "selected";
    s.with_sel = true;
    for (auto pos : {range(40, 1), range(50, 5)}) {
        s.pos = pos;
        s.sel.clear();
        attention_case(s);
    }
    // Mask semantics: duplicates count once, unsorted entries, -1, rows not yet visible.
    s.label = "mask";
    s.pos = {35, 36};  // n_c = 9, 9
    s.sel = {7, 2, 2, -1, 12, 0, /**/ -1, -1, 8, 15, 8, 1};
    attention_case(s);
    // Sinks far above every score (outputs near zero) and far below (plain softmax).
    s.label = "big sinks";
    s.sel.clear();
    s.sink_lo = 30.0f;
    s.sink_hi = 40.0f;
    s.pos = range(44, 3);
    attention_case(s);
    s.label = "tiny sinks";
    s.sink_lo = -80.0f;
    s.sink_hi = -70.0f;
    attention_case(s);
    // Long row lists at tiny sizes: the rows of a token are split over several blocks and
    // merged by the combine kernel (split boundaries fall inside the raw window and inside the
    // compressed rows).
    AttnSpec l;
    l.label = "splits";
    l.ratio = 2;
    l.cap = 200;
    l.raw_cap = 16;
    for (auto pos : {range(390, 1), range(385, 3)}) {
        l.pos = pos;
        attention_case(l);
    }
    l.with_sel = true;
    l.k = 150;
    l.pos = range(391, 2);
    attention_case(l);
    // Head dims that are not a multiple of the staging chunk, more heads than one block.
    AttnSpec w;
    w.label = "odd dims";
    w.hd = 80;
    w.H = 20;
    w.with_sel = true;
    w.k = 5;
    w.pos = range(41, 4);
    attention_case(w);
    w.hd = 300;
    w.H = 3;
    w.with_sel = false;
    attention_case(w);
    w.hd = 30;  // not a multiple of 4: the scalar score loop
    w.H = 17;
    attention_case(w);
}

// Ratio-4 layer: raw window 128 + the top-512 selected compressed rows.
AttnSpec real_attention() {
    AttnSpec s;
    s.hd = 512;
    s.H = 64;
    s.window = 128;
    s.raw_cap = 256;
    s.ratio = 4;
    s.cap = 4608;
    s.k = 512;
    s.with_sel = true;
    return s;
}

TEST(Tier1Attention, RealShapes) {
    SKIP_UNLESS_CLAIMED(DS4_OP_ATTENTION);
    AttnSpec s = real_attention();
    s.label = "csa";
    s.pos = range(16001, 1);
    s.seed = 31;
    attention_case(s);
    s.pos = range(16010, 64);
    s.raw_cap = 192;
    s.seed = 32;
    attention_case(s);
    // Ratio-128 layer: every visible compressed row, short and long context.
    s.label = "hca";
    s.with_sel = false;
    s.ratio = 128;
    s.cap = 256;
    s.pos = range(30001, 64);
    s.seed = 33;
    attention_case(s);
    s.cap = 8192;
    s.pos = range(1040000, 1);  // 8125 compressed rows + 128 raw: many splits
    s.seed = 34;
    attention_case(s);
    // A layer without compression (sliding window only), prefill from a non-zero position.
    s.label = "swa";
    s.with_comp = false;
    s.pos = range(100, 64);
    s.seed = 35;
    attention_case(s);
}

TEST(Tier1Attention, BadSelectionFailsTheSubmit) {
    SKIP_UNLESS_CLAIMED(DS4_OP_ATTENTION);
    ds4_params_attention p{};
    p.window = 8;
    p.raw_cap = 8;
    p.ratio = 4;
    p.scale = 0.25f;
    Case c;
    c.op = DS4_OP_ATTENTION;
    c.name = "attention bad selection";
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({16, 2, 1}, random_floats(32, 1)));
    c.srcs.push_back(f32_input({16, 8}, random_floats(128, 2)));
    c.srcs.push_back(f32_input({16, 4}, random_floats(64, 3)));
    c.srcs.push_back(i32_input({2, 1}, {1, 4}));  // 4 >= cap
    c.srcs.push_back(f32_input({2}, random_floats(2, 4)));
    c.srcs.push_back(i32_input({1}, {12}));
    c.dsts.push_back({DS4_TYPE_F32, {16, 2, 1}, {}});
    RunResult r = run_case(Harness::get().device(), c);
    EXPECT_FALSE(r.error.empty());
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

// ---- timing (informative, opt-in: DS4_CONFORMANCE_TIMING=1) -------------------------------------

// The sums' order is part of the contract (plugins/common/sum_orders.h, docs/numerics.md):
// Σ e and Σ e·v over segments of 64 rows, each summed from 0 in row order, the segment sums
// added in order from 0. 200 visible rows (four segments) computed here in exactly that float
// arithmetic must match bit for bit, on cpu-ref and on any backend held to it; a plain
// sequential sum differs in the last bits.
TEST(Tier1Attention, SegmentedSumsAreExact) {
    const int64_t hd = 16, H = 2, window = 200, raw_cap = 256, pos = 250;
    ds4_params_attention p{};
    p.window = window;
    p.raw_cap = raw_cap;
    p.ratio = 0;
    p.scale = 0.25f;
    const auto q = random_floats(static_cast<size_t>(H * hd), 71, -2.0f, 2.0f);
    const auto raw = random_floats(static_cast<size_t>(raw_cap * hd), 72, -2.0f, 2.0f);
    const auto sinks = random_floats(static_cast<size_t>(H), 73, -1.0f, 1.0f);
    Case c;
    c.op = DS4_OP_ATTENTION;
    c.variant = "raw only hd 16";
    c.name = "attention segmented sums, 200 rows";
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({hd, H, 1}, q));
    c.srcs.push_back(f32_input({hd, raw_cap}, raw));
    c.srcs.push_back(std::nullopt);
    c.srcs.push_back(std::nullopt);
    c.srcs.push_back(f32_input({H}, sinks));
    c.srcs.push_back(i32_input({1}, {static_cast<int32_t>(pos)}));
    c.dsts.push_back({DS4_TYPE_F32, {hd, H, 1}, {}});

    constexpr int64_t kSeg = 64;
    std::vector<double> want(static_cast<size_t>(H * hd));
    for (int64_t h = 0; h < H; ++h) {
        std::vector<const float*> rows;
        for (int64_t pp = pos - window + 1; pp <= pos; ++pp) rows.push_back(&raw[(pp % raw_cap) * hd]);
        const int64_t L = static_cast<int64_t>(rows.size());
        std::vector<float> e(static_cast<size_t>(L));
        float m = sinks[h];
        for (int64_t j = 0; j < L; ++j) {
            float dot = 0.0f;
            for (int64_t i = 0; i < hd; ++i) {
                const float prod = q[h * hd + i] * rows[j][i];
                dot = dot + prod;
            }
            e[j] = dot * p.scale;
            m = std::max(m, e[j]);
        }
        for (int64_t j = 0; j < L; ++j) e[j] = static_cast<float>(std::exp(static_cast<double>(e[j] - m)));
        float sum = 0.0f;
        std::vector<float> acc(static_cast<size_t>(hd), 0.0f), seg(static_cast<size_t>(hd));
        for (int64_t j0 = 0; j0 < L; j0 += kSeg) {
            float seg_sum = 0.0f;
            std::fill(seg.begin(), seg.end(), 0.0f);
            for (int64_t j = j0; j < std::min(L, j0 + kSeg); ++j) {
                seg_sum = seg_sum + e[j];
                for (int64_t i = 0; i < hd; ++i) {
                    const float prod = e[j] * rows[j][i];
                    seg[i] = seg[i] + prod;
                }
            }
            sum = sum + seg_sum;
            for (int64_t i = 0; i < hd; ++i) acc[i] = acc[i] + seg[i];
        }
        const float den = static_cast<float>(std::exp(static_cast<double>(sinks[h] - m))) + sum;
        const float inv = 1.0f / den;
        for (int64_t i = 0; i < hd; ++i) want[h * hd + i] = acc[i] * inv;
    }
    check_case(c, {exact(want)});
}

TEST(Tier1AttentionTiming, RealShapes) {
    if (!std::getenv("DS4_CONFORMANCE_TIMING")) GTEST_SKIP() << "set DS4_CONFORMANCE_TIMING=1 to time the real shapes";
    const host::Device& dev = Harness::get().device();
    std::vector<std::pair<std::string, Case>> items;
    CompSpec cs = real_compressor();
    cs.cap = 4096;
    cs.pos = range(16003, 1);
    items.push_back({"compressor ratio 4 D=512 q8_0 n=1 (emits)", make_compressor_case(cs)});
    cs.pos = range(16003, 64);
    items.push_back({"compressor ratio 4 D=512 q8_0 n=64", make_compressor_case(cs)});
    cs.D = 128;
    cs.row_sim = DS4_SIM_INDEXER_QAT;
    cs.round_f16 = false;
    cs.pos = range(16003, 1);
    items.push_back({"compressor ratio 4 D=128 qat q8_0 n=1", make_compressor_case(cs)});
    cs.D = 512;
    cs.ratio = 128;
    cs.cap = 128;
    cs.row_sim = DS4_SIM_FP8_KV;
    cs.round_f16 = true;
    cs.pos = range(16383, 1);
    items.push_back({"compressor ratio 128 D=512 q8_0 n=1 (emits)", make_compressor_case(cs)});

    IdxSpec is = real_indexer(true);
    is.pos = range(16001, 1);
    items.push_back({"indexer_topk n_c=4000 qat n=1", indexer_case(is, false).c});
    is.pos = range(16001, 64);
    items.push_back({"indexer_topk n_c=4000 qat n=64", indexer_case(is, false).c});
    is.cap = 262144;
    is.pos = range(1000001, 1);
    items.push_back({"indexer_topk n_c=250000 qat n=1", indexer_case(is, false).c});

    AttnSpec as = real_attention();
    as.pos = range(16001, 1);
    items.push_back({"attention window 128 + 512 selected n=1", make_attention_case(as, nullptr)});
    as.raw_cap = 192;
    as.pos = range(16001, 64);
    items.push_back({"attention window 128 + 512 selected n=64", make_attention_case(as, nullptr)});
    as.with_sel = false;
    as.ratio = 128;
    as.cap = 8192;
    as.raw_cap = 256;
    as.pos = range(1040000, 1);
    items.push_back({"attention window 128 + 8125 compressed n=1", make_attention_case(as, nullptr)});
    for (const auto& [name, c] : items) {
        const double one = time_case(dev, c, 1, 20), many = time_case(dev, c, 11, 10);
        std::printf("[timing] %-46s %9.1f us/node (submit of 1 node: %.1f us)\n", name.c_str(), (many - one) / 10.0, one);
        std::fflush(stdout);
    }
}

}  // namespace
}  // namespace ds4::conformance
