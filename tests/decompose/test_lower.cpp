// lower_unclaimed: only unclaimed Tier-1 nodes are replaced, in place, and errors name the op.
#include "rig.h"

namespace ds4::test {
namespace {

TEST(LowerUnclaimed, ReplacesOnlyUnclaimedTier1Nodes) {
    host::Graph g;
    ds4_tensor* a = g.scratch(DS4_TYPE_F32, {8, 2});
    ds4_tensor* X = g.scratch(DS4_TYPE_F32, {8, 4, 2});
    ds4_tensor* post = g.scratch(DS4_TYPE_F32, {4, 2});
    ds4_tensor* comb = g.scratch(DS4_TYPE_F32, {4, 4, 2});
    ds4_tensor* out = g.scratch(DS4_TYPE_F32, {8, 4, 2});
    auto sp = host::params<ds4_params_scale>();
    sp.scale = 2.0f;
    g.add(DS4_OP_SCALE, {a}, {a}, sp);
    auto hp = host::params<ds4_params_hc>();
    hp.n_hc = 4;
    g.add(DS4_OP_HC_POST, {a, X, post, comb}, {out}, hp);
    g.add(DS4_OP_SCALE, {out}, {out}, sp);

    decompose::StepValues none;
    EXPECT_EQ(decompose::lower_unclaimed(g, [](const ds4_node&) { return true; }, none), 0u);
    ASSERT_EQ(g.size(), 3u);
    EXPECT_EQ(g.node(1).op, static_cast<uint32_t>(DS4_OP_HC_POST));

    EXPECT_EQ(decompose::lower_unclaimed(g, [](const ds4_node&) { return false; }, none), 1u);
    ASSERT_GT(g.size(), 3u);
    EXPECT_EQ(g.node(0).op, static_cast<uint32_t>(DS4_OP_SCALE));
    EXPECT_EQ(g.node(g.size() - 1).op, static_cast<uint32_t>(DS4_OP_SCALE));
    for (size_t i = 0; i < g.size(); ++i) EXPECT_LT(g.node(i).op, 64u);
    // Params of kept nodes survive the rewrite.
    const auto* kept = static_cast<const ds4_params_scale*>(g.node(0).params);
    EXPECT_EQ(kept->scale, 2.0f);
}

TEST(LowerUnclaimed, MissingStepValuesIsAClearError) {
    host::Graph g;
    ds4_tensor* q = g.scratch(DS4_TYPE_F32, {32, 4, 1});
    ds4_tensor* raw = g.scratch(DS4_TYPE_F32, {32, 8});
    ds4_tensor* sinks = g.scratch(DS4_TYPE_F32, {4});
    ds4_tensor* pos = g.scratch(DS4_TYPE_I32, {1});
    ds4_tensor* o = g.scratch(DS4_TYPE_F32, {32, 4, 1});
    auto ap = host::params<ds4_params_attention>();
    ap.window = 8;
    ap.raw_cap = 8;
    g.add(DS4_OP_ATTENTION, {q, raw, nullptr, nullptr, sinks, pos}, {o}, ap);
    try {
        decompose::lower_unclaimed(g, [](const ds4_node&) { return false; }, decompose::StepValues{});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("attention"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("read_i32"), std::string::npos) << e.what();
    }
    ASSERT_EQ(g.size(), 1u);  // the graph is left as it was
    EXPECT_EQ(g.node(0).op, static_cast<uint32_t>(DS4_OP_ATTENTION));
}

TEST(LowerUnclaimed, EveryTier1OpHasADecomposition) {
    for (uint32_t op : host::ops_of_tier(1)) EXPECT_TRUE(decompose::has_decomposition(op)) << host::op_name(op);
    EXPECT_FALSE(decompose::has_decomposition(DS4_OP_MATMUL));
}

}  // namespace
}  // namespace ds4::test

namespace ds4::test {
namespace {

// The fused kernels refuse malformed nodes at plan_create with a message naming the operand.
TEST(FusedChecks, BadShapesAreRefusedWithAClearMessage) {
    host::Graph g;
    host::Buffer buf = cpu_device().alloc(1 << 16, DS4_BUFFER_SCRATCH);
    ds4_tensor* X = g.tensor(DS4_TYPE_F32, {64, 4, 1}, buf.get(), 0);
    ds4_tensor* fn = g.tensor(DS4_TYPE_F32, {256, 23}, buf.get(), 0);  // needs 24 rows
    ds4_tensor* scale = g.tensor(DS4_TYPE_F32, {3}, buf.get(), 0);
    ds4_tensor* base = g.tensor(DS4_TYPE_F32, {24}, buf.get(), 0);
    ds4_tensor* x_in = g.tensor(DS4_TYPE_F32, {64, 1}, buf.get(), 0);
    ds4_tensor* post = g.tensor(DS4_TYPE_F32, {4, 1}, buf.get(), 0);
    ds4_tensor* comb = g.tensor(DS4_TYPE_F32, {4, 4, 1}, buf.get(), 0);
    auto hp = host::params<ds4_params_hc>();
    hp.n_hc = 4;
    hp.sinkhorn_iters = 20;
    g.add(DS4_OP_HC_PRE, {X, fn, scale, base}, {x_in, post, comb}, hp);
    EXPECT_FALSE(cpu_device().node_supported(g.node(0)));
    try {
        cpu_device().create_plan(g.c_graph());
        FAIL() << "expected plan_create to fail";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("hc_pre"), std::string::npos) << m;
        EXPECT_NE(m.find("fn"), std::string::npos) << m;
    }
}

}  // namespace
}  // namespace ds4::test
