// Many-token tiles for float weights (F32, F16, BF16) against f32 activations: the router,
// compressor and indexer projections of a prefill. dot_f32_f32's order, kept bit for bit, is
// eight lane sums — lane l adds w_i·x_i for i ≡ l (mod 8), i ascending, one rounding for the
// product and one for the add — then reduce_lanes8's tree ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
// Each lane sum is an ordinary sequential dot over a strided K, so a register-tiled product
// computes it: a thread owns one lane class l and an 8 × 8 block of (row, token) sums, walks
// K ascending through shared memory, and the eight lane classes of a block sit in eight
// adjacent threads whose xor butterfly 4, 2, 1 is the tree.
//
// Tile: 64 weight rows × 32 tokens per 256-thread block; K in chunks of 32 elements, converted
// to f32 and transposed into shared memory (k-major rows padded to ≡ 4 mod 8 floats, so the
// eight lane classes of a quarter warp read eight different bank groups), the next chunk
// loaded into registers while the current one is computed. Requires in % 32 == 0 and 16-byte
// aligned weight rows (layout_ok); other shapes stay on matvec.cuh's tile.
#pragma once
#include <cstdint>

#include "common.cuh"
#include "matvec.cuh"

namespace ds4::gpu::mf {

inline constexpr int kThreads = 256;
inline constexpr int kRows = 64;    // weight rows per tile
inline constexpr int kTokens = 32;  // tokens per tile
inline constexpr int kChunk = 32;   // elements of K per shared-memory chunk
inline constexpr int kWStride = kRows + 4;
inline constexpr int kXStride = kTokens + 4;

template <int WT> inline constexpr bool kSupported = WT == DS4_TYPE_F32 || WT == DS4_TYPE_F16 || WT == DS4_TYPE_BF16;

template <int WT>
inline bool layout_ok(const uint8_t* w, int64_t in, int64_t nb1) {
    return in % kChunk == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 && nb1 % 16 == 0;
}

// Eight consecutive weights of a row as f32 (exact conversions).
template <int WT>
__device__ inline void load_weights8(const uint8_t* p, float (&v)[8]) {
    if constexpr (WT == DS4_TYPE_F32) {
        const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
        v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    } else {
        const uint4 u = *reinterpret_cast<const uint4*>(p);
        const uint32_t words[4] = {u.x, u.y, u.z, u.w};
        mv::half_words_to_f32<WT>(words, v);
    }
}

// One tile: rows o0 .. o0+kRows-1 of W (row o at w + o·nb1) against tokens t0 .. t0+kTokens-1
// of the staged f32 rows (token t is activation row t, output y + t·ldy_tok + o·y_stride
// as the caller's `out_at(t)` gives it). Every thread of the block calls it.
template <int WT, class OutAt>
__device__ void tile(const uint8_t* w, int64_t nb1, int64_t in, int64_t out, int64_t o0, const mv::Acts& acts,
                     int64_t n, int64_t t0, OutAt out_at, int64_t y_stride, float scale) {
    __shared__ __align__(16) float ws[kChunk][kWStride];
    __shared__ __align__(16) float xs[kChunk][kXStride];
    constexpr int kWBytes = WT == DS4_TYPE_F32 ? 4 : 2;
    const int tid = threadIdx.x, l = tid % 8, m = tid / 8, rg = m % 8, tg = m / 8;
    // Staging roles: weights row tid/4, elements 8·(tid%4)..; activations token tid/8, 4·(tid%8)...
    const int wr = tid / 4, wp = tid % 4, xt = tid / 8, xp = tid % 8;
    const bool w_live = o0 + wr < out, x_live = t0 + xt < n;
    const uint8_t* wsrc = w + (o0 + wr) * nb1 + 8 * wp * kWBytes;
    const float* xsrc = acts.f + (t0 + xt) * acts.ld + 4 * xp;

    float wv[8], xv[4];
    auto fetch = [&](int64_t k0) {
        if (w_live) load_weights8<WT>(wsrc + k0 * kWBytes, wv);
        else
#pragma unroll
            for (int i = 0; i < 8; ++i) wv[i] = 0.0f;
        if (x_live) {
            const float4 v = *reinterpret_cast<const float4*>(xsrc + k0);
            xv[0] = v.x, xv[1] = v.y, xv[2] = v.z, xv[3] = v.w;
        } else {
            xv[0] = xv[1] = xv[2] = xv[3] = 0.0f;
        }
    };

    float acc[8][8];
#pragma unroll
    for (int a = 0; a < 8; ++a)
#pragma unroll
        for (int b = 0; b < 8; ++b) acc[a][b] = 0.0f;

    fetch(0);
    for (int64_t k0 = 0; k0 < in; k0 += kChunk) {
        __syncthreads();  // everyone is done with the previous chunk
#pragma unroll
        for (int i = 0; i < 8; ++i) ws[8 * wp + i][wr] = wv[i];
#pragma unroll
        for (int i = 0; i < 4; ++i) xs[4 * xp + i][xt] = xv[i];
        __syncthreads();
        if (k0 + kChunk < in) fetch(k0 + kChunk);
#pragma unroll
        for (int kk = 0; kk < kChunk; kk += 8) {
            const int k = kk + l;
            const float4 w0 = *reinterpret_cast<const float4*>(&ws[k][8 * rg]);
            const float4 w1 = *reinterpret_cast<const float4*>(&ws[k][8 * rg + 4]);
            const float4 x0 = *reinterpret_cast<const float4*>(&xs[k][8 * tg]);
            const float4 x1 = *reinterpret_cast<const float4*>(&xs[k][8 * tg + 4]);
            const float wk[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
            const float xk[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
#pragma unroll
            for (int a = 0; a < 8; ++a)
#pragma unroll
                for (int b = 0; b < 8; ++b) acc[a][b] = acc[a][b] + wk[a] * xk[b];
        }
    }
    // reduce_lanes8 over the eight lane classes (adjacent threads), then lane l writes token 8·tg + l.
#pragma unroll
    for (int a = 0; a < 8; ++a)
#pragma unroll
        for (int b = 0; b < 8; ++b) {
            float v = acc[a][b];
            v = v + gpu_shfl_xor32(v, 4);
            v = v + gpu_shfl_xor32(v, 2);
            v = v + gpu_shfl_xor32(v, 1);
            acc[a][b] = v;
        }
    const int64_t t = t0 + 8 * tg + l;
    if (t < n) {
        float* y = out_at(t);
#pragma unroll
        for (int b = 0; b < 8; ++b) {
            if (b != l) continue;
#pragma unroll
            for (int a = 0; a < 8; ++a) {
                const int64_t o = o0 + 8 * rg + a;
                if (o < out) y[o * y_stride] = acc[a][b] * scale;
            }
        }
    }
}

}  // namespace ds4::gpu::mf
