// Internal: building the graph of one chunk of tokens (docs/model.md "Graphs").
// Not a public header: used by session.cpp and forward_*.cpp only.
//
// A chunk graph for n tokens at positions pos..pos+n-1 (positions and token ids are data in a
// small I32 input buffer, so one compiled plan serves every position with the same n):
//   embedding → for each layer: attention half (forward_attention.cpp), FFN half
//   (forward_ffn.cpp) → HC head, norm, LM head (forward_head.cpp).
// Activations live in one scratch buffer carved by Arena; each layer releases its
// temporaries so every layer reuses the same region (scratch ≈ one layer's activations + the
// two HC states), independent of the layer count.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "host/graph.h"
#include "model/config.h"
#include "model/numerics.h"
#include "model/weights.h"

namespace ds4::model::detail {

// Bump allocator of contiguous tensors in one buffer (nullptr while measuring).
class Arena {
public:
    Arena(host::Graph& g, ds4_buffer* buf) : g_(g), buf_(buf) {}
    ds4_tensor* alloc(ds4_type type, std::initializer_list<int64_t> ne);
    ds4_tensor* f32(std::initializer_list<int64_t> ne) { return alloc(DS4_TYPE_F32, ne); }
    ds4_tensor* i32(std::initializer_list<int64_t> ne) { return alloc(DS4_TYPE_I32, ne); }
    uint64_t mark() const { return top_; }
    void release(uint64_t mark) { top_ = mark; }
    uint64_t peak() const { return peak_; }

private:
    host::Graph& g_;
    ds4_buffer* buf_;
    uint64_t top_ = 0, peak_ = 0;
};

// Device descriptors of one layer's session state (all F32 except as noted).
struct LayerState {
    ds4_tensor ring{};                   // [raw_cap][head_dim]
    ds4_tensor comp{}, comp_kv{}, comp_sc{};  // rows [cap][head_dim]; frontier [coff·r][coff·D]
    ds4_tensor idx{}, idx_kv{}, idx_sc{};     // CSA: rows [cap][idx_head_dim]; frontier
    bool has_comp = false, has_idx = false;
};

// Everything a sublayer builder needs.
struct ForwardCtx {
    host::Graph& g;
    Arena& arena;
    const ModelConfig& cfg;
    const NumericsOptions& num;
    uint32_t n;                  // tokens in the chunk
    uint32_t raw_cap;            // rows of each raw ring
    const ds4_tensor* tokens;    // I32 [n]
    const ds4_tensor* positions; // I32 [n]
    const ds4_tensor* group_ids; // I32 [n][o_groups] = 0..G-1 per token (grouped output)

    uint32_t act_quant() const { return num.act_quant_ds4 ? DS4_ACT_DS4 : DS4_ACT_F32; }
    ds4_rope_params rope(uint32_t layer) const;
    ds4_params_hc hc() const;
    ds4_params_rope rope_op(uint32_t layer, uint32_t pos_dim, bool inverse) const {
        auto p = host::params<ds4_params_rope>();
        p.inverse = inverse ? 1 : 0;
        p.pos_dim = pos_dim;
        p.rope = rope(layer);
        return p;
    }
};

inline ds4_params_rms_norm rms(float eps) {
    auto p = host::params<ds4_params_rms_norm>();
    p.eps = eps;
    return p;
}
inline ds4_params_matmul mm(const ForwardCtx& c) {
    auto p = host::params<ds4_params_matmul>();
    p.act_quant = c.act_quant();
    return p;
}
inline ds4_params_quant_sim sim(uint32_t kind, uint32_t n_nope) {
    auto p = host::params<ds4_params_quant_sim>();
    p.kind = kind;
    p.n_nope = n_nope;
    return p;
}

// X [n][n_hc][d] = n_hc copies of the token embeddings.
ds4_tensor* build_embedding(ForwardCtx& c, const GlobalWeights& w, ds4_tensor* X);
// X_out = HC_POST(attention(HC_PRE(X)), X): MODEL.md §C.2–§C.3; updates the layer state.
void build_attention_half(ForwardCtx& c, uint32_t il, const LayerWeights& w, const LayerState& st,
                          const ds4_tensor* X, ds4_tensor* X_out);
// X_out = HC_POST(MoE(HC_PRE(X)), X): MODEL.md §C.4.
void build_ffn_half(ForwardCtx& c, uint32_t il, const LayerWeights& w, const ds4_tensor* X, ds4_tensor* X_out);
// logits [m][vocab] of the last token (m = 1) or of every token (m = n): MODEL.md §C.5.
void build_head(ForwardCtx& c, const GlobalWeights& w, const ds4_tensor* X, bool all_tokens, ds4_tensor* logits);

// Where a chunk graph reads its inputs and writes its logits.
struct ChunkIo {
    ds4_buffer* inputs = nullptr;  // I32: tokens[chunk_cap], positions[chunk_cap], group ids
    uint32_t chunk_cap = 0;
    ds4_buffer* logits = nullptr;  // F32 [rows][vocab]
};

// The whole chunk graph (embedding, every layer, head) into g; scratch_buf == nullptr measures.
// Returns the scratch bytes the graph needs.
uint64_t build_chunk(host::Graph& g, ds4_buffer* scratch_buf, const ModelConfig& cfg, const NumericsOptions& num,
                     const GlobalWeights& gw, const std::vector<LayerWeights>& lw,
                     const std::vector<LayerState>& layers, uint32_t raw_cap, const ChunkIo& io, uint32_t n,
                     bool all_logits);

// Fills the weight descriptors from `get(name)` (nullptr when absent) by exact ds4 names.
void assign_weight_fields(const std::function<const ds4_tensor*(const std::string&)>& get, uint32_t n_layer,
                          GlobalWeights& global, std::vector<LayerWeights>& layers);

// Layer state descriptors (offsets from 0, no buffer) and their total size.
uint64_t layout_state(const ModelConfig& cfg, uint64_t ctx, uint32_t raw_cap, std::vector<LayerState>& layers);

}  // namespace ds4::model::detail
