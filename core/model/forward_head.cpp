// Embedding into the HC state (MODEL.md §C.1) and the output head (§C.5).
#include "host/status.h"
#include "model/forward.h"

namespace ds4::model::detail {

ds4_tensor* build_embedding(ForwardCtx& c, const GlobalWeights& w, ds4_tensor* X) {
    host::Graph& g = c.g;
    const int64_t n = c.n, d = c.cfg.d, hc = c.cfg.n_hc;
    ds4_tensor* e = c.arena.f32({d, n});
    g.add(DS4_OP_GET_ROWS, {w.token_embd, c.tokens}, {e});
    // No embedding scale; every stream starts as the same row.
    for (int64_t s = 0; s < hc; ++s) {
        ds4_tensor* stream = g.view(X, {d, n}, {4, hc * d * 4}, static_cast<uint64_t>(s * d * 4));
        g.add(DS4_OP_COPY, {e}, {stream});
    }
    return X;
}

void build_head(ForwardCtx& c, const GlobalWeights& w, const ds4_tensor* X, bool all_tokens, ds4_tensor* logits) {
    host::Graph& g = c.g;
    const int64_t n = c.n, d = c.cfg.d, hc = c.cfg.n_hc;
    const int64_t m = all_tokens ? n : 1;
    const ds4_tensor* Xm = X;
    if (!all_tokens)  // only the last token's logits are needed
        Xm = g.view(X, {d, hc, 1}, {4, d * 4, hc * d * 4}, static_cast<uint64_t>((n - 1) * hc * d * 4));
    ds4_tensor* h = c.arena.f32({d, m});
    g.add(DS4_OP_HC_HEAD, {Xm, w.hc_head_fn, w.hc_head_scale, w.hc_head_base}, {h}, c.hc());
    ds4_tensor* hn = c.arena.f32({d, m});
    g.add(DS4_OP_RMS_NORM, {h, w.output_norm}, {hn}, rms(c.cfg.rms_eps));
    g.add(DS4_OP_MATMUL, {w.output, hn}, {logits}, mm(c));
}

}  // namespace ds4::model::detail
