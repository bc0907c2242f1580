// Layout tensor → checkpoint tensor names, in both namings (hf_tensors.h).
#include <cstring>

#include "hf_tensors.h"
#include "host/status.h"

namespace ds4::convert {
namespace {

// transformers DeepseekV4ForCausalLM names of the official per-layer suffixes (after
// "layers.L."), most specific first: the official indexer lives under attn.indexer, the
// transformers one under self_attn.compressor.indexer.
const char* const kLayerRules[][2] = {
    {"attn.indexer.compressor.ape", "self_attn.compressor.indexer.position_bias"},
    {"attn.indexer.compressor.wkv.weight", "self_attn.compressor.indexer.kv_proj.weight"},
    {"attn.indexer.compressor.wgate.weight", "self_attn.compressor.indexer.gate_proj.weight"},
    {"attn.indexer.compressor.norm.weight", "self_attn.compressor.indexer.kv_norm.weight"},
    {"attn.indexer.wq_b.weight", "self_attn.compressor.indexer.q_b_proj.weight"},
    {"attn.indexer.weights_proj.weight", "self_attn.compressor.indexer.scorer.weights_proj.weight"},
    {"attn.compressor.ape", "self_attn.compressor.position_bias"},
    {"attn.compressor.wkv.weight", "self_attn.compressor.kv_proj.weight"},
    {"attn.compressor.wgate.weight", "self_attn.compressor.gate_proj.weight"},
    {"attn.compressor.norm.weight", "self_attn.compressor.kv_norm.weight"},
    {"attn.wq_a.weight", "self_attn.q_a_proj.weight"},
    {"attn.q_norm.weight", "self_attn.q_a_norm.weight"},
    {"attn.wq_b.weight", "self_attn.q_b_proj.weight"},
    {"attn.wkv.weight", "self_attn.kv_proj.weight"},
    {"attn.kv_norm.weight", "self_attn.kv_norm.weight"},
    {"attn.attn_sink", "self_attn.sinks"},
    {"attn.wo_a.weight", "self_attn.o_a_proj.weight"},
    {"attn.wo_b.weight", "self_attn.o_b_proj.weight"},
    {"attn_norm.weight", "input_layernorm.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"hc_attn_fn", "attn_hc.fn"},
    {"hc_attn_base", "attn_hc.base"},
    {"hc_attn_scale", "attn_hc.scale"},
    {"hc_ffn_fn", "ffn_hc.fn"},
    {"hc_ffn_base", "ffn_hc.base"},
    {"hc_ffn_scale", "ffn_hc.scale"},
    {"ffn.gate.weight", "mlp.gate.weight"},
    {"ffn.gate.bias", "mlp.gate.e_score_correction_bias"},
    {"ffn.gate.tid2eid", "mlp.gate.tid2eid"},
    {"ffn.shared_experts.w1.weight", "mlp.shared_experts.gate_proj.weight"},
    {"ffn.shared_experts.w3.weight", "mlp.shared_experts.up_proj.weight"},
    {"ffn.shared_experts.w2.weight", "mlp.shared_experts.down_proj.weight"},
    // Routed experts: stacked parameters (gate and up fused, gate first).
    {"ffn.experts.{E}.w1.weight", "mlp.experts.gate_up_proj"},
    {"ffn.experts.{E}.w3.weight", "mlp.experts.gate_up_proj"},
    {"ffn.experts.{E}.w2.weight", "mlp.experts.down_proj"},
};

const char* const kGlobalRules[][2] = {
    {"embed.weight", "model.embed_tokens.weight"},
    {"head.weight", "lm_head.weight"},
    {"norm.weight", "model.norm.weight"},
    {"hc_head_fn", "model.hc_head.hc_fn"},
    {"hc_head_base", "model.hc_head.hc_base"},
    {"hc_head_scale", "model.hc_head.hc_scale"},
};

}  // namespace

const char* naming_name(Naming n) {
    switch (n) {
    case Naming::Official: return "official";
    case Naming::Saved: return "transformers-saved";
    case Naming::Transformers: return "transformers";
    }
    return "?";
}

Naming detect_naming(const Checkpoint& ckpt) {
    struct Marker {
        Naming naming;
        const char* a;
        const char* b;
    };
    const Marker markers[] = {
        {Naming::Official, "layers.0.attn_norm.weight", "embed.weight"},
        {Naming::Saved, "model.layers.0.attn_norm.weight", "model.layers.0.attn.wkv.weight"},
        {Naming::Transformers, "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.kv_proj.weight"},
    };
    std::vector<Naming> found;
    for (const Marker& m : markers)
        if (ckpt.find(m.a) || ckpt.find(m.b)) found.push_back(m.naming);
    if (found.size() == 1) return found[0];
    if (found.empty())
        throw Error(ckpt.dir() + ": not a DeepSeek V4 checkpoint: none of 'layers.0.attn_norm.weight' (official "
                                 "naming), 'model.layers.0.attn_norm.weight' (transformers save_pretrained) or "
                                 "'model.layers.0.input_layernorm.weight' (transformers module names) is present");
    throw Error(ckpt.dir() + ": checkpoint mixes tensor namings (" + naming_name(found[0]) + " and " +
                naming_name(found[1]) + ")");
}

std::vector<std::string> source_names(Naming naming, const model::TensorSpec& spec) {
    const std::string& off = spec.hf_name;
    const std::string kv = ".attn.kv_norm.weight";
    const bool is_kv_norm = off.size() > kv.size() && off.compare(off.size() - kv.size(), kv.size(), kv) == 0;
    // transformers' rules rename ".norm." to ".kv_norm." on load: the official checkpoint may
    // well spell kv_norm "attn.norm.weight" (docs/reference-findings.md §8); accept both.
    const std::string kv_as_norm = is_kv_norm ? off.substr(0, off.size() - kv.size()) + ".attn.norm.weight" : "";
    if (naming == Naming::Official) return is_kv_norm ? std::vector<std::string>{off, kv_as_norm} : std::vector<std::string>{off};
    if (naming == Naming::Saved) {
        // save_pretrained: "model." + official, but the globals as transformers spells them
        // and kv_norm as "attn.norm" (its reverse rename of self_attn.kv_norm).
        if (off == "head.weight") return {"head.weight", "lm_head.weight"};
        for (auto& r : kGlobalRules)
            if (off == r[0]) return {r[1], "model." + off};
        if (is_kv_norm) return {"model." + kv_as_norm, "model." + off};
        return {"model." + off};
    }
    for (auto& r : kGlobalRules)
        if (off == r[0]) return {r[1]};
    if (off.rfind("layers.", 0) == 0) {
        size_t dot = off.find('.', 7);
        if (dot != std::string::npos) {
            std::string prefix = "model." + off.substr(0, dot + 1);  // "model.layers.L."
            std::string suffix = off.substr(dot + 1);
            for (auto& r : kLayerRules)
                if (suffix == r[0]) return {prefix + r[1]};
        }
    }
    throw Error("internal: no transformers name for layout tensor '" + spec.name + "' (official '" + off + "')");
}

}  // namespace ds4::convert
