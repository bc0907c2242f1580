// The layout table: tensor counts of the real model, recipe types, and refusals of bad files
// (first bad tensor named with expected vs actual).
#include <gtest/gtest.h>

#include <functional>

#include "gguf/gguf.h"
#include "host/status.h"
#include "model/layout.h"
#include "model/synthetic.h"
#include "model_fixture.h"

namespace ds4::model {
namespace {

TEST(Layout, RealModelTensorCount) {
    std::vector<TensorSpec> t = model_tensors(ModelConfig::flash());
    size_t required = 0, optional = 0;
    for (auto& s : t) (s.optional ? optional : required)++;
    // MODEL.md §B.4 derives 1328 tensors for the official file, which has exp_probs_b on
    // layers 3..42 (optional in ds4, so listed as optional here).
    EXPECT_EQ(required + optional, 1328u);
    EXPECT_EQ(optional, 40u);
    EXPECT_EQ(t[0].name, "token_embd.weight");
    EXPECT_EQ(t[0].ne, (std::vector<int64_t>{4096, 129280}));
    auto find = [&](const std::string& n) -> const TensorSpec& {
        for (auto& s : t)
            if (s.name == n) return s;
        throw std::runtime_error("no " + n);
    };
    EXPECT_EQ(find("blk.2.attn_compressor_ape.weight").ne, (std::vector<int64_t>{1024, 4}));
    EXPECT_EQ(find("blk.3.attn_compressor_ape.weight").ne, (std::vector<int64_t>{512, 128}));
    EXPECT_EQ(find("blk.4.indexer_compressor_kv.weight").ne, (std::vector<int64_t>{4096, 256}));
    EXPECT_EQ(find("blk.0.ffn_gate_tid2eid.weight").ne, (std::vector<int64_t>{6, 129280}));
    EXPECT_EQ(find("blk.42.ffn_down_exps.weight").ne, (std::vector<int64_t>{2048, 4096, 256}));
    EXPECT_EQ(find("blk.5.attn_output_a.weight").ne, (std::vector<int64_t>{4096, 8192}));
    EXPECT_EQ(find("blk.5.attn_output_a.weight").hf_name, "layers.5.attn.wo_a.weight");
    EXPECT_EQ(mtp_tensors(ModelConfig::flash()).size(), 8u + 24u);
}

TEST(Layout, RecipeTypes) {
    EXPECT_EQ(recipe_type(Recipe::Q2, TensorClass::ExpertGateUp), DS4_TYPE_IQ2_XXS);
    EXPECT_EQ(recipe_type(Recipe::Q2, TensorClass::ExpertDown), DS4_TYPE_Q2_K);
    EXPECT_EQ(recipe_type(Recipe::Q4, TensorClass::ExpertDown), DS4_TYPE_Q4_K);
    EXPECT_EQ(recipe_type(Recipe::Q8, TensorClass::ExpertGateUp), DS4_TYPE_Q8_0);
    EXPECT_EQ(recipe_type(Recipe::Q2, TensorClass::AttnProj), DS4_TYPE_Q8_0);
    EXPECT_EQ(recipe_type(Recipe::Q2, TensorClass::Output), DS4_TYPE_Q8_0);
    EXPECT_EQ(recipe_type(Recipe::Q2, TensorClass::Compressor), DS4_TYPE_F16);
    EXPECT_EQ(recipe_type(Recipe::Q2, TensorClass::Embedding), DS4_TYPE_F16);
    EXPECT_EQ(recipe_type(Recipe::F16, TensorClass::AttnProj), DS4_TYPE_F16);
    EXPECT_EQ(recipe_type(Recipe::F16, TensorClass::SmallF32), DS4_TYPE_F32);
    EXPECT_EQ(recipe_type(Recipe::F32, TensorClass::ExpertDown), DS4_TYPE_F32);
    EXPECT_EQ(recipe_type(Recipe::F32, TensorClass::Tid2Eid), DS4_TYPE_I32);
    EXPECT_EQ(parse_recipe("q4"), Recipe::Q4);
    EXPECT_THROW(parse_recipe("q3"), Error);
}

// A file with every tensor of the tiny layout (zero bytes), after `mutate` may change a
// tensor's type/shape or drop it (return false), plus extra tensors.
std::vector<uint8_t> layout_file(const std::function<bool(TensorSpec&, uint32_t&)>& mutate,
                                 const std::vector<std::string>& extra = {}) {
    ModelConfig cfg = SyntheticSpec::tiny().cfg;
    gguf::Writer w;
    cfg.write_metadata(w);
    for (TensorSpec t : model_tensors(cfg)) {
        uint32_t type = recipe_type(Recipe::Q2, t.cls);
        if (!mutate(t, type)) continue;
        int64_t bytes = ds4_type_row_bytes(type, t.ne[0]) * (t.n_elements() / t.ne[0]);
        w.add_tensor(t.name, type, t.ne, std::vector<uint8_t>(bytes, 0));
    }
    for (auto& n : extra) w.add_tensor(n, DS4_TYPE_F32, {4}, std::vector<uint8_t>(16, 0));
    return w.write_to_memory();
}

std::string layout_error(const std::vector<uint8_t>& bytes) {
    gguf::File f = gguf::File::open_memory(bytes.data(), bytes.size(), "m.gguf");
    try {
        ModelConfig cfg = ModelConfig::from_gguf(f);
        validate_layout(f, model_tensors(cfg));
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Layout, AcceptsTheTinyQ2Layout) {
    EXPECT_EQ(layout_error(layout_file([](TensorSpec&, uint32_t&) { return true; })), "(no error)");
    // Optional router bias absent, MTP tensors tolerated.
    EXPECT_EQ(layout_error(layout_file([](TensorSpec& t, uint32_t&) { return !t.optional; }, {"mtp.0.enorm.weight"})),
              "(no error)");
}

TEST(Layout, RefusesBadTensors) {
    EXPECT_EQ(layout_error(layout_file([](TensorSpec& t, uint32_t& ty) {
                  if (t.name == "blk.1.attn_norm.weight") ty = DS4_TYPE_F16;
                  return true;
              })),
              "m.gguf: tensor 'blk.1.attn_norm.weight': type f16, expected f32");
    EXPECT_EQ(layout_error(layout_file([](TensorSpec& t, uint32_t&) {
                  if (t.name == "blk.3.attn_kv.weight") t.ne = {256, 64};
                  return true;
              })),
              "m.gguf: tensor 'blk.3.attn_kv.weight': shape [256, 64], expected [256, 128]");
    EXPECT_EQ(layout_error(layout_file([](TensorSpec& t, uint32_t&) { return t.name != "output.weight"; })),
              "m.gguf: tensor 'output.weight' is missing (expected [256, 384] q8_0|f16|bf16|f32)");
    EXPECT_EQ(layout_error(layout_file([](TensorSpec& t, uint32_t& ty) {
                  if (t.name == "blk.4.ffn_up_exps.weight") ty = DS4_TYPE_Q4_K;
                  return true;
              })),
              "m.gguf: tensor 'blk.4.ffn_up_exps.weight': type q4_k, but the gate experts of this layer are iq2_xxs "
              "(gate and up must share a type)");
    EXPECT_EQ(layout_error(layout_file([](TensorSpec&, uint32_t&) { return true; }, {"blk.0.mystery.weight"})),
              "m.gguf: unknown tensor 'blk.0.mystery.weight' (not part of the ds4 layout for this configuration)");
    EXPECT_EQ(layout_error(layout_file([](TensorSpec& t, uint32_t& ty) {
                  if (t.name == "blk.0.ffn_gate_tid2eid.weight") ty = DS4_TYPE_F32;
                  return true;
              })),
              "m.gguf: tensor 'blk.0.ffn_gate_tid2eid.weight': type f32, expected i32");
}

TEST(Synthetic, VocabularyHasTheSpecialsByString) {
    auto v = synthetic_vocab(384);
    ASSERT_EQ(v.size(), 384u);
    EXPECT_EQ(v[0], "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(v[1], "<｜end▁of▁sentence｜>");
    EXPECT_EQ(v[2 + ' '], "Ġ");
    EXPECT_EQ(v[2 + 'a'], "a");
    EXPECT_NE(std::find(v.begin(), v.end(), "<think>"), v.end());
    EXPECT_NE(std::find(v.begin(), v.end(), "｜DSML｜"), v.end());
    EXPECT_THROW(synthetic_vocab(100), Error);
}

TEST(Synthetic, WritesAValidDeterministicFile) {
    SyntheticSpec s = SyntheticSpec::tiny();
    s.recipe = Recipe::Q8;  // fast to quantize; the q2 file is checked below
    s.cfg.n_layer = 4;      // smaller file; still sliding, hash, CSA and HCA layers
    s.cfg.compress_ratios = {0, 0, 4, 8};
    s.cfg.swiglu_clamp.assign(4, 10.0f);
    std::string p1 = std::string(DS4_MODEL_TEST_DIR) + "/syn-a.gguf", p2 = std::string(DS4_MODEL_TEST_DIR) + "/syn-b.gguf";
    uint64_t calls = 0, last_total = 0;
    write_synthetic(p1, s, [&](const std::string&, uint64_t done, uint64_t total, uint64_t, uint64_t) {
        ++calls;
        EXPECT_LE(done, total);
        last_total = total;
    });
    write_synthetic(p2, s);
    EXPECT_EQ(calls, last_total);
    gguf::File a = gguf::File::open(p1), b = gguf::File::open(p2);
    ModelConfig cfg = ModelConfig::from_gguf(a);
    EXPECT_NO_THROW(validate_layout(a, model_tensors(cfg)));
    ASSERT_EQ(a.file_size(), b.file_size());
    EXPECT_EQ(0, std::memcmp(a.base(), b.base(), a.file_size()));
    EXPECT_EQ(a.tensor("blk.3.ffn_gate_exps.weight").type, DS4_TYPE_Q8_0);
    gguf::File q2 = gguf::File::open(test::tiny_model_path(Recipe::Q2));
    EXPECT_EQ(q2.tensor("blk.3.ffn_gate_exps.weight").type, DS4_TYPE_IQ2_XXS);
    EXPECT_EQ(q2.tensor("blk.3.ffn_up_exps.weight").type, DS4_TYPE_IQ2_XXS);
    EXPECT_EQ(q2.tensor("blk.3.ffn_down_exps.weight").type, DS4_TYPE_Q2_K);
    EXPECT_EQ(q2.tensor("blk.3.attn_q_b.weight").type, DS4_TYPE_Q8_0);
    EXPECT_EQ(q2.tensor("blk.3.hc_attn_fn.weight").type, DS4_TYPE_F16);
    EXPECT_EQ(q2.tensor("blk.3.attn_norm.weight").type, DS4_TYPE_F32);
    EXPECT_EQ(a.get_array("tokenizer.ggml.tokens").size(), 384u);
    // A different seed gives different weights.
    s.seed = 99;
    write_synthetic(p2, s);
    gguf::File c = gguf::File::open(p2);
    EXPECT_NE(0, std::memcmp(a.tensor("blk.1.attn_kv.weight").data, c.tensor("blk.1.attn_kv.weight").data,
                             a.tensor("blk.1.attn_kv.weight").size));
}

}  // namespace
}  // namespace ds4::model

namespace ds4::model {
namespace {

TEST(Mtp, SyntheticMtpFileBindsAndBadOnesAreRefused) {
    std::string why;
    SyntheticSpec s = SyntheticSpec::tiny();
    s.recipe = Recipe::Q8;
    std::string path = std::string(DS4_MODEL_TEST_DIR) + "/tiny-mtp.gguf";
    write_synthetic_mtp(path, s);
    gguf::File f = gguf::File::open(path);
    EXPECT_NO_THROW(validate_layout(f, mtp_tensors(s.cfg)));
    EXPECT_EQ(f.tensor("mtp.0.e_proj.weight").type, DS4_TYPE_Q8_0);
    EXPECT_EQ(f.tensor("mtp.0.exp_probs_b.bias").ne[0], 8);
    if (const host::Device* dev = test::cpu_device(&why)) {
        auto m = Model::open(test::tiny_model_path(Recipe::F32), *dev);
        m->attach_mtp(path);
        ASSERT_NE(m->mtp(), nullptr);
        EXPECT_NE(m->mtp()->find("mtp.0.ffn_gate_exps.weight"), nullptr);
        // A main model file is not an MTP file.
        try {
            m->attach_mtp(test::tiny_model_path(Recipe::F32));
            FAIL() << "accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("tensor 'mtp.0.hc_head_base.weight' is missing"), std::string::npos)
                << e.what();
        }
    }
    // The MTP block requires its router bias.
    gguf::Writer w;
    for (const TensorSpec& t : mtp_tensors(s.cfg)) {
        if (t.name == "mtp.0.exp_probs_b.bias") continue;
        uint32_t type = recipe_type(Recipe::F16, t.cls);
        w.add_tensor(t.name, type, t.ne,
                     std::vector<uint8_t>(ds4_type_row_bytes(type, t.ne[0]) * (t.n_elements() / t.ne[0]), 0));
    }
    auto bytes = w.write_to_memory();
    gguf::File g = gguf::File::open_memory(bytes.data(), bytes.size(), "mtp.gguf");
    try {
        validate_layout(g, mtp_tensors(s.cfg));
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "mtp.gguf: tensor 'mtp.0.exp_probs_b.bias' is missing (expected [8] f32)");
    }
}

}  // namespace
}  // namespace ds4::model
