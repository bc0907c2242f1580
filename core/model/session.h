// ds4::model::Session — the per-sequence state of a Model on its device, and evaluation of
// token chunks through compiled graphs (docs/model.md).
//
// State per layer (device buffers, MODEL.md §D): raw ring [raw_cap][head_dim] with
// raw_cap = window + prefill_chunk − 1 (position p in row p mod raw_cap); compressed rows
// [ctx/ratio][head_dim]; CSA indexer rows [ctx/ratio][idx_head_dim]; compressor frontier
// state kv (0) / score (−∞). The context size is fixed at creation; the memory is computed
// first (Session::memory) and a context that does not fit is refused with the numbers.
//
// eval(tokens): splits the tokens into chunks ending on absolute multiples of prefill_chunk
// (so a resumed prefill finalizes compressor rows in the same order as a cold one), builds
// one graph per distinct chunk length (cached plans: decode reuses one plan every step),
// writes token ids / positions into a small I32 input buffer and submits. Returns the last
// token's logits, or all tokens' logits row-major [n][vocab] when all_logits.
//
// rewind(k): position k ≤ n_past becomes the end of the sequence. Compressed rows below
// floor(k/ratio) are append-only and stay valid; the raw window before k and the compressor
// frontier are restored from the newest checkpoint at s ≤ k (taken at the start of eval
// calls: raw rows [s−window, s), compressor states, last logits) and tokens [s, k) are
// replayed from the token history; without a usable checkpoint the whole prefix is replayed.
// Both are exact because evaluation is chunking-independent.
//
// snapshot()/restore(): every live state byte + token history + last logits, in memory.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "host/device.h"
#include "model/config.h"
#include "model/numerics.h"

namespace ds4::model {

class Model;

struct SessionOptions {
    uint64_t ctx = 4096;             // tokens of KV state (positions 0..ctx-1)
    uint32_t prefill_chunk = 2048;   // max tokens per graph; 1 = the decode path for everything
    Numerics numerics = Numerics::Official;
    // When set, overrides the preset of `numerics` toggle by toggle (tests, experiments).
    bool custom_numerics = false;
    NumericsOptions numerics_options;
    uint32_t max_checkpoints = 8;    // rewind checkpoints kept (0 = rewind always replays from 0)
    uint32_t checkpoint_stride = 256;  // take one at the start of an eval when the newest is this old
    // Testing: decompose EVERY Tier-1 node into Tier-0 ops even when the backend runs it
    // (unclaimed Tier-1 nodes are always decomposed). Decomposed graphs depend on positions
    // and token ids, so they are rebuilt for every chunk instead of being cached.
    bool lower_tier1 = false;
};

// (tokens done, tokens total) during eval.
using EvalProgress = std::function<void(uint64_t done, uint64_t total)>;

// Everything needed to continue a session exactly.
struct SessionSnapshot {
    uint64_t n_past = 0;
    std::vector<int32_t> tokens;
    std::vector<float> last_logits;
    std::vector<uint8_t> state;      // live state bytes, layer by layer (see session.cpp)
};

class Session {
public:
    // Allocates state (throws ds4::Error with the numbers when it cannot).
    Session(const Model& model, const SessionOptions& opts);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // State bytes a session with these options needs (before allocating anything).
    static ContextMemory memory(const ModelConfig& cfg, const SessionOptions& opts);
    // Activation scratch one chunk graph of n_tokens needs (shape-only build, no device).
    static uint64_t scratch_estimate(const ModelConfig& cfg, uint32_t n_tokens, bool all_logits = false);

    // Evaluates `tokens` at positions n_past().. . Returns the last token's logits [vocab], or
    // every token's logits [n][vocab] when all_logits. Throws ds4::Error (context full, bad
    // token id, backend failure); on a throw the session is left at its previous n_past
    // (state rows past it are invisible).
    std::vector<float> eval(const std::vector<int32_t>& tokens, bool all_logits = false,
                            const EvalProgress& progress = {});

    uint64_t n_past() const { return n_past_; }
    uint64_t ctx() const { return opts_.ctx; }
    const std::vector<int32_t>& tokens() const { return history_; }
    const std::vector<float>& last_logits() const { return last_logits_; }
    const NumericsOptions& numerics() const { return numerics_; }
    const ContextMemory& memory() const { return mem_; }
    uint64_t scratch_bytes() const;  // current graph scratch allocation

    void rewind(uint64_t k);         // throws if k > n_past
    void reset() { rewind(0); }
    SessionSnapshot snapshot() const;
    void restore(const SessionSnapshot& snap);  // throws on a snapshot of another shape

    struct Impl;  // forward graph builder and state layout (session.cpp, forward_*.cpp)

private:
    void eval_chunk(const int32_t* tokens, uint32_t n, bool all_logits, float* logits_out);
    void eval_chunk_lowered(const int32_t* tokens, const int32_t* positions, uint32_t n, bool all_logits);
    void maybe_checkpoint();

    const Model& model_;
    SessionOptions opts_;
    NumericsOptions numerics_;
    ContextMemory mem_;
    std::unique_ptr<Impl> impl_;
    uint64_t n_past_ = 0;
    std::vector<int32_t> history_;
    std::vector<float> last_logits_;
};

}  // namespace ds4::model
