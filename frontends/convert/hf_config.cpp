// config.json → ModelConfig. Two dialects share most keys (MODEL.md §A.1 "Official
// config.json key" column): the official DeepSeek config (compress_ratios list,
// num_hash_layers, qk_rope_head_dim, rope_scaling) and transformers' DeepseekV4Config as
// written by save_pretrained (layer_types + compress_rates, mlp_layer_types, partial_rotary_factor,
// rope_parameters {main, compress}). save_pretrained omits keys equal to the class defaults,
// so every missing key takes DeepseekV4Config's default (the Flash values).
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "convert.h"
#include "host/status.h"

namespace ds4::convert {
namespace {

using nlohmann::json;

constexpr const char* kSliding = "sliding_attention";
constexpr const char* kCsa = "compressed_sparse_attention";
constexpr const char* kHca = "heavily_compressed_attention";

struct Reader {
    const json& j;
    std::string where;

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw Error(where + ": " + key + ": " + what);
    }
    bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
    uint32_t u32(const char* k, uint32_t def) const {
        if (!has(k)) return def;
        const json& v = j[k];
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 0xFFFFFFFFll)
            fail(k, "expected a non-negative integer, got " + v.dump());
        return static_cast<uint32_t>(v.get<int64_t>());
    }
    double num(const json& obj, const char* k, double def, const std::string& path) const {
        if (!obj.contains(k) || obj[k].is_null()) return def;
        const json& v = obj[k];
        if (!v.is_number()) fail(path + k, "expected a number, got " + v.dump());
        return v.get<double>();
    }
    double num(const char* k, double def) const { return num(j, k, def, ""); }
};

// ds4 keys the attention kind on the ratio (4 = CSA with overlap + indexer; other nonzero =
// HCA). transformers keys it on the layer type; the two must agree.
std::vector<uint32_t> ratios_from_layer_types(const Reader& r, uint32_t n_layer) {
    const json& lt = r.j["layer_types"];
    if (!lt.is_array()) r.fail("layer_types", "expected a list");
    if (lt.size() < n_layer)
        r.fail("layer_types", std::to_string(lt.size()) + " entries, num_hidden_layers is " + std::to_string(n_layer));
    uint32_t csa = 4, hca = 128;
    if (r.has("compress_rates")) {
        const json& cr = r.j["compress_rates"];
        if (!cr.is_object()) r.fail("compress_rates", "expected an object");
        csa = static_cast<uint32_t>(r.num(cr, kCsa, 4, "compress_rates."));
        hca = static_cast<uint32_t>(r.num(cr, kHca, 128, "compress_rates."));
    }
    if (csa != 4)
        r.fail("compress_rates.compressed_sparse_attention",
               std::to_string(csa) + ": ds4 supports CSA (overlapping compressor + indexer) only with ratio 4");
    if (hca == 4 || hca < 2)
        r.fail("compress_rates.heavily_compressed_attention",
               std::to_string(hca) + ": an HCA ratio must be >= 2 and not 4 (ratio 4 means CSA in ds4)");
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < n_layer; ++i) {
        const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : lt[i].dump();
        if (t == kSliding) out.push_back(0);
        else if (t == kCsa) out.push_back(csa);
        else if (t == kHca) out.push_back(hca);
        else r.fail("layer_types[" + std::to_string(i) + "]", "unknown layer type '" + t + "'");
    }
    return out;
}

std::vector<uint32_t> ratios(const Reader& r, uint32_t n_layer) {
    if (r.has("layer_types")) return ratios_from_layer_types(r, n_layer);
    if (r.has("compress_ratios")) {  // official: one entry per layer (+1 for the MTP block)
        const json& cr = r.j["compress_ratios"];
        if (!cr.is_array() || cr.size() < n_layer)
            r.fail("compress_ratios", "expected a list of at least num_hidden_layers (" + std::to_string(n_layer) +
                                          ") integers");
        std::vector<uint32_t> out;
        for (uint32_t i = 0; i < n_layer; ++i) {
            if (!cr[i].is_number_integer() || cr[i].get<int64_t>() < 0 || cr[i].get<int64_t>() == 1 ||
                cr[i].get<int64_t>() > (1 << 20))
                r.fail("compress_ratios[" + std::to_string(i) + "]", "expected 0 or a ratio >= 2, got " + cr[i].dump());
            out.push_back(static_cast<uint32_t>(cr[i].get<int64_t>()));
        }
        return out;
    }
    r.fail("compress_ratios", "missing (and no layer_types): the per-layer attention kinds are unknown");
}

uint32_t hash_layers(const Reader& r, uint32_t n_layer) {
    if (r.has("mlp_layer_types")) {
        const json& m = r.j["mlp_layer_types"];
        if (!m.is_array() || m.size() < n_layer) r.fail("mlp_layer_types", "expected num_hidden_layers entries");
        uint32_t n = 0;
        bool moe_seen = false;
        for (uint32_t i = 0; i < n_layer; ++i) {
            const std::string t = m[i].is_string() ? m[i].get<std::string>() : m[i].dump();
            if (t == "hash_moe") {
                // ds4 routes layers 0..hash_layer_count-1 by hash: hash layers must come first.
                if (moe_seen)
                    r.fail("mlp_layer_types[" + std::to_string(i) + "]",
                           "hash_moe after a moe layer: ds4 needs the hash-routed layers first");
                ++n;
            } else if (t == "moe") {
                moe_seen = true;
            } else {
                r.fail("mlp_layer_types[" + std::to_string(i) + "]", "unknown MLP type '" + t + "'");
            }
        }
        return n;
    }
    return std::min(r.u32("num_hash_layers", 3), n_layer);
}

// YaRN of the compressed layers. transformers: rope_parameters.compress (rope_type "yarn";
// with original_max_position_embeddings present it uses factor = max_position_embeddings /
// original_max_position_embeddings, as its _compute_yarn_parameters does); official:
// rope_scaling. No YaRN = factor 1 (YaRN with factor 1 is plain RoPE).
void rope(const Reader& r, model::ModelConfig& c) {
    const double max_pos = r.num("max_position_embeddings", 1048576);
    c.rope_freq_base = static_cast<float>(r.num("rope_theta", 10000));
    c.compress_rope_freq_base = static_cast<float>(r.num("compress_rope_theta", 160000));
    c.rope_scale_factor = 1;
    c.yarn_beta_fast = 32;
    c.yarn_beta_slow = 1;
    c.rope_orig_ctx = static_cast<uint64_t>(max_pos);
    const json* yarn = nullptr;
    std::string path;
    bool transformers_factor = false;
    if (r.has("rope_parameters") && r.j["rope_parameters"].is_object()) {
        const json& rp = r.j["rope_parameters"];
        if (rp.contains("main") && rp["main"].is_object())
            c.rope_freq_base = static_cast<float>(r.num(rp["main"], "rope_theta", c.rope_freq_base, "rope_parameters.main."));
        if (rp.contains("compress") && rp["compress"].is_object()) {
            const json& cp = rp["compress"];
            c.compress_rope_freq_base =
                static_cast<float>(r.num(cp, "rope_theta", c.compress_rope_freq_base, "rope_parameters.compress."));
            if (cp.value("rope_type", cp.value("type", std::string("default"))) == "yarn") {
                yarn = &cp;
                path = "rope_parameters.compress.";
                transformers_factor = true;
            }
        } else if (rp.value("rope_type", rp.value("type", std::string("default"))) == "yarn") {
            yarn = &rp;  // flat rope_parameters (transformers folds it into "compress")
            path = "rope_parameters.";
            transformers_factor = true;
        }
    } else if (r.has("rope_scaling") && r.j["rope_scaling"].is_object()) {
        const json& rs = r.j["rope_scaling"];
        if (rs.value("rope_type", rs.value("type", std::string("yarn"))) == "yarn") {
            yarn = &rs;
            path = "rope_scaling.";
        }
    }
    if (!yarn) return;
    const json& y = *yarn;
    c.rope_scale_factor = static_cast<float>(r.num(y, "factor", 1, path));
    c.yarn_beta_fast = static_cast<float>(r.num(y, "beta_fast", 32, path));
    c.yarn_beta_slow = static_cast<float>(r.num(y, "beta_slow", 1, path));
    if (y.contains("original_max_position_embeddings")) {
        double orig = r.num(y, "original_max_position_embeddings", max_pos, path);
        if (!(orig >= 1)) r.fail(path + "original_max_position_embeddings", "must be >= 1");
        c.rope_orig_ctx = static_cast<uint64_t>(orig);
        if (transformers_factor) c.rope_scale_factor = static_cast<float>(max_pos / orig);
    }
    // ds4 (and the V4 reference) never scale cos/sin by YaRN's magnitude term.
    double af = r.num(y, "attention_factor", 1.0, path);
    if (std::fabs(af - 1.0) > 1e-6)
        r.fail(path + "attention_factor", std::to_string(af) + ": ds4 supports only 1 (no YaRN magnitude scaling)");
    if (y.contains("mscale") && !y["mscale"].is_null() && r.num(y, "mscale", 0, path) != 0 &&
        r.num(y, "mscale", 0, path) != r.num(y, "mscale_all_dim", 0, path))
        r.fail(path + "mscale", "YaRN magnitude scaling is not supported by ds4");
}

}  // namespace

model::ModelConfig config_from_hf_json(const std::string& text, const std::string& where, bool validate) {
    json j;
    try {
        j = json::parse(text);
    } catch (const std::exception& e) {
        throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw Error(where + ": expected a JSON object");
    Reader r{j, where};
    const model::ModelConfig f = model::ModelConfig::flash();  // = DeepseekV4Config defaults
    model::ModelConfig c;
    c.architecture = "deepseek4";
    c.n_layer = r.u32("num_hidden_layers", f.n_layer);
    if (c.n_layer == 0 || c.n_layer > 1024) r.fail("num_hidden_layers", "expected 1..1024");
    c.d = r.u32("hidden_size", f.d);
    c.vocab = r.u32("vocab_size", f.vocab);
    c.n_head = r.u32("num_attention_heads", f.n_head);
    c.n_head_kv = r.u32("num_key_value_heads", f.n_head_kv);
    c.head_dim = r.u32("head_dim", f.head_dim);
    if (r.has("qk_rope_head_dim")) {
        c.n_rot = r.u32("qk_rope_head_dim", f.n_rot);
    } else {
        double prf = r.num("partial_rotary_factor", 64.0 / 512.0);
        double rd = c.head_dim * prf;
        if (std::fabs(rd - std::round(rd)) > 1e-6 || rd < 0)
            r.fail("partial_rotary_factor", "head_dim * factor = " + std::to_string(rd) + " is not a whole number");
        c.n_rot = static_cast<uint32_t>(std::lround(rd));
    }
    c.q_rank = r.u32("q_lora_rank", f.q_rank);
    c.o_rank = r.u32("o_lora_rank", f.o_rank);
    c.o_groups = r.u32("o_groups", f.o_groups);
    c.n_expert = r.u32("n_routed_experts", f.n_expert);
    c.n_expert_used = r.u32("num_experts_per_tok", f.n_expert_used);
    c.expert_ff = r.u32("moe_intermediate_size", f.expert_ff);
    c.n_expert_shared = r.u32("n_shared_experts", f.n_expert_shared);
    c.n_hash_layer = hash_layers(r, c.n_layer);
    c.expert_group_count = r.u32("n_group", 0);
    c.expert_group_used = r.u32("topk_group", 0);
    c.window = r.u32("sliding_window", f.window);
    c.idx_heads = r.u32("index_n_heads", f.idx_heads);
    c.idx_head_dim = r.u32("index_head_dim", f.idx_head_dim);
    c.idx_top_k = r.u32("index_topk", f.idx_top_k);
    c.n_hc = r.u32("hc_mult", f.n_hc);
    c.sinkhorn_iters = r.u32("hc_sinkhorn_iters", f.sinkhorn_iters);
    c.compress_ratios = ratios(r, c.n_layer);
    c.swiglu_clamp.assign(c.n_layer, static_cast<float>(r.num("swiglu_limit", 10.0)));
    rope(r, c);
    c.context_length = static_cast<uint64_t>(r.num("max_position_embeddings", 1048576));
    c.expert_weights_scale = static_cast<float>(r.num("routed_scaling_factor", 1.5));
    c.rms_eps = static_cast<float>(r.num("rms_norm_eps", 1e-6));
    c.hc_eps = static_cast<float>(r.num("hc_eps", 1e-6));
    if (r.has("norm_topk_prob")) {
        if (!j["norm_topk_prob"].is_boolean()) r.fail("norm_topk_prob", "expected true or false");
        c.expert_weights_norm = j["norm_topk_prob"].get<bool>();
    }
    if (r.has("scoring_func") && j["scoring_func"] != "sqrtsoftplus")
        r.fail("scoring_func", j["scoring_func"].dump() + ": ds4 implements only \"sqrtsoftplus\"");
    if (r.has("hidden_act") && j["hidden_act"] != "silu")
        r.fail("hidden_act", j["hidden_act"].dump() + ": ds4 implements only \"silu\"");
    if (validate) c.validate(where);
    return c;
}

model::ModelConfig read_hf_config(const std::string& dir) {
    const std::string path = dir + "/config.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open (a Hugging Face checkpoint directory needs config.json)");
    std::stringstream ss;
    ss << in.rdbuf();
    return config_from_hf_json(ss.str(), path);
}

}  // namespace ds4::convert
