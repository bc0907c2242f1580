// Hyper-connections (MODEL.md §C.2, §C.5): HC_PRE (norm, mix, gates, Sinkhorn, collapse),
// HC_POST (post·y + combᵀ·X) and HC_HEAD (final collapse). Contract in backend.h next to
// ds4_params_hc. Parallel over tokens (HC_POST: over token × destination stream).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../../common/sum_orders.h"
#include "ops.h"
#include "tier1_common.h"

namespace ds4::cpuref {
namespace {

using tier1::check_f32_shape;

KernelStatus read_hc(const ds4_node& node, ds4_params_hc* p) {
    if (!read_params(node, p)) return KernelStatus::invalid("missing ds4_params_hc");
    if (p->n_hc == 0 || p->n_hc > 64) return KernelStatus::invalid(msg("n_hc ", p->n_hc, " out of range"));
    return {};
}

// Loads the HC state of token t (X [n][H][d], any strides) flattened stream-major.
void load_state(const ds4_tensor* X, int64_t t, int64_t H, int64_t d, float* f) {
    for (int64_t s = 0; s < H; ++s)
        for (int64_t i = 0; i < d; ++i) f[s * d + i] = f32_at(X, i, s, t);
}

// Sinkhorn of MODEL.md §C.2 on M[a][c] (row-major H×H, in: the logits Z): row softmax + eps,
// column normalisation, then iters-1 × (row, column) normalisations. Every step multiplies by
// the f32 reciprocal (1/Σ for the softmax, 1/(Σ+eps) for the normalisations), sums index
// ascending.
void sinkhorn(float* M, int64_t H, uint32_t iters, float eps) {
    for (int64_t a = 0; a < H; ++a) {
        float* row = M + a * H;
        float m = row[0];
        for (int64_t c = 1; c < H; ++c) m = std::max(m, row[c]);
        float sum = 0.0f;
        for (int64_t c = 0; c < H; ++c) {
            row[c] = exp_f32(row[c] - m);
            sum += row[c];
        }
        float inv = 1.0f / sum;
        for (int64_t c = 0; c < H; ++c) row[c] = row[c] * inv + eps;
    }
    auto col_norm = [&] {
        for (int64_t c = 0; c < H; ++c) {
            float sum = 0.0f;
            for (int64_t a = 0; a < H; ++a) sum += M[a * H + c];
            float inv = 1.0f / (sum + eps);
            for (int64_t a = 0; a < H; ++a) M[a * H + c] *= inv;
        }
    };
    auto row_norm = [&] {
        for (int64_t a = 0; a < H; ++a) {
            float sum = 0.0f;
            for (int64_t c = 0; c < H; ++c) sum += M[a * H + c];
            float inv = 1.0f / (sum + eps);
            for (int64_t c = 0; c < H; ++c) M[a * H + c] *= inv;
        }
    };
    col_norm();
    for (uint32_t it = 1; it < iters; ++it) {
        row_norm();
        col_norm();
    }
}

// The mixing vector fn·(f·r) of one token: r = unweighted RMS scale over all H·d values,
// every f·r rounded, then each row dot in 32 interleaved f32 lanes (column c → lane c % 32)
// over segments of kHcMixSegmentColumns columns: within a segment each lane sums ascending
// from 0 (part += w·x), each lane adds its segment partials in segment order, and the lanes are
// combined by the butterfly 16, 8, 4, 2, 1 (as sum_squares_lanes32). The order is fixed so
// that a GPU computes the same bits with one warp per segment (16384 columns: 16 warps of 32
// steps per lane instead of one warp of 512).
void hc_mix(const ds4_tensor* fn, int64_t n_mix, std::vector<float>& f, float norm_eps, float* mix) {
    const int64_t n = static_cast<int64_t>(f.size());
    float r = tier1::rms_scale(f.data(), n, norm_eps);
    for (auto& v : f) v *= r;
    std::vector<float> w(static_cast<size_t>(n));
    for (int64_t m = 0; m < n_mix; ++m) {
        quant::dequantize_row(static_cast<ds4_type>(fn->type), tier1::weight_row(fn, m), w.data(), n);
        float lane[32] = {};
        for (int64_t c0 = 0; c0 < n; c0 += sum_orders::kHcMixSegmentColumns) {
            const int64_t c1 = std::min(n, c0 + sum_orders::kHcMixSegmentColumns);
            float part[32] = {};
            for (int64_t c = c0; c < c1; ++c) part[c % 32] += w[c] * f[c];
            for (int l = 0; l < 32; ++l) lane[l] += part[l];
        }
        for (int k = 16; k > 0; k /= 2) {
            float next[32];
            for (int l = 0; l < 32; ++l) next[l] = lane[l] + lane[l ^ k];
            for (int l = 0; l < 32; ++l) lane[l] = next[l];
        }
        mix[m] = lane[0];
    }
}

KernelStatus check_fn(const ds4_tensor* fn, int64_t rows, int64_t cols) {
    if (auto s = check_type(fn, "src1 fn", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}); !s.ok()) return s;
    return tier1::check_weight(fn, "src1 fn", cols, rows);
}

}  // namespace

// ---- HC_PRE ---------------------------------------------------------------------------------

KernelStatus check_hc_pre(const ds4_node& node) {
    if (auto s = check_operands(node, 4, 4, 3); !s.ok()) return s;
    ds4_params_hc p;
    if (auto s = read_hc(node, &p); !s.ok()) return s;
    if (p.sinkhorn_iters == 0) return KernelStatus::invalid("sinkhorn_iters must be >= 1");
    const ds4_tensor* X = node.src[0];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    if (auto s = check_f32_shape(X, "src0 X", {d, H, n}); !s.ok()) return s;
    if (auto s = check_fn(node.src[1], H * (2 + H), H * d); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[2], "src2 scale", {3}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[3], "src3 base", {2 * H + H * H}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.dst[0], "dst0 x_in", {d, n}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.dst[1], "dst1 post", {H, n}); !s.ok()) return s;
    return check_f32_shape(node.dst[2], "dst2 comb", {H, H, n});
}

KernelStatus run_hc_pre(const ds4_node& node, KernelContext& ctx) {
    ds4_params_hc p;
    read_hc(node, &p);
    const ds4_tensor *X = node.src[0], *fn = node.src[1], *scale = node.src[2], *base = node.src[3];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2], n_mix = H * (2 + H);
    const float sc0 = f32_at(scale, 0), sc1 = f32_at(scale, 1), sc2 = f32_at(scale, 2);
    ctx.pool.parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
        std::vector<float> f(H * d), mix(n_mix), M(H * H), pre(H);
        for (int64_t t = t0; t < t1; ++t) {
            load_state(X, t, H, d, f.data());
            hc_mix(fn, n_mix, f, p.norm_eps, mix.data());
            // Gates evaluated literally as 1/(1+e^-z) and 2/(1+e^-z) (ds4, MODEL.md §C.2).
            for (int64_t s = 0; s < H; ++s) {
                float z_pre = mix[s] * sc0 + f32_at(base, s);
                float z_post = mix[H + s] * sc1 + f32_at(base, H + s);
                pre[s] = 1.0f / (1.0f + exp_f32(-z_pre)) + p.hc_eps;
                f32_at(node.dst[1], s, t) = 2.0f / (1.0f + exp_f32(-z_post));
            }
            for (int64_t j = 0; j < H * H; ++j) M[j] = mix[2 * H + j] * sc2 + f32_at(base, 2 * H + j);
            sinkhorn(M.data(), H, p.sinkhorn_iters, p.hc_eps);
            for (int64_t a = 0; a < H; ++a)
                for (int64_t c = 0; c < H; ++c) f32_at(node.dst[2], c, a, t) = M[a * H + c];
            // x_in[i] = Σ_s pre[s]·X[s][i], s ascending.
            for (int64_t i = 0; i < d; ++i) {
                float acc = 0.0f;
                for (int64_t s = 0; s < H; ++s) acc += pre[s] * f32_at(X, i, s, t);
                f32_at(node.dst[0], i, t) = acc;
            }
        }
    });
    return {};
}

// ---- HC_POST --------------------------------------------------------------------------------

KernelStatus check_hc_post(const ds4_node& node) {
    if (auto s = check_operands(node, 4, 4, 1); !s.ok()) return s;
    ds4_params_hc p;
    if (auto s = read_hc(node, &p); !s.ok()) return s;
    const ds4_tensor* y = node.src[0];
    const int64_t H = p.n_hc, d = y->ne[0], n = y->ne[1];
    if (auto s = check_f32_shape(y, "src0 y", {d, n}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[1], "src1 X", {d, H, n}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[2], "src2 post", {H, n}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[3], "src3 comb", {H, H, n}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.dst[0], "dst0 X_new", {d, H, n}); !s.ok()) return s;
    if (node.dst[0]->buffer == node.src[1]->buffer && node.dst[0]->offset == node.src[1]->offset)
        return KernelStatus::invalid("dst0 X_new must not alias src1 X");
    return {};
}

KernelStatus run_hc_post(const ds4_node& node, KernelContext& ctx) {
    ds4_params_hc p;
    read_hc(node, &p);
    const ds4_tensor *y = node.src[0], *X = node.src[1], *post = node.src[2], *comb = node.src[3];
    const ds4_tensor* out = node.dst[0];
    const int64_t H = p.n_hc, d = y->ne[0], n = y->ne[1];
    // X_new[c][i] = post[c]·y[i] + (Σ_a comb[a][c]·X[a][i]): the comb sum is formed first,
    // a ascending, then added to the product.
    ctx.pool.parallel_for(n * H, 1, [&](int64_t r0, int64_t r1) {
        std::vector<float> w(H);
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t t = r / H, c = r % H;
            const float pc = f32_at(post, c, t);
            for (int64_t a = 0; a < H; ++a) w[a] = f32_at(comb, c, a, t);
            for (int64_t i = 0; i < d; ++i) {
                float acc = 0.0f;
                for (int64_t a = 0; a < H; ++a) acc += w[a] * f32_at(X, i, a, t);
                f32_at(out, i, c, t) = pc * f32_at(y, i, t) + acc;
            }
        }
    });
    return {};
}

// ---- HC_HEAD --------------------------------------------------------------------------------

KernelStatus check_hc_head(const ds4_node& node) {
    if (auto s = check_operands(node, 4, 4, 1); !s.ok()) return s;
    ds4_params_hc p;
    if (auto s = read_hc(node, &p); !s.ok()) return s;
    const ds4_tensor* X = node.src[0];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    if (auto s = check_f32_shape(X, "src0 X", {d, H, n}); !s.ok()) return s;
    if (auto s = check_fn(node.src[1], H, H * d); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[2], "src2 scale", {1}); !s.ok()) return s;
    if (auto s = check_f32_shape(node.src[3], "src3 base", {H}); !s.ok()) return s;
    return check_f32_shape(node.dst[0], "dst0 h", {d, n});
}

KernelStatus run_hc_head(const ds4_node& node, KernelContext& ctx) {
    ds4_params_hc p;
    read_hc(node, &p);
    const ds4_tensor *X = node.src[0], *fn = node.src[1], *scale = node.src[2], *base = node.src[3];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    const float sc0 = f32_at(scale, 0);
    ctx.pool.parallel_for(n, 1, [&](int64_t t0, int64_t t1) {
        std::vector<float> f(H * d), mix(H), w(H);
        for (int64_t t = t0; t < t1; ++t) {
            load_state(X, t, H, d, f.data());
            hc_mix(fn, H, f, p.norm_eps, mix.data());
            // The final head uses the stable sigmoid (MODEL.md §C.5).
            for (int64_t s = 0; s < H; ++s) w[s] = tier1::sigmoid_stable(mix[s] * sc0 + f32_at(base, s)) + p.hc_eps;
            for (int64_t i = 0; i < d; ++i) {
                float acc = 0.0f;
                for (int64_t s = 0; s < H; ++s) acc += w[s] * f32_at(X, i, s, t);
                f32_at(node.dst[0], i, t) = acc;
            }
        }
    });
    return {};
}

}  // namespace ds4::cpuref
