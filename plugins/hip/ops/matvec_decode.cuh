// Device side of the one-token weight matmuls (decode): quantized weights against Q8-quantized
// activations (DS4_ACT_DS4), one lane per group of G storage blocks, so no lane sits idle on a
// short row and a block's integer sums need no shuffles. Each warp copies its 32 groups into
// shared memory with 16-byte asynchronous copies (coalesced, no registers held while in
// flight; the first round is issued before the kernel waits for its predecessor), the block
// stages the activation row once, then every lane decodes its own group from shared memory.
//
// Arithmetic: exactly the tile kernel's (matvec.cuh) and quant::dot_row's. Per storage block
// the integer sums are exact in any order; the block's float term is formed operand for
// operand as mv::block_term; the terms of a row are then added from 0 in block order by one
// lane (a row's lanes write their terms to shared memory, round after round of 32 groups).
// Results are bit-identical to the tile kernel and to cpu-ref.
//
// Layout requirements (decode_layout_ok; the launcher falls back to the tile kernel): rows
// 16-byte aligned holding a whole number of groups whose words are a multiple of 4, at least
// 4 lanes per row, activation rows of at most kMaxIn elements.
#pragma once
#include <cstdint>

#include "common.cuh"
#include "matvec.cuh"

namespace ds4::gpu::mvd {

inline constexpr int kWarps = 4;  // warps per block
inline constexpr int64_t kMaxIn = 8192;  // activation elements staged in shared memory
// Activation chunks (16 bytes) in shared memory, one chunk of padding after every 16 so that
// lanes reading chunks 256 bytes apart hit different banks.
inline constexpr int kActChunks = static_cast<int>(kMaxIn / 16 + kMaxIn / 256);
__device__ inline int act_slot(int c) { return c + (c >> 4); }

// G: storage blocks per lane group (a group is a whole number of 32-bit words), W: its words.
template <int WT> struct Group;
template <> struct Group<DS4_TYPE_Q8_0> { static constexpr int G = 2, W = 17, be = 32; };     // 2 × 34 B
template <> struct Group<DS4_TYPE_Q2_K> { static constexpr int G = 1, W = 21, be = 256; };    // 84 B
template <> struct Group<DS4_TYPE_Q4_K> { static constexpr int G = 1, W = 36, be = 256; };    // 144 B
template <> struct Group<DS4_TYPE_IQ2_XXS> { static constexpr int G = 2, W = 33, be = 256; }; // 2 × 66 B

template <int WT> inline constexpr bool kSupported = mv::kQuantized<WT>;

// Byte k of the group's words.
template <int W>
__device__ inline uint32_t byte_at(const uint32_t (&w)[W], int k) {
    return (w[k >> 2] >> (8 * (k & 3))) & 0xFFu;
}
// The 32-bit word at byte offset k ≡ 2 (mod 4) of the group.
template <int W>
__device__ inline uint32_t word_at_half(const uint32_t (&w)[W], int k) {
    return (w[k >> 2] >> 16) | (w[(k >> 2) + 1] << 16);
}
__device__ inline float half_lo(uint32_t v) { return gpu_half_to_float(uint16_t(v & 0xFFFF)); }
__device__ inline float half_hi(uint32_t v) { return gpu_half_to_float(uint16_t(v >> 16)); }

__device__ inline int dot16(const int (&q)[4], const int4& x, int acc) {
    acc = gpu_dp4a(q[0], x.x, acc);
    acc = gpu_dp4a(q[1], x.y, acc);
    acc = gpu_dp4a(q[2], x.z, acc);
    return gpu_dp4a(q[3], x.w, acc);
}
__device__ inline int sum16(const int4& x) { return dot16({0x01010101, 0x01010101, 0x01010101, 0x01010101}, x, 0); }

// IQ2_XXS sub-block ib (32 elements) of the block whose qs words are A (grid indices) and B
// (signs, scale): Σ_k (±grid)·x, and its integer scale 2s + 1. grid: the 256-entry grid in
// shared memory; the 8 sign bits are the 7 stored ones and their parity (ksigns' rule).
__device__ inline int iq2_sub(uint32_t A, uint32_t B, const int4 (&x)[2], const uint64_t* grid_s, int& isc) {
    isc = int(2 * (B >> 28) + 1);
    int d = 0;
#pragma unroll
    for (int g = 0; g < 4; ++g) {
        const uint64_t grid = grid_s[(A >> (8 * g)) & 0xFF];
        const uint32_t s7 = (B >> (7 * g)) & 127, s8 = s7 | ((__popc(s7) & 1u) << 7);
        // Sign bit k of s8 → byte mask 0xFF at byte k (for k < 4 in lo, k ≥ 4 in hi).
        const uint32_t blo = ((s8 & 15u) * 0x00204081u) & 0x01010101u, bhi = ((s8 >> 4) * 0x00204081u) & 0x01010101u;
        const uint32_t mlo = blo * 0xFFu, mhi = bhi * 0xFFu;
        // Negating a byte b in {8, 25, 43} as (b ^ 0xFF) + 1 never carries into the next byte.
        const int lo = int((uint32_t(grid) ^ mlo) + blo), hi = int((uint32_t(grid >> 32) ^ mhi) + bhi);
        const int4 xv = x[g >> 1];
        d = gpu_dp4a(lo, (g & 1) ? xv.z : xv.x, d);
        d = gpu_dp4a(hi, (g & 1) ? xv.w : xv.y, d);
    }
    return d;
}

// The block terms of group grp of a row (row: the row's first byte; xq/xd: the activation
// row's codes and block scales).
// N activation chunks from the staged row, starting at chunk c0.
template <int N>
__device__ inline void load_acts(const int4* xsm, int c0, int4 (&x)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) x[i] = xsm[act_slot(c0 + i)];
}

template <int WT>
__device__ inline void group_terms(const uint32_t* wsm, int grp, const int4* xsm, const float* xd, const uint64_t* grid_s,
                                   float (&term)[Group<WT>::G]) {
    constexpr int G = Group<WT>::G, W = Group<WT>::W, be = Group<WT>::be;
    uint32_t w[W];
#pragma unroll
    for (int i = 0; i < W; ++i) w[i] = wsm[i];
    const int b0 = grp * G;     // first block of the group
    const int c0 = b0 * be / 16;  // its first activation chunk
    if constexpr (WT == DS4_TYPE_Q8_0) {
        int4 xa[4];
        load_acts(xsm, c0, xa);
#pragma unroll
        for (int g = 0; g < 2; ++g) {
            int q[8];
#pragma unroll
            for (int i = 0; i < 8; ++i) q[i] = int(g == 0 ? word_at_half(w, 2 + 4 * i) : w[9 + i]);
            int isum = dot16({q[0], q[1], q[2], q[3]}, xa[2 * g], 0);
            isum = dot16({q[4], q[5], q[6], q[7]}, xa[2 * g + 1], isum);
            const float h = g == 0 ? half_lo(w[0]) : half_hi(w[8]);
            term[g] = h * xd[b0 + g] * float(isum);
        }
    } else if constexpr (WT == DS4_TYPE_Q2_K) {
        // scales bytes 0..15, qs bytes 16..79, d and dmin at 80 and 82.
        int4 x[16];
        load_acts(xsm, c0, x);
        int isum = 0, msum = 0;
#pragma unroll
        for (int sb = 0; sb < 16; ++sb) {
            const uint32_t sc = byte_at(w, sb);
            const int base = 4 + 8 * (sb >> 3) + 4 * (sb & 1), shift = 2 * ((sb >> 1) & 3);
            const int q[4] = {int((w[base] >> shift) & 0x03030303u), int((w[base + 1] >> shift) & 0x03030303u),
                              int((w[base + 2] >> shift) & 0x03030303u), int((w[base + 3] >> shift) & 0x03030303u)};
            const int4 xv = x[sb];
            isum += int(sc & 15) * dot16(q, xv, 0);
            msum += int(sc >> 4) * sum16(xv);
        }
        const float dx = xd[b0];
        const float dall = dx * half_lo(w[20]), dmin = dx * half_hi(w[20]);
        term[0] = dall * float(isum) - dmin * float(msum);
    } else if constexpr (WT == DS4_TYPE_Q4_K) {
        // d, dmin at 0 and 2, 6-bit scales bytes 4..15, qs bytes 16..143.
        int4 x[16];
        load_acts(xsm, c0, x);
        int isum = 0, msum = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            int isc, imn;
            if (j < 4) {
                isc = int(byte_at(w, 4 + j) & 63);
                imn = int(byte_at(w, 8 + j) & 63);
            } else {
                isc = int((byte_at(w, 8 + j) & 15) | ((byte_at(w, j) >> 6) << 4));
                imn = int((byte_at(w, 8 + j) >> 4) | ((byte_at(w, 4 + j) >> 6) << 4));
            }
            const int shift = 4 * (j & 1);
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int base = 4 + 8 * (j >> 1) + 4 * half;
                const int q[4] = {int((w[base] >> shift) & 0x0F0F0F0Fu), int((w[base + 1] >> shift) & 0x0F0F0F0Fu),
                                  int((w[base + 2] >> shift) & 0x0F0F0F0Fu), int((w[base + 3] >> shift) & 0x0F0F0F0Fu)};
                const int4 xv = x[2 * j + half];
                isum += isc * dot16(q, xv, 0);
                msum += imn * sum16(xv);
            }
        }
        const float dx = xd[b0];
        const float d = dx * half_lo(w[0]), dmin = dx * half_hi(w[0]);
        term[0] = d * float(isum) - dmin * float(msum);
    } else {
        // IQ2_XXS: block 0 at bytes 0..65 (d, then qs from byte 2: words misaligned by 2),
        // block 1 at bytes 66..131 (d at 66, qs from byte 68: aligned).
#pragma unroll
        for (int g = 0; g < 2; ++g) {
            int4 x[16];
            load_acts(xsm, c0 + 16 * g, x);
            int isum = 0;
#pragma unroll
            for (int ib = 0; ib < 8; ++ib) {
                const uint32_t A = g == 0 ? word_at_half(w, 2 + 8 * ib) : w[17 + 2 * ib];
                const uint32_t B = g == 0 ? word_at_half(w, 6 + 8 * ib) : w[18 + 2 * ib];
                int isc;
                const int4 xp[2] = {x[2 * ib], x[2 * ib + 1]};
                const int d = iq2_sub(A, B, xp, grid_s, isc);
                isum += isc * d;
            }
            const float h = g == 0 ? half_lo(w[0]) : half_hi(w[16]);
            term[g] = h * xd[b0 + g] * float(isum);
        }
    }
}

// The IQ2_XXS grid into shared memory (every thread of the block calls it; then a barrier).
template <int WT>
__device__ inline const uint64_t* load_grid(uint64_t* grid_s, const Iq2Tables& tab) {
    if constexpr (WT == DS4_TYPE_IQ2_XXS) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) grid_s[i] = tab.grid[i];
        __syncthreads();
    }
    return grid_s;
}

// Lanes per row for rows of `groups` groups: the smallest power of two ≥ groups, at most 32.
inline int lanes_per_row(int64_t groups) {
    int l = 1;
    while (l < 32 && l < groups) l <<= 1;
    return l;
}

// Words of one warp's staged groups.
template <int WT> inline constexpr int kStageWords = 32 * Group<WT>::W;

// The activation row (in int8 codes) into shared memory; every thread of the block calls it.
__device__ inline void stage_acts(const int8_t* xq, int64_t in, int4* xsm) {
    const int4* src = reinterpret_cast<const int4*>(xq);
    for (int c = threadIdx.x; c < in / 16; c += blockDim.x) xsm[act_slot(c)] = src[c];
}

// Issues the asynchronous copies of round g0 of one warp's rows (see decode_rows) into wstage.
template <int WT>
__device__ inline void issue_round(const uint8_t* w, int64_t nb1, int64_t out, int64_t o_base, int lpr, int64_t groups,
                                   int64_t g0, uint32_t* wstage) {
    constexpr int W = Group<WT>::W;
    const int lane = threadIdx.x % 32;
    const int pieces_per_row = lpr * W / 4;              // 16-byte pieces of a row's lpr groups
    const int64_t row_pieces = groups * W / 4;          // pieces of a whole row
    for (int p = lane; p < 8 * W; p += 32) {            // 32·W words = 8·W pieces per warp
        const int rr = p / pieces_per_row, q = p % pieces_per_row;
        const int64_t piece = g0 * W / 4 + q;
        if (o_base + rr < out && piece < row_pieces)
            gpu_async_copy16(wstage + 4 * p, w + (o_base + rr) * nb1 + 16 * piece);
    }
    gpu_async_commit();
}

// One warp's rows: 32/lpr consecutive rows from o_base, lpr lanes each, lane r·lpr + sub
// taking groups sub, sub + lpr, ... of row o_base + r. y[o·y_stride] = dot_row(W[o], x)·scale
// (IQ2_XXS: (1/8 · Σ)·scale, as the tile kernel). xsm: the staged activation row (stage_acts),
// xd its block scales; terms: this warp's 32·G floats of shared memory; wstage: its
// kStageWords<WT> words, round 0 already issued (issue_round); grid_s: the IQ2_XXS grid in
// shared memory (load_grid; other types ignore it). Every lane of the warp must call it.
template <int WT>
__device__ void decode_rows(const uint8_t* w, int64_t nb1, int64_t in, int64_t out, int64_t o_base, int lpr,
                            const int4* xsm, const float* xd, float* y, int64_t y_stride, float scale,
                            const uint64_t* grid_s, float* terms, uint32_t* wstage) {
    constexpr int G = Group<WT>::G, W = Group<WT>::W;
    const int lane = threadIdx.x % 32, r = lane / lpr, sub = lane % lpr;
    const int64_t o = o_base + r, groups = in / (int64_t(G) * Group<WT>::be);
    const bool live = o < out;
    float row_sum = 0.0f;
    for (int64_t g0 = 0; g0 < groups; g0 += lpr) {  // uniform: groups depends on `in` only
        if (g0 > 0) issue_round<WT>(w, nb1, out, o_base, lpr, groups, g0, wstage);
        gpu_async_wait<0>();
        gpu_sync_lanes32();  // every lane's copies have landed
        float t[G];
#pragma unroll
        for (int k = 0; k < G; ++k) t[k] = 0.0f;
        if (live && g0 + sub < groups)
            group_terms<WT>(wstage + lane * W, static_cast<int>(g0 + sub), xsm, xd, grid_s, t);
#pragma unroll
        for (int k = 0; k < G; ++k) terms[lane * G + k] = t[k];
        gpu_sync_lanes32();
        if (live && sub == 0) {
            const int cnt = static_cast<int>(groups - g0 < lpr ? groups - g0 : lpr) * G;
            const float* rt = terms + r * lpr * G;
            for (int j = 0; j < cnt; ++j) row_sum += rt[j];
        }
        gpu_sync_lanes32();  // terms and wstage are rewritten by the next round
    }
    if (live && sub == 0) y[o * y_stride] = (WT == DS4_TYPE_IQ2_XXS ? 0.125f * row_sum : row_sum) * scale;
}

}  // namespace ds4::gpu::mvd
