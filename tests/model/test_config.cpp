// ModelConfig: every key read from metadata, the first bad key named, real-architecture rules,
// memory formula.
#include <gtest/gtest.h>

#include <functional>

#include "gguf/gguf.h"
#include "host/status.h"
#include "model/config.h"
#include "model/synthetic.h"

namespace ds4::model {
namespace {

// A tiny config without ratio-4 layers, so no tensors are needed for from_gguf.
ModelConfig no_csa_config() {
    ModelConfig c = SyntheticSpec::tiny().cfg;
    c.compress_ratios = {0, 0, 8, 8, 16, 16};
    return c;
}

// Metadata-only GGUF: cfg's keys, minus `skip`, plus whatever `extra` adds.
std::vector<uint8_t> meta_file(const ModelConfig& cfg, const std::string& skip = "",
                               const std::function<void(gguf::Writer&)>& extra = {}) {
    gguf::Writer w1;
    cfg.write_metadata(w1);
    std::vector<uint8_t> b1 = w1.write_to_memory();
    gguf::File f1 = gguf::File::open_memory(b1.data(), b1.size(), "tmp");
    gguf::Writer w2;
    for (const gguf::KeyValue& kv : f1.metadata())
        if (kv.key != skip) w2.copy_kv(kv);
    if (extra) extra(w2);
    return w2.write_to_memory();
}

std::string config_error(const std::vector<uint8_t>& bytes) {
    gguf::File f = gguf::File::open_memory(bytes.data(), bytes.size(), "m.gguf");
    try {
        ModelConfig::from_gguf(f);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string replace_key(const ModelConfig& cfg, const std::string& key, const std::function<void(gguf::Writer&)>& add) {
    return config_error(meta_file(cfg, key, add));
}

TEST(ModelConfig, ReadsEveryKey) {
    ModelConfig c = no_csa_config();
    auto bytes = meta_file(c);
    gguf::File f = gguf::File::open_memory(bytes.data(), bytes.size(), "m.gguf");
    ModelConfig r = ModelConfig::from_gguf(f);
    EXPECT_EQ(r.n_layer, 6u);
    EXPECT_EQ(r.d, 256u);
    EXPECT_EQ(r.vocab, 384u);
    EXPECT_EQ(r.n_head, 4u);
    EXPECT_EQ(r.head_dim, 128u);
    EXPECT_EQ(r.n_rot, 64u);
    EXPECT_EQ(r.q_rank, 64u);
    EXPECT_EQ(r.o_groups, 2u);
    EXPECT_EQ(r.n_expert, 8u);
    EXPECT_EQ(r.n_expert_used, 2u);
    EXPECT_EQ(r.window, 16u);
    EXPECT_EQ(r.idx_top_k, 8u);
    EXPECT_EQ(r.compress_ratios, c.compress_ratios);
    EXPECT_EQ(r.swiglu_clamp, c.swiglu_clamp);
    EXPECT_FLOAT_EQ(r.compress_rope_freq_base, 160000.0f);
    EXPECT_FLOAT_EQ(r.expert_weights_scale, 1.5f);
    EXPECT_EQ(r.kind(0), AttnKind::Sliding);
    EXPECT_EQ(r.kind(2), AttnKind::HCA);
    EXPECT_EQ(r.coff(2), 1u);
}

TEST(ModelConfig, NamesTheBadKey) {
    ModelConfig c = no_csa_config();
    EXPECT_EQ(replace_key(c, "deepseek4.attention.head_count_kv",
                          [](gguf::Writer& w) { w.add_u32("deepseek4.attention.head_count_kv", 2); }),
              "m.gguf: deepseek4.attention.head_count_kv = 2, expected 1");
    EXPECT_NE(replace_key(c, "deepseek4.block_count", {}).find("deepseek4.block_count"), std::string::npos);
    EXPECT_NE(replace_key(c, "deepseek4.attention.key_length",
                          [](gguf::Writer& w) { w.add_string("deepseek4.attention.key_length", "128"); })
                  .find("deepseek4.attention.key_length"),
              std::string::npos);
    EXPECT_NE(replace_key(c, "deepseek4.rope.freq_base", {}).find("deepseek4.rope.freq_base"), std::string::npos);
    EXPECT_NE(replace_key(c, "deepseek4.expert_weights_norm",
                          [](gguf::Writer& w) { w.add_u32("deepseek4.expert_weights_norm", 1); })
                  .find("deepseek4.expert_weights_norm"),
              std::string::npos);
    // Ratios: wrong element type, too short, negative, 1.
    EXPECT_NE(replace_key(c, "deepseek4.attention.compress_ratios",
                          [](gguf::Writer& w) {
                              w.add_array<float>("deepseek4.attention.compress_ratios", std::vector<float>(6, 0.0f));
                          })
                  .find("expected an array of UINT32 or INT32"),
              std::string::npos);
    EXPECT_NE(replace_key(c, "deepseek4.attention.compress_ratios",
                          [](gguf::Writer& w) {
                              w.add_array<uint32_t>("deepseek4.attention.compress_ratios", std::vector<uint32_t>{0, 0});
                          })
                  .find("2 entries, expected at least 6"),
              std::string::npos);
    EXPECT_EQ(replace_key(c, "deepseek4.attention.compress_ratios",
                          [](gguf::Writer& w) {
                              w.add_array<int32_t>("deepseek4.attention.compress_ratios",
                                                   std::vector<int32_t>{0, 0, -4, 8, 16, 16});
                          }),
              "m.gguf: deepseek4.attention.compress_ratios[2] = -4, expected a ratio >= 0");
    EXPECT_EQ(replace_key(c, "deepseek4.attention.compress_ratios",
                          [](gguf::Writer& w) {
                              w.add_array<uint32_t>("deepseek4.attention.compress_ratios",
                                                    std::vector<uint32_t>{0, 1, 8, 8, 16, 16});
                          }),
              "m.gguf: deepseek4.attention.compress_ratios[1] = 1, expected 0 or a ratio >= 2");
    EXPECT_NE(replace_key(c, "deepseek4.swiglu_clamp_exp",
                          [](gguf::Writer& w) {
                              w.add_array<uint32_t>("deepseek4.swiglu_clamp_exp", std::vector<uint32_t>(6, 10));
                          })
                  .find("expected an array of FLOAT32 or FLOAT64"),
              std::string::npos);
}

TEST(ModelConfig, AcceptsDs4NumericKeyTypes) {
    // "num" keys accept FLOAT64 / UINT32 / INT32, u64 keys accept UINT32 (MODEL.md §A.3).
    ModelConfig c = no_csa_config();
    auto bytes = meta_file(c, "deepseek4.rope.freq_base", [](gguf::Writer& w) {
        w.add_u32("deepseek4.rope.freq_base", 10000);
    });
    gguf::File f = gguf::File::open_memory(bytes.data(), bytes.size(), "m.gguf");
    EXPECT_FLOAT_EQ(ModelConfig::from_gguf(f).rope_freq_base, 10000.0f);
    auto b2 = meta_file(c, "deepseek4.rope.scaling.original_context_length",
                        [](gguf::Writer& w) { w.add_u32("deepseek4.rope.scaling.original_context_length", 65536); });
    gguf::File f2 = gguf::File::open_memory(b2.data(), b2.size(), "m.gguf");
    EXPECT_EQ(ModelConfig::from_gguf(f2).rope_orig_ctx, 65536u);
}

TEST(ModelConfig, ConsistencyRules) {
    auto err = [](ModelConfig c) {
        try {
            c.validate("x");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    ModelConfig c = no_csa_config();
    EXPECT_EQ(err(c), "(no error)");
    ModelConfig a = c;
    a.o_groups = 3;
    EXPECT_EQ(err(a), "x: deepseek4.attention.output_group_count = 3, expected a divisor of head_count 4");
    ModelConfig b = c;
    b.n_rot = 128;
    EXPECT_EQ(err(b), "x: deepseek4.rope.dimension_count = 128, expected an even number below key_length 128");
    ModelConfig d = c;
    d.n_expert_used = 9;
    EXPECT_EQ(err(d), "x: deepseek4.expert_used_count = 9, expected 1..8");
    ModelConfig e = c;
    e.idx_head_dim = 64;  // narrower indexers are fine for test models (the official numerics refuse them)
    EXPECT_EQ(err(e), "(no error)");
    e.n_rot = 32;
    e.idx_head_dim = 16;
    EXPECT_EQ(err(e), "x: deepseek4.rope.dimension_count = 32, expected at most the indexer key_length 16");
    EXPECT_EQ(err(ModelConfig::flash()), "(no error)");
}

TEST(ModelConfig, RealArchitectureMustMatchDs4) {
    ModelConfig f = ModelConfig::flash();
    f.compress_ratios[3] = 4;
    try {
        f.validate("big.gguf");
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "big.gguf: deepseek4.attention.compress_ratios[3] = 4, expected 128 (DeepSeek V4 Flash)");
    }
    ModelConfig g = ModelConfig::flash();
    g.swiglu_clamp[7] = 7.0f;
    EXPECT_THROW(g.validate("big.gguf"), Error);
    ModelConfig h = ModelConfig::flash();
    h.idx_top_k = 64;
    EXPECT_THROW(h.validate("big.gguf"), Error);
    // The same values on a non-43x4096 model are fine (tiny test models).
    ModelConfig t = SyntheticSpec::tiny().cfg;
    t.idx_top_k = 64;
    EXPECT_NO_THROW(t.validate("tiny"));
}

TEST(ModelConfig, IndexerPresenceMustMatchCsaLayers) {
    ModelConfig c = SyntheticSpec::tiny().cfg;  // layers 2 and 4 are ratio 4 = CSA
    auto bytes = meta_file(c);
    EXPECT_EQ(config_error(bytes),
              "m.gguf: tensor 'blk.2.indexer.attn_q_b.weight' missing: layer 2 has compress ratio 4 (ratio-4 layers "
              "are CSA and need the lightning indexer)");
}

TEST(ContextMemory, MatchesTheFormula) {
    ModelConfig f = ModelConfig::flash();
    ContextMemory m = context_memory(f, 1048576, 2048);
    EXPECT_EQ(m.raw_cap, 128u + 2048u - 1u);
    EXPECT_EQ(m.raw_bytes, 43ull * m.raw_cap * 512 * 4);
    // 21 ratio-4 layers: (512 + 128) floats per 4 tokens; 20 ratio-128 layers: 512 per 128.
    EXPECT_EQ(m.comp_bytes + m.index_bytes, 21ull * (1048576 / 4) * 640 * 4 + 20ull * (1048576 / 128) * 512 * 4);
    EXPECT_EQ(m.compressor_bytes, 21ull * (2 * 8 * 1024 * 4 + 2 * 8 * 256 * 4) + 20ull * (2 * 128 * 512 * 4));
    EXPECT_EQ(context_bytes(f, 1048576, 2048), m.total());
    // ≈ 13.44 GiB of rows at 1M (MODEL.md §D.2).
    EXPECT_NEAR((m.comp_bytes + m.index_bytes) / double(1ull << 30), 13.44, 0.01);
}

}  // namespace
}  // namespace ds4::model
