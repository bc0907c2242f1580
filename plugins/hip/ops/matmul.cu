// MATMUL, MATMUL_ID, MATMUL_F32.
//
// Weight matmuls (MATMUL, MATMUL_ID) run in two steps:
//   1. the activation rows are staged once into plan scratch (matvec.cuh, Acts): under
//      DS4_ACT_DS4 quantized exactly like ds4::quant (Q8_0-act for Q8_0 weights, Q8_K for
//      Q2_K/Q4_K/IQ2_XXS: int8 codes + f32 scales), otherwise copied as contiguous f32 rows;
//   2. tile blocks stream 8 weight rows at a time through shared memory in ~1-2 KiB chunks
//      (16-byte loads, the next chunk in flight while the current one is computed) and dot them
//      with up to T activation rows, so a weight byte is read from memory once per T tokens.
//      Decode (n <= 4) uses T = n; prefill tiles tokens by 8. One token against quantized
//      weights with Q8 activations (the decode case of official numerics) runs instead on
//      matvec_decode.cuh's kernels: a lane per storage block straight from global memory.
//      From 16 tokens on, quantized weights × quantized activations run on the integer
//      tensor-core tiles of matmul_mma.cuh (NVIDIA sm_80+) and float weights × f32 activations
//      on the register tiles of matmul_float.cuh; shapes they do not take stay here.
// MATMUL_ID: few (token, slot) pairs (decode) get one tile row per pair, reading the expert id
// in the kernel; many pairs (prefill) are first grouped by expert on the device (one block,
// integer atomics on the lists only; a pair's value does not depend on its group), then each
// expert's tokens are tiled like a prefill. Launch shapes depend only on tensor shapes, never
// on ids or other data, so plans can be captured into graphs.
// The reduction order of every output is quant::dot_row's (matvec.cuh): results equal
// cpu-ref's bit for bit, run to run and whatever the number of tokens. The same staging and
// tiles serve the fused ops' projections and expert matmuls (rowdot.h).
#include <string>
#include <type_traits>

#include "common.cuh"
#include "matmul_float.cuh"
#include "matmul_mma.cuh"
#include "matvec.cuh"
#include "matvec_decode.cuh"
#include "ops.h"
#include "rowdot.h"

namespace ds4::gpu {
namespace {

enum ActMode : int { kActF32 = 0, kActQ8_0 = 1, kActQ8_K = 2 };

ActMode act_mode_for(uint32_t wtype, uint32_t act_quant) {
    if (act_quant != DS4_ACT_DS4) return kActF32;
    switch (wtype) {
    case DS4_TYPE_Q8_0: return kActQ8_0;
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS: return kActQ8_K;
    default: return kActF32;
    }
}

constexpr int64_t kPairTileMax = 32;  // MATMUL_ID: up to this many pairs, one tile row per pair
constexpr int64_t kGroupMaxExperts = 4000;  // grouping lists live in 48 KiB of shared memory
constexpr int kGroupThreads = 1024;

uint64_t align256(uint64_t v) { return (v + 255) / 256 * 256; }

// Plan-scratch layout of one weight matmul node (the same on host and device).
struct Layout {
    ActMode mode;
    int64_t rows, in, ld;
    uint64_t q_off, d_off, f_off;           // activation codes / scales / f32 rows
    uint64_t cnt_off, off_off, list_off;    // MATMUL_ID grouping (prefill)
    int64_t experts, pairs;
    bool grouped;
    uint64_t total;
};

// Activation staging of `rows` rows of `in` elements meeting weights of type wtype.
Layout layout_for_shape(uint32_t wtype, uint32_t act_quant, int64_t rows, int64_t in) {
    Layout L{};
    L.mode = act_mode_for(wtype, act_quant);
    L.in = in;
    L.rows = rows;
    L.ld = (L.in + 15) / 16 * 16;
    uint64_t at = 0;
    if (L.mode == kActF32) {
        L.f_off = at;
        at = align256(at + static_cast<uint64_t>(L.rows * L.ld) * 4);
    } else {
        const int64_t bs = L.mode == kActQ8_0 ? 32 : 256;
        L.q_off = at;
        at = align256(at + static_cast<uint64_t>(L.rows * L.ld));
        L.d_off = at;
        at = align256(at + static_cast<uint64_t>(L.rows * (L.ld / bs)) * 4);
    }
    L.total = at;
    return L;
}

// MATMUL_ID: the activation staging plus, for many pairs, the per-expert grouping lists.
Layout layout_for_id(uint32_t wtype, uint32_t act_quant, int64_t rows, int64_t in, int64_t experts, int64_t pairs) {
    Layout L = layout_for_shape(wtype, act_quant, rows, in);
    uint64_t at = L.total;
    L.experts = experts;
    L.pairs = pairs;
    L.grouped = L.pairs > kPairTileMax && L.experts <= kGroupMaxExperts;
    if (L.grouped) {
        // Bucket E collects the pairs with id -1 (zero rows).
        L.cnt_off = at;
        at = align256(at + static_cast<uint64_t>(L.experts + 1) * 4);
        L.off_off = at;
        at = align256(at + static_cast<uint64_t>(L.experts + 1) * 4);
        L.list_off = at;
        at = align256(at + static_cast<uint64_t>(L.pairs) * 4);
    }
    L.total = at;
    return L;
}

Layout layout_for(const ds4_node& node) {
    ds4_params_matmul p;
    read_params(node, &p);
    const ds4_tensor *w = node.src[0], *x = node.src[1];
    if (node.op == DS4_OP_MATMUL_ID && node.src[2])
        return layout_for_id(w->type, p.act_quant, n_rows(x), x->ne[0], w->ne[2], node.src[2]->ne[0] * node.src[2]->ne[1]);
    return layout_for_shape(w->type, p.act_quant, n_rows(x), x->ne[0]);
}

mv::Acts acts_of(const Layout& L, uint8_t* scratch) {
    mv::Acts a{};
    a.q = reinterpret_cast<const int8_t*>(scratch + L.q_off);
    a.d = reinterpret_cast<const float*>(scratch + L.d_off);
    a.f = reinterpret_cast<const float*>(scratch + L.f_off);
    a.ld = L.ld;
    return a;
}

// clamp(round_half_even(v), -128, 127) as ds4::quant (NaN → 0).
__device__ inline int d_q8(float v) {
    if (!(v == v)) return 0;
    return int(fminf(fmaxf(rintf(v), -128.0f), 127.0f));
}

__device__ inline float x_at(const DTensor& x, int64_t r, int64_t i) {
    return *reinterpret_cast<const float*>(d_row_elem(x, r, i));
}

// Activation quantization: one 32-lane group per 256 elements of a row, 8 per lane.
//  BS = 32:  Q8_0-act, d = amax/127, q = rne(x·(1/d)) (4 lanes per block);
//  BS = 256: Q8_K, v = the element of largest |x| (first on ties), q = rne((−127/v)·x),
//            d = 1/(−127/v).
template <int BS>
__global__ void __launch_bounds__(256) quantize_acts_kernel(DTensor x, int64_t rows, int64_t in, int64_t ld, int8_t* q,
                                                            float* d) {
    gpu_dependents_may_launch();  // the tile kernel may start prefetching its weights
    const int lane = threadIdx.x % 32;
    const int64_t segs = (in + 255) / 256, total = rows * segs;
    const int64_t groups = int64_t(gridDim.x) * (blockDim.x / 32);
    for (int64_t g = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32; g < total; g += groups) {
        const int64_t r = g / segs, i0 = (g % segs) * 256 + 8 * lane;
        const bool live = i0 < in;  // in is a multiple of 32: a lane has all 8 elements or none
        const uint8_t* xr = d_row_elem(x, r, 0);  // once per group: d_row_elem divides by the shape
        float v[8];
        float amax = 0.0f, vmax = 0.0f;
        int imax = -1;
#pragma unroll
        for (int i = 0; i < 8; ++i) v[i] = live ? *reinterpret_cast<const float*>(xr + (i0 + i) * x.nb[0]) : 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float a = fabsf(v[i]);
            if (a > amax) {
                amax = a;
                vmax = v[i];
                imax = 8 * lane + i;
            }
        }
        float scale, dval;
        if constexpr (BS == 32) {
#pragma unroll
            for (int m = 1; m < 4; m *= 2) amax = fmaxf(amax, gpu_shfl_xor32(amax, m));
            dval = amax / 127.0f;
            scale = dval != 0.0f ? 1.0f / dval : 0.0f;
        } else {
#pragma unroll
            for (int m = 16; m > 0; m /= 2) {
                const float oa = gpu_shfl_xor32(amax, m), ov = gpu_shfl_xor32(vmax, m);
                const int oi = gpu_shfl_xor32(imax, m);
                if (oa > amax || (oa == amax && oi < imax && oa != 0.0f)) {
                    amax = oa;
                    vmax = ov;
                    imax = oi;
                }
            }
            scale = amax != 0.0f ? -127.0f / vmax : 0.0f;
            dval = amax != 0.0f ? 1.0f / scale : 0.0f;
        }
        if (!live) continue;
        uint32_t lo = 0, hi = 0;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            lo |= uint32_t(uint8_t(int8_t(d_q8(v[i] * scale)))) << (8 * i);
            hi |= uint32_t(uint8_t(int8_t(d_q8(v[4 + i] * scale)))) << (8 * i);
        }
        *reinterpret_cast<uint2*>(q + r * ld + i0) = make_uint2(lo, hi);
        if (i0 % BS == 0) d[r * (ld / BS) + i0 / BS] = dval;
    }
}

// Contiguous f32 copy of the activation rows, zero-padded to ld.
__global__ void copy_acts_kernel(DTensor x, int64_t rows, int64_t in, int64_t ld, float* f) {
    gpu_dependents_may_launch();
    const int64_t total = rows * ld;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / ld, i = e % ld;
        f[e] = i < in ? x_at(x, r, i) : 0.0f;
    }
}

// The IQ2_XXS tables at smem + offset (every thread calls it; null for other types).
template <int WT>
__device__ inline mv::Iq2Smem* setup_tables(uint8_t* smem, const Iq2Tables& g, int offset = mv::kTablesOffset<WT>) {
    if constexpr (WT == DS4_TYPE_IQ2_XXS) {
        auto* t = reinterpret_cast<mv::Iq2Smem*>(smem + offset);
        mv::load_iq2_tables(t, g);
        __syncthreads();
        return t;
    } else {
        return nullptr;
    }
}

// MATMUL: grid (row tiles, token tiles of T).
template <int WT, bool Q, int T>
__global__ void __launch_bounds__(mv::kThreads) mm_dense_kernel(const uint8_t* w, int64_t nb1, int64_t in, int64_t out,
                                                              mv::Acts acts, int64_t n, DTensor y, float scale,
                                                              Iq2Tables g) {
    extern __shared__ uint4 smem_raw[];
    uint8_t* smem = reinterpret_cast<uint8_t*>(smem_raw);
    const mv::Iq2Smem* tabs = setup_tables<WT>(smem, g);
    const int64_t o0 = int64_t(blockIdx.x) * mv::kRows;
    for (int64_t t0 = int64_t(blockIdx.y) * T; t0 < n; t0 += int64_t(gridDim.y) * T) {
        int64_t xrow[T];
        float* yp[T];
#pragma unroll
        for (int t = 0; t < T; ++t) {
            const bool live = t0 + t < n;
            xrow[t] = live ? t0 + t : -1;
            yp[t] = live ? reinterpret_cast<float*>(d_row_elem(y, t0 + t, 0)) : nullptr;
        }
        mv::tile<WT, Q, T>(w, nb1, in, out, o0, acts, xrow, yp, y.nb[0] / 4, smem, tabs, scale);
    }
}

// MATMUL of one token, quantized weights and activations: grid ceil(out / rows per block).
template <int WT>
__global__ void __launch_bounds__(mvd::kWarps * 32) mm_decode_kernel(const uint8_t* w, int64_t nb1, int64_t in,
                                                                     int64_t out, mv::Acts acts, DTensor y, float scale,
                                                                     Iq2Tables g, int lpr) {
    __shared__ float terms[mvd::kWarps][32 * mvd::Group<WT>::G];
    __shared__ __align__(16) uint32_t wstage[mvd::kWarps][mvd::kStageWords<WT>];
    __shared__ int4 xsm[mvd::kActChunks];
    __shared__ uint64_t grid_s[WT == DS4_TYPE_IQ2_XXS ? 256 : 1];
    const int warp = threadIdx.x / 32;
    const int64_t o_base = (int64_t(blockIdx.x) * mvd::kWarps + warp) * (32 / lpr);
    const int64_t groups = in / (int64_t(mvd::Group<WT>::G) * mvd::Group<WT>::be);
    mvd::issue_round<WT>(w, nb1, out, o_base, lpr, groups, 0, wstage[warp]);  // weights never depend on earlier kernels
    const uint64_t* grid = mvd::load_grid<WT>(grid_s, g);
    gpu_dependency_wait();
    mvd::stage_acts(acts.q, in, xsm);
    __syncthreads();
    mvd::decode_rows<WT>(w, nb1, in, out, o_base, lpr, xsm, acts.d, reinterpret_cast<float*>(d_row_elem(y, 0, 0)),
                         y.nb[0] / 4, scale, grid, terms[warp], wstage[warp]);
}

// MATMUL of many tokens on the tensor-core tiles: grid (row tiles of mma::kRows, token tiles).
template <int WT, int TN>
__global__ void __launch_bounds__(mma::kThreads) mm_dense_mma_kernel(const uint8_t* w, int64_t nb1, int64_t in,
                                                                   int64_t out, mv::Acts acts, int64_t n, DTensor y,
                                                                   float scale, Iq2Tables g) {
    extern __shared__ uint4 smem_raw[];
    uint8_t* smem = reinterpret_cast<uint8_t*>(smem_raw);
    const mv::Iq2Smem* tabs = setup_tables<WT>(smem, g, mma::kTablesOffset<WT, TN>);
    gpu_dependency_wait();
    const mma::Tokens tok = mma::tokens_of<WT, TN>(smem);
    const int64_t o0 = int64_t(blockIdx.x) * mma::kRows;
    for (int64_t t0 = int64_t(blockIdx.y) * TN; t0 < n; t0 += int64_t(gridDim.y) * TN) {
        for (int t = threadIdx.x; t < TN; t += blockDim.x) {
            const bool live = t0 + t < n;
            tok.xrow[t] = live ? t0 + t : -1;
            tok.y[t] = live ? reinterpret_cast<float*>(d_row_elem(y, t0 + t, 0)) : nullptr;
        }
        __syncthreads();
        mma::tile<WT, TN>(w, nb1, in, out, o0, acts, y.nb[0] / 4, smem, tabs, scale);
    }
}

// MATMUL of many tokens, float weights and f32 activations: grid (row tiles of mf::kRows,
// token tiles of mf::kTokens).
template <int WT>
__global__ void __launch_bounds__(mf::kThreads) mm_dense_float_kernel(const uint8_t* w, int64_t nb1, int64_t in,
                                                                    int64_t out, mv::Acts acts, int64_t n, DTensor y,
                                                                    float scale) {
    gpu_dependency_wait();
    const int64_t o0 = int64_t(blockIdx.x) * mf::kRows;
    for (int64_t t0 = int64_t(blockIdx.y) * mf::kTokens; t0 < n; t0 += int64_t(gridDim.y) * mf::kTokens)
        mf::tile<WT>(w, nb1, in, out, o0, acts, n, t0,
                     [&](int64_t t) { return reinterpret_cast<float*>(d_row_elem(y, t, 0)); }, y.nb[0] / 4, scale);
}

struct IdArgs {
    const uint8_t* w;
    int64_t nb1, nb2, in, out, experts;
    DTensor ids, y;
    int64_t k, kx;  // slots per token, activation rows per token (1 = shared)
};

__device__ inline int32_t id_at(const IdArgs& a, int64_t p) {
    return *reinterpret_cast<const int32_t*>(d_elem(a.ids, p % a.k, p / a.k, 0, 0));
}
__device__ inline int64_t xrow_of(const IdArgs& a, int64_t p) {
    const int64_t t = p / a.k, j = p % a.k;
    return t * a.kx + (a.kx == 1 ? 0 : j);
}
__device__ inline float* yrow_of(const IdArgs& a, int64_t p) {
    return reinterpret_cast<float*>(d_elem(a.y, 0, p % a.k, p / a.k, 0));
}

// MATMUL_ID, few pairs: grid (row tiles, pairs).
template <int WT, bool Q>
__global__ void __launch_bounds__(mv::kThreads) mm_id_pair_kernel(IdArgs a, mv::Acts acts, Iq2Tables g, DeviceError* err,
                                                                int32_t node) {
    extern __shared__ uint4 smem_raw[];
    uint8_t* smem = reinterpret_cast<uint8_t*>(smem_raw);
    const mv::Iq2Smem* tabs = setup_tables<WT>(smem, g);
    gpu_dependency_wait();  // ids may come from the kernel before the activation staging
    const int64_t o0 = int64_t(blockIdx.x) * mv::kRows, pairs = a.k * a.ids.ne[1];
    for (int64_t p = blockIdx.y; p < pairs; p += gridDim.y) {
        const int32_t e = id_at(a, p);
        if (e == -1) {
            if (threadIdx.x < mv::kRows && o0 + threadIdx.x < a.out)
                yrow_of(a, p)[(o0 + threadIdx.x) * (a.y.nb[0] / 4)] = 0.0f;
            continue;
        }
        if (e < 0 || e >= a.experts) {
            if (blockIdx.x == 0 && threadIdx.x == 0) d_report(err, kErrExpertId, node, e, p);
            continue;
        }
        const int64_t xrow[1] = {xrow_of(a, p)};
        float* const yp[1] = {yrow_of(a, p)};
        mv::tile<WT, Q, 1>(a.w + int64_t(e) * a.nb2, a.nb1, a.in, a.out, o0, acts, xrow, yp, a.y.nb[0] / 4, smem, tabs);
    }
}

// MATMUL_ID, few pairs, quantized weights and activations: grid (row blocks, pairs).
template <int WT>
__global__ void __launch_bounds__(mvd::kWarps * 32) mm_id_decode_kernel(IdArgs a, mv::Acts acts, Iq2Tables g,
                                                                        DeviceError* err, int32_t node, int lpr) {
    __shared__ float terms[mvd::kWarps][32 * mvd::Group<WT>::G];
    __shared__ __align__(16) uint32_t wstage[mvd::kWarps][mvd::kStageWords<WT>];
    __shared__ int4 xsm[mvd::kActChunks];
    __shared__ uint64_t grid_s[WT == DS4_TYPE_IQ2_XXS ? 256 : 1];
    const uint64_t* grid = mvd::load_grid<WT>(grid_s, g);
    gpu_dependency_wait();  // ids may come from the kernel before the activation staging
    const int warp = threadIdx.x / 32;
    const int64_t rows_per_block = int64_t(mvd::kWarps) * (32 / lpr);
    const int64_t o_base = int64_t(blockIdx.x) * rows_per_block + warp * (32 / lpr), pairs = a.k * a.ids.ne[1];
    const int64_t groups = a.in / (int64_t(mvd::Group<WT>::G) * mvd::Group<WT>::be);
    for (int64_t p = blockIdx.y; p < pairs; p += gridDim.y) {
        const int32_t e = id_at(a, p);
        if (e == -1) {
            for (int64_t o = threadIdx.x; o < rows_per_block; o += blockDim.x)
                if (int64_t(blockIdx.x) * rows_per_block + o < a.out)
                    yrow_of(a, p)[(int64_t(blockIdx.x) * rows_per_block + o) * (a.y.nb[0] / 4)] = 0.0f;
            continue;
        }
        if (e < 0 || e >= a.experts) {
            if (blockIdx.x == 0 && threadIdx.x == 0) d_report(err, kErrExpertId, node, e, p);
            continue;
        }
        const uint8_t* w = a.w + int64_t(e) * a.nb2;
        mvd::issue_round<WT>(w, a.nb1, a.out, o_base, lpr, groups, 0, wstage[warp]);
        const int64_t xr = xrow_of(a, p);
        __syncthreads();  // the previous pair's readers are done with xsm
        mvd::stage_acts(acts.q + xr * acts.ld, a.in, xsm);
        __syncthreads();
        mvd::decode_rows<WT>(w, a.nb1, a.in, a.out, o_base, lpr, xsm, acts.d + xr * (acts.ld / mv::kActBlock<WT>),
                             yrow_of(a, p), a.y.nb[0] / 4, 1.0f, grid, terms[warp], wstage[warp]);
    }
}

// MATMUL_ID, many pairs: one block sorts the pairs into per-expert lists (bucket E = id -1).
// The order inside a list is whatever the atomics give: it only decides which pairs share a
// tile, never a value.
__global__ void group_pairs_kernel(IdArgs a, int* cnt, int* off, int* list, DeviceError* err, int32_t node) {
    extern __shared__ int sh[];
    const int64_t E = a.experts, pairs = a.k * a.ids.ne[1];
    int* scnt = sh;
    int* soff = sh + (E + 1);
    int* scur = sh + 2 * (E + 1);
    for (int64_t i = threadIdx.x; i <= E; i += blockDim.x) scnt[i] = scur[i] = 0;
    __syncthreads();
    for (int64_t p = threadIdx.x; p < pairs; p += blockDim.x) {
        const int32_t e = id_at(a, p);
        if (e >= 0 && e < E) atomicAdd(&scnt[e], 1);
        else if (e == -1) atomicAdd(&scnt[E], 1);
        else d_report(err, kErrExpertId, node, e, p);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int run = 0;
        for (int64_t i = 0; i <= E; ++i) {
            soff[i] = run;
            run += scnt[i];
        }
    }
    __syncthreads();
    for (int64_t i = threadIdx.x; i <= E; i += blockDim.x) {
        cnt[i] = scnt[i];
        off[i] = soff[i];
    }
    for (int64_t p = threadIdx.x; p < pairs; p += blockDim.x) {
        int32_t e = id_at(a, p);
        if (e == -1) e = static_cast<int32_t>(E);
        else if (e < 0 || e >= E) continue;
        list[soff[e] + atomicAdd(&scur[e], 1)] = static_cast<int>(p);
    }
}

// MATMUL_ID, many pairs: grid (row tiles, expert slots); each block walks its experts' lists in
// tiles of T pairs.
template <int WT, bool Q, int T>
__global__ void __launch_bounds__(mv::kThreads) mm_id_grouped_kernel(IdArgs a, mv::Acts acts, Iq2Tables g, const int* cnt,
                                                                   const int* off, const int* list) {
    extern __shared__ uint4 smem_raw[];
    uint8_t* smem = reinterpret_cast<uint8_t*>(smem_raw);
    const mv::Iq2Smem* tabs = setup_tables<WT>(smem, g);
    gpu_dependency_wait();
    const int64_t o0 = int64_t(blockIdx.x) * mv::kRows, ys = a.y.nb[0] / 4;
    for (int64_t e = blockIdx.y; e <= a.experts; e += gridDim.y) {
        const int c = cnt[e], base = off[e];
        if (e == a.experts) {  // id -1: zero rows
            for (int i = threadIdx.x / mv::kRows; i < c; i += mv::kThreads / mv::kRows) {
                const int r = threadIdx.x % mv::kRows;
                if (o0 + r < a.out) yrow_of(a, list[base + i])[(o0 + r) * ys] = 0.0f;
            }
            continue;
        }
        for (int i0 = 0; i0 < c; i0 += T) {
            int64_t xrow[T];
            float* yp[T];
#pragma unroll
            for (int t = 0; t < T; ++t) {
                const bool live = i0 + t < c;
                const int64_t p = live ? list[base + i0 + t] : 0;
                xrow[t] = live ? xrow_of(a, p) : -1;
                yp[t] = live ? yrow_of(a, p) : nullptr;
            }
            mv::tile<WT, Q, T>(a.w + e * a.nb2, a.nb1, a.in, a.out, o0, acts, xrow, yp, ys, smem, tabs);
        }
    }
}

// MATMUL_ID, many pairs, on the tensor-core tiles: as mm_id_grouped_kernel, TN pairs per tile.
template <int WT, int TN>
__global__ void __launch_bounds__(mma::kThreads) mm_id_grouped_mma_kernel(IdArgs a, mv::Acts acts, Iq2Tables g,
                                                                        const int* cnt, const int* off,
                                                                        const int* list) {
    extern __shared__ uint4 smem_raw[];
    uint8_t* smem = reinterpret_cast<uint8_t*>(smem_raw);
    const mv::Iq2Smem* tabs = setup_tables<WT>(smem, g, mma::kTablesOffset<WT, TN>);
    gpu_dependency_wait();
    const mma::Tokens tok = mma::tokens_of<WT, TN>(smem);
    const int64_t o0 = int64_t(blockIdx.x) * mma::kRows, ys = a.y.nb[0] / 4;
    for (int64_t e = blockIdx.y; e <= a.experts; e += gridDim.y) {
        const int c = cnt[e], base = off[e];
        if (e == a.experts) {  // id -1: zero rows
            for (int64_t i = threadIdx.x; i < int64_t(c) * mma::kRows; i += blockDim.x) {
                const int64_t r = i % mma::kRows;
                if (o0 + r < a.out) yrow_of(a, list[base + i / mma::kRows])[(o0 + r) * ys] = 0.0f;
            }
            continue;
        }
        for (int i0 = 0; i0 < c; i0 += TN) {
            for (int t = threadIdx.x; t < TN; t += blockDim.x) {
                const bool live = i0 + t < c;
                const int64_t p = live ? list[base + i0 + t] : 0;
                tok.xrow[t] = live ? xrow_of(a, p) : -1;
                tok.y[t] = live ? yrow_of(a, p) : nullptr;
            }
            __syncthreads();
            mma::tile<WT, TN>(a.w + e * a.nb2, a.nb1, a.in, a.out, o0, acts, ys, smem, tabs, 1.0f);
        }
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

KernelStatus stage_acts(const DTensor& x, const Layout& L, uint8_t* s, uint64_t scratch_bytes, gpuStream_t stream) {
    if (L.total > scratch_bytes) return {DS4_ERR_INTERNAL, "matmul scratch too small"};
    if (L.mode == kActF32) {
        copy_acts_kernel<<<blocks_for(L.rows * L.ld), kThreads, 0, stream>>>(x, L.rows, L.in, L.ld,
                                                                             reinterpret_cast<float*>(s + L.f_off));
        return launch_status("matmul activations");
    }
    const int64_t bs = L.mode == kActQ8_0 ? 32 : 256;
    if (L.in % bs != 0) return KernelStatus::invalid("activation row length is not a multiple of its quantization block");
    const int64_t groups = L.rows * ((L.in + 255) / 256);
    const unsigned blocks = blocks_for(groups, 256 / 32);
    auto* q = reinterpret_cast<int8_t*>(s + L.q_off);
    auto* d = reinterpret_cast<float*>(s + L.d_off);
    if (L.mode == kActQ8_0)
        quantize_acts_kernel<32><<<blocks, 256, 0, stream>>>(x, L.rows, L.in, L.ld, q, d);
    else
        quantize_acts_kernel<256><<<blocks, 256, 0, stream>>>(x, L.rows, L.in, L.ld, q, d);
    return launch_status("matmul activation quantization");
}

// Status of an overlapped launch (its error is returned, not only recorded).
KernelStatus launched(gpuError_t e, const char* what) {
    if (e == gpuSuccess) return launch_status(what);
    (void)gpuGetLastError();
    return {DS4_ERR_INTERNAL, std::string(what) + ": kernel launch failed: " + gpuGetErrorString(e)};
}

unsigned grid_y(int64_t n) { return static_cast<unsigned>(n < 65535 ? (n < 1 ? 1 : n) : 65535); }
unsigned row_tiles(int64_t out) { return static_cast<unsigned>((out + mv::kRows - 1) / mv::kRows); }

// Dense weight rows against the staged activations: y (rows of the output, element o at
// y.nb[0]·o) = scale·(W·x). Used by MATMUL and, through rowdot.h, by the Tier-1 projections.
struct DenseArgs {
    DTensor w, y;
    mv::Acts acts;
    int64_t n;
    float scale;
    gpuStream_t stream;
    Iq2Tables g;
};

// Whether matvec_decode.cuh's layout requirements hold for rows of `in` elements at w.
template <int WT>
bool decode_layout_ok(const uint8_t* w, int64_t in, int64_t nb1, int64_t nb2) {
    if constexpr (!mvd::kSupported<WT>) {
        return false;
    } else {
        const int64_t group = int64_t(mvd::Group<WT>::G) * mvd::Group<WT>::be, groups = in / group;
        return in % group == 0 && in <= mvd::kMaxIn && groups * mvd::Group<WT>::W % 4 == 0 &&
               mvd::lanes_per_row(groups) >= 4 && (reinterpret_cast<uintptr_t>(w) & 15) == 0 && nb1 % 16 == 0 &&
               nb2 % 16 == 0;
    }
}

template <int WT>
unsigned decode_row_blocks(int64_t out, int lpr) {
    const int64_t rows = int64_t(mvd::kWarps) * (32 / lpr);
    return static_cast<unsigned>((out + rows - 1) / rows);
}

// The tensor-core tiles (matmul_mma.cuh) take over from this many tokens (or pairs per
// expert list) on devices that have them; DS4_GPU_MMA=0 keeps every matmul on the CUDA-core
// tiles (the same bits either way: a switch for comparing speed).
constexpr int64_t kMmaMinTokens = 16;

bool mma_enabled() {
    static const bool on = gpu_has_int8_mma() && kernel_env_int("DS4_GPU_MMA", 1) != 0;
    return on;
}

// The register-tiled float tiles (matmul_float.cuh) for many tokens; DS4_GPU_FLOAT_TILES=0 keeps
// those matmuls on matvec.cuh's tile (the same bits either way).
bool float_tiles_enabled() {
    static const bool on = kernel_env_int("DS4_GPU_FLOAT_TILES", 1) != 0;
    return on;
}

// Average (token, slot) pairs per expert from which grouped MATMUL_ID uses 64-token tensor-core
// tiles (fewer: 32-token tiles). DS4_GPU_TILE64_PAIRS overrides it for measurements; either
// choice gives the same bits.
int64_t tile64_min_pairs() {
    static const int64_t v = kernel_env_int("DS4_GPU_TILE64_PAIRS", 128);
    return v > 0 ? v : 128;
}

// Raises the kernel's shared-memory limit once (the tiles need more than the default 48 KiB).
template <auto Kernel>
KernelStatus allow_smem(int bytes, const char* what) {
    static const gpuError_t e = gpu_allow_shared_memory(Kernel, bytes);
    if (e == gpuSuccess) return {};
    return {DS4_ERR_INTERNAL, std::string(what) + ": cannot reserve " + std::to_string(bytes) +
                                  " bytes of shared memory: " + gpuGetErrorString(e)};
}

template <int WT, int TN>
KernelStatus launch_dense_mma(const DenseArgs& a) {
    constexpr int smem = mma::smem_bytes<WT, TN>();
    if (auto st = allow_smem<mm_dense_mma_kernel<WT, TN>>(smem, "matmul"); !st.ok()) return st;
    const int64_t out = a.w.ne[1];
    dim3 grid(static_cast<unsigned>((out + mma::kRows - 1) / mma::kRows), grid_y((a.n + TN - 1) / TN));
    return launched(gpu_launch_overlapped(mm_dense_mma_kernel<WT, TN>, grid, dim3(mma::kThreads), smem, a.stream,
                                          a.w.data, a.w.nb[1], a.w.ne[0], out, a.acts, a.n, a.y, a.scale, a.g),
                    "matmul");
}

template <int WT, bool Q>
KernelStatus launch_dense(const DenseArgs& a) {
    constexpr int smem = mv::smem_bytes<WT>();
    const int64_t out = a.w.ne[1];
    if constexpr (Q && mma::kSupported<WT>) {
        if (a.n >= kMmaMinTokens && mma_enabled() && mma::layout_ok<WT>(a.w.data, a.w.ne[0], a.w.nb[1], 0))
            return a.n >= 128 ? launch_dense_mma<WT, 64>(a) : launch_dense_mma<WT, 32>(a);
    }
    if constexpr (!Q && mf::kSupported<WT>) {
        if (a.n >= kMmaMinTokens && float_tiles_enabled() && mf::layout_ok<WT>(a.w.data, a.w.ne[0], a.w.nb[1])) {
            dim3 grid(static_cast<unsigned>((out + mf::kRows - 1) / mf::kRows), grid_y((a.n + mf::kTokens - 1) / mf::kTokens));
            return launched(gpu_launch_overlapped(mm_dense_float_kernel<WT>, grid, dim3(mf::kThreads), 0, a.stream,
                                                  a.w.data, a.w.nb[1], a.w.ne[0], out, a.acts, a.n, a.y, a.scale),
                            "matmul");
        }
    }
    if constexpr (Q && mvd::kSupported<WT>) {
        if (a.n == 1 && decode_layout_ok<WT>(a.w.data, a.w.ne[0], a.w.nb[1], 0)) {
            const int lpr = mvd::lanes_per_row(a.w.ne[0] / (int64_t(mvd::Group<WT>::G) * mvd::Group<WT>::be));
            return launched(gpu_launch_overlapped(mm_decode_kernel<WT>, dim3(decode_row_blocks<WT>(out, lpr)),
                                                  dim3(mvd::kWarps * 32), 0, a.stream, a.w.data, a.w.nb[1], a.w.ne[0],
                                                  out, a.acts, a.y, a.scale, a.g, lpr),
                            "matmul");
        }
    }
    auto go = [&](auto kernel, int T) {
        dim3 grid(row_tiles(out), grid_y((a.n + T - 1) / T));
        return launched(gpu_launch_overlapped(kernel, grid, dim3(mv::kThreads), smem, a.stream, a.w.data, a.w.nb[1],
                                              a.w.ne[0], out, a.acts, a.n, a.y, a.scale, a.g),
                        "matmul");
    };
    if (a.n == 1) return go(mm_dense_kernel<WT, Q, 1>, 1);
    if (a.n == 2) return go(mm_dense_kernel<WT, Q, 2>, 2);
    if (a.n <= 4) return go(mm_dense_kernel<WT, Q, 4>, 4);
    return go(mm_dense_kernel<WT, Q, 8>, 8);
}

template <int WT, int TN>
KernelStatus launch_grouped_mma(const IdArgs& a, const mv::Acts& acts, const Iq2Tables& g, const int* cnt,
                                const int* off, const int* list, int64_t slots, const KernelContext& ctx) {
    constexpr int smem = mma::smem_bytes<WT, TN>();
    if (auto st = allow_smem<mm_id_grouped_mma_kernel<WT, TN>>(smem, "matmul_id"); !st.ok()) return st;
    dim3 grid(static_cast<unsigned>((a.out + mma::kRows - 1) / mma::kRows), grid_y(slots));
    return launched(gpu_launch_overlapped(mm_id_grouped_mma_kernel<WT, TN>, grid, dim3(mma::kThreads), smem, ctx.stream,
                                          a, acts, g, cnt, off, list),
                    "matmul_id");
}

// MATMUL_ID on views: w [in, out, E], x [in, kx, n] staged per L, ids [k, n], y [out, k, n].
struct IdLaunch {
    const Layout& L;
    DTensor w, ids, y;
    int64_t kx;
    uint8_t* scratch;
    const KernelContext& ctx;
};

template <int WT, bool Q>
KernelStatus launch_matmul_id(const IdLaunch& c) {
    IdArgs a{};
    a.w = c.w.data;
    a.nb1 = c.w.nb[1];
    a.nb2 = c.w.nb[2];
    a.in = c.w.ne[0];
    a.out = c.w.ne[1];
    a.experts = c.w.ne[2];
    a.ids = c.ids;
    a.y = c.y;
    a.k = c.ids.ne[0];
    a.kx = c.kx;
    uint8_t* s = c.scratch;
    const mv::Acts acts = acts_of(c.L, s);
    const Iq2Tables g{c.ctx.iq2_grid, c.ctx.iq2_signs};
    constexpr int smem = mv::smem_bytes<WT>();
    if constexpr (Q && mvd::kSupported<WT>) {
        if (!c.L.grouped && decode_layout_ok<WT>(a.w, a.in, a.nb1, a.nb2)) {
            const int lpr = mvd::lanes_per_row(a.in / (int64_t(mvd::Group<WT>::G) * mvd::Group<WT>::be));
            dim3 grid(decode_row_blocks<WT>(a.out, lpr), grid_y(c.L.pairs));
            return launched(gpu_launch_overlapped(mm_id_decode_kernel<WT>, grid, dim3(mvd::kWarps * 32), 0, c.ctx.stream,
                                                  a, acts, g, c.ctx.err, c.ctx.node, lpr),
                            "matmul_id");
        }
    }
    if (!c.L.grouped) {
        dim3 grid(row_tiles(a.out), grid_y(c.L.pairs));
        return launched(gpu_launch_overlapped(mm_id_pair_kernel<WT, Q>, grid, dim3(mv::kThreads), smem, c.ctx.stream, a,
                                              acts, g, c.ctx.err, c.ctx.node),
                        "matmul_id");
    }
    int* cnt = reinterpret_cast<int*>(s + c.L.cnt_off);
    int* off = reinterpret_cast<int*>(s + c.L.off_off);
    int* list = reinterpret_cast<int*>(s + c.L.list_off);
    const size_t gsmem = 3 * static_cast<size_t>(a.experts + 1) * sizeof(int);
    group_pairs_kernel<<<1, kGroupThreads, gsmem, c.ctx.stream>>>(a, cnt, off, list, c.ctx.err, c.ctx.node);
    if (auto st = launch_status("matmul_id grouping"); !st.ok()) return st;
    const int64_t slots = a.experts + 1 < c.L.pairs + 1 ? a.experts + 1 : c.L.pairs + 1;
    if constexpr (Q && mma::kSupported<WT>) {
        if (mma_enabled() && mma::layout_ok<WT>(a.w, a.in, a.nb1, a.nb2)) {  // grouped: > kPairTileMax pairs
            // Long lists (few experts, e.g. the attention output groups) fill 64-token tiles.
            // (Measured: 32-token tiles for the routed experts, ~48 pairs each in a prefill
            // chunk; 64-token tiles for them are untried: DS4_GPU_TILE64_PAIRS=32 tries them.)
            if (c.L.pairs >= tile64_min_pairs() * a.experts) return launch_grouped_mma<WT, 64>(a, acts, g, cnt, off, list, slots, c.ctx);
            return launch_grouped_mma<WT, 32>(a, acts, g, cnt, off, list, slots, c.ctx);
        }
    }
    dim3 grid(row_tiles(a.out), grid_y(slots));
    return launched(gpu_launch_overlapped(mm_id_grouped_kernel<WT, Q, 8>, grid, dim3(mv::kThreads), smem, c.ctx.stream,
                                          a, acts, g, cnt, off, list),
                    "matmul_id");
}

// Calls f(integral_constant<int, WT>, bool_constant<Q>) for the weight type: Q (quantized
// activations) only where the type is quantized and q asks for it.
template <int WT, class F>
KernelStatus with_act_mode(bool q, F& f) {
    if constexpr (mv::kQuantized<WT>) {
        if (q) return f(std::integral_constant<int, WT>{}, std::true_type{});
    }
    return f(std::integral_constant<int, WT>{}, std::false_type{});
}

template <class F>
KernelStatus dispatch_weight_type(uint32_t type, bool q, F f) {
    switch (type) {
    case DS4_TYPE_F32: return with_act_mode<DS4_TYPE_F32>(q, f);
    case DS4_TYPE_F16: return with_act_mode<DS4_TYPE_F16>(q, f);
    case DS4_TYPE_BF16: return with_act_mode<DS4_TYPE_BF16>(q, f);
    case DS4_TYPE_Q8_0: return with_act_mode<DS4_TYPE_Q8_0>(q, f);
    case DS4_TYPE_Q2_K: return with_act_mode<DS4_TYPE_Q2_K>(q, f);
    case DS4_TYPE_Q4_K: return with_act_mode<DS4_TYPE_Q4_K>(q, f);
    case DS4_TYPE_IQ2_XXS: return with_act_mode<DS4_TYPE_IQ2_XXS>(q, f);
    default: return KernelStatus::unsupported("weight type not supported by the matmul kernels");
    }
}

KernelStatus dispatch_id(const IdLaunch& c) {
    return dispatch_weight_type(c.w.type, c.L.mode != kActF32, [&](auto wt, auto qt) {
        return launch_matmul_id<decltype(wt)::value, decltype(qt)::value>(c);
    });
}

KernelStatus dispatch_dense(const DenseArgs& a, bool q) {
    return dispatch_weight_type(a.w.type, q, [&](auto wt, auto qt) {
        return launch_dense<decltype(wt)::value, decltype(qt)::value>(a);
    });
}

}  // namespace

// ---- rowdot.h: the Tier-1 projections run on the same staging and tile kernels ------------

uint64_t rowdot_act_bytes(uint32_t wtype, uint32_t act_quant, int64_t rows, int64_t in) {
    return layout_for_shape(wtype, act_quant, rows, in).total;
}

KernelStatus rowdot_prepare(const DTensor& x, int64_t rows, uint32_t wtype, uint32_t act_quant, void* act,
                            const KernelContext& ctx) {
    const Layout L = layout_for_shape(wtype, act_quant, rows, x.ne[0]);
    return stage_acts(x, L, static_cast<uint8_t*>(act), L.total, ctx.stream);
}

KernelStatus rowdot_run(const DTensor& w, uint32_t act_quant, const void* act, int64_t rows, int64_t out, float* y,
                        int64_t ldy, bool scale, float s, const KernelContext& ctx) {
    const Layout L = layout_for_shape(w.type, act_quant, rows, w.ne[0]);
    DTensor wv = w;
    wv.ne[1] = out;
    DTensor yv{};
    yv.data = reinterpret_cast<uint8_t*>(y);
    yv.ne[0] = out;
    yv.ne[1] = rows;
    yv.ne[2] = yv.ne[3] = 1;
    yv.nb[0] = 4;
    yv.nb[1] = ldy * 4;
    yv.nb[2] = yv.nb[3] = ldy * 4 * rows;
    yv.type = DS4_TYPE_F32;
    DenseArgs a{wv, yv, acts_of(L, static_cast<uint8_t*>(const_cast<void*>(act))), rows, scale ? s : 1.0f, ctx.stream,
                Iq2Tables{ctx.iq2_grid, ctx.iq2_signs}};
    return dispatch_dense(a, L.mode != kActF32);
}

uint64_t matmul_scratch_bytes(const ds4_node& node) {
    if ((node.op != DS4_OP_MATMUL && node.op != DS4_OP_MATMUL_ID) || !node.src[0] || !node.src[1]) return 0;
    return layout_for(node).total;
}

KernelStatus run_matmul(const ds4_node& node, KernelContext& ctx) {
    const Layout L = layout_for(node);
    uint8_t* scratch = reinterpret_cast<uint8_t*>(ctx.scratch);
    if (auto st = stage_acts(dtensor(node.src[1]), L, scratch, ctx.scratch_bytes, ctx.stream); !st.ok()) return st;
    DenseArgs a{dtensor(node.src[0]), dtensor(node.dst[0]), acts_of(L, scratch), L.rows, 1.0f, ctx.stream,
                Iq2Tables{ctx.iq2_grid, ctx.iq2_signs}};
    return dispatch_dense(a, L.mode != kActF32);
}

KernelStatus run_matmul_id(const ds4_node& node, KernelContext& ctx) {
    const Layout L = layout_for(node);
    uint8_t* scratch = reinterpret_cast<uint8_t*>(ctx.scratch);
    if (auto st = stage_acts(dtensor(node.src[1]), L, scratch, ctx.scratch_bytes, ctx.stream); !st.ok()) return st;
    return dispatch_id(IdLaunch{L, dtensor(node.src[0]), dtensor(node.src[2]), dtensor(node.dst[0]), node.src[1]->ne[1],
                                scratch, ctx});
}

// ---- rowdot.h: expert matmuls of the fused MoE ---------------------------------------------

uint64_t expert_matmul_scratch_bytes(uint32_t wtype, uint32_t act_quant, int64_t x_rows, int64_t in, int64_t experts,
                                     int64_t pairs) {
    return layout_for_id(wtype, act_quant, x_rows, in, experts, pairs).total;
}

KernelStatus expert_matmul(const DTensor& w, const DTensor& x, const DTensor& ids, const DTensor& y, uint32_t act_quant,
                           void* scratch, uint64_t scratch_bytes, const KernelContext& ctx) {
    const int64_t rows = x.ne[1] * x.ne[2] * x.ne[3];
    const Layout L = layout_for_id(w.type, act_quant, rows, w.ne[0], w.ne[2], ids.ne[0] * ids.ne[1]);
    uint8_t* s = static_cast<uint8_t*>(scratch);
    if (auto st = stage_acts(x, L, s, scratch_bytes, ctx.stream); !st.ok()) return st;
    return dispatch_id(IdLaunch{L, w, ids, y, x.ne[1], s, ctx});
}

KernelStatus run_matmul_f32(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    const int64_t total = b->ne[1] * a->ne[1] * a->ne[2] * a->ne[3];
    matmul_f32_kernel<<<blocks_for(total), kThreads, 0, ctx.stream>>>(dtensor(a), dtensor(b), dtensor(d), total);
    return launch_status("matmul_f32");
}

}  // namespace ds4::gpu
