// ds4::model::ModelConfig — the shape of a DeepSeek V4 family model, READ from GGUF metadata
// (MODEL.md §A.3), never hard-coded. Tiny test models use the same keys with small values.
//
//   auto file = ds4::gguf::File::open("model.gguf");
//   auto cfg  = ds4::model::ModelConfig::from_gguf(file);   // throws ds4::Error, first bad key named
//   auto mem  = ds4::model::context_memory(cfg, 32768, 2048);
//
// Validation rules (docs/model.md):
//   * every required key present with an accepted GGUF type (u32 keys: UINT32; "num" keys:
//     FLOAT32/FLOAT64/UINT32/INT32; u64 keys: UINT64/UINT32; arrays: UINT32/INT32 ratios,
//     FLOAT32/FLOAT64 clamps, at least n_layer entries);
//   * consistency as a DS4-family model: head_count_kv = 1, key_length = value_length,
//     key_length > rope dims (even), head_count divisible by output groups, experts used ≤
//     experts, hash layers ≤ layers, ratios ∈ {0} ∪ {r ≥ 2}, indexer head dim 128 (the
//     Hadamard-128 of the indexer QAT), n_hc ≥ 1, positive eps values;
//   * a layer with ratio 4 is CSA (overlapping compressor + lightning indexer); any other
//     nonzero ratio is HCA. This is the rule of ds4 and of the COMPRESSOR op (overlap ⇔
//     ratio 4); from_gguf additionally checks that the indexer tensors are present exactly on
//     the CSA layers, so small test ratios (4 and e.g. 8, 16) work as in the real model;
//   * a file claiming the real architecture (43 layers × 4096 wide) must match every value
//     ds4 checks exactly (ratios [0,0,4,128,4,...], clamps 10, rope 10000/160000, YaRN 16, ...).
// Errors read "<file>: deepseek4.attention.head_count_kv = 2, expected 1".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ds4::gguf {
class File;
class Writer;
}  // namespace ds4::gguf

namespace ds4::model {

// Attention kind of a layer (MODEL.md §A.2).
enum class AttnKind : uint8_t {
    Sliding,  // ratio 0: raw sliding window only
    CSA,      // ratio 4: overlapping compressor (coff 2) + lightning indexer
    HCA,      // other ratios: non-overlapping compressor, every compressed row visible
};
const char* attn_kind_name(AttnKind k);

struct ModelConfig {
    // ---- informative ----
    std::string name;          // general.name (may be empty)
    std::string architecture;  // general.architecture ("deepseek4")
    uint64_t context_length = 0;  // deepseek4.context_length (printed only, optional)

    // ---- shapes (MODEL.md §A.1) ----
    uint32_t n_layer = 0;          // block_count
    uint32_t d = 0;                // embedding_length
    uint32_t vocab = 0;            // vocab_size
    uint32_t n_head = 0;           // attention.head_count
    uint32_t n_head_kv = 0;        // attention.head_count_kv (must be 1)
    uint32_t head_dim = 0;         // attention.key_length (= value_length)
    uint32_t n_rot = 0;            // rope.dimension_count (last n_rot dims of each head)
    uint32_t q_rank = 0;           // attention.q_lora_rank
    uint32_t o_rank = 0;           // attention.output_lora_rank (per group)
    uint32_t o_groups = 0;         // attention.output_group_count
    uint32_t n_expert = 0;         // expert_count
    uint32_t n_expert_used = 0;    // expert_used_count
    uint32_t expert_ff = 0;        // expert_feed_forward_length (routed and shared)
    uint32_t n_expert_shared = 0;  // expert_shared_count (1)
    uint32_t n_hash_layer = 0;     // hash_layer_count (layers 0..n_hash_layer-1 are hash routed)
    uint32_t expert_group_count = 0, expert_group_used = 0;  // optional, must be 0
    uint32_t window = 0;           // attention.sliding_window (includes the current token)
    uint32_t idx_heads = 0;        // attention.indexer.head_count
    uint32_t idx_head_dim = 0;     // attention.indexer.key_length (128)
    uint32_t idx_top_k = 0;        // attention.indexer.top_k
    uint32_t n_hc = 0;             // hyper_connection.count
    uint32_t sinkhorn_iters = 0;   // hyper_connection.sinkhorn_iterations
    std::vector<uint32_t> compress_ratios;  // per layer (first n_layer entries of the array)
    std::vector<float> swiglu_clamp;        // per layer

    // ---- RoPE / YaRN ----
    float rope_freq_base = 0;           // rope.freq_base (uncompressed layers, no YaRN)
    float compress_rope_freq_base = 0;  // attention.compress_rope_freq_base (+ YaRN)
    float rope_scale_factor = 0;        // rope.scaling.factor
    float yarn_beta_fast = 0, yarn_beta_slow = 0;
    uint64_t rope_orig_ctx = 0;         // rope.scaling.original_context_length

    // ---- scales and epsilons ----
    float expert_weights_scale = 0;  // expert_weights_scale (1.5)
    float rms_eps = 0;               // attention.layer_norm_rms_epsilon
    float hc_eps = 0;                // hyper_connection.epsilon
    bool expert_weights_norm = true; // expert_weights_norm

    // ---- derived ----
    uint32_t ratio(uint32_t layer) const { return compress_ratios[layer]; }
    AttnKind kind(uint32_t layer) const;
    bool is_hash(uint32_t layer) const { return layer < n_hash_layer; }
    // Compressor overlap factor: 2 for CSA, 1 otherwise (MODEL.md §C.3.5).
    uint32_t coff(uint32_t layer) const { return kind(layer) == AttnKind::CSA ? 2 : 1; }
    uint32_t n_nope() const { return head_dim - n_rot; }
    uint32_t hc_mix() const { return n_hc * (2 + n_hc); }   // HC control vector length (24)
    uint32_t hc_dim() const { return n_hc * d; }            // flattened HC state (16384)
    uint32_t heads_per_group() const { return n_head / o_groups; }
    bool claims_real_architecture() const { return n_layer == 43 && d == 4096; }

    // Reads and validates every key. `file.name()` prefixes error messages. Also checks that
    // indexer tensors exist exactly on the CSA layers (see top). Throws ds4::Error.
    static ModelConfig from_gguf(const gguf::File& file);
    // Consistency checks only (from_gguf calls it). `where` prefixes messages.
    void validate(const std::string& where) const;
    // Writes every deepseek4.* key (and general.architecture/name) in the types ds4 expects.
    void write_metadata(gguf::Writer& w) const;
    // The published DeepSeek V4 Flash numbers (43 × 4096).
    static ModelConfig flash();
    // One line: "deepseek4 43 layers, d 4096, 64 heads × 512, 256 experts (6 used), vocab 129280".
    std::string summary() const;
};

// Per-session state memory for a context of `ctx` tokens evaluated in chunks of at most
// `max_chunk` tokens (MODEL.md §D). Everything is f32.
struct ContextMemory {
    uint64_t ctx = 0;
    uint32_t raw_cap = 0;           // rows of each layer's raw ring = window + max_chunk − 1
    uint64_t raw_bytes = 0;         // n_layer · raw_cap · head_dim · 4
    uint64_t comp_bytes = 0;        // Σ_{ratio>0} floor(ctx/ratio) · head_dim · 4
    uint64_t index_bytes = 0;       // Σ_{CSA} floor(ctx/ratio) · idx_head_dim · 4
    uint64_t compressor_bytes = 0;  // Σ frontier kv+score: 2·(coff·ratio)·(coff·D)·4, attn + indexer
    uint64_t total() const { return raw_bytes + comp_bytes + index_bytes + compressor_bytes; }
    std::string describe() const;   // "ctx 32768: raw 1.2 MiB, compressed ..., total ..."
};
ContextMemory context_memory(const ModelConfig& cfg, uint64_t ctx, uint32_t max_chunk);
inline uint64_t context_bytes(const ModelConfig& cfg, uint64_t ctx, uint32_t max_chunk = 2048) {
    return context_memory(cfg, ctx, max_chunk).total();
}

// Compressed rows a ratio-r layer needs for a context of ctx tokens.
inline uint64_t comp_rows_for(uint64_t ctx, uint32_t ratio) { return ratio ? ctx / ratio : 0; }

}  // namespace ds4::model
