// COMPRESSOR (MODEL.md §C.3.5): per token u = Wkv·a, g = Wg·a + ape[p mod ratio] enter the
// state; when (p+1) % ratio == 0 a compressed row is pooled (per-channel softmax over the
// window's candidates), RMS-normed, RoPE'd at p+1-ratio, simulated (FP8 KV / indexer QAT),
// optionally F16-rounded and stored as row p / ratio. Contract: backend.h,
// ds4_params_compressor. The projections run in parallel over (token, row); the state update
// is sequential in token order (as streaming would do it); pooling is parallel over channels.
#include <cmath>
#include <limits>
#include <vector>

#include "ops.h"
#include "tier1_common.h"

namespace ds4::cpuref {
namespace {

constexpr uint32_t kNoSim = UINT32_MAX;

struct CompressorShape {
    int64_t n, d, D, W, coff, ratio, state_rows, cap;
};

CompressorShape shape_of(const ds4_node& node, const ds4_params_compressor& p) {
    CompressorShape s;
    s.n = node.src[0]->ne[1];
    s.d = node.src[0]->ne[0];
    s.D = p.head_dim;
    s.ratio = p.ratio;
    s.coff = p.ratio == 4 ? 2 : 1;
    s.W = s.coff * s.D;
    s.state_rows = s.coff * s.ratio;
    s.cap = node.dst[2]->ne[1];
    return s;
}

// Pools one compressed row from the state: for channel j the candidates are (coff = 2) the
// previous window's rows 0..m-1 at column j (series A) then the current window's rows m..2m-1
// at column D+j (series B), or (coff = 1) rows 0..m-1 at column j. Weights = softmax of the
// scores (e^{s-max} / Σ, Σ in candidate order), c[j] = Σ w·v in candidate order. A channel
// whose scores are all -inf gives 0.
void pool_row(const ds4_tensor* skv, const ds4_tensor* ssc, const CompressorShape& s, ThreadPool& pool, float* c) {
    const int64_t n_cand = s.coff * s.ratio;
    pool.parallel_for(s.D, 16, [&](int64_t j0, int64_t j1) {
        std::vector<float> sc(n_cand), v(n_cand);
        for (int64_t j = j0; j < j1; ++j) {
            for (int64_t r = 0; r < n_cand; ++r) {
                const int64_t col = (s.coff == 2 && r >= s.ratio) ? s.D + j : j;
                sc[r] = f32_at(ssc, col, r);
                v[r] = f32_at(skv, col, r);
            }
            float mx = -std::numeric_limits<float>::infinity();
            for (int64_t r = 0; r < n_cand; ++r) mx = std::max(mx, sc[r]);
            if (mx == -std::numeric_limits<float>::infinity()) {
                c[j] = 0.0f;
                continue;
            }
            float den = 0.0f;
            for (int64_t r = 0; r < n_cand; ++r) {
                sc[r] = exp_f32(sc[r] - mx);
                den += sc[r];
            }
            float acc = 0.0f;
            for (int64_t r = 0; r < n_cand; ++r) acc += (sc[r] / den) * v[r];
            c[j] = acc;
        }
    });
}

void set_state_row(const ds4_tensor* t, int64_t row, const float* src, int64_t W) {
    for (int64_t j = 0; j < W; ++j) f32_at(t, j, row) = src[j];
}

void fill_state_rows(const ds4_tensor* t, int64_t r0, int64_t r1, int64_t W, float v) {
    for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < W; ++j) f32_at(t, j, r) = v;
}

}  // namespace

KernelStatus check_compressor(const ds4_node& node) {
    if (auto s = check_operands(node, 6, 6, 3); !s.ok()) return s;
    ds4_params_compressor p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_compressor");
    if (p.ratio < 1) return KernelStatus::invalid("ratio must be >= 1");
    if (p.head_dim == 0) return KernelStatus::invalid("head_dim must be > 0");
    if (p.row_sim != kNoSim && p.row_sim != DS4_SIM_FP8_KV && p.row_sim != DS4_SIM_INDEXER_QAT)
        return KernelStatus::invalid(msg("row_sim ", p.row_sim, " not supported (FP8_KV, INDEXER_QAT or none)"));
    if (p.row_sim == DS4_SIM_INDEXER_QAT && p.head_dim != 128)
        return KernelStatus::invalid(msg("INDEXER_QAT needs head_dim 128, got ", p.head_dim));
    if (p.row_sim == DS4_SIM_FP8_KV && p.n_nope > p.head_dim)
        return KernelStatus::invalid(msg("n_nope ", p.n_nope, " > head_dim ", p.head_dim));
    if (auto s = tier1::check_rope_params(p.rope, p.head_dim, "compressor"); !s.ok()) return s;
    const CompressorShape s = shape_of(node, p);
    if (auto st = tier1::check_f32_shape(node.src[0], "src0 a", {s.d, s.n}); !st.ok()) return st;
    if (auto st = tier1::check_weight(node.src[1], "src1 wkv", s.d, s.W); !st.ok()) return st;
    if (auto st = tier1::check_weight(node.src[2], "src2 wgate", s.d, s.W); !st.ok()) return st;
    if (auto st = check_type(node.src[3], "src3 ape", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}); !st.ok()) return st;
    if (node.src[3]->ne[0] != s.W || node.src[3]->ne[1] != s.ratio || node.src[3]->ne[2] != 1 || node.src[3]->ne[3] != 1)
        return KernelStatus::invalid(msg("src3 ape shape ", shape_str(node.src[3]), " should be [", s.W, ", ", s.ratio, "]"));
    if (auto st = tier1::check_f32_shape(node.src[4], "src4 norm", {s.D}); !st.ok()) return st;
    if (auto st = check_type(node.src[5], "src5 positions", {DS4_TYPE_I32}); !st.ok()) return st;
    if (node.src[5]->ne[0] != s.n || n_elems(node.src[5]) != s.n)
        return KernelStatus::invalid(msg("src5 positions shape ", shape_str(node.src[5]), " should be [", s.n, "]"));
    if (auto st = tier1::check_f32_shape(node.dst[0], "dst0 state_kv", {s.W, s.state_rows}); !st.ok()) return st;
    if (auto st = tier1::check_f32_shape(node.dst[1], "dst1 state_score", {s.W, s.state_rows}); !st.ok()) return st;
    if (auto st = tier1::check_f32_shape(node.dst[2], "dst2 rows", {s.D, s.cap}); !st.ok()) return st;
    return {};
}

KernelStatus run_compressor(const ds4_node& node, KernelContext& ctx) {
    ds4_params_compressor p;
    read_params(node, &p);
    const CompressorShape s = shape_of(node, p);
    const ds4_tensor *a = node.src[0], *wkv = node.src[1], *wg = node.src[2], *ape = node.src[3];
    const ds4_tensor *norm = node.src[4], *pos = node.src[5];
    const ds4_tensor *skv = node.dst[0], *ssc = node.dst[1], *rows = node.dst[2];
    if (s.n == 0) return {};

    // Validate positions (consecutive, >= 0) and the emitted row indices before touching state.
    const int64_t p0 = i32_at(pos, 0);
    for (int64_t i = 0; i < s.n; ++i) {
        int64_t pi = i32_at(pos, i);
        if (pi < 0 || pi != p0 + i)
            return KernelStatus::invalid(msg("positions must be consecutive and >= 0 (positions[", i, "] = ", pi, ")"));
        if ((pi + 1) % s.ratio == 0 && pi / s.ratio >= s.cap)
            return KernelStatus::invalid(msg("compressed row ", pi / s.ratio, " (position ", pi, ") >= capacity ", s.cap));
    }

    // Projections for every token.
    std::vector<float> A(s.n * s.d), U(s.n * s.W), G(s.n * s.W);
    std::vector<const float*> xs(s.n);
    for (int64_t t = 0; t < s.n; ++t) {
        load_f32_row(a, t, A.data() + t * s.d);
        xs[t] = A.data() + t * s.d;
    }
    if (!tier1::matmul_rows(ctx.pool, wkv, xs.data(), s.n, s.d, s.W, p.act_quant, U.data()) ||
        !tier1::matmul_rows(ctx.pool, wg, xs.data(), s.n, s.d, s.W, p.act_quant, G.data()))
        return KernelStatus::invalid("cannot quantize the compressor input activations");
    for (int64_t t = 0; t < s.n; ++t) {
        const int64_t phase = (p0 + t) % s.ratio;
        for (int64_t j = 0; j < s.W; ++j)
            G[t * s.W + j] += load_float(ape->type, element_ptr(ape, j, phase));
    }

    const tier1::Rope rope(p.rope);
    const int64_t cur = s.coff == 2 ? s.ratio : 0;  // first state row of the current window
    const float neg_inf = -std::numeric_limits<float>::infinity();
    std::vector<float> c(s.D);
    for (int64_t t = 0; t < s.n; ++t) {
        const int64_t pt = p0 + t;
        set_state_row(skv, cur + pt % s.ratio, U.data() + t * s.W, s.W);
        set_state_row(ssc, cur + pt % s.ratio, G.data() + t * s.W, s.W);
        if ((pt + 1) % s.ratio != 0) continue;

        pool_row(skv, ssc, s, ctx.pool, c.data());
        const float r = tier1::rms_scale(c.data(), s.D, p.norm_eps);
        for (int64_t j = 0; j < s.D; ++j) c[j] = (c[j] * r) * f32_at(norm, j);
        rope.apply(c.data(), s.D, pt + 1 - s.ratio);
        if (p.row_sim == DS4_SIM_FP8_KV) quant::fp8_kv_sim_row(c.data(), p.n_nope, 64);
        if (p.row_sim == DS4_SIM_INDEXER_QAT) quant::indexer_qat_row(c.data());
        if (p.round_f16) quant::f16_round_trip_row(c.data(), s.D);
        for (int64_t j = 0; j < s.D; ++j) f32_at(rows, j, pt / s.ratio) = c[j];

        // Reset after emission so a prefilled state equals a streamed one (backend.h): ratio 4
        // first moves the current window to the previous-window rows.
        if (s.coff == 2) {
            for (int64_t rr = 0; rr < s.ratio; ++rr)
                for (int64_t j = 0; j < s.W; ++j) {
                    f32_at(skv, j, rr) = f32_at(skv, j, s.ratio + rr);
                    f32_at(ssc, j, rr) = f32_at(ssc, j, s.ratio + rr);
                }
        }
        fill_state_rows(skv, cur, cur + s.ratio, s.W, 0.0f);
        fill_state_rows(ssc, cur, cur + s.ratio, s.W, neg_inf);
    }
    return {};
}

}  // namespace ds4::cpuref
