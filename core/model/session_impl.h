// Internal: Session::Impl — device buffers of a session, compiled chunk plans, checkpoints.
#pragma once
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "host/device.h"
#include "model/forward.h"
#include "model/session.h"

namespace ds4::model {

struct Session::Impl {
    const ModelConfig& cfg;
    const ModelWeights& weights;
    const host::Device& dev;
    uint32_t raw_cap = 0;
    uint32_t chunk_cap = 0;        // max tokens per graph

    host::Buffer state;            // every layer's ring, rows and frontier (one allocation)
    std::vector<detail::LayerState> layers;
    host::Buffer inputs;           // I32: tokens[chunk_cap], positions[chunk_cap], group ids
    host::Buffer scratch;          // activations (Arena), reused by every layer
    uint64_t scratch_size = 0;
    host::Buffer logits;           // F32 [logits_rows][vocab]
    uint32_t logits_rows = 0;

    struct Compiled {
        host::Plan plan;
        host::Buffer graph_scratch;  // scratch of nodes added by Tier-1 lowering, if any
        bool per_step = false;       // Tier-1 nodes must be lowered: rebuild for every chunk
    };
    std::map<std::pair<uint32_t, bool>, Compiled> plans;  // (n tokens, all logits)

    struct Checkpoint {
        uint64_t pos = 0;
        std::vector<uint8_t> state;  // save_state(pos, rows = false)
        std::vector<float> logits;
    };
    std::deque<Checkpoint> checkpoints;
    host::Buffer step_scratch;     // decomposition scratch of per-step (lowered) graphs
    uint64_t step_scratch_size = 0;

    Impl(const ModelConfig& c, const ModelWeights& w, const host::Device& d) : cfg(c), weights(w), dev(d) {}

    void allocate(const SessionOptions& opts, const ContextMemory& mem);
    void reset_frontier();
    // Builds the chunk graph into g (scratch == nullptr: measuring pass).
    uint64_t build(host::Graph& g, ds4_buffer* scratch_buf, uint32_t n, bool all_logits,
                   const NumericsOptions& num) const;
    Compiled& compiled(uint32_t n, bool all_logits, const NumericsOptions& num, bool lower_all);

    // Live state at n_past as bytes: per layer the raw rows of positions [n−window, n) in
    // order, [compressed rows], frontier kv/score, and for CSA [indexer rows], indexer frontier.
    // rows = false leaves out the append-only rows (checkpoints).
    std::vector<uint8_t> save_state(uint64_t n_past, bool rows) const;
    uint64_t state_size(uint64_t n_past, bool rows) const;
    void load_state(const std::vector<uint8_t>& bytes, uint64_t n_past, bool rows);
};

}  // namespace ds4::model
