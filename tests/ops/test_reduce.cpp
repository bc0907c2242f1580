// SUM_ROWS, SOFTMAX, TOPK, GATHER_COLS conformance.
// Tolerances: SUM_ROWS (8 + 2·sqrt(n))·2^-24·Σ|x|; SOFTMAX abs 1e-7 + rel 1e-5; TOPK and
// GATHER_COLS exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "conformance.h"

namespace ds4::conformance {
namespace {

TEST(SumRows, OddAndLongRows) {
    for (int64_t n : {1, 257, 4096}) {
        const int64_t rows = 3;
        auto x = random_floats(n * rows, 70 + n, -2.0f, 2.0f);
        std::vector<double> want, mag;
        for (int64_t r = 0; r < rows; ++r) {
            double s = 0, m = 0;
            for (int64_t i = 0; i < n; ++i) {
                s += x[r * n + i];
                m += std::fabs(x[r * n + i]);
            }
            want.push_back(s);
            mag.push_back(m);
        }
        Case c;
        c.op = DS4_OP_SUM_ROWS;
        c.name = "sum_rows n=" + std::to_string(n);
        c.variant = "f32";
        c.srcs.push_back(f32_input({n, rows}, x));
        c.dsts.push_back({DS4_TYPE_F32, {1, rows}, {}});
        check_case(c, {within_magnitude(want, mag, (8 + 2 * std::sqrt(double(n))) * 5.96e-8, 1e-30)});
    }
}

// Softmax reference in double: z = x·scale + mask, with an optional sink in the denominator.
std::vector<double> softmax_ref(const std::vector<float>& x, int64_t n, int64_t rows, int64_t heads, float scale,
                                const std::vector<float>* mask, int64_t mask_rows, const std::vector<float>* sinks) {
    std::vector<double> out;
    for (int64_t r = 0; r < rows * heads; ++r) {
        const int64_t row_in_head = r % rows;  // dim 1 index
        std::vector<double> z(n);
        double m = sinks ? (*sinks)[row_in_head] : -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
            z[j] = double(x[r * n + j]) * scale + (mask ? (*mask)[(mask_rows == 1 ? 0 : row_in_head) * n + j] : 0.0f);
            m = std::max(m, z[j]);
        }
        if (m == -INFINITY) {
            out.insert(out.end(), n, 0.0);
            continue;
        }
        double den = sinks ? std::exp((*sinks)[row_in_head] - m) : 0.0;
        for (auto& v : z) den += (v = std::exp(v - m));
        for (auto v : z) out.push_back(v / den);
    }
    return out;
}

TEST(Softmax, ScaleMaskSinks) {
    const int64_t rows = 4, heads = 2;
    for (int64_t n : {1, 33, 257})
        for (int variant = 0; variant < 4; ++variant) {
            const bool use_mask = variant & 1, use_sinks = variant & 2;
            auto x = random_floats(n * rows * heads, 80 + n, -8.0f, 8.0f);
            // Mask [rows][n]: causal-like -inf pattern; row 3 fully masked.
            std::vector<float> mask(n * rows, 0.0f);
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < n; ++j)
                    if (j > r * n / 2 || r == 3) mask[r * n + j] = -INFINITY;
            auto sinks = random_floats(rows, 81, -2.0f, 2.0f);
            ds4_params_softmax p{};
            p.scale = 0.125f;
            Case c;
            c.op = DS4_OP_SOFTMAX;
            c.name = "softmax n=" + std::to_string(n) + (use_mask ? " mask" : "") + (use_sinks ? " sinks" : "");
            c.variant = std::string("f32") + (use_mask ? "+mask" : "") + (use_sinks ? "+sinks" : "");
            c.params = params_bytes(p);
            c.srcs.push_back(f32_input({n, rows, heads}, x));
            if (use_mask) c.srcs.push_back(f32_input({n, rows, 1}, mask));
            else if (use_sinks) c.srcs.push_back(std::nullopt);
            if (use_sinks) c.srcs.push_back(f32_input({rows}, sinks));
            c.dsts.push_back({DS4_TYPE_F32, {n, rows, heads}, {}});
            auto want = softmax_ref(x, n, rows, heads, p.scale, use_mask ? &mask : nullptr, rows,
                                    use_sinks ? &sinks : nullptr);
            check_case(c, {within(want, 1e-7, 1e-5)});
        }
}

TEST(Softmax, BroadcastMaskRowAndNaN) {
    const int64_t n = 33, rows = 3;
    auto x = random_floats(n * rows, 82, -4.0f, 4.0f);
    x[n + 5] = NAN;  // row 1 becomes all NaN
    std::vector<float> mask(n, 0.0f);
    mask[0] = -INFINITY;
    ds4_params_softmax p{};
    p.scale = 1.0f;
    Case c;
    c.op = DS4_OP_SOFTMAX;
    c.name = "softmax broadcast mask row, NaN row";
    c.variant = "f32+mask";
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({n, rows}, x));
    c.srcs.push_back(f32_input({n}, mask));
    c.dsts.push_back({DS4_TYPE_F32, {n, rows}, {}});
    auto want = softmax_ref(x, n, rows, 1, 1.0f, &mask, 1, nullptr);
    for (int64_t j = 0; j < n; ++j) EXPECT_TRUE(std::isnan(want[n + j]));
    check_case(c, {within(want, 1e-7, 1e-5)});
}

std::vector<double> topk_ref(const std::vector<float>& x, int64_t n, int64_t rows, int64_t k) {
    std::vector<double> out;
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<int64_t> idx;
        for (int64_t j = 0; j < n; ++j)
            if (!std::isnan(x[r * n + j]) && x[r * n + j] != -INFINITY) idx.push_back(j);
        std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return x[r * n + a] > x[r * n + b]; });
        for (int64_t j = 0; j < k; ++j) out.push_back(j < static_cast<int64_t>(idx.size()) ? double(idx[j]) : -1.0);
    }
    return out;
}

TEST(TopK, TiesNaNAndPadding) {
    const int64_t n = 257, rows = 3;
    auto x = random_floats(n * rows, 90);
    for (int64_t j = 0; j < n; j += 4) x[j] = 0.5f;  // many ties in row 0
    x[n + 1] = NAN;
    x[n + 2] = INFINITY;
    x[n + 3] = -INFINITY;
    for (int64_t j = 0; j < n; ++j) x[2 * n + j] = j < 5 ? float(j) : -INFINITY;  // row 2: only 5 valid
    for (int64_t k : {1, 8, 16}) {
        Case c;
        c.op = DS4_OP_TOPK;
        c.name = "topk n=257 k=" + std::to_string(k);
        c.variant = "f32->i32";
        c.srcs.push_back(f32_input({n, rows}, x));
        c.dsts.push_back({DS4_TYPE_I32, {k, rows}, {}});
        check_case(c, {exact(topk_ref(x, n, rows, k))});
    }
}

TEST(TopK, IndexerShape4096Top512) {
    const int64_t n = 4096, rows = 2, k = 512;
    auto x = random_floats(n * rows, 91);
    for (int64_t j = 0; j < n; j += 3) x[j] = 0.25f;  // ties across the cut
    Case c;
    c.op = DS4_OP_TOPK;
    c.name = "topk n=4096 k=512";
    c.variant = "f32->i32";
    c.srcs.push_back(f32_input({n, rows}, x));
    c.dsts.push_back({DS4_TYPE_I32, {k, rows}, {}});
    check_case(c, {exact(topk_ref(x, n, rows, k))});
}

TEST(GatherCols, WithAbsentIndices) {
    const int64_t n = 33, rows = 3, k = 5;
    auto x = random_floats(n * rows, 95);
    std::vector<int32_t> idx = {0, 32, -1, 7, 7, 1, 2, 3, 4, 5, -1, -1, 31, 0, 16};
    std::vector<double> want;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < k; ++j) want.push_back(idx[r * k + j] < 0 ? 0.0 : x[r * n + idx[r * k + j]]);
    Case c;
    c.op = DS4_OP_GATHER_COLS;
    c.name = "gather_cols n=33 k=5";
    c.variant = "f32";
    c.srcs.push_back(f32_input({n, rows}, x));
    c.srcs.push_back(i32_input({k, rows}, idx));
    c.dsts.push_back({DS4_TYPE_F32, {k, rows}, {}});
    check_case(c, {exact(want)});
}

TEST(GatherCols, OutOfRangeIndexFailsTheSubmit) {
    Case c;
    c.op = DS4_OP_GATHER_COLS;
    c.srcs.push_back(f32_input({4, 1}, random_floats(4, 1)));
    c.srcs.push_back(i32_input({1, 1}, {4}));
    c.dsts.push_back({DS4_TYPE_F32, {1, 1}, {}});
    RunResult r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace ds4::conformance
