// The whole graph of one chunk, and the shape-only scratch estimate built from it.
#include "host/status.h"
#include "model/forward.h"
#include "model/layout.h"
#include "model/session.h"

namespace ds4::model {
namespace detail {

uint64_t build_chunk(host::Graph& g, ds4_buffer* scratch_buf, const ModelConfig& cfg, const NumericsOptions& num,
                     const GlobalWeights& gw, const std::vector<LayerWeights>& lw,
                     const std::vector<LayerState>& layers, uint32_t raw_cap, const ChunkIo& io, uint32_t n,
                     bool all_logits) {
    Arena arena(g, scratch_buf);
    const int64_t d = cfg.d, hc = cfg.n_hc;
    ds4_tensor* tokens = g.tensor(DS4_TYPE_I32, {n}, io.inputs, 0);
    ds4_tensor* positions = g.tensor(DS4_TYPE_I32, {n}, io.inputs, uint64_t(io.chunk_cap) * 4);
    ds4_tensor* gids = g.tensor(DS4_TYPE_I32, {cfg.o_groups, n}, io.inputs, uint64_t(io.chunk_cap) * 8);
    ForwardCtx c{g, arena, cfg, num, n, raw_cap, tokens, positions, gids};

    // Two HC states, ping-ponged: attention reads X and writes X1, the FFN writes X back.
    ds4_tensor* X = arena.f32({d, hc, n});
    ds4_tensor* X1 = arena.f32({d, hc, n});
    build_embedding(c, gw, X);
    for (uint32_t il = 0; il < cfg.n_layer; ++il) {
        uint64_t mark = arena.mark();  // this layer's temporaries are released below
        build_attention_half(c, il, lw[il], layers[il], X, X1);
        build_ffn_half(c, il, lw[il], X1, X);
        arena.release(mark);
    }
    uint32_t m = all_logits ? n : 1;
    ds4_tensor* out = g.tensor(DS4_TYPE_F32, {cfg.vocab, m}, io.logits, 0);
    build_head(c, gw, X, all_logits, out);
    return arena.peak();
}

}  // namespace detail

uint64_t Session::scratch_estimate(const ModelConfig& cfg, uint32_t n_tokens, bool all_logits) {
    // Descriptors with the layout's shapes (F32, no buffers): enough to build and measure.
    std::vector<TensorSpec> specs = model_tensors(cfg);
    std::vector<std::pair<std::string, ds4_tensor>> fake;
    fake.reserve(specs.size());
    for (const TensorSpec& s : specs) {
        ds4_tensor t{};
        t.struct_size = sizeof(t);
        t.type = s.cls == TensorClass::Tid2Eid ? DS4_TYPE_I32 : DS4_TYPE_F32;
        for (int i = 0; i < DS4_MAX_DIMS; ++i) t.ne[i] = i < static_cast<int>(s.ne.size()) ? s.ne[i] : 1;
        t.nb[0] = 4;
        for (int i = 1; i < DS4_MAX_DIMS; ++i) t.nb[i] = t.nb[i - 1] * t.ne[i - 1];
        fake.emplace_back(s.name, t);
    }
    GlobalWeights gw;
    std::vector<LayerWeights> lw;
    detail::assign_weight_fields(
        [&](const std::string& name) -> const ds4_tensor* {
            for (auto& [n, t] : fake)
                if (n == name) return &t;
            return nullptr;
        },
        cfg.n_layer, gw, lw);
    ContextMemory mem = context_memory(cfg, std::max<uint64_t>(n_tokens, 1), n_tokens);
    std::vector<detail::LayerState> layers;
    detail::layout_state(cfg, std::max<uint64_t>(n_tokens, 1), mem.raw_cap, layers);
    host::Graph g;
    detail::ChunkIo io{nullptr, n_tokens, nullptr};
    return detail::build_chunk(g, nullptr, cfg, NumericsOptions::official(), gw, lw, layers, mem.raw_cap, io,
                               n_tokens, all_logits);
}

}  // namespace ds4::model
