// ADD, MUL, DIV (broadcasting binary ops), SCALE, UNARY, CLAMP: one thread per element, F32,
// any strides; dst may alias src0 element for element (each thread reads then writes its own).
#include "common.cuh"
#include "ops.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

enum BinaryOp : int { kAdd, kMul, kDiv };

__global__ void binary_kernel(DTensor a, DTensor b, DTensor d, int64_t n, int op) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
        Idx4 ix = d_split(a, e);
        const float x = *reinterpret_cast<const float*>(d_elem(a, ix.i0, ix.i1, ix.i2, ix.i3));
        const float y = *reinterpret_cast<const float*>(d_elem(b, b.ne[0] == 1 ? 0 : ix.i0, b.ne[1] == 1 ? 0 : ix.i1,
                                                               b.ne[2] == 1 ? 0 : ix.i2, b.ne[3] == 1 ? 0 : ix.i3));
        const float r = op == kAdd ? __fadd_rn(x, y) : (op == kMul ? __fmul_rn(x, y) : __fdiv_rn(x, y));
        *reinterpret_cast<float*>(d_elem(d, ix.i0, ix.i1, ix.i2, ix.i3)) = r;
    }
}

// MODEL.md §0: x < 0 → e^x/(1+e^x), so e^-x never overflows.
__device__ inline float d_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + d_exp_cr(-x));
    const float e = d_exp_cr(x);
    return e / (1.0f + e);
}

__device__ inline float d_softplus(float x) {
    if (x > 20.0f) return x;
    if (x < -20.0f) return d_exp_cr(x);
    return d_log1p_cr(d_exp_cr(x));
}

// kind: a ds4_unary_kind; 100 = SCALE (s, b), 101 = CLAMP (lo = s, hi = b).
__global__ void map_kernel(DTensor a, DTensor d, int64_t n, int kind, float s, float b) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
        Idx4 ix = d_split(a, e);
        const float x = *reinterpret_cast<const float*>(d_elem(a, ix.i0, ix.i1, ix.i2, ix.i3));
        float r;
        switch (kind) {
        case DS4_UNARY_SILU: r = x * d_sigmoid(x); break;
        case DS4_UNARY_SIGMOID: r = d_sigmoid(x); break;
        case DS4_UNARY_SOFTPLUS: r = d_softplus(x); break;
        case DS4_UNARY_SQRT: r = __fsqrt_rn(x); break;
        case DS4_UNARY_EXP: r = d_exp_cr(x); break;
        case DS4_UNARY_RELU: r = x > 0.0f ? x : (x == x ? 0.0f : x); break;
        case DS4_UNARY_NEG: r = -x; break;
        case DS4_UNARY_RECIP: r = __fdiv_rn(1.0f, x); break;
        case 100: r = __fadd_rn(__fmul_rn(x, s), b); break;  // two roundings, as cpu-ref
        default: r = x < s ? s : (x > b ? b : x); break;      // NaN passes through
        }
        *reinterpret_cast<float*>(d_elem(d, ix.i0, ix.i1, ix.i2, ix.i3)) = r;
    }
}

KernelStatus run_binary(const ds4_node& node, KernelContext& ctx, int op, const char* name) {
    const int64_t n = n_elems(node.src[0]);
    binary_kernel<<<blocks_for(n), kThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.src[1]),
                                                              dtensor(node.dst[0]), n, op);
    return launch_status(name);
}

KernelStatus run_map(const ds4_node& node, KernelContext& ctx, int kind, float s, float b, const char* name) {
    const int64_t n = n_elems(node.src[0]);
    map_kernel<<<blocks_for(n), kThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.dst[0]), n, kind, s, b);
    return launch_status(name);
}

}  // namespace

KernelStatus run_add(const ds4_node& node, KernelContext& ctx) { return run_binary(node, ctx, kAdd, "add"); }
KernelStatus run_mul(const ds4_node& node, KernelContext& ctx) { return run_binary(node, ctx, kMul, "mul"); }
KernelStatus run_div(const ds4_node& node, KernelContext& ctx) { return run_binary(node, ctx, kDiv, "div"); }

KernelStatus run_scale(const ds4_node& node, KernelContext& ctx) {
    ds4_params_scale p;
    read_params(node, &p);
    return run_map(node, ctx, 100, p.scale, p.bias, "scale");
}

KernelStatus run_unary(const ds4_node& node, KernelContext& ctx) {
    ds4_params_unary p;
    read_params(node, &p);
    return run_map(node, ctx, static_cast<int>(p.kind), 0.0f, 0.0f, "unary");
}

KernelStatus run_clamp(const ds4_node& node, KernelContext& ctx) {
    ds4_params_clamp p;
    read_params(node, &p);
    return run_map(node, ctx, 101, p.lo, p.hi, "clamp");
}

}  // namespace ds4::gpu
