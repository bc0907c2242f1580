// MATMUL, MATMUL_ID, MATMUL_F32.
//
// First, simplest-correct version (no tensor cores, no tiling):
//   1. the activation rows are staged once into plan scratch as contiguous f32 rows. Under
//      DS4_ACT_DS4 they are replaced by their activation quantization, dequantized
//      (x' = d·q with Q8_0-act blocks for Q8_0 weights, Q8_K blocks for Q2_K/Q4_K/IQ2_XXS,
//      MODEL.md §E.5/§E.6). Σ (d_w·q_w)(d_x·q_x) equals ds4's integer dot up to float
//      rounding of the products, which the conformance tolerance covers.
//   2. one block per (output row, activation row): each thread dequantizes and accumulates a
//      strided slice of the row, then a shared-memory tree sums the slices in a fixed order.
//      No atomics: results are bit-identical run to run and independent of the batch.
#include "common.cuh"
#include "ops.h"

namespace ds4::gpu {
namespace {

constexpr int kDotThreads = 128;

enum ActMode : int { kActF32 = 0, kActQ8_0 = 1, kActQ8_K = 2 };

ActMode act_mode_for(uint32_t wtype, uint32_t act_quant) {
    if (act_quant != DS4_ACT_DS4) return kActF32;
    switch (wtype) {
    case DS4_TYPE_Q8_0: return kActQ8_0;
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS: return kActQ8_K;
    default: return kActF32;
    }
}

// clamp(round_half_even(v), -128, 127) as ds4::quant (NaN → 0).
__device__ inline float d_q8(float v) {
    if (!(v == v)) return 0.0f;
    return fminf(fmaxf(rintf(v), -128.0f), 127.0f);
}

// One thread per activation block of one row: copies (kActF32) or fake-quantizes the block.
__global__ void stage_acts_kernel(DTensor x, float* out, int64_t rows, int mode) {
    const int64_t in = x.ne[0];
    const int64_t bs = mode == kActQ8_0 ? 32 : (mode == kActQ8_K ? 256 : 1);
    const int64_t nb = in / bs, total = rows * nb;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / nb, b0 = (e % nb) * bs;
        float* o = out + r * in + b0;
        if (mode == kActF32) {
            *o = *reinterpret_cast<const float*>(d_row_elem(x, r, b0));
            continue;
        }
        float amax = 0.0f, vmax = 0.0f;
        for (int64_t i = 0; i < bs; ++i) {
            const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, b0 + i));
            const float a = fabsf(v);
            if (a > amax) {
                amax = a;
                vmax = v;
            }
        }
        if (mode == kActQ8_0) {
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            for (int64_t i = 0; i < bs; ++i) {
                const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, b0 + i));
                o[i] = d * d_q8(v * id);
            }
        } else if (amax == 0.0f) {
            for (int64_t i = 0; i < bs; ++i) o[i] = 0.0f;
        } else {
            const float iscale = -127.0f / vmax;
            const float d = 1.0f / iscale;
            for (int64_t i = 0; i < bs; ++i) {
                const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, b0 + i));
                o[i] = d * d_q8(iscale * v);
            }
        }
    }
}

// Σ_i W[i]·x[i] over one weight row, by the whole block; result valid in thread 0.
__device__ float block_dot(uint32_t wtype, const uint8_t* wrow, const float* x, int64_t in, const Iq2Tables& tabs) {
    __shared__ float part[kDotThreads];
    float acc = 0.0f;
    for (int64_t i = threadIdx.x; i < in; i += blockDim.x) acc += d_dequant(wtype, wrow, i, tabs) * x[i];
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    const float r = part[0];
    __syncthreads();  // part[] is reused by the next call
    return r;
}

__global__ void matmul_kernel(DTensor w, const float* x, DTensor y, int64_t rows, Iq2Tables tabs) {
    const int64_t in = w.ne[0], o = blockIdx.x;
    const uint8_t* wrow = w.data + o * w.nb[1];
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const float v = block_dot(w.type, wrow, x + r * in, in, tabs);
        if (threadIdx.x == 0) *reinterpret_cast<float*>(d_row_elem(y, r, o)) = v;
    }
}

// Pairs p = t·k + j: expert ids[t][j] applied to activation row t·kx + (kx == 1 ? 0 : j).
__global__ void matmul_id_kernel(DTensor w, const float* x, DTensor ids, DTensor y, int64_t kx, Iq2Tables tabs,
                                 DeviceError* err, int32_t node) {
    const int64_t in = w.ne[0], o = blockIdx.x, k = ids.ne[0], n = ids.ne[1], E = w.ne[2];
    for (int64_t p = blockIdx.y; p < k * n; p += gridDim.y) {
        const int64_t t = p / k, j = p % k;
        const int32_t e = *reinterpret_cast<const int32_t*>(d_elem(ids, j, t, 0, 0));
        float* out = reinterpret_cast<float*>(d_elem(y, o, j, t, 0));
        if (e == -1) {
            if (threadIdx.x == 0) *out = 0.0f;
            continue;
        }
        if (e < 0 || e >= E) {
            if (threadIdx.x == 0 && o == 0) d_report(err, kErrExpertId, node, e, p);
            continue;
        }
        const uint8_t* wrow = w.data + int64_t(e) * w.nb[2] + o * w.nb[1];
        const float v = block_dot(w.type, wrow, x + (t * kx + (kx == 1 ? 0 : j)) * in, in, tabs);
        if (threadIdx.x == 0) *out = v;
    }
}

// One thread per output, k ascending with one accumulator (the documented order).
__global__ void matmul_f32_kernel(DTensor a, DTensor b, DTensor d, int64_t total) {
    const int64_t K = a.ne[0], M = a.ne[1], N = b.ne[1];
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t nn = e % N, m = (e / N) % M, b2 = (e / (N * M)) % a.ne[2], b3 = e / (N * M * a.ne[2]);
        const int64_t bb2 = b2 % b.ne[2], bb3 = b3 % b.ne[3];
        float acc = 0.0f;
        for (int64_t kk = 0; kk < K; ++kk)
            acc += *reinterpret_cast<const float*>(d_elem(a, kk, m, b2, b3)) *
                   *reinterpret_cast<const float*>(d_elem(b, kk, nn, bb2, bb3));
        *reinterpret_cast<float*>(d_elem(d, nn, m, b2, b3)) = acc;
    }
}

KernelStatus stage_acts(const ds4_tensor* x, uint32_t wtype, uint32_t act_quant, KernelContext& ctx) {
    const int mode = act_mode_for(wtype, act_quant);
    const int64_t rows = n_rows(x);
    const int64_t bs = mode == kActQ8_0 ? 32 : (mode == kActQ8_K ? 256 : 1);
    if (x->ne[0] % bs != 0)
        return KernelStatus::invalid("activation row length is not a multiple of its quantization block");
    if (static_cast<uint64_t>(n_elems(x)) * sizeof(float) > ctx.scratch_bytes)
        return {DS4_ERR_INTERNAL, "matmul scratch too small"};
    stage_acts_kernel<<<blocks_for(rows * (x->ne[0] / bs)), kThreads, 0, ctx.stream>>>(dtensor(x), ctx.scratch, rows, mode);
    return launch_status("matmul activations");
}

unsigned grid_y(int64_t n) { return static_cast<unsigned>(n < 65535 ? (n < 1 ? 1 : n) : 65535); }

}  // namespace

KernelStatus run_matmul(const ds4_node& node, KernelContext& ctx) {
    ds4_params_matmul p;
    read_params(node, &p);
    const ds4_tensor *w = node.src[0], *x = node.src[1], *y = node.dst[0];
    if (auto st = stage_acts(x, w->type, p.act_quant, ctx); !st.ok()) return st;
    const int64_t rows = n_rows(x);
    dim3 grid(static_cast<unsigned>(w->ne[1]), grid_y(rows));
    matmul_kernel<<<grid, kDotThreads, 0, ctx.stream>>>(dtensor(w), ctx.scratch, dtensor(y), rows,
                                                       Iq2Tables{ctx.iq2_grid, ctx.iq2_signs});
    return launch_status("matmul");
}

KernelStatus run_matmul_id(const ds4_node& node, KernelContext& ctx) {
    ds4_params_matmul p;
    read_params(node, &p);
    const ds4_tensor *w = node.src[0], *x = node.src[1], *ids = node.src[2], *y = node.dst[0];
    if (auto st = stage_acts(x, w->type, p.act_quant, ctx); !st.ok()) return st;
    dim3 grid(static_cast<unsigned>(w->ne[1]), grid_y(ids->ne[0] * ids->ne[1]));
    matmul_id_kernel<<<grid, kDotThreads, 0, ctx.stream>>>(dtensor(w), ctx.scratch, dtensor(ids), dtensor(y), x->ne[1],
                                                          Iq2Tables{ctx.iq2_grid, ctx.iq2_signs}, ctx.err, ctx.node);
    return launch_status("matmul_id");
}

KernelStatus run_matmul_f32(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    const int64_t total = b->ne[1] * a->ne[1] * a->ne[2] * a->ne[3];
    matmul_f32_kernel<<<blocks_for(total), kThreads, 0, ctx.stream>>>(dtensor(a), dtensor(b), dtensor(d), total);
    return launch_status("matmul_f32");
}

}  // namespace ds4::gpu
