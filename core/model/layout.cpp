#include "model/layout.h"

#include <unordered_map>
#include <unordered_set>

#include "gguf/gguf.h"
#include "host/status.h"

namespace ds4::model {
namespace {

using Ne = std::vector<int64_t>;
using ShapeFn = Ne (*)(const ModelConfig&, uint32_t layer);

// One row of the layout: a GGUF name pattern ("{L}" = layer index), the HF checkpoint name,
// where it applies, its class (type rules) and its shape (MODEL.md §B). Order = file order.
struct Row {
    const char* gguf;
    const char* hf;
    TensorScope scope;
    TensorClass cls;
    ShapeFn shape;
    bool optional = false;
};

int64_t I(uint32_t v) { return static_cast<int64_t>(v); }

// Compressor width for the attention (D = head_dim) and indexer (D = idx_head_dim) compressors.
int64_t comp_w(const ModelConfig& c, uint32_t il) { return I(c.coff(il) * c.head_dim); }
int64_t icomp_w(const ModelConfig& c, uint32_t il) { return I(c.coff(il) * c.idx_head_dim); }

const Row kRows[] = {
    // ---- global (§B.1) ----
    {"token_embd.weight", "embed.weight", TensorScope::Global, TensorClass::Embedding,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.vocab)}; }},
    {"output_hc_base.weight", "hc_head_base", TensorScope::Global, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.n_hc)}; }},
    {"output_hc_fn.weight", "hc_head_fn", TensorScope::Global, TensorClass::HcFn,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.hc_dim()), I(c.n_hc)}; }},
    {"output_hc_scale.weight", "hc_head_scale", TensorScope::Global, TensorClass::SmallF32,
     [](const ModelConfig&, uint32_t) { return Ne{1}; }},
    {"output_norm.weight", "norm.weight", TensorScope::Global, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d)}; }},
    {"output.weight", "head.weight", TensorScope::Global, TensorClass::Output,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.vocab)}; }},
    // ---- every layer (§B.2) ----
    {"blk.{L}.hc_attn_fn.weight", "layers.{L}.hc_attn_fn", TensorScope::Layer, TensorClass::HcFn,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.hc_dim()), I(c.hc_mix())}; }},
    {"blk.{L}.hc_attn_scale.weight", "layers.{L}.hc_attn_scale", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig&, uint32_t) { return Ne{3}; }},
    {"blk.{L}.hc_attn_base.weight", "layers.{L}.hc_attn_base", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.hc_mix())}; }},
    {"blk.{L}.attn_norm.weight", "layers.{L}.attn_norm.weight", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d)}; }},
    {"blk.{L}.attn_q_a.weight", "layers.{L}.attn.wq_a.weight", TensorScope::Layer, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.q_rank)}; }},
    {"blk.{L}.attn_q_a_norm.weight", "layers.{L}.attn.q_norm.weight", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.q_rank)}; }},
    {"blk.{L}.attn_q_b.weight", "layers.{L}.attn.wq_b.weight", TensorScope::Layer, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.q_rank), I(c.n_head) * I(c.head_dim)}; }},
    {"blk.{L}.attn_kv.weight", "layers.{L}.attn.wkv.weight", TensorScope::Layer, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.head_dim)}; }},
    {"blk.{L}.attn_kv_a_norm.weight", "layers.{L}.attn.kv_norm.weight", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.head_dim)}; }},
    {"blk.{L}.attn_sinks.weight", "layers.{L}.attn.attn_sink", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.n_head)}; }},
    {"blk.{L}.attn_output_a.weight", "layers.{L}.attn.wo_a.weight", TensorScope::Layer, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) {
         return Ne{I(c.heads_per_group()) * I(c.head_dim), I(c.o_groups) * I(c.o_rank)};
     }},
    {"blk.{L}.attn_output_b.weight", "layers.{L}.attn.wo_b.weight", TensorScope::Layer, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.o_groups) * I(c.o_rank), I(c.d)}; }},
    // ---- compressor (§B.3), ratio > 0 ----
    {"blk.{L}.attn_compressor_ape.weight", "layers.{L}.attn.compressor.ape", TensorScope::Compressed,
     TensorClass::Compressor, [](const ModelConfig& c, uint32_t il) { return Ne{comp_w(c, il), I(c.ratio(il))}; }},
    {"blk.{L}.attn_compressor_kv.weight", "layers.{L}.attn.compressor.wkv.weight", TensorScope::Compressed,
     TensorClass::Compressor, [](const ModelConfig& c, uint32_t il) { return Ne{I(c.d), comp_w(c, il)}; }},
    {"blk.{L}.attn_compressor_gate.weight", "layers.{L}.attn.compressor.wgate.weight", TensorScope::Compressed,
     TensorClass::Compressor, [](const ModelConfig& c, uint32_t il) { return Ne{I(c.d), comp_w(c, il)}; }},
    {"blk.{L}.attn_compressor_norm.weight", "layers.{L}.attn.compressor.norm.weight", TensorScope::Compressed,
     TensorClass::SmallF32, [](const ModelConfig& c, uint32_t) { return Ne{I(c.head_dim)}; }},
    // ---- indexer (§B.4), CSA layers ----
    {"blk.{L}.indexer.attn_q_b.weight", "layers.{L}.attn.indexer.wq_b.weight", TensorScope::Csa, TensorClass::Indexer,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.q_rank), I(c.idx_heads) * I(c.idx_head_dim)}; }},
    {"blk.{L}.indexer.proj.weight", "layers.{L}.attn.indexer.weights_proj.weight", TensorScope::Csa,
     TensorClass::Indexer, [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.idx_heads)}; }},
    {"blk.{L}.indexer_compressor_ape.weight", "layers.{L}.attn.indexer.compressor.ape", TensorScope::Csa,
     TensorClass::Compressor, [](const ModelConfig& c, uint32_t il) { return Ne{icomp_w(c, il), I(c.ratio(il))}; }},
    {"blk.{L}.indexer_compressor_kv.weight", "layers.{L}.attn.indexer.compressor.wkv.weight", TensorScope::Csa,
     TensorClass::Compressor, [](const ModelConfig& c, uint32_t il) { return Ne{I(c.d), icomp_w(c, il)}; }},
    {"blk.{L}.indexer_compressor_gate.weight", "layers.{L}.attn.indexer.compressor.wgate.weight", TensorScope::Csa,
     TensorClass::Compressor, [](const ModelConfig& c, uint32_t il) { return Ne{I(c.d), icomp_w(c, il)}; }},
    {"blk.{L}.indexer_compressor_norm.weight", "layers.{L}.attn.indexer.compressor.norm.weight", TensorScope::Csa,
     TensorClass::SmallF32, [](const ModelConfig& c, uint32_t) { return Ne{I(c.idx_head_dim)}; }},
    // ---- FFN half (§B.2) ----
    {"blk.{L}.hc_ffn_fn.weight", "layers.{L}.hc_ffn_fn", TensorScope::Layer, TensorClass::HcFn,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.hc_dim()), I(c.hc_mix())}; }},
    {"blk.{L}.hc_ffn_scale.weight", "layers.{L}.hc_ffn_scale", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig&, uint32_t) { return Ne{3}; }},
    {"blk.{L}.hc_ffn_base.weight", "layers.{L}.hc_ffn_base", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.hc_mix())}; }},
    {"blk.{L}.ffn_norm.weight", "layers.{L}.ffn_norm.weight", TensorScope::Layer, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d)}; }},
    {"blk.{L}.ffn_gate_inp.weight", "layers.{L}.ffn.gate.weight", TensorScope::Layer, TensorClass::Router,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.n_expert)}; }},
    {"blk.{L}.exp_probs_b.bias", "layers.{L}.ffn.gate.bias", TensorScope::NonHash, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.n_expert)}; }, /*optional=*/true},
    {"blk.{L}.ffn_gate_tid2eid.weight", "layers.{L}.ffn.gate.tid2eid", TensorScope::Hash, TensorClass::Tid2Eid,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.n_expert_used), I(c.vocab)}; }},
    {"blk.{L}.ffn_gate_exps.weight", "layers.{L}.ffn.experts.{E}.w1.weight", TensorScope::Layer,
     TensorClass::ExpertGateUp,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.expert_ff), I(c.n_expert)}; }},
    {"blk.{L}.ffn_up_exps.weight", "layers.{L}.ffn.experts.{E}.w3.weight", TensorScope::Layer,
     TensorClass::ExpertGateUp,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.expert_ff), I(c.n_expert)}; }},
    {"blk.{L}.ffn_down_exps.weight", "layers.{L}.ffn.experts.{E}.w2.weight", TensorScope::Layer,
     TensorClass::ExpertDown,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.expert_ff), I(c.d), I(c.n_expert)}; }},
    {"blk.{L}.ffn_gate_shexp.weight", "layers.{L}.ffn.shared_experts.w1.weight", TensorScope::Layer,
     TensorClass::SharedExpert, [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.expert_ff)}; }},
    {"blk.{L}.ffn_up_shexp.weight", "layers.{L}.ffn.shared_experts.w3.weight", TensorScope::Layer,
     TensorClass::SharedExpert, [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.expert_ff)}; }},
    {"blk.{L}.ffn_down_shexp.weight", "layers.{L}.ffn.shared_experts.w2.weight", TensorScope::Layer,
     TensorClass::SharedExpert, [](const ModelConfig& c, uint32_t) { return Ne{I(c.expert_ff), I(c.d)}; }},
};

// MTP block (§B.5): its own file, prefix mtp.0., one sliding-window layer without hash
// routing, compressor or indexer. HF names use "mtp.0." as well.
const Row kMtpRows[] = {
    {"mtp.0.hc_head_base.weight", "mtp.0.hc_head_base", TensorScope::Mtp, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.n_hc)}; }},
    {"mtp.0.hc_head_fn.weight", "mtp.0.hc_head_fn", TensorScope::Mtp, TensorClass::HcFn,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.hc_dim()), I(c.n_hc)}; }},
    {"mtp.0.hc_head_scale.weight", "mtp.0.hc_head_scale", TensorScope::Mtp, TensorClass::SmallF32,
     [](const ModelConfig&, uint32_t) { return Ne{1}; }},
    {"mtp.0.e_proj.weight", "mtp.0.e_proj.weight", TensorScope::Mtp, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.d)}; }},
    {"mtp.0.h_proj.weight", "mtp.0.h_proj.weight", TensorScope::Mtp, TensorClass::AttnProj,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d), I(c.d)}; }},
    {"mtp.0.enorm.weight", "mtp.0.enorm.weight", TensorScope::Mtp, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d)}; }},
    {"mtp.0.hnorm.weight", "mtp.0.hnorm.weight", TensorScope::Mtp, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d)}; }},
    {"mtp.0.norm.weight", "mtp.0.norm.weight", TensorScope::Mtp, TensorClass::SmallF32,
     [](const ModelConfig& c, uint32_t) { return Ne{I(c.d)}; }},
};

std::string subst(const char* pattern, int layer) {
    std::string s = pattern;
    auto p = s.find("{L}");
    if (p != std::string::npos) s.replace(p, 3, std::to_string(layer));
    return s;
}

bool applies(TensorScope s, const ModelConfig& c, uint32_t il) {
    switch (s) {
    case TensorScope::Layer: return true;
    case TensorScope::Compressed: return c.ratio(il) != 0;
    case TensorScope::Csa: return c.kind(il) == AttnKind::CSA;
    case TensorScope::Hash: return c.is_hash(il);
    case TensorScope::NonHash: return !c.is_hash(il);
    default: return false;
    }
}

TensorSpec make(const Row& r, const ModelConfig& c, int layer, const std::string& name, const std::string& hf) {
    TensorSpec t;
    t.name = name;
    t.hf_name = hf;
    t.ne = r.shape(c, layer < 0 ? 0 : static_cast<uint32_t>(layer));
    t.cls = r.cls;
    t.scope = r.scope;
    t.layer = layer;
    t.optional = r.optional;
    return t;
}

std::string type_list(const std::vector<ds4_type>& ts) {
    std::string s;
    for (size_t i = 0; i < ts.size(); ++i) s += (i ? "|" : "") + std::string(ds4_type_name(ts[i]));
    return s;
}

}  // namespace

const char* recipe_name(Recipe r) {
    switch (r) {
    case Recipe::F32: return "f32";
    case Recipe::F16: return "f16";
    case Recipe::Q8: return "q8";
    case Recipe::Q2: return "q2";
    case Recipe::Q4: return "q4";
    }
    return "?";
}

Recipe parse_recipe(std::string_view s) {
    for (Recipe r : all_recipes())
        if (s == recipe_name(r)) return r;
    throw Error("unknown recipe '" + std::string(s) + "' (expected f32, f16, q8, q2 or q4)");
}

const std::vector<Recipe>& all_recipes() {
    static const std::vector<Recipe> v = {Recipe::F32, Recipe::F16, Recipe::Q8, Recipe::Q2, Recipe::Q4};
    return v;
}

const char* tensor_class_name(TensorClass c) {
    switch (c) {
    case TensorClass::Embedding: return "embedding";
    case TensorClass::Output: return "output";
    case TensorClass::HcFn: return "hc_fn";
    case TensorClass::SmallF32: return "small_f32";
    case TensorClass::AttnProj: return "attn_proj";
    case TensorClass::SharedExpert: return "shared_expert";
    case TensorClass::Router: return "router";
    case TensorClass::Compressor: return "compressor";
    case TensorClass::Indexer: return "indexer";
    case TensorClass::ExpertGateUp: return "expert_gate_up";
    case TensorClass::ExpertDown: return "expert_down";
    case TensorClass::Tid2Eid: return "tid2eid";
    }
    return "?";
}

ds4_type recipe_type(Recipe r, TensorClass c) {
    if (c == TensorClass::Tid2Eid) return DS4_TYPE_I32;
    if (c == TensorClass::SmallF32) return DS4_TYPE_F32;
    if (r == Recipe::F32) return DS4_TYPE_F32;
    if (r == Recipe::F16) return DS4_TYPE_F16;
    switch (c) {  // q8 / q4 / q2: ds4's published files, experts differ
    case TensorClass::Embedding:
    case TensorClass::HcFn:
    case TensorClass::Router:
    case TensorClass::Compressor:
    case TensorClass::Indexer: return DS4_TYPE_F16;
    case TensorClass::Output:
    case TensorClass::AttnProj:
    case TensorClass::SharedExpert: return DS4_TYPE_Q8_0;
    case TensorClass::ExpertGateUp:
        return r == Recipe::Q2 ? DS4_TYPE_IQ2_XXS : r == Recipe::Q4 ? DS4_TYPE_Q4_K : DS4_TYPE_Q8_0;
    case TensorClass::ExpertDown:
        return r == Recipe::Q2 ? DS4_TYPE_Q2_K : r == Recipe::Q4 ? DS4_TYPE_Q4_K : DS4_TYPE_Q8_0;
    default: return DS4_TYPE_F32;
    }
}

const std::vector<ds4_type>& accepted_types(TensorClass c) {
    static const std::vector<ds4_type> kFloat = {DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_F32};
    static const std::vector<ds4_type> kQ8 = {DS4_TYPE_Q8_0, DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_F32};
    static const std::vector<ds4_type> kF32 = {DS4_TYPE_F32};
    static const std::vector<ds4_type> kI32 = {DS4_TYPE_I32};
    static const std::vector<ds4_type> kExperts = {DS4_TYPE_IQ2_XXS, DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_Q8_0,
                                                   DS4_TYPE_F16,     DS4_TYPE_BF16, DS4_TYPE_F32};
    switch (c) {
    case TensorClass::SmallF32: return kF32;
    case TensorClass::Tid2Eid: return kI32;
    case TensorClass::Output:
    case TensorClass::AttnProj:
    case TensorClass::SharedExpert: return kQ8;
    case TensorClass::ExpertGateUp:
    case TensorClass::ExpertDown: return kExperts;
    default: return kFloat;  // embedding, HC fn, router, compressor, indexer
    }
}

bool TensorSpec::accepts(ds4_type t) const {
    for (ds4_type a : accepted_types(cls))
        if (a == t) return true;
    return false;
}

int64_t TensorSpec::n_elements() const {
    int64_t n = 1;
    for (int64_t v : ne) n *= v;
    return n;
}

std::vector<TensorSpec> model_tensors(const ModelConfig& c) {
    std::vector<TensorSpec> out;
    for (const Row& r : kRows)
        if (r.scope == TensorScope::Global) out.push_back(make(r, c, -1, r.gguf, r.hf));
    for (uint32_t il = 0; il < c.n_layer; ++il)
        for (const Row& r : kRows)
            if (r.scope != TensorScope::Global && applies(r.scope, c, il))
                out.push_back(make(r, c, static_cast<int>(il), subst(r.gguf, il), subst(r.hf, il)));
    return out;
}

std::vector<TensorSpec> mtp_tensors(const ModelConfig& c) {
    std::vector<TensorSpec> out;
    for (const Row& r : kMtpRows) out.push_back(make(r, c, -1, r.gguf, r.hf));
    // The block: the per-layer rows of a sliding, non-hash layer, with a REQUIRED bias.
    for (const Row& r : kRows) {
        if (r.scope != TensorScope::Layer && r.scope != TensorScope::NonHash) continue;
        std::string g = r.gguf, hf = r.hf;
        g.replace(0, g.find('.', 4) + 1, "mtp.0.");       // "blk.{L}." → "mtp.0."
        hf.replace(0, hf.find('.', 7) + 1, "mtp.0.");     // "layers.{L}." → "mtp.0."
        TensorSpec t = make(r, c, -1, g, hf);
        t.scope = TensorScope::Mtp;
        t.optional = false;
        out.push_back(std::move(t));
    }
    return out;
}

bool is_mtp_name(std::string_view name) { return name.substr(0, 4) == "mtp."; }

std::string ne_string(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

void validate_layout(const gguf::File& f, const std::vector<TensorSpec>& specs) {
    std::unordered_set<std::string_view> known;
    std::unordered_map<int, uint32_t> gate_type;
    for (const TensorSpec& t : specs) {
        known.insert(t.name);
        const gguf::TensorInfo* ti = f.find_tensor(t.name);
        std::string where = f.name() + ": tensor '" + t.name + "'";
        if (!ti) {
            if (t.optional) continue;
            throw Error(where + " is missing (expected " + ne_string(t.ne) + " " +
                        type_list(accepted_types(t.cls)) + ")");
        }
        std::vector<int64_t> got(ti->ne.begin(), ti->ne.begin() + ti->n_dims);
        if (got != t.ne) throw Error(where + ": shape " + ne_string(got) + ", expected " + ne_string(t.ne));
        if (!t.accepts(static_cast<ds4_type>(ti->type)))
            throw Error(where + ": type " + ds4_type_name(ti->type) + ", expected " + type_list(accepted_types(t.cls)));
        if (t.cls == TensorClass::ExpertGateUp) {
            auto [it, fresh] = gate_type.emplace(t.layer, ti->type);
            if (!fresh && it->second != ti->type)
                throw Error(where + ": type " + ds4_type_name(ti->type) + ", but the gate experts of this layer are " +
                            ds4_type_name(it->second) + " (gate and up must share a type)");
        }
    }
    for (const gguf::TensorInfo& ti : f.tensors()) {
        if (known.count(ti.name) || is_mtp_name(ti.name)) continue;
        throw Error(f.name() + ": unknown tensor '" + std::string(ti.name) +
                    "' (not part of the ds4 layout for this configuration)");
    }
}

}  // namespace ds4::model
