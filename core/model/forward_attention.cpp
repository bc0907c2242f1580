// Attention half of a layer (MODEL.md §C.2, §C.3): HC pre, q/kv paths, raw ring, compressors,
// lightning indexer, sparse attention with sinks, inverse RoPE, grouped output, HC post.
#include <cmath>

#include "host/status.h"
#include "model/forward.h"

namespace ds4::model::detail {
namespace {
constexpr uint32_t kNoSim = UINT32_MAX;  // COMPRESSOR row_sim: no simulation
}  // namespace

ds4_tensor* Arena::alloc(ds4_type type, std::initializer_list<int64_t> ne) {
    constexpr uint64_t kAlign = 256;
    top_ = (top_ + kAlign - 1) / kAlign * kAlign;
    ds4_tensor* t = g_.tensor(type, ne, buf_, top_);
    top_ += host::Graph::nbytes(*t);
    if (top_ > peak_) peak_ = top_;
    return t;
}

ds4_rope_params ForwardCtx::rope(uint32_t il) const {
    ds4_rope_params r{};
    r.struct_size = sizeof(r);
    r.n_rot = cfg.n_rot;
    // Uncompressed layers: plain RoPE; compressed layers: compress base + YaRN (MODEL.md §C.3.3).
    bool compressed = cfg.ratio(il) != 0;
    r.freq_base = compressed ? cfg.compress_rope_freq_base : cfg.rope_freq_base;
    r.yarn_factor = compressed ? cfg.rope_scale_factor : 1.0f;
    r.yarn_beta_fast = cfg.yarn_beta_fast;
    r.yarn_beta_slow = cfg.yarn_beta_slow;
    r.yarn_orig_ctx = static_cast<uint32_t>(cfg.rope_orig_ctx);
    return r;
}

ds4_params_hc ForwardCtx::hc() const {
    auto p = host::params<ds4_params_hc>();
    p.n_hc = cfg.n_hc;
    p.sinkhorn_iters = cfg.sinkhorn_iters;
    p.hc_eps = cfg.hc_eps;
    p.norm_eps = cfg.rms_eps;
    return p;
}

void build_attention_half(ForwardCtx& c, uint32_t il, const LayerWeights& w, const LayerState& st,
                          const ds4_tensor* X, ds4_tensor* X_out) {
    host::Graph& g = c.g;
    Arena& A = c.arena;
    const ModelConfig& cfg = c.cfg;
    const int64_t n = c.n, d = cfg.d, hd = cfg.head_dim, nh = cfg.n_head, G = cfg.o_groups;

    // HC pre → sublayer input, post weights, Sinkhorn comb.
    ds4_tensor* x_in = A.f32({d, n});
    ds4_tensor* post = A.f32({cfg.n_hc, n});
    ds4_tensor* comb = A.f32({cfg.n_hc, cfg.n_hc, n});
    g.add(DS4_OP_HC_PRE, {X, w.hc_attn_fn, w.hc_attn_scale, w.hc_attn_base}, {x_in, post, comb}, c.hc());
    ds4_tensor* a = A.f32({d, n});
    g.add(DS4_OP_RMS_NORM, {x_in, w.attn_norm}, {a}, rms(cfg.rms_eps));

    // Query path: low rank, weighted norm (qr_n also feeds the indexer), per-head unweighted
    // norm, RoPE on each head's tail.
    ds4_tensor* qr = A.f32({cfg.q_rank, n});
    g.add(DS4_OP_MATMUL, {w.q_a, a}, {qr}, mm(c));
    g.add(DS4_OP_RMS_NORM, {qr, w.q_a_norm}, {qr}, rms(cfg.rms_eps));
    ds4_tensor* q = A.f32({hd, nh, n});
    g.add(DS4_OP_MATMUL, {w.q_b, g.reshape(qr, {cfg.q_rank, n})}, {g.reshape(q, {hd * nh, n})}, mm(c));
    ds4_tensor* q_rows = g.reshape(q, {hd, nh * n});
    g.add(DS4_OP_RMS_NORM, {q_rows}, {q_rows}, rms(cfg.rms_eps));
    g.add(DS4_OP_ROPE_TAIL, {q, c.positions}, {q}, c.rope_op(il, 2, false));

    // KV path: the single shared K=V head; RoPE, FP8 simulation of the nope dims, F16 round
    // trip of the cached row, then into the ring at row p mod raw_cap.
    ds4_tensor* kv = A.f32({hd, n});
    g.add(DS4_OP_MATMUL, {w.kv, a}, {kv}, mm(c));
    g.add(DS4_OP_RMS_NORM, {kv, w.kv_norm}, {kv}, rms(cfg.rms_eps));
    g.add(DS4_OP_ROPE_TAIL, {kv, c.positions}, {kv}, c.rope_op(il, 1, false));
    if (c.num.fp8_kv) g.add(DS4_OP_QUANT_SIM, {kv}, {kv}, sim(DS4_SIM_FP8_KV, cfg.n_nope()));
    if (c.num.f16_raw_rows) g.add(DS4_OP_QUANT_SIM, {kv}, {kv}, sim(DS4_SIM_F16_ROUND, 0));
    auto sr = host::params<ds4_params_set_rows>();
    sr.row_modulo = c.raw_cap;
    g.add(DS4_OP_SET_ROWS, {kv, c.positions}, {&st.ring}, sr);

    // Compressors and the lightning indexer.
    const ds4_tensor* comp_rows = nullptr;
    const ds4_tensor* selected = nullptr;
    if (cfg.ratio(il) != 0) {
        auto cp = host::params<ds4_params_compressor>();
        cp.ratio = cfg.ratio(il);
        cp.head_dim = cfg.head_dim;
        cp.row_sim = c.num.fp8_kv ? uint32_t(DS4_SIM_FP8_KV) : kNoSim;
        cp.n_nope = cfg.n_nope();
        cp.round_f16 = c.num.f16_comp_rows ? 1 : 0;
        cp.act_quant = c.act_quant();
        cp.norm_eps = cfg.rms_eps;
        cp.rope = c.rope(il);
        g.add(DS4_OP_COMPRESSOR, {a, w.comp_kv, w.comp_gate, w.comp_ape, w.comp_norm, c.positions},
              {&st.comp_kv, &st.comp_sc, &st.comp}, cp);
        comp_rows = &st.comp;
        if (cfg.kind(il) == AttnKind::CSA) {
            auto ip = cp;
            ip.head_dim = cfg.idx_head_dim;
            ip.row_sim = c.num.indexer_qat ? uint32_t(DS4_SIM_INDEXER_QAT) : kNoSim;
            ip.n_nope = 0;
            ip.round_f16 = 0;  // indexer rows are FP4-simulated (or exact); never F16-rounded
            g.add(DS4_OP_COMPRESSOR, {a, w.idx_comp_kv, w.idx_comp_gate, w.idx_comp_ape, w.idx_comp_norm, c.positions},
                  {&st.idx_kv, &st.idx_sc, &st.idx}, ip);
            auto xp = host::params<ds4_params_indexer>();
            xp.n_heads = cfg.idx_heads;
            xp.head_dim = cfg.idx_head_dim;
            xp.top_k = cfg.idx_top_k;
            xp.ratio = cfg.ratio(il);
            xp.qat = c.num.indexer_qat ? 1 : 0;
            xp.act_quant = c.act_quant();
            xp.weight_scale = static_cast<float>(1.0 / std::sqrt(double(cfg.idx_head_dim) * cfg.idx_heads));
            xp.rope = c.rope(il);
            ds4_tensor* sel = A.i32({cfg.idx_top_k, n});
            g.add(DS4_OP_INDEXER_TOPK, {qr, a, w.idx_q_b, w.idx_proj, &st.idx, c.positions}, {sel}, xp);
            selected = sel;
        }
    }

    // Attention over raw window + (selected) compressed rows, with per-head sinks.
    ds4_tensor* o = A.f32({hd, nh, n});
    auto ap = host::params<ds4_params_attention>();
    ap.window = cfg.window;
    ap.raw_cap = c.raw_cap;
    ap.ratio = cfg.ratio(il);
    ap.scale = static_cast<float>(1.0 / std::sqrt(double(hd)));
    g.add(DS4_OP_ATTENTION, {q, &st.ring, comp_rows, selected, w.sinks, c.positions}, {o}, ap);
    // V carries rotated dims: de-rotate each head output at the query position.
    g.add(DS4_OP_ROPE_TAIL, {o, c.positions}, {o}, c.rope_op(il, 2, true));

    // Grouped low-rank output: group gi's heads (contiguous) times rows gi·o_rank.. of W_out_a,
    // as a MATMUL_ID with ids 0..G-1, then the dense W_out_b.
    const int64_t in_g = cfg.heads_per_group() * hd;
    const ds4_tensor* wa = w.out_a;
    ds4_tensor* wa3 = g.view(wa, {in_g, cfg.o_rank, G}, {wa->nb[0], wa->nb[1], wa->nb[1] * cfg.o_rank});
    ds4_tensor* low = A.f32({cfg.o_rank, G, n});
    g.add(DS4_OP_MATMUL_ID, {wa3, g.reshape(o, {in_g, G, n}), c.group_ids}, {low}, mm(c));
    ds4_tensor* y = A.f32({d, n});
    g.add(DS4_OP_MATMUL, {w.out_b, g.reshape(low, {G * cfg.o_rank, n})}, {y}, mm(c));

    g.add(DS4_OP_HC_POST, {y, X, post, comb}, {X_out}, c.hc());
}

}  // namespace ds4::model::detail
