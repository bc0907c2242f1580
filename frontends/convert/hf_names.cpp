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

const char* naming_name(Naming n) { return n == Naming::Official ? "official" : "transformers"; }

Naming detect_naming(const Checkpoint& ckpt) {
    const bool official = ckpt.find("embed.weight") || ckpt.find("layers.0.attn_norm.weight");
    const bool hf = ckpt.find("model.embed_tokens.weight") || ckpt.find("model.layers.0.input_layernorm.weight");
    if (official && hf)
        throw Error(ckpt.dir() + ": checkpoint mixes the official naming (embed.weight) and the transformers "
                                 "naming (model.embed_tokens.weight)");
    if (official) return Naming::Official;
    if (hf) return Naming::Transformers;
    throw Error(ckpt.dir() + ": not a DeepSeek V4 checkpoint: neither 'embed.weight' (official naming) nor "
                             "'model.embed_tokens.weight' (transformers naming) is present");
}

std::string source_name(Naming naming, const model::TensorSpec& spec) {
    const std::string& off = spec.hf_name;
    if (naming == Naming::Official) return off;
    for (auto& r : kGlobalRules)
        if (off == r[0]) return r[1];
    if (off.rfind("layers.", 0) == 0) {
        size_t dot = off.find('.', 7);
        if (dot != std::string::npos) {
            std::string prefix = "model." + off.substr(0, dot + 1);  // "model.layers.L."
            std::string suffix = off.substr(dot + 1);
            for (auto& r : kLayerRules)
                if (suffix == r[0]) return prefix + r[1];
        }
    }
    throw Error("internal: no transformers name for layout tensor '" + spec.name + "' (official '" + off + "')");
}

}  // namespace ds4::convert
