// config.json → ModelConfig in both dialects (frontends/convert/hf_config.cpp).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "fake_checkpoint.h"
#include "host/status.h"

using namespace ds4::convert;
using namespace ds4::convert::testing;
using ds4::model::ModelConfig;

namespace {

void expect_same(const ModelConfig& a, const ModelConfig& b) {
    EXPECT_EQ(a.n_layer, b.n_layer);
    EXPECT_EQ(a.d, b.d);
    EXPECT_EQ(a.vocab, b.vocab);
    EXPECT_EQ(a.n_head, b.n_head);
    EXPECT_EQ(a.n_head_kv, b.n_head_kv);
    EXPECT_EQ(a.head_dim, b.head_dim);
    EXPECT_EQ(a.n_rot, b.n_rot);
    EXPECT_EQ(a.q_rank, b.q_rank);
    EXPECT_EQ(a.o_rank, b.o_rank);
    EXPECT_EQ(a.o_groups, b.o_groups);
    EXPECT_EQ(a.n_expert, b.n_expert);
    EXPECT_EQ(a.n_expert_used, b.n_expert_used);
    EXPECT_EQ(a.expert_ff, b.expert_ff);
    EXPECT_EQ(a.n_expert_shared, b.n_expert_shared);
    EXPECT_EQ(a.n_hash_layer, b.n_hash_layer);
    EXPECT_EQ(a.window, b.window);
    EXPECT_EQ(a.idx_heads, b.idx_heads);
    EXPECT_EQ(a.idx_head_dim, b.idx_head_dim);
    EXPECT_EQ(a.idx_top_k, b.idx_top_k);
    EXPECT_EQ(a.n_hc, b.n_hc);
    EXPECT_EQ(a.sinkhorn_iters, b.sinkhorn_iters);
    EXPECT_EQ(a.compress_ratios, b.compress_ratios);
    EXPECT_EQ(a.swiglu_clamp, b.swiglu_clamp);
    EXPECT_FLOAT_EQ(a.rope_freq_base, b.rope_freq_base);
    EXPECT_FLOAT_EQ(a.compress_rope_freq_base, b.compress_rope_freq_base);
    EXPECT_FLOAT_EQ(a.rope_scale_factor, b.rope_scale_factor);
    EXPECT_FLOAT_EQ(a.yarn_beta_fast, b.yarn_beta_fast);
    EXPECT_FLOAT_EQ(a.yarn_beta_slow, b.yarn_beta_slow);
    EXPECT_EQ(a.rope_orig_ctx, b.rope_orig_ctx);
    EXPECT_FLOAT_EQ(a.expert_weights_scale, b.expert_weights_scale);
    EXPECT_FLOAT_EQ(a.rms_eps, b.rms_eps);
    EXPECT_FLOAT_EQ(a.hc_eps, b.hc_eps);
    EXPECT_EQ(a.expert_weights_norm, b.expert_weights_norm);
}

std::string error_of(const std::string& json_text) {
    try {
        config_from_hf_json(json_text, "cfg.json");
    } catch (const ds4::Error& e) {
        return e.what();
    }
    return "(no error)";
}

nlohmann::json transformers_json() { return nlohmann::json::parse(transformers_config_json(tiny_config())); }

}  // namespace

TEST(ConvertConfig, OfficialDialectMapsEveryKey) {
    ModelConfig want = tiny_config();
    ModelConfig got = config_from_hf_json(official_config_json(want), "cfg.json");
    expect_same(got, want);
    EXPECT_EQ(got.context_length, 1048576u);
    EXPECT_EQ(got.architecture, "deepseek4");
}

TEST(ConvertConfig, TransformersDialectMapsEveryKey) {
    ModelConfig want = tiny_config();
    ModelConfig got = config_from_hf_json(transformers_config_json(want), "cfg.json");
    expect_same(got, want);  // YaRN factor = max_position_embeddings / original (16)
}

TEST(ConvertConfig, PublishedFlashConfigGivesFlash) {
    ModelConfig f = ModelConfig::flash();
    ModelConfig got = config_from_hf_json(official_config_json(f), "cfg.json");
    expect_same(got, f);
    EXPECT_TRUE(got.claims_real_architecture());
}

TEST(ConvertConfig, MissingKeysTakeDeepseekV4ConfigDefaults) {
    // save_pretrained drops keys equal to the defaults: hc_mult 4, 20 Sinkhorn iterations, ...
    auto j = transformers_json();
    ASSERT_FALSE(j.contains("hc_mult"));
    ModelConfig got = config_from_hf_json(j.dump(), "cfg.json");
    EXPECT_EQ(got.n_hc, 4u);
    EXPECT_EQ(got.sinkhorn_iters, 20u);
    EXPECT_EQ(got.n_head_kv, 1u);
    EXPECT_FLOAT_EQ(got.expert_weights_scale, 1.5f);
    EXPECT_FLOAT_EQ(got.swiglu_clamp[0], 10.0f);
}

TEST(ConvertConfig, TransformersYarnFactorFollowsMaxPositionRatio) {
    auto j = transformers_json();
    j["max_position_embeddings"] = 32768;
    j["rope_parameters"]["compress"]["original_max_position_embeddings"] = 2048;
    j["rope_parameters"]["compress"]["rope_theta"] = 1000.0;
    j["swiglu_limit"] = 3.0;
    ModelConfig got = config_from_hf_json(j.dump(), "cfg.json");
    EXPECT_FLOAT_EQ(got.rope_scale_factor, 16.0f);
    EXPECT_EQ(got.rope_orig_ctx, 2048u);
    EXPECT_FLOAT_EQ(got.compress_rope_freq_base, 1000.0f);
    EXPECT_FLOAT_EQ(got.swiglu_clamp[3], 3.0f);
    EXPECT_EQ(got.context_length, 32768u);
}

TEST(ConvertConfig, NoYarnMeansFactorOne) {
    auto j = transformers_json();
    j["rope_parameters"]["compress"] = {{"rope_type", "default"}, {"rope_theta", 160000.0}};
    ModelConfig got = config_from_hf_json(j.dump(), "cfg.json");
    EXPECT_FLOAT_EQ(got.rope_scale_factor, 1.0f);
}

TEST(ConvertConfig, HashLayersCountedFromMlpLayerTypes) {
    auto j = transformers_json();
    j["mlp_layer_types"] = {"hash_moe", "hash_moe", "hash_moe", "moe"};
    EXPECT_EQ(config_from_hf_json(j.dump(), "cfg.json").n_hash_layer, 3u);
    j["mlp_layer_types"] = {"hash_moe", "moe", "hash_moe", "moe"};
    EXPECT_NE(error_of(j.dump()).find("mlp_layer_types[2]"), std::string::npos) << error_of(j.dump());
}

TEST(ConvertConfig, ClearErrors) {
    EXPECT_NE(error_of("{not json").find("cfg.json: not valid JSON"), std::string::npos);
    EXPECT_NE(error_of("[1,2]").find("expected a JSON object"), std::string::npos);

    auto j = transformers_json();
    j["layer_types"][2] = "full_attention";
    EXPECT_NE(error_of(j.dump()).find("layer_types[2]: unknown layer type 'full_attention'"), std::string::npos)
        << error_of(j.dump());

    j = transformers_json();
    j["compress_rates"]["compressed_sparse_attention"] = 8;
    EXPECT_NE(error_of(j.dump()).find("compress_rates.compressed_sparse_attention"), std::string::npos);

    j = transformers_json();
    j["rope_parameters"]["compress"]["attention_factor"] = 1.277;
    EXPECT_NE(error_of(j.dump()).find("attention_factor"), std::string::npos);

    j = transformers_json();
    j["hidden_size"] = "wide";
    EXPECT_NE(error_of(j.dump()).find("cfg.json: hidden_size: expected a non-negative integer"), std::string::npos);

    j = transformers_json();
    j["scoring_func"] = "softmax";
    EXPECT_NE(error_of(j.dump()).find("scoring_func"), std::string::npos);

    auto o = nlohmann::json::parse(official_config_json(tiny_config()));
    o["compress_ratios"] = {0, 0, 4};
    EXPECT_NE(error_of(o.dump()).find("compress_ratios"), std::string::npos);
    o.erase("compress_ratios");
    EXPECT_NE(error_of(o.dump()).find("compress_ratios: missing"), std::string::npos);

    o = nlohmann::json::parse(official_config_json(tiny_config()));
    o["num_key_value_heads"] = 2;  // ModelConfig::validate: DS4 is MQA
    EXPECT_NE(error_of(o.dump()).find("head_count_kv"), std::string::npos) << error_of(o.dump());
}
