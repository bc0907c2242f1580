// Thread-count determinism (1 vs several threads, bit-identical), batch consistency of
// cpu-ref's matvecs, cpu-ref's plan_create messages, and self-tests of the comparison.
#include <gtest/gtest.h>

#include <cmath>

#include "conformance.h"
#include <cstring>

#include "host/graph.h"
#include "host/status.h"
#include "quant/quant.h"

namespace ds4::conformance {
namespace {

std::vector<Case> representative_cases() {
    std::vector<Case> cases;
    auto add_matmul = [&](ds4_type t, int64_t in, int64_t out, int64_t n, uint32_t act) {
        ds4_params_matmul p{};
        p.act_quant = act;
        Case c;
        c.op = DS4_OP_MATMUL;
        c.params = params_bytes(p);
        c.srcs.push_back(random_weight_input(t, {in, out}, in + out));
        c.srcs.push_back(f32_input({in, n}, random_floats(in * n, 3)));
        c.dsts.push_back({DS4_TYPE_F32, {out, n}, {}});
        cases.push_back(c);
    };
    add_matmul(DS4_TYPE_Q8_0, 1024, 67, 1, DS4_ACT_DS4);  // rows not a multiple of any thread count
    add_matmul(DS4_TYPE_Q2_K, 512, 37, 3, DS4_ACT_DS4);
    add_matmul(DS4_TYPE_IQ2_XXS, 512, 37, 2, DS4_ACT_F32);
    add_matmul(DS4_TYPE_F16, 333, 41, 5, DS4_ACT_F32);
    {
        ds4_params_matmul p{};
        p.act_quant = DS4_ACT_DS4;
        Case c;
        c.op = DS4_OP_MATMUL_ID;
        c.params = params_bytes(p);
        c.srcs.push_back(random_weight_input(DS4_TYPE_Q4_K, {256, 19, 8}, 5));
        c.srcs.push_back(f32_input({256, 1, 3}, random_floats(256 * 3, 6)));
        c.srcs.push_back(i32_input({4, 3}, {7, 0, 3, 3, 1, -1, 7, 2, 5, 5, 6, 4}));
        c.dsts.push_back({DS4_TYPE_F32, {19, 4, 3}, {}});
        cases.push_back(c);
    }
    {
        ds4_params_rms_norm p{};
        p.eps = 1e-6f;
        Case c;
        c.op = DS4_OP_RMS_NORM;
        c.params = params_bytes(p);
        c.srcs.push_back(f32_input({1000, 13}, random_floats(13000, 7)));
        c.dsts.push_back({DS4_TYPE_F32, {1000, 13}, {}});
        cases.push_back(c);
    }
    {
        ds4_params_softmax p{};
        p.scale = 0.3f;
        Case c;
        c.op = DS4_OP_SOFTMAX;
        c.params = params_bytes(p);
        c.srcs.push_back(f32_input({300, 11}, random_floats(3300, 8, -9.0f, 9.0f)));
        c.dsts.push_back({DS4_TYPE_F32, {300, 11}, {}});
        cases.push_back(c);
    }
    {
        Case c;
        c.op = DS4_OP_SUM_ROWS;
        c.srcs.push_back(f32_input({5000, 7}, random_floats(35000, 9)));
        c.dsts.push_back({DS4_TYPE_F32, {1, 7}, {}});
        cases.push_back(c);
    }
    return cases;
}

TEST(Determinism, OneVersusManyThreadsBitIdentical) {
    Harness& h = Harness::get();
    std::unique_ptr<host::Device> one, many;
    try {
        one = h.open({{"threads", "1"}});
        many = h.open({{"threads", "5"}});
    } catch (const std::exception& e) {
        GTEST_SKIP() << "plugin has no 'threads' option: " << e.what();
    }
    for (const Case& c : representative_cases()) {
        RunResult a = run_case(*one, c), b = run_case(*many, c), d = run_case(h.device(), c);
        ASSERT_TRUE(a.error.empty() && b.error.empty() && d.error.empty()) << a.error << b.error << d.error;
        EXPECT_EQ(a.outputs, b.outputs) << host::op_name(c.op) << ": 1 thread vs 5 threads differ";
        EXPECT_EQ(a.outputs, d.outputs) << host::op_name(c.op) << ": 1 thread vs default differ";
    }
}

TEST(Determinism, CpuRefBatchEqualsSingleRows) {
    // cpu-ref computes each output with the same dot whatever the batch: prefill rows equal
    // decode rows bit for bit (other backends may legitimately differ here).
    if (!Harness::get().is_reference()) GTEST_SKIP() << "cpu-ref property";
    for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_Q4_K, DS4_TYPE_BF16})
        for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
            const int64_t in = 512, out = 23, n = 4;
            Input w = random_weight_input(t, {in, out}, 77);
            auto x = random_floats(in * n, 78);
            ds4_params_matmul p{};
            p.act_quant = act;
            Case batch;
            batch.op = DS4_OP_MATMUL;
            batch.params = params_bytes(p);
            batch.srcs = {w, f32_input({in, n}, x)};
            batch.dsts.push_back({DS4_TYPE_F32, {out, n}, {}});
            RunResult all = run_case(Harness::get().device(), batch);
            ASSERT_TRUE(all.error.empty()) << all.error;
            for (int64_t r = 0; r < n; ++r) {
                Case one = batch;
                one.srcs[1] = f32_input({in, 1}, std::vector<float>(x.begin() + r * in, x.begin() + (r + 1) * in));
                one.dsts[0].ne = {out, 1};
                RunResult single = run_case(Harness::get().device(), one);
                ASSERT_TRUE(single.error.empty()) << single.error;
                std::vector<uint8_t> slice(all.outputs[0].begin() + r * out * 4, all.outputs[0].begin() + (r + 1) * out * 4);
                EXPECT_EQ(slice, single.outputs[0]) << ds4_type_name(t) << " row " << r;
            }
        }
}

TEST(Determinism, CpuRefMatvecsEqualTheLibraryDotsBitwise) {
    // cpu-ref's matvec kernels (incl. the whole-row decode of the f32 path) must give exactly
    // ds4::quant::dot_row of each row (the ds4 numerics contract of the reference backend).
    if (!Harness::get().is_reference()) GTEST_SKIP() << "cpu-ref property";
    for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_Q2_K, DS4_TYPE_F16})
        for (uint32_t act : {DS4_ACT_F32, DS4_ACT_DS4}) {
            const int64_t in = 512, out = 23;  // 23 = 5×4 + 3: both the 4-row and 1-row paths
            Input w = random_weight_input(t, {in, out}, 91);
            auto x = random_floats(in, 92, -3.0f, 3.0f);
            ds4_params_matmul p{};
            p.act_quant = act;
            Case c;
            c.op = DS4_OP_MATMUL;
            c.params = params_bytes(p);
            c.srcs = {w, f32_input({in, 1}, x)};
            c.dsts.push_back({DS4_TYPE_F32, {out, 1}, {}});
            RunResult r = run_case(Harness::get().device(), c);
            ASSERT_TRUE(r.error.empty()) << r.error;
            const auto mode = act == DS4_ACT_DS4 ? quant::ActQuant::Ds4 : quant::ActQuant::None;
            const auto fmt = quant::act_format_for(t, mode);
            std::vector<uint8_t> xa(static_cast<size_t>(quant::act_row_bytes(fmt, in)));
            quant::quantize_act(fmt, x.data(), xa.data(), in);
            const int64_t rb = ds4_type_row_bytes(t, in);
            for (int64_t o = 0; o < out; ++o) {
                float want = quant::dot_row(t, w.storage.data() + o * rb, xa.data(), in, mode), got;
                std::memcpy(&got, r.outputs[0].data() + o * 4, 4);
                EXPECT_EQ(std::memcmp(&want, &got, 4), 0) << ds4_type_name(t) << " act " << act << " row " << o
                                                          << ": " << got << " vs " << want;
            }
        }
}

TEST(PlanErrors, CpuRefNamesNodeOpAndProblem) {
    if (!Harness::get().is_reference()) GTEST_SKIP() << "message wording is cpu-ref's";
    ds4_params_matmul p{};
    Case c;
    c.op = DS4_OP_MATMUL;
    c.params = params_bytes(p);
    c.srcs.push_back(random_weight_input(DS4_TYPE_Q8_0, {4096, 4}, 1));
    c.srcs.push_back(f32_input({4095, 1}, random_floats(4095, 2)));
    c.dsts.push_back({DS4_TYPE_F32, {4, 1}, {}});
    // node_supported says no; plan_create must say why.
    RunResult r = run_case(Harness::get().device(), c);
    EXPECT_FALSE(r.supported);
    const auto& dev = Harness::get().device();
    auto wbuf = dev.alloc(c.srcs[0]->storage.size(), DS4_BUFFER_WEIGHTS);
    auto xbuf = dev.alloc(4095 * 4, DS4_BUFFER_SCRATCH);
    auto ybuf = dev.alloc(16, DS4_BUFFER_SCRATCH);
    host::Graph g;
    auto* w = g.tensor(DS4_TYPE_Q8_0, {4096, 4}, wbuf.get(), 0);
    auto* x = g.tensor(DS4_TYPE_F32, {4095, 1}, xbuf.get(), 0);
    auto* y = g.tensor(DS4_TYPE_F32, {4, 1}, ybuf.get(), 0);
    ds4_params_scale s{};
    s.scale = 1;
    g.add(DS4_OP_SCALE, {y}, {y}, s);
    g.add(DS4_OP_MATMUL, {w, x}, {y}, p);
    try {
        dev.create_plan(g.c_graph());
        FAIL() << "plan_create accepted a bad matmul";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("node 1 (matmul): src1 ne0 4095 != weight IN 4096"), std::string::npos)
            << e.what();
        EXPECT_EQ(e.code(), DS4_ERR_INVALID_ARGUMENT);
    }
    // A tensor reaching past its buffer is refused before any op check.
    host::Graph g2;
    auto* big = g2.tensor(DS4_TYPE_F32, {8, 1}, ybuf.get(), 0);
    g2.add(DS4_OP_SCALE, {big}, {big}, s);
    try {
        dev.create_plan(g2.c_graph());
        FAIL() << "plan_create accepted an out-of-bounds tensor";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("node 0 (scale): src0 [8] at offset 0 extends past its buffer"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Framework, CompareCatchesWrongValuesAndNaNMismatch) {
    auto bytes = [](std::vector<float> v) {
        std::vector<uint8_t> b(v.size() * 4);
        std::memcpy(b.data(), v.data(), b.size());
        return b;
    };
    EXPECT_EQ(compare(DS4_TYPE_F32, bytes({1.0f, NAN, INFINITY}), exact({1.0, NAN, INFINITY})), "");
    EXPECT_NE(compare(DS4_TYPE_F32, bytes({1.0f, 2.0f}), exact({1.0, NAN})), "");
    EXPECT_NE(compare(DS4_TYPE_F32, bytes({1.0f, NAN}), within({1.0, 2.0}, 1e9, 0)), "");
    EXPECT_NE(compare(DS4_TYPE_F32, bytes({1.0f, -INFINITY}), within({1.0, INFINITY}, 1e9, 0)), "");
    EXPECT_NE(compare(DS4_TYPE_F32, bytes({1.001f}), within({1.0}, 1e-4, 0)), "");
    EXPECT_EQ(compare(DS4_TYPE_F32, bytes({1.00001f}), within({1.0}, 1e-4, 0)), "");
    EXPECT_NE(compare(DS4_TYPE_F32, bytes({1.0f}), exact({1.0, 2.0})), "");  // size mismatch
}

}  // namespace
}  // namespace ds4::conformance
