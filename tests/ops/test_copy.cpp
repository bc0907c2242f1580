// COPY, GET_ROWS, SET_ROWS conformance. All three are exact: conversions round to nearest
// even (checked against ds4::quant's conversions), gathers copy or dequantize bit-exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "conformance.h"
#include "quant/quant.h"

namespace ds4::conformance {
namespace {

const ds4_type kFloatTypes[] = {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16};
const ds4_type kWeightTypes[] = {DS4_TYPE_F32,  DS4_TYPE_F16,  DS4_TYPE_BF16,   DS4_TYPE_Q8_0,
                                 DS4_TYPE_Q2_K, DS4_TYPE_Q4_K, DS4_TYPE_IQ2_XXS};

// Value after storing as `type` (round to nearest even), what a COPY into `type` must give.
double stored_as(ds4_type type, float x) {
    switch (type) {
    case DS4_TYPE_F16: return quant::f16_to_f32(quant::f32_to_f16(x));
    case DS4_TYPE_BF16: return quant::bf16_to_f32(quant::f32_to_bf16(x));
    default: return x;
    }
}

std::vector<float> copy_data(size_t n, uint64_t seed) {
    auto v = random_floats(n, seed, -3.0f, 3.0f);
    // Specials: NaN, ±Inf, half overflow, half subnormal, a bf16 tie.
    const float specials[] = {NAN, INFINITY, -INFINITY, 70000.0f, -1e-6f, 1.00390625f, 0.0f, -0.0f};
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]) && i < n; ++i) v[i * 3 % n] = specials[i];
    return v;
}

TEST(Copy, AllTypePairs) {
    for (ds4_type from : kFloatTypes)
        for (ds4_type to : kFloatTypes) {
            std::vector<int64_t> ne = {33, 3, 2};
            auto data = copy_data(33 * 3 * 2, 11);
            Case c;
            c.op = DS4_OP_COPY;
            c.name = std::string("copy ") + ds4_type_name(from) + "->" + ds4_type_name(to) + " [33x3x2]";
            c.variant = std::string(ds4_type_name(from)) + "->" + ds4_type_name(to);
            c.srcs.push_back(weight_input(from, ne, data));
            c.dsts.push_back({to, ne, {}});
            std::vector<float> src = logical_floats(*c.srcs[0]);
            std::vector<double> want;
            for (float x : src) want.push_back(stored_as(to, x));
            check_case(c, {exact(want)});
        }
}

TEST(Copy, TransposedViewIntoContiguous) {
    // A [7][5] F32 matrix seen transposed as [5][7] (nb0 = row stride), copied to F16.
    const int64_t R = 7, C = 5;
    auto base = random_floats(R * C, 12);
    std::vector<float> logical(R * C);
    for (int64_t i = 0; i < C; ++i)
        for (int64_t j = 0; j < R; ++j) logical[i * R + j] = base[j * C + i];
    for (ds4_type to : {DS4_TYPE_F32, DS4_TYPE_F16}) {
        Case c;
        c.op = DS4_OP_COPY;
        c.name = std::string("copy transposed view f32->") + ds4_type_name(to);
        c.variant = std::string("f32 view->") + ds4_type_name(to);
        c.srcs.push_back(f32_view({R, C}, {C * 4, 4}, 0, logical));
        c.dsts.push_back({to, {R, C}, {}});
        std::vector<double> want;
        for (float x : logical) want.push_back(stored_as(to, x));
        check_case(c, {exact(want)});
    }
}

TEST(GetRows, EveryWeightType) {
    for (ds4_type t : kWeightTypes) {
        const int64_t n = ds4_type_block_elems(t) > 1 ? 512 : 33, R = 7;
        Input table = weight_input(t, {n, R}, random_floats(n * R, 21));
        std::vector<float> rows = dequantized(table);
        std::vector<int32_t> idx = {3, 0, -1, 6, 3, 1};  // a [2][3] grid with a repeat and a -1
        Case c;
        c.op = DS4_OP_GET_ROWS;
        c.name = std::string("get_rows ") + ds4_type_name(t) + " n=" + std::to_string(n);
        c.variant = ds4_type_name(t);
        c.srcs.push_back(table);
        c.srcs.push_back(i32_input({3, 2}, idx));
        c.dsts.push_back({DS4_TYPE_F32, {n, 3, 2}, {}});
        std::vector<double> want;
        for (int32_t r : idx)
            for (int64_t j = 0; j < n; ++j) want.push_back(r < 0 ? 0.0 : rows[r * n + j]);
        check_case(c, {exact(want)});
    }
}

TEST(GetRows, OutOfRangeIndexFailsTheSubmit) {
    Case c;
    c.op = DS4_OP_GET_ROWS;
    c.srcs.push_back(f32_input({4, 3}, random_floats(12, 1)));
    c.srcs.push_back(i32_input({2}, {0, 3}));
    c.dsts.push_back({DS4_TYPE_F32, {4, 2}, {}});
    RunResult r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

// SET_ROWS reference: rows written in order, later duplicates win, -1 skipped.
void set_rows_case(ds4_type dst_type, int64_t modulo) {
    const int64_t n = 33, R = 6;
    std::vector<int32_t> idx = modulo ? std::vector<int32_t>{7, 2, -1, 13, 8} : std::vector<int32_t>{4, 1, -1, 4, 0};
    const int64_t m = static_cast<int64_t>(idx.size());
    auto rows = copy_data(n * m, 31);
    auto init_vals = random_floats(n * R, 32);
    Input init = weight_input(dst_type, {n, R}, init_vals);
    std::vector<double> want;
    for (float x : logical_floats(init)) want.push_back(x);
    for (int64_t i = 0; i < m; ++i) {
        if (idx[i] < 0) continue;
        int64_t t = modulo ? idx[i] % modulo : idx[i];
        for (int64_t j = 0; j < n; ++j) want[t * n + j] = stored_as(dst_type, rows[i * n + j]);
    }
    ds4_params_set_rows p{};
    p.row_modulo = modulo;
    Case c;
    c.op = DS4_OP_SET_ROWS;
    c.name = std::string("set_rows f32->") + ds4_type_name(dst_type) + " modulo=" + std::to_string(modulo);
    c.variant = std::string("f32->") + ds4_type_name(dst_type);
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({n, m}, rows));
    c.srcs.push_back(i32_input({m}, idx));
    c.dsts.push_back({dst_type, {n, R}, init.storage});
    check_case(c, {exact(want)});
}

TEST(SetRows, F32AndF16WithDuplicatesAndSkips) {
    set_rows_case(DS4_TYPE_F32, 0);
    set_rows_case(DS4_TYPE_F16, 0);
    set_rows_case(DS4_TYPE_F32, 6);  // ring-buffer style: idx mod 6
    set_rows_case(DS4_TYPE_F16, 6);
}

TEST(SetRows, OutOfRangeIndexFailsTheSubmit) {
    ds4_params_set_rows p{};
    Case c;
    c.op = DS4_OP_SET_ROWS;
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({4, 1}, random_floats(4, 1)));
    c.srcs.push_back(i32_input({1}, {9}));
    c.dsts.push_back({DS4_TYPE_F32, {4, 3}, std::vector<uint8_t>(48, 0)});
    RunResult r = run_case(Harness::get().device(), c);
    ASSERT_TRUE(r.supported);
    EXPECT_NE(r.error.find("invalid argument"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace ds4::conformance
