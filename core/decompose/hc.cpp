// Decompositions of HC_PRE, HC_POST, HC_HEAD (MODEL.md §C.2, §C.5) into Tier-0 nodes.
// Shapes: X [n][H][d] (ne {d, H, n}); all intermediate tensors are tiny ([n][24], [n][H][H])
// except the normalised state [n][H·d].
#include "decompose/internal.h"

namespace ds4::decompose::detail {
namespace {

// x_in[t][i] = Σ_s w[t][s]·X[t][s][i] (s ascending) written into out ([n][d]):
// MATMUL_F32 with A = w as [n][1][H] and B = Xᵀ as [n][d][H].
void collapse(Builder& b, const T* w_contig, const T* X, const T* out, int64_t H, int64_t d, int64_t n) {
    const T* A = b.view(w_contig, {H, 1, n}, {4, 4 * H, 4 * H});
    const T* Bt = b.view(X, {H, d, n}, {X->nb[1], X->nb[0], X->nb[2]});
    const T* D = b.view(out, {d, 1, n}, {out->nb[0], out->nb[1], out->nb[1]});
    b.matmul_f32_into(A, Bt, D);
}

// mix = fn · RMSNorm(flatten(X)) → [n][rows] (contiguous).
T* hc_mix(Builder& b, const T* X, const T* fn, float norm_eps, int64_t H, int64_t d, int64_t n) {
    const T* Xc = b.contiguous(X);
    const T* flat = b.g.reshape(Xc, {H * d, n});
    const T* xn = b.rms_norm(flat, nullptr, norm_eps);
    return b.matmul(fn, xn, DS4_ACT_F32);
}

// The literal gate c/(1+e^-z): NEG, EXP, then 1+e (c = 1) or (1+e)/2 (c = 2, exact halving),
// then RECIP. Bit-identical to the fused evaluation.
T* literal_gate(Builder& b, const T* z, bool times_two) {
    T* e = b.unary(b.unary(z, DS4_UNARY_NEG), DS4_UNARY_EXP);
    T* den = times_two ? b.scale(e, 0.5f, 0.5f) : b.scale(e, 1.0f, 1.0f);
    return b.unary(den, DS4_UNARY_RECIP);
}

// z = mix_part · scale_s + base_part (two roundings, as the fused op).
T* affine(Builder& b, const T* mix_part, const T* scale_elem, const T* base_part) {
    return b.add(b.mul(mix_part, scale_elem), base_part);
}

}  // namespace

void decompose_hc_pre(Graph& g, const ds4_node& node) {
    Builder b(g);
    const auto p = read_params<ds4_params_hc>(node);
    const T *X = src(node, 0), *fn = src(node, 1), *scale = src(node, 2), *base = src(node, 3);
    const T *x_in = dst(node, 0), *post = dst(node, 1), *comb = dst(node, 2);
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    require(H > 0 && X->ne[1] == H, node.op, "X ne1 must equal n_hc");
    require(fn->ne[1] == H * (2 + H) && fn->ne[0] == H * d, node.op, "fn must be [n_hc·(2+n_hc)][n_hc·d]");
    require(p.sinkhorn_iters >= 1, node.op, "sinkhorn_iters must be >= 1");

    T* mix = hc_mix(b, X, fn, p.norm_eps, H, d, n);  // [n][H(2+H)]
    const int64_t mnb1 = mix->nb[1];
    const T* mix_pre = b.view(mix, {H, n}, {4, mnb1}, 0);
    const T* mix_post = b.view(mix, {H, n}, {4, mnb1}, 4 * H);
    const T* mix_comb = b.view(mix, {H, H, n}, {4, 4 * H, mnb1}, 8 * H);
    const T* base_pre = b.view(base, {H}, {base->nb[0]}, 0);
    const T* base_post = b.view(base, {H}, {base->nb[0]}, H * base->nb[0]);
    const T* base_comb = b.view(base, {H, H}, {base->nb[0], H * base->nb[0]}, 2 * H * base->nb[0]);

    T* pre = b.scale(literal_gate(b, affine(b, mix_pre, b.elem(scale, 0), base_pre), false), 1.0f, p.hc_eps);
    T* post_v = literal_gate(b, affine(b, mix_post, b.elem(scale, 1), base_post), true);
    b.copy(post_v, post);

    // Sinkhorn on M[t][a][c] (ne {c, a, n}).
    T* Z = affine(b, mix_comb, b.elem(scale, 2), base_comb);
    T* M = b.scale(b.softmax(Z, nullptr, nullptr, 1.0f), 1.0f, p.hc_eps);
    auto normalize = [&](T* m, bool columns) {
        // Sums over c (rows, ne0) or over a (columns, through a transposed view), + eps, 1/x,
        // then multiply: the fused op's "multiply by the f32 reciprocal 1/(Σ+eps)".
        const T* src_view = columns ? b.view(m, {H, H, n}, {4 * H, 4, 4 * H * H}) : m;
        T* inv = b.unary(b.scale(b.sum_rows(src_view), 1.0f, p.hc_eps), DS4_UNARY_RECIP);  // {1, H, n}
        const T* bc = columns ? b.view(inv, {H, 1, n}, {4, 4 * H, 4 * H}) : inv;
        return b.mul(m, bc);
    };
    M = normalize(M, true);
    for (uint32_t it = 1; it < p.sinkhorn_iters; ++it) M = normalize(normalize(M, false), true);
    b.copy(M, comb);

    collapse(b, pre, X, x_in, H, d, n);
}

void decompose_hc_post(Graph& g, const ds4_node& node) {
    Builder b(g);
    const auto p = read_params<ds4_params_hc>(node);
    const T *y = src(node, 0), *X = src(node, 1), *post = src(node, 2), *comb = src(node, 3);
    const T* out = dst(node, 0);
    const int64_t H = p.n_hc, d = y->ne[0], n = y->ne[1];
    require(H > 0 && X->ne[1] == H && X->ne[0] == d, node.op, "X must be [n][n_hc][d]");
    // Σ_a comb[a][c]·X[a][i]: A = combᵀ [n][c][a], B = Xᵀ [n][i][a] → [n][c][i].
    const T* combT = b.view(comb, {H, H, n}, {comb->nb[1], comb->nb[0], comb->nb[2]});
    const T* XT = b.view(X, {H, d, n}, {X->nb[1], X->nb[0], X->nb[2]});
    T* mixed = b.matmul_f32(combT, XT);
    // post[c]·y[i] as a K = 1 product: A = post [n][c][1], B = y [n][i][1].
    const T* A = b.view(post, {1, H, n}, {4, post->nb[0], post->nb[1]});
    const T* B = b.view(y, {1, d, n}, {4, y->nb[0], y->nb[1]});
    T* py = b.matmul_f32(A, B);
    b.binary_into(DS4_OP_ADD, py, mixed, out);
}

void decompose_hc_head(Graph& g, const ds4_node& node) {
    Builder b(g);
    const auto p = read_params<ds4_params_hc>(node);
    const T *X = src(node, 0), *fn = src(node, 1), *scale = src(node, 2), *base = src(node, 3);
    const T* out = dst(node, 0);
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    require(H > 0 && X->ne[1] == H, node.op, "X ne1 must equal n_hc");
    require(fn->ne[1] == H && fn->ne[0] == H * d, node.op, "fn must be [n_hc][n_hc·d]");
    T* mix = hc_mix(b, X, fn, p.norm_eps, H, d, n);  // [n][H]
    T* z = affine(b, mix, b.elem(scale, 0), base);
    T* w = b.scale(b.unary(z, DS4_UNARY_SIGMOID), 1.0f, p.hc_eps);  // stable sigmoid (§C.5)
    collapse(b, w, X, out, H, d, n);
}

}  // namespace ds4::decompose::detail
