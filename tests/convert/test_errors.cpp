// Malformed checkpoints: every failure is one clear error naming the tensor and the file,
// and the output path is left untouched.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "convert.h"
#include "fake_checkpoint.h"
#include "host/status.h"
#include "safetensors.h"

using namespace ds4::convert;
using namespace ds4::convert::testing;
namespace model = ds4::model;

namespace {

struct Case {
    std::string dir;
    FakeCheckpoint ck;
};

Case make_case(Naming naming, const std::string& name) {
    Case c{temp_dir(name), make_checkpoint(tiny_config(), naming, 9)};
    return c;
}

// Converts c.dir (already written) and returns the error message ("" when it succeeded).
std::string convert_error(const std::string& dir, model::Recipe recipe = model::Recipe::F32) {
    ConvertOptions o;
    o.hf_dir = dir;
    o.out_path = dir + "/out.gguf";
    o.recipe = recipe;
    try {
        convert_hf(o);
    } catch (const ds4::Error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace

TEST(ConvertErrors, MissingTensorNamesCheckpointAndGgufName) {
    Case c = make_case(Naming::Official, "missing");
    std::erase_if(c.ck.tensors, [](const FakeTensor& t) { return t.name == "layers.1.attn.wq_b.weight"; });
    write_checkpoint(c.dir, tiny_config(), Naming::Official, c.ck);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "no tensor 'layers.1.attn.wq_b.weight'")) << e;
    EXPECT_TRUE(contains(e, "blk.1.attn_q_b.weight")) << e;
    EXPECT_FALSE(std::filesystem::exists(c.dir + "/out.gguf"));
}

TEST(ConvertErrors, MissingExpertOfAStack) {
    Case c = make_case(Naming::Official, "expert");
    std::erase_if(c.ck.tensors, [](const FakeTensor& t) { return t.name == "layers.2.ffn.experts.1.w2.weight"; });
    write_checkpoint(c.dir, tiny_config(), Naming::Official, c.ck);
    EXPECT_TRUE(contains(convert_error(c.dir), "'layers.2.ffn.experts.1.w2.weight'"));
}

TEST(ConvertErrors, Fp8WithoutScale) {
    Case c = make_case(Naming::Official, "noscale");
    std::erase_if(c.ck.tensors, [](const FakeTensor& t) { return t.name == "layers.0.attn.wkv.scale"; });
    write_checkpoint(c.dir, tiny_config(), Naming::Official, c.ck);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "tensor 'layers.0.attn.wkv.weight': F8_E4M3 weight without its block scale")) << e;
    EXPECT_TRUE(contains(e, "model.safetensors")) << e;
}

TEST(ConvertErrors, WrongScaleGrid) {
    Case c = make_case(Naming::Official, "badscale");
    FakeTensor* s = find(c.ck, "layers.0.attn.wkv.scale");
    ASSERT_NE(s, nullptr);
    s->shape = {2, 1};  // [out/128, in/128] is [1, 2]
    write_checkpoint(c.dir, tiny_config(), Naming::Official, c.ck);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "layers.0.attn.wkv.scale': FP8 block scale F8_E8M0 [2, 1], expected F8_E8M0 [1, 2]")) << e;
}

TEST(ConvertErrors, WrongShapeNamesFileAndBothShapes) {
    Case c = make_case(Naming::Transformers, "shape");
    FakeTensor* t = find(c.ck, "model.layers.0.self_attn.kv_proj.weight");
    ASSERT_NE(t, nullptr);
    t->shape = {256, 128};  // transposed: expected [128, 256]
    write_checkpoint(c.dir, tiny_config(), Naming::Transformers, c.ck);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "model.safetensors: tensor 'model.layers.0.self_attn.kv_proj.weight': shape [256, 128], "
                            "expected [128, 256]")) << e;
    EXPECT_TRUE(contains(e, "blk.0.attn_kv.weight")) << e;
}

TEST(ConvertErrors, UnsupportedDtypeForATensor) {
    Case c = make_case(Naming::Transformers, "dtype");
    FakeTensor* t = find(c.ck, "model.norm.weight");
    ASSERT_NE(t, nullptr);
    t->dtype = "I32";
    write_checkpoint(c.dir, tiny_config(), Naming::Transformers, c.ck);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "tensor 'model.norm.weight': unsupported dtype I32")) << e;
}

TEST(ConvertErrors, UnknownDtypeInHeader) {
    Case c = make_case(Naming::Transformers, "f8e5");
    FakeTensor* t = find(c.ck, "model.norm.weight");
    t->dtype = "F8_E5M2";
    t->bytes.resize(256);
    write_checkpoint(c.dir, tiny_config(), Naming::Transformers, c.ck);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "tensor 'model.norm.weight': unsupported dtype 'F8_E5M2'")) << e;
}

TEST(ConvertErrors, TruncatedSafetensors) {
    Case c = make_case(Naming::Transformers, "trunc");
    write_checkpoint(c.dir, tiny_config(), Naming::Transformers, c.ck);
    const std::string st = c.dir + "/model.safetensors";
    std::filesystem::resize_file(st, std::filesystem::file_size(st) - 1000);
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, st)) << e;
    EXPECT_TRUE(contains(e, "outside the data section")) << e;
}

TEST(ConvertErrors, TruncatedHeader) {
    std::string dir = temp_dir("hdr");
    write_text(dir + "/config.json", official_config_json(tiny_config()));
    std::string bytes(8, '\0');
    bytes[0] = 100;  // header claims 100 bytes, file has 4
    write_text(dir + "/model.safetensors", bytes + "{\"a\"");
    std::string e = convert_error(dir);
    EXPECT_TRUE(contains(e, "model.safetensors: header length 100 exceeds the file")) << e;
}

TEST(ConvertErrors, BadHeaderJson) {
    std::string dir = temp_dir("json");
    write_text(dir + "/config.json", official_config_json(tiny_config()));
    std::string h = "{\"embed.weight\": {\"dtype\": \"F32\",, }";
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(h.size());
    write_text(dir + "/model.safetensors", bytes + h);
    std::string e = convert_error(dir);
    EXPECT_TRUE(contains(e, "model.safetensors: header is not valid JSON")) << e;
}

TEST(ConvertErrors, HashTableExpertOutOfRange) {
    Case c = make_case(Naming::Official, "tid");
    FakeTensor* t = find(c.ck, "layers.1.ffn.gate.tid2eid");
    ASSERT_NE(t, nullptr);
    int64_t bad = 7;  // 2 experts
    std::memcpy(t->bytes.data() + 8 * 5, &bad, 8);
    write_checkpoint(c.dir, tiny_config(), Naming::Official, c.ck);
    // An existing output must survive a failed conversion.
    write_text(c.dir + "/out.gguf", "previous");
    std::string e = convert_error(c.dir);
    EXPECT_TRUE(contains(e, "layers.1.ffn.gate.tid2eid': token 5 routes to expert 7, expected 0..1")) << e;
    std::ifstream in(c.dir + "/out.gguf");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(s, "previous");
}

TEST(ConvertErrors, NotACheckpoint) {
    std::string dir = temp_dir("empty");
    EXPECT_TRUE(contains(convert_error(dir), "config.json: cannot open"));
    write_text(dir + "/config.json", official_config_json(tiny_config()));
    EXPECT_TRUE(contains(convert_error(dir), "no *.safetensors files"));
    write_safetensors(dir + "/model.safetensors", {f32_tensor("foo", {1}, {1.0f})});
    EXPECT_TRUE(contains(convert_error(dir), "not a DeepSeek V4 checkpoint"));
}

TEST(ConvertErrors, DuplicateTensorAcrossShards) {
    std::string dir = temp_dir("dup");
    write_text(dir + "/config.json", official_config_json(tiny_config()));
    write_safetensors(dir + "/a.safetensors", {f32_tensor("embed.weight", {1}, {1.0f})});
    write_safetensors(dir + "/b.safetensors", {f32_tensor("embed.weight", {1}, {1.0f})});
    EXPECT_TRUE(contains(convert_error(dir), "tensor 'embed.weight' appears in more than one shard"));
}

TEST(ConvertErrors, RecipeBlockSizeMismatch) {
    // d = 200 is not a multiple of 256: IQ2_XXS experts cannot hold a row.
    model::ModelConfig c = tiny_config();
    c.d = 224;
    std::string dir = temp_dir("block");
    FakeCheckpoint ck = make_checkpoint(c, Naming::Transformers, 1);
    write_checkpoint(dir, c, Naming::Transformers, ck);
    std::string e = convert_error(dir, model::Recipe::Q2);
    EXPECT_TRUE(contains(e, "recipe q2")) << e;
    EXPECT_TRUE(contains(e, "iq2_xxs")) << e;
    EXPECT_EQ(convert_error(dir, model::Recipe::F16), "");
}

// Hostile bytes: random corruptions of a small safetensors file (header and data) must give
// a ds4::Error or a well-formed file, never a crash (run under ASan in CI builds).
TEST(ConvertErrors, RandomCorruptionsGiveErrorsNotCrashes) {
    std::string dir = temp_dir("fuzz");
    write_safetensors(dir + "/m.safetensors",
                      {f32_tensor("a", {2, 3}, {1, 2, 3, 4, 5, 6}), i64_tensor("b", {2}, {7, 8}),
                       u8_tensor("c", "F8_E4M3", {4}, {0x38, 0x40, 0xBC, 0x01})});
    std::ifstream in(dir + "/m.safetensors", std::ios::binary);
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    int errors = 0, opened = 0;
    for (uint64_t iter = 0; iter < 250; ++iter) {
        std::string bad = good;
        const int n_flips = 1 + static_cast<int>(mix(iter, 0) % 4);
        for (int k = 0; k < n_flips; ++k) {
            size_t pos = mix(iter, 1 + k) % bad.size();
            bad[pos] = static_cast<char>(mix(iter, 100 + k) & 0xFF);
        }
        if (iter % 7 == 0) bad.resize(mix(iter, 9) % bad.size());  // truncations too
        write_text(dir + "/x.safetensors", bad);
        try {
            SafetensorsFile f(dir + "/x.safetensors");
            for (const StTensor& t : f.tensors()) (void)to_f32(t);
            ++opened;
        } catch (const ds4::Error& e) {
            EXPECT_NE(std::string(e.what()).find("x.safetensors"), std::string::npos) << e.what();
            ++errors;
        }
    }
    EXPECT_GT(errors, 60);
    EXPECT_GT(opened, 5);   // flips inside the data section leave a valid file
}
