// Session invariants on the tiny synthetic model (cpu-ref): prefill == decode, chunking
// independence, snapshot/restore, rewind + replay, every recipe and both numerics.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gguf/gguf.h"

#include "host/status.h"
#include "model_fixture.h"

namespace ds4::model {
namespace {
using namespace test;

// Long enough to cross the 16-token window and several compressed rows of every layer
// (ratio 4: 36 rows > top-k 8; ratio 16: 9 rows).
constexpr size_t kN = 144;

TEST(Session, TinyModelDecodesFiniteLogits) {
    DS4_REQUIRE_DEVICE();
    const Model& m = tiny_model(Recipe::F32);
    EXPECT_EQ(m.config().n_layer, 6u);
    Session s(m, opts(Numerics::Exact, 64));
    std::vector<float> l = s.eval({0, 17, 42});
    ASSERT_EQ(l.size(), 384u);
    float mx = 0;
    for (float v : l) {
        ASSERT_TRUE(std::isfinite(v));
        mx = std::max(mx, std::fabs(v));
    }
    EXPECT_GT(mx, 0.01f);
    EXPECT_LT(mx, 1000.0f);
    EXPECT_EQ(s.n_past(), 3u);
    EXPECT_EQ(s.tokens(), (std::vector<int32_t>{0, 17, 42}));
}

TEST(Session, RefusesBadInput) {
    DS4_REQUIRE_DEVICE();
    Session s(tiny_model(Recipe::F32), opts(Numerics::Exact, 8, 32));
    try {
        s.eval({0, 384});
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "token id 384 at index 1 is outside the vocabulary (0..383)");
    }
    EXPECT_EQ(s.n_past(), 0u);
    s.eval(test_tokens(30));
    try {
        s.eval(test_tokens(3));
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "context full: 30 tokens + 3 new > context 32");
    }
    EXPECT_THROW(s.rewind(31), Error);
}

struct Case {
    Recipe recipe;
    Numerics numerics;
};
std::string case_name(const testing::TestParamInfo<Case>& i) {
    return std::string(recipe_name(i.param.recipe)) + "_" + numerics_name(i.param.numerics);
}

class Invariants : public testing::TestWithParam<Case> {};

TEST_P(Invariants, PrefillChunkingDecodeSnapshotRewind) {
    DS4_REQUIRE_DEVICE();
    const Model& m = tiny_model(GetParam().recipe);
    const Numerics num = GetParam().numerics;
    const uint32_t V = m.config().vocab;
    std::vector<int32_t> toks = test_tokens(kN);

    // Reference: one token per graph (the decode path).
    Session dec(m, opts(num, 1));
    const std::vector<float> ref = decode_each(dec, toks);
    auto ref_rows = [&](uint64_t from, uint64_t to) {
        return std::vector<float>(ref.begin() + from * V, ref.begin() + to * V);
    };
    auto toks_range = [&](uint64_t from, uint64_t to) {
        return std::vector<int32_t>(toks.begin() + from, toks.begin() + to);
    };

    // One-shot prefill (chunk 64 → chunks of 64, 64, 32) with every position's logits equals
    // decode bit for bit. Then rewind without checkpoints (full replay) and continue.
    {
        SessionOptions o = opts(num, 64);
        o.max_checkpoints = 0;
        Session s(m, o);
        EXPECT_EQ(max_abs_diff(s.eval(toks, true), ref), 0.0f) << "prefill(N) != N x decode(1)";
        s.rewind(77);
        EXPECT_EQ(s.n_past(), 77u);
        EXPECT_EQ(max_abs_diff(s.last_logits(), ref_rows(76, 77)), 0.0f) << "logits after a full-replay rewind";
        EXPECT_EQ(max_abs_diff(s.eval(toks_range(77, kN), true), ref_rows(77, kN)), 0.0f) << "continue after rewind";
    }
    // Chunk 7, split at an odd boundary (resumed prefill), with a snapshot in between that is
    // restored into a fresh session with another chunk size.
    {
        Session s(m, opts(num, 7));
        std::vector<float> a = s.eval(toks_range(0, 101), true);
        SessionSnapshot snap = s.snapshot();
        std::vector<float> b = s.eval(toks_range(101, kN), true);
        a.insert(a.end(), b.begin(), b.end());
        EXPECT_EQ(max_abs_diff(a, ref), 0.0f) << "chunk 7, resumed at 101";
        Session t(m, opts(num, 5));
        t.restore(snap);
        EXPECT_EQ(t.n_past(), 101u);
        EXPECT_EQ(t.tokens(), toks_range(0, 101));
        EXPECT_EQ(max_abs_diff(t.last_logits(), ref_rows(100, 101)), 0.0f);
        EXPECT_EQ(max_abs_diff(t.eval(toks_range(101, kN), true), ref_rows(101, kN)), 0.0f) << "snapshot/restore";
    }
    // Chunk 3, fed 10 tokens per eval (checkpoints every 16 positions), then rewinds through
    // checkpoints, a different continuation, and a replay back to the original text.
    {
        SessionOptions o = opts(num, 3);
        o.checkpoint_stride = 16;
        Session s(m, o);
        std::vector<float> all;
        for (uint64_t i = 0; i < kN; i += 10) {
            std::vector<float> l = s.eval(toks_range(i, std::min<uint64_t>(kN, i + 10)), true);
            all.insert(all.end(), l.begin(), l.end());
        }
        EXPECT_EQ(max_abs_diff(all, ref), 0.0f) << "chunk 3";
        for (uint64_t k : {139ull, 131ull, 77ull, 3ull}) {
            s.rewind(k);
            EXPECT_EQ(s.n_past(), k);
            EXPECT_EQ(max_abs_diff(s.last_logits(), ref_rows(k - 1, k)), 0.0f) << "logits after rewind to " << k;
        }
        s.eval(test_tokens(12, 5));  // a different continuation
        s.rewind(3);
        EXPECT_EQ(max_abs_diff(s.eval(toks_range(3, kN), true), ref_rows(3, kN)), 0.0f) << "replay after rewind";
    }
}

INSTANTIATE_TEST_SUITE_P(
    Tiny, Invariants,
    testing::Values(Case{Recipe::F32, Numerics::Exact}, Case{Recipe::F32, Numerics::Official},
                    Case{Recipe::F16, Numerics::Exact}, Case{Recipe::F16, Numerics::Official},
                    Case{Recipe::Q8, Numerics::Exact}, Case{Recipe::Q8, Numerics::Official},
                    Case{Recipe::Q2, Numerics::Exact}, Case{Recipe::Q2, Numerics::Official},
                    Case{Recipe::Q4, Numerics::Exact}, Case{Recipe::Q4, Numerics::Official}),
    case_name);

}  // namespace
}  // namespace ds4::model

namespace ds4::model {
namespace {
using namespace test;

// Tier-1 nodes decomposed into Tier-0 ops (core/decompose) give the same logits as the fused
// ops up to float reduction order.
TEST(Session, LoweredTier1MatchesFusedOps) {
    DS4_REQUIRE_DEVICE();
    for (Numerics num : {Numerics::Exact, Numerics::Official}) {
        const Model& m = tiny_model(Recipe::F32);
        std::vector<int32_t> toks = test_tokens(48, 3);
        Session fused(m, opts(num, 16));
        std::vector<float> ref = fused.eval(toks, true);
        SessionOptions o = opts(num, 16);
        o.lower_tier1 = true;
        Session lowered(m, o);
        std::vector<float> got;
        try {
            got = lowered.eval(toks, true);
        } catch (const Error& e) {
            if (e.code() == DS4_ERR_UNSUPPORTED) GTEST_SKIP() << e.what();
            throw;
        }
        float scale = 0;
        for (float v : ref) scale = std::max(scale, std::fabs(v));
        float diff = max_abs_diff(got, ref);
        std::printf("[ lowered ] %s: max |lowered - fused| = %g (max |logit| %g)\n", numerics_name(num), diff, scale);
        EXPECT_LE(diff, 1e-3f * scale) << numerics_name(num);
    }
}

}  // namespace
}  // namespace ds4::model

namespace ds4::model {
namespace {

// The real model's 2048-token prefill graph reuses one layer's scratch for all 43 layers.
TEST(Session, RealModelChunkScratchIsBounded) {
    ModelConfig f = ModelConfig::flash();
    uint64_t s2048 = Session::scratch_estimate(f, 2048);
    uint64_t s1 = Session::scratch_estimate(f, 1);
    std::printf("[ scratch ] DeepSeek V4 Flash: chunk 2048 %.0f MiB, decode %.2f MiB\n", s2048 / 1048576.0,
                s1 / 1048576.0);
    EXPECT_LT(s2048, 2ull << 30);
    EXPECT_LT(s1, 8ull << 20);
    // Independent of the layer count: layers reuse one region (4 layers already hold every
    // layer kind: sliding, CSA, HCA).
    EXPECT_EQ(Session::scratch_estimate(SyntheticSpec::full(4).cfg, 2048), s2048);
}

TEST(Session, RefusesAContextThatDoesNotFit) {
    DS4_REQUIRE_DEVICE();
    try {
        Session s(test::tiny_model(Recipe::F32), test::opts(Numerics::Exact, 64, (1ull << 31) - 1));
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ctx 2147483647"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ds4::model

namespace ds4::model {
namespace {

// Hash-routing tables are checked at load: an expert id out of range is named.
TEST(Session, RefusesABadHashTable) {
    DS4_REQUIRE_DEVICE();
    gguf::File src = gguf::File::open(test::tiny_model_path(Recipe::F32));
    gguf::Writer w;
    for (const gguf::KeyValue& kv : src.metadata()) w.copy_kv(kv);
    std::vector<uint8_t> patched;
    for (const gguf::TensorInfo& t : src.tensors()) {
        std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
        if (t.name == "blk.1.ffn_gate_tid2eid.weight") {
            patched.assign(t.data, t.data + t.size);
            int32_t bad = 8;
            std::memcpy(patched.data() + (5 * 2 + 1) * 4, &bad, 4);  // token 5, second id
            w.add_tensor(t.name, t.type, ne, std::span<const uint8_t>(patched));
        } else {
            w.add_tensor(t.name, t.type, ne, t.bytes());
        }
    }
    std::string path = std::string(DS4_MODEL_TEST_DIR) + "/bad-tid2eid.gguf";
    w.write(path);
    try {
        Model::open(path, *test::cpu_device(nullptr));
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  path + ": tensor 'blk.1.ffn_gate_tid2eid.weight': token 5 has expert id 8, expected 0..7");
    }
}

}  // namespace
}  // namespace ds4::model
