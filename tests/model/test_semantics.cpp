// Visibility semantics on the tiny model, checked by changing one metadata value of the same
// weights: the sliding window and the indexer top-k must matter exactly from the position
// where they start to restrict what a token sees.
#include <gtest/gtest.h>

#include <functional>

#include "gguf/gguf.h"
#include "host/status.h"
#include "model_fixture.h"

namespace ds4::model {
namespace {
using namespace test;

// Copy of the tiny f32 model with one u32 key replaced.
std::string patched(const std::string& key, uint32_t value, const std::string& tag) {
    gguf::File src = gguf::File::open(tiny_model_path(Recipe::F32));
    gguf::Writer w;
    for (const gguf::KeyValue& kv : src.metadata()) {
        if (kv.key == key)
            w.add_u32(key, value);
        else
            w.copy_kv(kv);
    }
    for (const gguf::TensorInfo& t : src.tensors())
        w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), t.bytes());
    std::string path = std::string(DS4_MODEL_TEST_DIR) + "/tiny-" + tag + ".gguf";
    w.write(path);
    return path;
}

// First position whose logits differ between the two models (n if none).
size_t first_difference(const std::string& path, size_t n) {
    const host::Device& dev = *cpu_device(nullptr);
    auto other = Model::open(path, dev);
    std::vector<int32_t> toks = test_tokens(n, 21);
    Session a(tiny_model(Recipe::F32), opts(Numerics::Exact, 64));
    Session b(*other, opts(Numerics::Exact, 64));
    std::vector<float> la = a.eval(toks, true), lb = b.eval(toks, true);
    const size_t V = 384;
    for (size_t t = 0; t < n; ++t)
        for (size_t i = 0; i < V; ++i)
            if (la[t * V + i] != lb[t * V + i]) return t;
    return n;
}

TEST(Semantics, SlidingWindowRestrictsFromPositionWindow) {
    DS4_REQUIRE_DEVICE();
    // Window 16 vs 64: identical while every raw row is inside both windows (p < 16), then the
    // sliding layers lose the oldest row at p = 16.
    EXPECT_EQ(first_difference(patched("deepseek4.attention.sliding_window", 64, "w64"), 48), 16u);
}

TEST(Semantics, IndexerTopKRestrictsOnceRowsExceedIt) {
    DS4_REQUIRE_DEVICE();
    // Top-8 vs top-1000 over ratio-4 rows: identical while n_c = floor((p+1)/4) <= 8, i.e.
    // p < 35; the first position with 9 rows (p = 35) must select.
    size_t p = first_difference(patched("deepseek4.attention.indexer.top_k", 1000, "k1000"), 64);
    EXPECT_GE(p, 35u);
    EXPECT_LT(p, 64u) << "the indexer selection never changed the logits";
}

}  // namespace
}  // namespace ds4::model
