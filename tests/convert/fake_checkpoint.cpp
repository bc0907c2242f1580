#include "fake_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "hf_tensors.h"

namespace ds4::convert::testing {
namespace {

using nlohmann::json;
using model::TensorClass;

uint64_t name_seed(uint64_t seed, const std::string& s) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    return h;
}

std::vector<int64_t> torch_shape(const std::vector<int64_t>& ne) { return {ne.rbegin(), ne.rend()}; }

// FP8 e4m3 weight [out, in] with 128x128 UE8M0 scales: codes with exponents 4..9 (values
// 2^-3..~2^2.9), scales 2^-3..2^1.
void fp8_matrix(uint64_t s, int64_t out, int64_t in, std::vector<uint8_t>& q, std::vector<uint8_t>& sc,
                float* values) {
    const int64_t sr = (out + 127) / 128, scn = (in + 127) / 128;
    q.resize(static_cast<size_t>(out * in));
    sc.resize(static_cast<size_t>(sr * scn));
    for (size_t i = 0; i < sc.size(); ++i) sc[i] = static_cast<uint8_t>(124 + mix(s ^ 0x5c, i) % 5);
    for (int64_t r = 0; r < out; ++r)
        for (int64_t c = 0; c < in; ++c) {
            uint64_t m = mix(s, static_cast<uint64_t>(r * in + c));
            uint8_t code = static_cast<uint8_t>(((m & 1) << 7) | ((4 + (m >> 1) % 6) << 3) | ((m >> 8) & 7));
            q[static_cast<size_t>(r * in + c)] = code;
            values[r * in + c] = e4m3_value(code) * ue8m0_value(sc[static_cast<size_t>((r / 128) * scn + c / 128)]);
        }
}

// FP4 e2m1 [out, in] packed [out, in/2] (low nibble = even column) + UE8M0 per 32.
void fp4_matrix(uint64_t s, int64_t out, int64_t in, std::vector<uint8_t>& q, std::vector<uint8_t>& sc,
                float* values) {
    const int64_t scn = (in + 31) / 32;
    q.assign(static_cast<size_t>(out * in / 2), 0);
    sc.resize(static_cast<size_t>(out * scn));
    for (size_t i = 0; i < sc.size(); ++i) sc[i] = static_cast<uint8_t>(125 + mix(s ^ 0xa5, i) % 4);
    for (int64_t r = 0; r < out; ++r)
        for (int64_t c = 0; c < in; ++c) {
            uint8_t nib = static_cast<uint8_t>(mix(s, static_cast<uint64_t>(r * in + c)) & 15);
            q[static_cast<size_t>(r * (in / 2) + c / 2)] |= static_cast<uint8_t>(c % 2 ? nib << 4 : nib);
            values[r * in + c] = e2m1_value(nib) * ue8m0_value(sc[static_cast<size_t>(r * scn + c / 32)]);
        }
}

float small_value(const model::TensorSpec& t, uint64_t s, uint64_t i) {
    float x = noise(s, i);
    if (t.name.find("norm") != std::string::npos || t.name.find("scale") != std::string::npos) return 1.0f + 0.1f * x;
    return 0.5f * x;
}

}  // namespace

model::ModelConfig tiny_config() {
    model::ModelConfig c = model::ModelConfig::flash();
    c.name = "";
    c.context_length = 1048576;
    c.n_layer = 4;
    c.d = 256;
    c.vocab = 300;
    c.n_head = 2;
    c.head_dim = 128;
    c.n_rot = 64;
    c.q_rank = 64;
    c.o_rank = 32;
    c.o_groups = 2;
    c.n_expert = 2;
    c.n_expert_used = 1;
    c.expert_ff = 256;
    c.n_hash_layer = 2;
    c.window = 8;
    c.idx_heads = 2;
    c.idx_head_dim = 128;
    c.idx_top_k = 4;
    c.compress_ratios = {0, 0, 4, 8};
    c.swiglu_clamp.assign(4, 10.0f);
    return c;
}

std::string official_config_json(const model::ModelConfig& c) {
    std::vector<uint32_t> ratios = c.compress_ratios;
    ratios.push_back(0);  // the MTP block's entry, as in the published config
    json j = {
        {"architectures", {"DeepseekV4ForCausalLM"}},
        {"num_hidden_layers", c.n_layer}, {"hidden_size", c.d}, {"vocab_size", c.vocab},
        {"num_attention_heads", c.n_head}, {"num_key_value_heads", c.n_head_kv}, {"head_dim", c.head_dim},
        {"qk_rope_head_dim", c.n_rot}, {"q_lora_rank", c.q_rank}, {"o_lora_rank", c.o_rank}, {"o_groups", c.o_groups},
        {"n_routed_experts", c.n_expert}, {"num_experts_per_tok", c.n_expert_used}, {"n_shared_experts", 1},
        {"moe_intermediate_size", c.expert_ff}, {"num_hash_layers", c.n_hash_layer}, {"scoring_func", "sqrtsoftplus"},
        {"norm_topk_prob", true}, {"routed_scaling_factor", c.expert_weights_scale}, {"swiglu_limit", 10.0},
        {"sliding_window", c.window}, {"index_n_heads", c.idx_heads}, {"index_head_dim", c.idx_head_dim},
        {"index_topk", c.idx_top_k}, {"hc_mult", c.n_hc}, {"hc_sinkhorn_iters", c.sinkhorn_iters}, {"hc_eps", 1e-6},
        {"rms_norm_eps", 1e-6}, {"rope_theta", c.rope_freq_base}, {"compress_rope_theta", c.compress_rope_freq_base},
        {"rope_scaling", {{"type", "yarn"}, {"factor", c.rope_scale_factor},
                          {"original_max_position_embeddings", c.rope_orig_ctx}, {"beta_fast", c.yarn_beta_fast},
                          {"beta_slow", c.yarn_beta_slow}}},
        {"max_position_embeddings", c.context_length}, {"compress_ratios", ratios},
        {"num_nextn_predict_layers", 1}, {"bos_token_id", 0}, {"eos_token_id", 1}};
    return j.dump(2);
}

std::string transformers_config_json(const model::ModelConfig& c) {
    json lt = json::array(), mt = json::array();
    uint32_t hca = 0;
    for (uint32_t il = 0; il < c.n_layer; ++il) {
        uint32_t r = c.compress_ratios[il];
        lt.push_back(r == 0 ? "sliding_attention" : r == 4 ? "compressed_sparse_attention" : "heavily_compressed_attention");
        if (r != 0 && r != 4) hca = r;
        mt.push_back(il < c.n_hash_layer ? "hash_moe" : "moe");
    }
    const double prf = static_cast<double>(c.n_rot) / c.head_dim;
    // max_position_embeddings / original = factor, as transformers recomputes it.
    const uint64_t max_pos = c.rope_orig_ctx * static_cast<uint64_t>(c.rope_scale_factor);
    json j = {
        {"model_type", "deepseek_v4"}, {"architectures", {"DeepseekV4ForCausalLM"}},
        {"num_hidden_layers", c.n_layer}, {"hidden_size", c.d}, {"vocab_size", c.vocab},
        {"num_attention_heads", c.n_head}, {"head_dim", c.head_dim}, {"partial_rotary_factor", prf},
        {"q_lora_rank", c.q_rank}, {"o_lora_rank", c.o_rank}, {"o_groups", c.o_groups},
        {"n_routed_experts", c.n_expert}, {"num_experts_per_tok", c.n_expert_used},
        {"moe_intermediate_size", c.expert_ff}, {"sliding_window", c.window}, {"index_n_heads", c.idx_heads},
        {"index_topk", c.idx_top_k}, {"layer_types", lt}, {"mlp_layer_types", mt},
        {"compress_rates", {{"compressed_sparse_attention", 4}, {"heavily_compressed_attention", hca ? hca : 128}}},
        {"max_position_embeddings", max_pos}, {"tie_word_embeddings", false}, {"torch_dtype", "float32"},
        {"rope_parameters",
         {{"main", {{"rope_type", "default"}, {"rope_theta", c.rope_freq_base}, {"partial_rotary_factor", prf}}},
          {"compress",
           {{"rope_type", "yarn"}, {"rope_theta", c.compress_rope_freq_base}, {"partial_rotary_factor", prf},
            {"factor", c.rope_scale_factor}, {"original_max_position_embeddings", c.rope_orig_ctx},
            {"beta_fast", c.yarn_beta_fast}, {"beta_slow", c.yarn_beta_slow}, {"attention_factor", 1.0}}}}}};
    return j.dump(2);
}

FakeCheckpoint make_checkpoint(const model::ModelConfig& c, Naming naming, uint64_t seed) {
    FakeCheckpoint ck;
    std::map<std::string, std::vector<float>> fused;  // transformers gate_up_proj being assembled
    for (const model::TensorSpec& t : model::model_tensors(c)) {
        const uint64_t s = name_seed(seed, t.name);
        const std::string src = source_name(naming, t);
        const int64_t n = t.n_elements();
        const std::vector<int64_t> shape = torch_shape(t.ne);
        if (t.cls == TensorClass::Tid2Eid) {
            std::vector<int64_t> ids(static_cast<size_t>(n));
            std::vector<int32_t> want(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) want[i] = static_cast<int32_t>(ids[i] = static_cast<int64_t>(mix(s, i) % c.n_expert));
            ck.tensors.push_back(i64_tensor(src, shape, ids));
            ck.expected_i32[t.name] = want;
            continue;
        }
        std::vector<float> v(static_cast<size_t>(n));
        const bool expert = t.cls == TensorClass::ExpertGateUp || t.cls == TensorClass::ExpertDown;
        if (naming == Naming::Official) {
            if (t.cls == TensorClass::AttnProj || t.cls == TensorClass::SharedExpert) {
                std::vector<uint8_t> q, sc;
                fp8_matrix(s, shape[0], shape[1], q, sc, v.data());
                std::string base = src.substr(0, src.size() - 7);  // minus ".weight"
                ck.tensors.push_back(u8_tensor(src, "F8_E4M3", shape, q));
                ck.tensors.push_back(u8_tensor(base + ".scale", "F8_E8M0", {(shape[0] + 127) / 128, (shape[1] + 127) / 128}, sc));
            } else if (expert) {
                const int64_t out = shape[1], in = shape[2];
                for (int64_t e = 0; e < shape[0]; ++e) {
                    std::vector<uint8_t> q, sc;
                    fp4_matrix(s + 7919 * e, out, in, q, sc, v.data() + e * out * in);
                    std::string name = src;
                    name.replace(name.find("{E}"), 3, std::to_string(e));
                    std::string base = name.substr(0, name.size() - 7);
                    ck.tensors.push_back(u8_tensor(name, "I8", {out, in / 2}, q));
                    ck.tensors.push_back(u8_tensor(base + ".scale", "F8_E8M0", {out, (in + 31) / 32}, sc));
                }
            } else if (t.cls == TensorClass::SmallF32 || t.cls == TensorClass::HcFn) {
                for (int64_t i = 0; i < n; ++i) v[i] = small_value(t, s, i);
                ck.tensors.push_back(f32_tensor(src, shape, v));
            } else {  // embedding, output, router, compressor, indexer: BF16
                for (int64_t i = 0; i < n; ++i) v[i] = bf16_round(noise(s, i));
                ck.tensors.push_back(bf16_tensor(src, shape, v));
            }
        } else if (naming == Naming::Saved) {
            // save_pretrained: float tensors, experts split per expert; BF16 embeddings to
            // exercise a second dtype.
            for (int64_t i = 0; i < n; ++i) v[i] = t.cls == TensorClass::SmallF32 ? small_value(t, s, i) : noise(s, i);
            if (expert) {
                const int64_t per = shape[1] * shape[2];
                for (int64_t e = 0; e < shape[0]; ++e) {
                    std::string name = src;
                    name.replace(name.find("{E}"), 3, std::to_string(e));
                    ck.tensors.push_back(f32_tensor(name, {shape[1], shape[2]},
                                                    std::vector<float>(v.begin() + e * per, v.begin() + (e + 1) * per)));
                }
            } else if (t.cls == TensorClass::Embedding) {
                for (auto& x : v) x = bf16_round(x);
                ck.tensors.push_back(bf16_tensor(src, shape, v));
            } else {
                ck.tensors.push_back(f32_tensor(src, shape, v));
            }
        } else {
            for (int64_t i = 0; i < n; ++i) v[i] = t.cls == TensorClass::SmallF32 ? small_value(t, s, i) : noise(s, i);
            if (t.cls == TensorClass::ExpertGateUp) {
                // [E, 2I, H]: gate rows first, then up rows, per expert.
                const int64_t E = shape[0], I = shape[1], H = shape[2];
                auto& f = fused[src];
                f.resize(static_cast<size_t>(E * 2 * I * H));
                const bool up = t.name.find("ffn_up_exps") != std::string::npos;
                for (int64_t e = 0; e < E; ++e)
                    for (int64_t r = 0; r < I * H; ++r) f[(e * 2 * I + (up ? I : 0)) * H + r] = v[e * I * H + r];
                if (up) ck.tensors.push_back(f32_tensor(src, {E, 2 * I, H}, f));
            } else {
                ck.tensors.push_back(f32_tensor(src, shape, v));
            }
        }
        ck.expected[t.name] = std::move(v);
    }
    return ck;
}

void write_checkpoint(const std::string& dir, const model::ModelConfig& c, Naming naming, const FakeCheckpoint& ck,
                      int shards) {
    std::filesystem::create_directories(dir);
    write_text(dir + "/config.json", naming == Naming::Official ? official_config_json(c) : transformers_config_json(c));
    std::vector<std::vector<FakeTensor>> parts(static_cast<size_t>(shards));
    for (size_t i = 0; i < ck.tensors.size(); ++i) parts[i * shards / ck.tensors.size()].push_back(ck.tensors[i]);
    for (int s = 0; s < shards; ++s) {
        char name[64];
        std::snprintf(name, sizeof name, "/model-%05d-of-%05d.safetensors", s + 1, shards);
        write_safetensors(dir + (shards == 1 ? std::string("/model.safetensors") : std::string(name)), parts[s]);
    }
}

FakeTensor* find(FakeCheckpoint& ck, const std::string& name) {
    for (auto& t : ck.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

}  // namespace ds4::convert::testing
