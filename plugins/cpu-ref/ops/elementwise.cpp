// ADD, MUL, DIV (broadcasting binary ops), SCALE, UNARY, CLAMP. All F32, any strides; the
// unary ones may run in place (dst aliasing src0 element for element).
#include <cmath>
#include <vector>

#include "common.h"
#include "ops.h"

namespace ds4::cpuref {
namespace {

constexpr int64_t kRowsPerChunk = 8;

KernelStatus check_binary(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    if (auto st = check_type(a, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(b, "src1", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_same_shape(a, "src0", d, "dst"); !st.ok()) return st;
    return check_broadcast(a, "src0", b, "src1");
}

template <class F>
void run_binary(const ds4_node& node, KernelContext& ctx, F f) {
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    const int64_t ne0 = a->ne[0];
    ctx.pool.parallel_for(n_rows(a), kRowsPerChunk, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            RowIndex ix = split_row(a, r);
            for (int64_t i = 0; i < ne0; ++i) {
                float x = f32_at(a, i, ix.i1, ix.i2, ix.i3);
                float y = *broadcast_f32(b, i, ix.i1, ix.i2, ix.i3);
                f32_at(d, i, ix.i1, ix.i2, ix.i3) = f(x, y);
            }
        }
    });
}

KernelStatus check_unary_shape(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 1, 1); !st.ok()) return st;
    if (auto st = check_type(node.src[0], "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(node.dst[0], "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    return check_same_shape(node.src[0], "src0", node.dst[0], "dst");
}

template <class F>
void run_map(const ds4_node& node, KernelContext& ctx, F f) {
    const ds4_tensor *a = node.src[0], *d = node.dst[0];
    const int64_t ne0 = a->ne[0];
    ctx.pool.parallel_for(n_rows(a), kRowsPerChunk, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            RowIndex ix = split_row(a, r);
            for (int64_t i = 0; i < ne0; ++i) f32_at(d, i, ix.i1, ix.i2, ix.i3) = f(f32_at(a, i, ix.i1, ix.i2, ix.i3));
        }
    });
}

// MODEL.md §0: x < 0 → e^x/(1+e^x), so e^-x never overflows.
inline float sigmoid_stable(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + exp_f32(-x));
    float e = exp_f32(x);
    return e / (1.0f + e);
}

inline float softplus_stable(float x) {
    if (x > 20.0f) return x;
    if (x < -20.0f) return exp_f32(x);
    return log1p_f32(exp_f32(x));
}

}  // namespace

KernelStatus check_add(const ds4_node& node) { return check_binary(node); }
KernelStatus check_mul(const ds4_node& node) { return check_binary(node); }
KernelStatus check_div(const ds4_node& node) { return check_binary(node); }

KernelStatus run_add(const ds4_node& node, KernelContext& ctx) {
    run_binary(node, ctx, [](float x, float y) { return x + y; });
    return {};
}
KernelStatus run_mul(const ds4_node& node, KernelContext& ctx) {
    run_binary(node, ctx, [](float x, float y) { return x * y; });
    return {};
}
KernelStatus run_div(const ds4_node& node, KernelContext& ctx) {
    run_binary(node, ctx, [](float x, float y) { return x / y; });
    return {};
}

// ---- SCALE ---------------------------------------------------------------------------------

KernelStatus check_scale(const ds4_node& node) {
    ds4_params_scale p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_scale");
    return check_unary_shape(node);
}

KernelStatus run_scale(const ds4_node& node, KernelContext& ctx) {
    ds4_params_scale p;
    read_params(node, &p);
    const float s = p.scale, b = p.bias;
    // Two roundings: the product, then the sum (the plugin is built without FMA flags).
    run_map(node, ctx, [s, b](float x) {
        float m = x * s;
        return m + b;
    });
    return {};
}

// ---- UNARY ---------------------------------------------------------------------------------

KernelStatus check_unary(const ds4_node& node) {
    ds4_params_unary p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_unary");
    if (p.kind > DS4_UNARY_RECIP) return KernelStatus::unsupported(msg("unknown unary kind ", p.kind));
    return check_unary_shape(node);
}

KernelStatus run_unary(const ds4_node& node, KernelContext& ctx) {
    ds4_params_unary p;
    read_params(node, &p);
    switch (p.kind) {
    case DS4_UNARY_SILU: run_map(node, ctx, [](float x) { return x * sigmoid_stable(x); }); break;
    case DS4_UNARY_SIGMOID: run_map(node, ctx, [](float x) { return sigmoid_stable(x); }); break;
    case DS4_UNARY_SOFTPLUS: run_map(node, ctx, [](float x) { return softplus_stable(x); }); break;
    case DS4_UNARY_SQRT: run_map(node, ctx, [](float x) { return std::sqrt(x); }); break;
    case DS4_UNARY_EXP: run_map(node, ctx, [](float x) { return exp_f32(x); }); break;
    case DS4_UNARY_RELU: run_map(node, ctx, [](float x) { return x > 0.0f ? x : (x == x ? 0.0f : x); }); break;
    case DS4_UNARY_NEG: run_map(node, ctx, [](float x) { return -x; }); break;
    case DS4_UNARY_RECIP: run_map(node, ctx, [](float x) { return 1.0f / x; }); break;
    default: return KernelStatus::unsupported(msg("unknown unary kind ", p.kind));
    }
    return {};
}

// ---- CLAMP ---------------------------------------------------------------------------------

KernelStatus check_clamp(const ds4_node& node) {
    ds4_params_clamp p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_clamp");
    if (!(p.lo <= p.hi)) return KernelStatus::invalid(msg("clamp lo ", p.lo, " > hi ", p.hi));
    return check_unary_shape(node);
}

KernelStatus run_clamp(const ds4_node& node, KernelContext& ctx) {
    ds4_params_clamp p;
    read_params(node, &p);
    const float lo = p.lo, hi = p.hi;
    // min(max(x, lo), hi) written so that NaN passes through (it fails both comparisons).
    run_map(node, ctx, [lo, hi](float x) { return x < lo ? lo : (x > hi ? hi : x); });
    return {};
}

}  // namespace ds4::cpuref
