// End-to-end conversions of fake checkpoints: every tensor's name, type, shape and values,
// the metadata, and core/model's validation of the written file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "fake_checkpoint.h"
#include "gguf/gguf.h"
#include "hf_tensors.h"
#include "host/status.h"
#include "quant/quant.h"

using namespace ds4::convert;
using namespace ds4::convert::testing;
namespace model = ds4::model;
namespace gguf = ds4::gguf;

namespace {

struct Converted {
    FakeCheckpoint ck;
    ConvertResult res;
    std::string path;
};

Converted convert(Naming naming, model::Recipe recipe, int shards = 1, uint64_t seed = 7) {
    Converted c;
    std::string dir = temp_dir(std::string(naming_name(naming)) + "_" + model::recipe_name(recipe));
    c.ck = make_checkpoint(tiny_config(), naming, seed);
    write_checkpoint(dir + "/hf", tiny_config(), naming, c.ck, shards);
    ConvertOptions o;
    o.hf_dir = dir + "/hf";
    o.out_path = dir + "/out.gguf";
    o.recipe = recipe;
    o.threads = 2;
    c.res = convert_hf(o);
    c.path = o.out_path;
    return c;
}

std::vector<float> dequant(const gguf::TensorInfo& t) {
    std::vector<float> out(static_cast<size_t>(t.n_elements));
    const int64_t rl = t.ne[0], rows = t.n_elements / rl;
    for (int64_t r = 0; r < rows; ++r)
        EXPECT_TRUE(ds4::quant::dequantize_row(static_cast<ds4_type>(t.type), t.data + r * t.row_bytes(), out.data() + r * rl, rl));
    return out;
}

// rms(got − want) / rms(want)
double rel_rmse(const std::vector<float>& got, const std::vector<float>& want) {
    double e = 0, w = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        e += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
        w += double(want[i]) * want[i];
    }
    return w > 0 ? std::sqrt(e / w) : std::sqrt(e);
}

// Bounds slightly above core/quant's measured relative RMSE per type (quant.h).
double bound(uint32_t type) {
    switch (type) {
    case DS4_TYPE_F32: return 0;
    case DS4_TYPE_F16: return 1e-3;
    case DS4_TYPE_Q8_0: return 0.02;
    case DS4_TYPE_Q4_K: return 0.15;
    default: return 0.5;  // Q2_K, IQ2_XXS
    }
}

// Opens the GGUF with core/model's validation (as a published ds4 GGUF) and checks every
// tensor against the fake checkpoint.
void check_file(const Converted& c, model::Recipe recipe) {
    gguf::File f = gguf::File::open(c.path);
    model::ModelConfig cfg = model::ModelConfig::from_gguf(f);
    const auto specs = model::model_tensors(cfg);
    ASSERT_NO_THROW(model::validate_layout(f, specs));
    EXPECT_EQ(cfg.compress_ratios, tiny_config().compress_ratios);
    EXPECT_EQ(f.tensors().size(), c.ck.expected.size() + c.ck.expected_i32.size());
    for (const auto& s : specs) {
        const gguf::TensorInfo* t = f.find_tensor(s.name);
        ASSERT_NE(t, nullptr) << s.name;
        EXPECT_EQ(t->type, static_cast<uint32_t>(model::recipe_type(recipe, s.cls))) << s.name;
        EXPECT_EQ(std::vector<int64_t>(t->ne.begin(), t->ne.begin() + t->n_dims), s.ne) << s.name;
        if (t->type == DS4_TYPE_I32) {
            std::vector<int32_t> got(static_cast<size_t>(t->n_elements));
            std::memcpy(got.data(), t->data, t->size);
            EXPECT_EQ(got, c.ck.expected_i32.at(s.name)) << s.name;
            continue;
        }
        const auto& want = c.ck.expected.at(s.name);
        std::vector<float> got = dequant(*t);
        if (t->type == DS4_TYPE_F32) {
            ASSERT_EQ(got.size(), want.size());
            for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << s.name << " [" << i << "]";
        } else {
            EXPECT_LE(rel_rmse(got, want), bound(t->type)) << s.name << " as " << ds4_type_name(t->type);
        }
    }
}

}  // namespace

TEST(Convert, OfficialNamingF32IsExact) {
    Converted c = convert(Naming::Official, model::Recipe::F32);
    EXPECT_EQ(c.res.naming, Naming::Official);
    EXPECT_TRUE(c.res.ignored.empty()) << c.res.ignored.front();
    check_file(c, model::Recipe::F32);
}

TEST(Convert, TransformersNamingF32IsExact) {
    Converted c = convert(Naming::Transformers, model::Recipe::F32);
    EXPECT_EQ(c.res.naming, Naming::Transformers);
    EXPECT_TRUE(c.res.ignored.empty()) << c.res.ignored.front();
    check_file(c, model::Recipe::F32);
}

TEST(Convert, SavePretrainedNamingF32IsExact) {
    Converted c = convert(Naming::Saved, model::Recipe::F32, /*shards=*/2);
    EXPECT_EQ(c.res.naming, Naming::Saved);
    EXPECT_TRUE(c.res.ignored.empty()) << c.res.ignored.front();
    check_file(c, model::Recipe::F32);
}

TEST(Convert, EveryRecipeFromShardedOfficialCheckpoint) {
    for (model::Recipe r : {model::Recipe::F16, model::Recipe::Q8, model::Recipe::Q4, model::Recipe::Q2}) {
        SCOPED_TRACE(model::recipe_name(r));
        Converted c = convert(Naming::Official, r, /*shards=*/3);
        check_file(c, r);
    }
}

TEST(Convert, TransformersNamingQ8) {
    Converted c = convert(Naming::Transformers, model::Recipe::Q8);
    check_file(c, model::Recipe::Q8);
}

TEST(Convert, MetadataKeys) {
    Converted c = convert(Naming::Transformers, model::Recipe::F32);
    gguf::File f = gguf::File::open(c.path);
    EXPECT_EQ(f.get_string("general.architecture"), "deepseek4");
    EXPECT_EQ(f.get_string("general.name"), "hf");
    EXPECT_EQ(f.get_u32("deepseek4.block_count"), 4u);
    EXPECT_EQ(f.get_u32("deepseek4.embedding_length"), 256u);
    EXPECT_EQ(f.get_u32("deepseek4.hash_layer_count"), 2u);
    EXPECT_EQ(f.get_u32("deepseek4.rope.dimension_count"), 64u);
    EXPECT_EQ(f.get_u32("deepseek4.attention.sliding_window"), 8u);
    EXPECT_FLOAT_EQ(f.get_f32("deepseek4.rope.scaling.factor"), 16.0f);
    EXPECT_FLOAT_EQ(f.get_f32("deepseek4.attention.compress_rope_freq_base"), 160000.0f);
    EXPECT_EQ(f.get_u64("deepseek4.rope.scaling.original_context_length"), 65536u);
    EXPECT_TRUE(f.get_bool("deepseek4.expert_weights_norm"));
    const auto& ratios = f.get_array("deepseek4.attention.compress_ratios");
    ASSERT_EQ(ratios.size(), 4u);
    EXPECT_EQ(ratios.as_int(3), 8);
    const auto& toks = f.get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
    ASSERT_EQ(toks.size(), 300u);
    EXPECT_EQ(toks.string(0), "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(toks.string(1), "<｜end▁of▁sentence｜>");
    EXPECT_EQ(f.get_u32("tokenizer.ggml.bos_token_id"), 0u);
    EXPECT_EQ(c.res.vocabulary, "generated");
}

// Hand-computed values of the official FP8 / FP4 encodings (MODEL.md §E.8).
TEST(Convert, Fp8BlockScalesAndFp4NibblesByHand) {
    std::string dir = temp_dir("hand");
    // FP8 [2, 130]: two 128-column scale blocks.
    std::vector<uint8_t> q(2 * 130, 0);
    q[0] = 0x38;          // +1.0  (exp 7, mant 0)
    q[129] = 0x40;        // +2.0  (exp 8) in column block 1
    q[130 + 5] = 0xBC;    // −1.5  (sign, exp 7, mant 4)
    q[130 + 6] = 0x01;    // 2^-9 subnormal
    std::vector<uint8_t> sc = {127, 128};  // ×1, ×2
    // FP4 expert [1, 64] packed [1, 32], scales per 32 columns.
    std::vector<uint8_t> p(32, 0);
    p[0] = 0x72;   // col 0: code 2 = 1.0, col 1: code 7 = 6.0
    p[16] = 0x9A;  // col 32: code 0xA = −1.0, col 33: code 9 = −0.5
    std::vector<uint8_t> ps = {127, 126};  // ×1, ×0.5
    write_safetensors(dir + "/m.safetensors",
                      {u8_tensor("layers.0.attn.wkv.weight", "F8_E4M3", {2, 130}, q),
                       u8_tensor("layers.0.attn.wkv.scale", "F8_E8M0", {1, 2}, sc),
                       u8_tensor("layers.0.ffn.experts.0.w1.weight", "I8", {1, 32}, p),
                       u8_tensor("layers.0.ffn.experts.0.w1.scale", "F8_E8M0", {1, 2}, ps)});
    Checkpoint ck(dir);
    model::ModelConfig cfg = tiny_config();

    model::TensorSpec kv;
    kv.name = "blk.0.attn_kv.weight";
    kv.hf_name = "layers.0.attn.wkv.weight";
    kv.ne = {130, 2};
    kv.cls = model::TensorClass::AttnProj;
    auto src = open_source(ck, Naming::Official, kv, cfg);
    std::vector<float> rows(260);
    src->read_rows(0, 2, rows.data());
    EXPECT_EQ(rows[0], 1.0f);
    EXPECT_EQ(rows[129], 4.0f);  // 2.0 × 2^(128−127)
    EXPECT_EQ(rows[130 + 5], -1.5f);
    EXPECT_EQ(rows[130 + 6], std::ldexp(1.0f, -9));
    EXPECT_EQ(rows[1], 0.0f);

    model::TensorSpec ex;
    ex.name = "blk.0.ffn_gate_exps.weight";
    ex.hf_name = "layers.0.ffn.experts.{E}.w1.weight";
    ex.ne = {64, 1, 1};
    ex.cls = model::TensorClass::ExpertGateUp;
    src = open_source(ck, Naming::Official, ex, cfg);
    std::vector<float> e(64);
    src->read_rows(0, 1, e.data());
    EXPECT_EQ(e[0], 1.0f);
    EXPECT_EQ(e[1], 6.0f);
    EXPECT_EQ(e[2], 0.0f);
    EXPECT_EQ(e[32], -0.5f);   // −1.0 × 2^(126−127)
    EXPECT_EQ(e[33], -0.25f);  // −0.5 × 0.5
}

TEST(Convert, TransformersNamesAndGateUpSplit) {
    model::ModelConfig cfg = tiny_config();
    std::map<std::string, std::string> names;
    for (const auto& s : model::model_tensors(cfg)) names[s.name] = source_name(Naming::Transformers, s);
    EXPECT_EQ(names["token_embd.weight"], "model.embed_tokens.weight");
    EXPECT_EQ(names["output.weight"], "lm_head.weight");
    EXPECT_EQ(names["output_hc_fn.weight"], "model.hc_head.hc_fn");
    EXPECT_EQ(names["blk.0.attn_q_a.weight"], "model.layers.0.self_attn.q_a_proj.weight");
    EXPECT_EQ(names["blk.0.attn_sinks.weight"], "model.layers.0.self_attn.sinks");
    EXPECT_EQ(names["blk.0.hc_ffn_fn.weight"], "model.layers.0.ffn_hc.fn");
    EXPECT_EQ(names["blk.0.ffn_gate_tid2eid.weight"], "model.layers.0.mlp.gate.tid2eid");
    EXPECT_EQ(names["blk.3.exp_probs_b.bias"], "model.layers.3.mlp.gate.e_score_correction_bias");
    EXPECT_EQ(names["blk.2.indexer.proj.weight"], "model.layers.2.self_attn.compressor.indexer.scorer.weights_proj.weight");
    EXPECT_EQ(names["blk.2.indexer_compressor_ape.weight"], "model.layers.2.self_attn.compressor.indexer.position_bias");
    EXPECT_EQ(names["blk.3.attn_compressor_norm.weight"], "model.layers.3.self_attn.compressor.kv_norm.weight");
    EXPECT_EQ(names["blk.1.ffn_up_exps.weight"], "model.layers.1.mlp.experts.gate_up_proj");
    EXPECT_EQ(names["blk.1.ffn_down_shexp.weight"], "model.layers.1.mlp.shared_experts.down_proj.weight");

    std::map<std::string, std::string> saved;
    for (const auto& s : model::model_tensors(cfg)) saved[s.name] = source_name(Naming::Saved, s);
    // As transformers 5.17 save_pretrained writes them (tests/reference/fixtures/*/tensors.txt).
    EXPECT_EQ(saved["token_embd.weight"], "model.embed_tokens.weight");
    EXPECT_EQ(saved["output.weight"], "head.weight");
    EXPECT_EQ(saved["output_norm.weight"], "model.norm.weight");
    EXPECT_EQ(saved["output_hc_scale.weight"], "model.hc_head.hc_scale");
    EXPECT_EQ(saved["blk.0.attn_kv_a_norm.weight"], "model.layers.0.attn.norm.weight");
    EXPECT_EQ(saved["blk.0.attn_q_a_norm.weight"], "model.layers.0.attn.q_norm.weight");
    EXPECT_EQ(saved["blk.0.hc_attn_fn.weight"], "model.layers.0.hc_attn_fn");
    EXPECT_EQ(saved["blk.3.exp_probs_b.bias"], "model.layers.3.ffn.gate.bias");
    EXPECT_EQ(saved["blk.2.indexer_compressor_ape.weight"], "model.layers.2.attn.indexer.compressor.ape");
    EXPECT_EQ(saved["blk.1.ffn_down_exps.weight"], "model.layers.1.ffn.experts.{E}.w2.weight");

    // gate_up_proj [E=1, 2I=4, H=2]: rows 0,1 gate; rows 2,3 up.
    std::string dir = temp_dir("fused");
    write_safetensors(dir + "/m.safetensors",
                      {f32_tensor("model.layers.0.mlp.experts.gate_up_proj", {1, 4, 2}, {1, 2, 3, 4, 5, 6, 7, 8})});
    Checkpoint ck(dir);
    model::TensorSpec up;
    up.name = "blk.0.ffn_up_exps.weight";
    up.hf_name = "layers.0.ffn.experts.{E}.w3.weight";
    up.ne = {2, 2, 1};
    up.cls = model::TensorClass::ExpertGateUp;
    auto src = open_source(ck, Naming::Transformers, up, cfg);
    std::vector<float> v(4);
    src->read_rows(0, 2, v.data());
    EXPECT_EQ(v, (std::vector<float>{5, 6, 7, 8}));
    model::TensorSpec gate = up;
    gate.name = "blk.0.ffn_gate_exps.weight";
    src = open_source(ck, Naming::Transformers, gate, cfg);
    src->read_rows(0, 2, v.data());
    EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4}));
}

TEST(Convert, UnusedTensorsAreReportedAndMtpSkipped) {
    std::string dir = temp_dir("extra");
    FakeCheckpoint ck = make_checkpoint(tiny_config(), Naming::Official, 3);
    ck.tensors.push_back(f32_tensor("layers.0.attn.surprise", {2}, {1, 2}));
    ck.tensors.push_back(f32_tensor("mtp.0.enorm.weight", {256}, std::vector<float>(256, 1.0f)));
    write_checkpoint(dir, tiny_config(), Naming::Official, ck);
    ConvertOptions o;
    o.hf_dir = dir;
    o.out_path = dir + "/out.gguf";
    o.recipe = model::Recipe::F16;
    std::vector<std::string> seen;
    o.on_ignored = [&](const std::string& n) { seen.push_back(n); };
    ConvertResult r = convert_hf(o);
    EXPECT_EQ(r.ignored, (std::vector<std::string>{"layers.0.attn.surprise"}));
    EXPECT_EQ(seen, r.ignored);
}

TEST(Convert, OptionalRouterBiasMayBeAbsent) {
    std::string dir = temp_dir("nobias");
    FakeCheckpoint ck = make_checkpoint(tiny_config(), Naming::Official, 3);
    std::erase_if(ck.tensors, [](const FakeTensor& t) { return t.name.find("ffn.gate.bias") != std::string::npos; });
    write_checkpoint(dir, tiny_config(), Naming::Official, ck);
    ConvertOptions o;
    o.hf_dir = dir;
    o.out_path = dir + "/out.gguf";
    o.recipe = model::Recipe::F32;
    convert_hf(o);
    gguf::File f = gguf::File::open(o.out_path);
    EXPECT_EQ(f.find_tensor("blk.3.exp_probs_b.bias"), nullptr);
    EXPECT_NO_THROW(model::validate_layout(f, model::model_tensors(model::ModelConfig::from_gguf(f))));
}

TEST(Convert, TiedEmbeddingsFeedTheLmHead) {
    std::string dir = temp_dir("tied");
    FakeCheckpoint ck = make_checkpoint(tiny_config(), Naming::Transformers, 5);
    std::erase_if(ck.tensors, [](const FakeTensor& t) { return t.name == "lm_head.weight"; });
    write_checkpoint(dir, tiny_config(), Naming::Transformers, ck);
    ConvertOptions o;
    o.hf_dir = dir;
    o.out_path = dir + "/out.gguf";
    o.recipe = model::Recipe::F32;
    // Untied (the config says false): the missing head is an error naming it.
    try {
        convert_hf(o);
        FAIL() << "expected a missing-tensor error";
    } catch (const ds4::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'lm_head.weight'"), std::string::npos) << e.what();
    }
    auto j = nlohmann::json::parse(transformers_config_json(tiny_config()));
    j["tie_word_embeddings"] = true;
    write_text(dir + "/config.json", j.dump());
    convert_hf(o);
    gguf::File f = gguf::File::open(o.out_path);
    const auto& head = f.tensor("output.weight");
    const auto& embd = f.tensor("token_embd.weight");
    ASSERT_EQ(head.size, embd.size);
    EXPECT_EQ(0, std::memcmp(head.data, embd.data, head.size));
}

TEST(Synthetic, TinyQ2PassesPublishedValidation) {
    std::string dir = temp_dir("syn");
    SyntheticOptions o;
    o.preset = "tiny";
    o.layers = 3;  // sliding, sliding, CSA: every tensor family, a third of the IQ2_XXS work
    o.recipe = model::Recipe::Q2;
    o.seed = 11;
    o.out_path = dir + "/tiny.gguf";
    model::ModelConfig cfg = write_synthetic_model(o);
    gguf::File f = gguf::File::open(o.out_path);
    model::ModelConfig got = model::ModelConfig::from_gguf(f);
    EXPECT_EQ(got.n_layer, cfg.n_layer);
    EXPECT_NO_THROW(model::validate_layout(f, model::model_tensors(got)));
    EXPECT_EQ(f.tensor("blk.0.ffn_gate_exps.weight").type, static_cast<uint32_t>(DS4_TYPE_IQ2_XXS));
    EXPECT_EQ(f.tensor("blk.0.ffn_down_exps.weight").type, static_cast<uint32_t>(DS4_TYPE_Q2_K));
}

TEST(Synthetic, TinyWithMoreLayersAndSameSeedIsDeterministic) {
    std::string dir = temp_dir("syn8");
    SyntheticOptions o;
    o.preset = "tiny";
    o.layers = 8;
    o.recipe = model::Recipe::F16;
    o.seed = 5;
    o.out_path = dir + "/a.gguf";
    write_synthetic_model(o);
    o.out_path = dir + "/b.gguf";
    write_synthetic_model(o);
    gguf::File f = gguf::File::open(dir + "/a.gguf");
    model::ModelConfig got = model::ModelConfig::from_gguf(f);
    EXPECT_EQ(got.compress_ratios, (std::vector<uint32_t>{0, 0, 4, 8, 4, 16, 4, 8}));
    EXPECT_NO_THROW(model::validate_layout(f, model::model_tensors(got)));
    EXPECT_EQ(std::filesystem::file_size(dir + "/a.gguf"), std::filesystem::file_size(dir + "/b.gguf"));
    gguf::File g = gguf::File::open(dir + "/b.gguf");
    const auto& ta = f.tensor("blk.7.attn_kv.weight");
    const auto& tb = g.tensor("blk.7.attn_kv.weight");
    EXPECT_EQ(0, std::memcmp(ta.data, tb.data, ta.size));
}

TEST(Synthetic, UnknownPresetIsAnError) {
    SyntheticOptions o;
    o.preset = "huge";
    o.out_path = temp_dir("bad") + "/x.gguf";
    try {
        write_synthetic_model(o);
        FAIL();
    } catch (const ds4::Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown preset 'huge'"), std::string::npos);
    }
}
