// Vocabularies written to tokenizer.ggml.* (frontends/convert/vocab.cpp).
#include <gtest/gtest.h>

#include "fake_checkpoint.h"
#include "host/status.h"
#include "convert.h"
#include "gguf/gguf.h"
#include "vocab.h"

using namespace ds4::convert;
using namespace ds4::convert::testing;

namespace {
std::string tokenizer_json(const std::string& extra_added = "") {
    return R"({"model": {"type": "BPE", "vocab": {"a": 2, "b": 3, "ab": 4},
              "merges": ["a b", ["ab", "b"]]},
              "added_tokens": [{"id": 0, "content": "<｜begin▁of▁sentence｜>", "special": true},
                               {"id": 1, "content": "<｜end▁of▁sentence｜>", "special": true})" +
           extra_added + "]}";
}
}  // namespace

TEST(Vocab, TokenizerJsonPaddedToVocabSize) {
    std::string dir = temp_dir("tok");
    write_text(dir + "/tokenizer.json", tokenizer_json());
    Vocabulary v = load_tokenizer_json(dir + "/tokenizer.json", 10);
    ASSERT_EQ(v.tokens.size(), 10u);
    EXPECT_EQ(v.tokens[0], "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(v.tokens[4], "ab");
    EXPECT_EQ(v.tokens[7], "<｜pad_7｜>");
    EXPECT_EQ(v.token_type[0], 3);
    EXPECT_EQ(v.token_type[2], 1);
    EXPECT_EQ(v.token_type[7], 5);
    EXPECT_EQ(v.merges, (std::vector<std::string>{"a b", "ab b"}));
}

TEST(Vocab, V4SpecialsInsertedAtTheirIds) {
    std::string dir = temp_dir("spec");
    write_text(dir + "/tokenizer.json", tokenizer_json());
    Vocabulary v = load_tokenizer_json(dir + "/tokenizer.json", 129280);
    EXPECT_EQ(v.tokens[128803], "<｜User｜>");
    EXPECT_EQ(v.tokens[128804], "<｜Assistant｜>");
    EXPECT_EQ(v.tokens[128821], "<think>");
    EXPECT_EQ(v.tokens[128822], "</think>");
    EXPECT_EQ(v.tokens[128825], "｜DSML｜");
    EXPECT_EQ(v.token_type[128825], 3);
}

TEST(Vocab, ConflictsAndOverflowAreErrors) {
    std::string dir = temp_dir("bad");
    write_text(dir + "/t1.json", tokenizer_json(R"(, {"id": 128821, "content": "<thinking>", "special": true})"));
    try {
        load_tokenizer_json(dir + "/t1.json", 129280);
        FAIL();
    } catch (const ds4::Error& e) {
        EXPECT_NE(std::string(e.what()).find("id 128821 is '<thinking>', but ds4 expects '<think>'"), std::string::npos);
    }
    write_text(dir + "/t2.json", tokenizer_json());
    try {
        load_tokenizer_json(dir + "/t2.json", 4);  // id 4 does not fit
        FAIL();
    } catch (const ds4::Error& e) {
        EXPECT_NE(std::string(e.what()).find("does not fit the model's vocab_size 4"), std::string::npos) << e.what();
    }
    write_text(dir + "/t3.json", "{\"model\": {}}");
    EXPECT_THROW(load_tokenizer_json(dir + "/t3.json", 10), ds4::Error);
}

TEST(Vocab, GeneratedMatchesSyntheticAndCompactFallback) {
    Vocabulary g = generated_vocabulary(300);
    ASSERT_EQ(g.tokens.size(), 300u);
    EXPECT_EQ(g.tokens, ds4::model::synthetic_vocab(300));
    EXPECT_FALSE(g.merges.empty());
    Vocabulary small = generated_vocabulary(160);  // tiny test models
    ASSERT_EQ(small.tokens.size(), 160u);
    EXPECT_EQ(small.tokens[2], "<｜User｜>");
    EXPECT_EQ(small.tokens[6], "｜DSML｜");
    EXPECT_EQ(small.token_type[6], 3);
    EXPECT_THROW(generated_vocabulary(5), ds4::Error);
}

TEST(Vocab, SyntheticModelWithATokenizer) {
    std::string dir = temp_dir("syntok");
    write_text(dir + "/tokenizer.json", tokenizer_json());
    SyntheticOptions o;
    o.preset = "tiny";
    o.layers = 2;
    o.recipe = ds4::model::Recipe::F16;
    o.tokenizer_json = dir + "/tokenizer.json";
    o.out_path = dir + "/m.gguf";
    ds4::model::ModelConfig cfg = write_synthetic_model(o);
    EXPECT_EQ(cfg.vocab, 384u);  // the tokenizer is smaller than the preset: padded to it
    ds4::gguf::File f = ds4::gguf::File::open(o.out_path);
    const auto& toks = f.get_array("tokenizer.ggml.tokens", ds4::gguf::ValueType::STRING);
    ASSERT_EQ(toks.size(), 384u);
    EXPECT_EQ(toks.string(4), "ab");
    EXPECT_EQ(toks.string(100), "<｜pad_100｜>");
    EXPECT_EQ(f.get_array("tokenizer.ggml.merges", ds4::gguf::ValueType::STRING).size(), 2u);
    EXPECT_NO_THROW(ds4::model::validate_layout(f, ds4::model::model_tensors(ds4::model::ModelConfig::from_gguf(f))));
}
