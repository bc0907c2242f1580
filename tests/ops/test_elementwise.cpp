// ADD, MUL, DIV, SCALE, UNARY, CLAMP, RMS_NORM conformance.
// Tolerances: ADD/MUL/DIV are one correctly rounded float op → exact against the double
// result rounded to float (double rounding is harmless for + − × ÷). SCALE has two roundings
// (rel 2^-23 of |x·s| + |b|). UNARY transcendental kinds: abs 1e-7 + rel 2e-6 (libm-class
// accuracy); SQRT/NEG/RELU/RECIP/CLAMP are exact. RMS_NORM: rel 2e-6.
#include <gtest/gtest.h>

#include <cmath>

#include "conformance.h"

namespace ds4::conformance {
namespace {

std::vector<float> with_specials(std::vector<float> v) {
    const float s[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e-30f};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]) && i * 5 < v.size(); ++i) v[i * 5] = s[i];
    return v;
}

// Broadcast index of element `flat` of shape a into shape b (b.ne[i] is 1 or a.ne[i]).
int64_t broadcast_index(const std::vector<int64_t>& a, const std::vector<int64_t>& b, int64_t flat) {
    int64_t idx = 0, stride = 1;
    for (size_t d = 0; d < a.size(); ++d) {
        int64_t i = flat % a[d];
        flat /= a[d];
        if (b[d] != 1) idx += i * stride;
        stride *= b[d];
    }
    return idx;
}

TEST(Binary, AddMulDivWithBroadcasts) {
    const std::vector<int64_t> ne = {33, 3, 2};
    const std::vector<std::vector<int64_t>> bshapes = {{33, 3, 2}, {33, 1, 1}, {1, 3, 1}, {1, 1, 2}, {1, 1, 1}};
    auto a = with_specials(random_floats(33 * 3 * 2, 51, -4.0f, 4.0f));
    for (uint32_t op : {DS4_OP_ADD, DS4_OP_MUL, DS4_OP_DIV})
        for (const auto& bs : bshapes) {
            auto b = random_floats(n_elems(bs), 52 + bs[0], -4.0f, 4.0f);
            if (op == DS4_OP_DIV && b.size() > 2) b[1] = 0.0f;  // x/0 → ±Inf or NaN
            std::vector<double> want;
            for (int64_t i = 0; i < n_elems(ne); ++i) {
                float x = a[i], y = b[broadcast_index(ne, bs, i)];
                float r = op == DS4_OP_ADD ? x + y : op == DS4_OP_MUL ? x * y : x / y;
                want.push_back(r);
            }
            Case c;
            c.op = op;
            c.name = std::string(op == DS4_OP_ADD ? "add" : op == DS4_OP_MUL ? "mul" : "div") + " b=[" +
                     std::to_string(bs[0]) + "x" + std::to_string(bs[1]) + "x" + std::to_string(bs[2]) + "]";
            c.variant = n_elems(bs) == n_elems(ne) ? "f32" : "f32 broadcast";
            c.srcs.push_back(f32_input(ne, a));
            c.srcs.push_back(f32_input(bs, b));
            c.dsts.push_back({DS4_TYPE_F32, ne, {}});
            check_case(c, {exact(want)});
        }
}

TEST(Binary, StridedSource) {
    auto a = random_floats(5 * 4, 53);
    auto b = random_floats(5, 54);
    std::vector<double> want;
    for (int64_t r = 0; r < 4; ++r)
        for (int64_t i = 0; i < 5; ++i) want.push_back(a[r * 5 + i] + b[i]);
    Case c;
    c.op = DS4_OP_ADD;
    c.name = "add strided src0 view";
    c.variant = "f32 strided";
    c.srcs.push_back(f32_view({5, 4}, {8, 48}, 4, a));
    c.srcs.push_back(f32_input({5}, b));
    c.dsts.push_back({DS4_TYPE_F32, {5, 4}, {}});
    check_case(c, {exact(want)});
}

TEST(Scale, ScaleAndBiasAlsoInPlace) {
    auto x = with_specials(random_floats(257 * 2, 55, -10.0f, 10.0f));
    ds4_params_scale p{};
    p.scale = 0.0883883f;
    p.bias = -1.5f;
    std::vector<double> want, mag;
    for (float v : x) {
        want.push_back(double(v) * p.scale + p.bias);
        mag.push_back(std::fabs(double(v) * p.scale) + std::fabs(p.bias));
    }
    for (bool inplace : {false, true}) {
        Case c;
        c.op = DS4_OP_SCALE;
        c.name = std::string("scale ") + (inplace ? "in place" : "out of place");
        c.variant = inplace ? "f32 in-place" : "f32";
        c.params = params_bytes(p);
        c.srcs.push_back(f32_input({257, 2}, x));
        c.dsts.push_back({DS4_TYPE_F32, {257, 2}, {}});
        if (inplace) c.inplace_src = 0;
        check_case(c, {within_magnitude(want, mag, 2.4e-7)});
    }
}

double ref_unary(uint32_t kind, double x) {
    switch (kind) {
    case DS4_UNARY_SILU: return x / (1.0 + std::exp(-x));
    case DS4_UNARY_SIGMOID: return 1.0 / (1.0 + std::exp(-x));
    case DS4_UNARY_SOFTPLUS: return x > 20 ? x : x < -20 ? std::exp(x) : std::log1p(std::exp(x));
    case DS4_UNARY_SQRT: return std::sqrt(x);
    case DS4_UNARY_EXP: return std::exp(x);
    case DS4_UNARY_RELU: return std::isnan(x) ? x : x > 0 ? x : 0.0;
    case DS4_UNARY_NEG: return -x;
    default: return 1.0 / x;
    }
}

TEST(Unary, EveryKind) {
    const char* names[] = {"silu", "sigmoid", "softplus", "sqrt", "exp", "relu", "neg", "recip"};
    auto x = random_floats(33 * 3, 56, -30.0f, 30.0f);
    const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, 100.0f, -100.0f, 20.5f, -20.5f, 1e-3f, 89.0f};
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); ++i) x[i * 7] = special[i];
    for (uint32_t kind = DS4_UNARY_SILU; kind <= DS4_UNARY_RECIP; ++kind) {
        ds4_params_unary p{};
        p.kind = kind;
        std::vector<double> want;
        for (float v : x) {
            double r = ref_unary(kind, v);
            want.push_back(std::isinf(r) || std::isnan(r) ? r : double(float(r)));  // float range
        }
        // Values whose float result overflows (exp(89)) are Inf in float.
        for (auto& w : want)
            if (std::fabs(w) > 3.4028234663852886e38) w = std::copysign(INFINITY, w);
        const bool approx = kind == DS4_UNARY_SILU || kind == DS4_UNARY_SIGMOID || kind == DS4_UNARY_SOFTPLUS ||
                            kind == DS4_UNARY_EXP;
        for (bool inplace : {false, true}) {
            Case c;
            c.op = DS4_OP_UNARY;
            c.name = std::string("unary ") + names[kind] + (inplace ? " in place" : "");
            c.variant = std::string(names[kind]) + (inplace ? " in-place" : "");
            c.params = params_bytes(p);
            c.srcs.push_back(f32_input({33, 3}, x));
            c.dsts.push_back({DS4_TYPE_F32, {33, 3}, {}});
            if (inplace) c.inplace_src = 0;
            check_case(c, {approx ? within(want, 1e-7, 2e-6) : exact(want)});
        }
    }
}

TEST(Clamp, TwoSidedAndOneSided) {
    auto x = with_specials(random_floats(33 * 2, 57, -20.0f, 20.0f));
    const float bounds[][2] = {{-10.0f, 10.0f}, {-INFINITY, 10.0f}, {-10.0f, INFINITY}};
    for (auto& b : bounds) {
        ds4_params_clamp p{};
        p.lo = b[0];
        p.hi = b[1];
        std::vector<double> want;
        for (float v : x) want.push_back(std::isnan(v) ? v : std::min<double>(std::max<double>(v, p.lo), p.hi));
        Case c;
        c.op = DS4_OP_CLAMP;
        c.name = "clamp [" + std::to_string(b[0]) + ", " + std::to_string(b[1]) + "]";
        c.variant = std::isinf(b[0]) || std::isinf(b[1]) ? "one-sided" : "two-sided";
        c.params = params_bytes(p);
        c.srcs.push_back(f32_input({33, 2}, x));
        c.dsts.push_back({DS4_TYPE_F32, {33, 2}, {}});
        check_case(c, {exact(want)});
    }
}

TEST(RmsNorm, WithAndWithoutWeightAndInPlace) {
    for (int64_t n : {33, 4096})
        for (bool weighted : {false, true})
            for (bool inplace : {false, true}) {
                const int64_t rows = 3;
                auto x = random_floats(n * rows, 60 + n, -3.0f, 3.0f);
                auto w = random_floats(n, 61, 0.5f, 1.5f);
                ds4_params_rms_norm p{};
                p.eps = 1e-6f;
                std::vector<double> want;
                for (int64_t r = 0; r < rows; ++r) {
                    double ss = 0;
                    for (int64_t i = 0; i < n; ++i) ss += double(x[r * n + i]) * x[r * n + i];
                    double s = 1.0 / std::sqrt(ss / n + 1e-6);
                    for (int64_t i = 0; i < n; ++i) want.push_back(x[r * n + i] * s * (weighted ? w[i] : 1.0));
                }
                Case c;
                c.op = DS4_OP_RMS_NORM;
                c.name = "rms_norm n=" + std::to_string(n) + (weighted ? " weighted" : "") + (inplace ? " in place" : "");
                c.variant = std::string(weighted ? "f32 weighted" : "f32") + (inplace ? " in-place" : "");
                c.params = params_bytes(p);
                c.srcs.push_back(f32_input({n, rows}, x));
                if (weighted) c.srcs.push_back(f32_input({n}, w));
                c.dsts.push_back({DS4_TYPE_F32, {n, rows}, {}});
                if (inplace) c.inplace_src = 0;
                check_case(c, {within(want, 1e-7, 2e-6)});
            }
    // A NaN in a row poisons that row only.
    auto x = random_floats(8 * 2, 62);
    x[3] = NAN;
    ds4_params_rms_norm p{};
    p.eps = 1e-6f;
    std::vector<double> want(8, NAN);
    double ss = 0;
    for (int i = 8; i < 16; ++i) ss += double(x[i]) * x[i];
    for (int i = 8; i < 16; ++i) want.push_back(x[i] / std::sqrt(ss / 8 + 1e-6));
    Case c;
    c.op = DS4_OP_RMS_NORM;
    c.name = "rms_norm nan row";
    c.variant = "f32";
    c.params = params_bytes(p);
    c.srcs.push_back(f32_input({8, 2}, x));
    c.dsts.push_back({DS4_TYPE_F32, {8, 2}, {}});
    check_case(c, {within(want, 1e-7, 2e-6)});
}

}  // namespace
}  // namespace ds4::conformance
