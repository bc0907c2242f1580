// ds4::model layout — THE table of the ds4 GGUF layout (MODEL.md §B): every tensor name
// pattern, its shape as a function of the ModelConfig, the types it accepts, the type each
// conversion recipe writes, and the HF checkpoint name it comes from. Used by validation,
// weight binding, the synthetic writer and ds4-convert.
//
//   for (const TensorSpec& t : model_tensors(cfg)) {  // file order
//       t.name;      // "blk.3.attn_kv.weight"
//       t.ne;        // GGUF ne, innermost first: {4096, 512}
//       t.accepts(type);
//       recipe_type(Recipe::Q2, t.cls);   // DS4_TYPE_Q8_0
//   }
//
// Accepted types: ds4's own type for the tensor, plus F32/F16/BF16 for every float weight
// (the f32 recipe and reference tests need them). Routed experts accept IQ2_XXS, Q2_K, Q4_K,
// Q8_0, F16, BF16, F32; gate and up must share a type (checked by validate_layout).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ds4/types.h"
#include "model/config.h"

namespace ds4::gguf {
class File;
}

namespace ds4::model {

// Conversion recipes (ds4-convert --recipe, synthetic writer).
//   f32: F32 everywhere (I32 tid2eid).
//   f16: F16 for every matrix, F32 for small vectors (norms, sinks, HC scale/base, biases).
//   q8:  as ds4's q2/q4 files with Q8_0 routed experts.
//   q4:  as ds4's q4 file: Q4_K routed experts, Q8_0 attention/shared/output, F16 HC fn,
//        compressor, indexer, router, embeddings; F32 norms etc.
//   q2:  as ds4's q2 file: IQ2_XXS gate/up + Q2_K down, rest as q4.
enum class Recipe { F32, F16, Q8, Q2, Q4 };
const char* recipe_name(Recipe r);
// "f32" | "f16" | "q8" | "q2" | "q4"; throws ds4::Error naming the accepted values.
Recipe parse_recipe(std::string_view s);
const std::vector<Recipe>& all_recipes();

// What a tensor is, for type choice (MODEL.md §B.6).
enum class TensorClass : uint8_t {
    Embedding,     // token_embd: F16
    Output,        // output.weight (LM head): Q8_0
    HcFn,          // *_hc_fn / hc_*_fn: F16
    SmallF32,      // norms, sinks, HC scale/base, exp_probs_b: F32 always
    AttnProj,      // attn_q_a/q_b/kv/output_a/output_b, MTP e_proj/h_proj: Q8_0
    SharedExpert,  // ffn_*_shexp: Q8_0
    Router,        // ffn_gate_inp: F16
    Compressor,    // attn/indexer compressor kv, gate, ape: F16
    Indexer,       // indexer.attn_q_b, indexer.proj: F16
    ExpertGateUp,  // ffn_gate_exps, ffn_up_exps: IQ2_XXS (q2) / Q4_K (q4) / Q8_0 (q8)
    ExpertDown,    // ffn_down_exps: Q2_K (q2) / Q4_K (q4) / Q8_0 (q8)
    Tid2Eid,       // ffn_gate_tid2eid: I32
};
const char* tensor_class_name(TensorClass c);

// Type a recipe assigns to a tensor class.
ds4_type recipe_type(Recipe r, TensorClass c);
// Types a tensor class accepts when loading.
const std::vector<ds4_type>& accepted_types(TensorClass c);

// Where a pattern applies.
enum class TensorScope : uint8_t {
    Global,      // once
    Layer,       // every layer
    Compressed,  // layers with ratio > 0 (attention compressor)
    Csa,         // CSA layers (indexer + indexer compressor)
    Hash,        // hash-routed layers (tid2eid)
    NonHash,     // non-hash layers (optional exp_probs_b)
    Mtp,         // the MTP GGUF (prefix mtp.0.)
};

// One expected tensor of a concrete model.
struct TensorSpec {
    std::string name;           // GGUF name
    std::string hf_name;        // HF checkpoint name ("layers.3.attn.wkv.weight")
    std::vector<int64_t> ne;    // GGUF ne, innermost first
    TensorClass cls;
    TensorScope scope;
    int layer = -1;             // -1 for global tensors
    bool optional = false;      // exp_probs_b on main-model layers
    bool accepts(ds4_type t) const;
    int64_t n_elements() const;
};

// Every tensor of the main model, in the order the writer emits them (globals first, then
// layer by layer). exp_probs_b is listed (optional) for the non-hash layers only.
std::vector<TensorSpec> model_tensors(const ModelConfig& cfg);
// Every tensor of the MTP GGUF (MODEL.md §B.5; exp_probs_b required there).
std::vector<TensorSpec> mtp_tensors(const ModelConfig& cfg);
// True for names that belong to an MTP block ("mtp.*"), which a main file may carry.
bool is_mtp_name(std::string_view name);

// Checks a file's tensor directory against `specs`: every required tensor present, shapes
// equal, type accepted, gate/up experts of a layer share one type, no unknown tensor (MTP
// names are tolerated). Throws ds4::Error naming the first bad tensor, e.g.
//   "m.gguf: tensor 'blk.2.attn_kv.weight': shape [64, 128], expected [256, 128]".
void validate_layout(const gguf::File& file, const std::vector<TensorSpec>& specs);

// "[4096, 512]".
std::string ne_string(const std::vector<int64_t>& ne);

}  // namespace ds4::model
