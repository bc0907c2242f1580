// Tensor-core tiles for the quantized weight matmuls of a prefill (MATMUL, MATMUL_ID and the
// fused MoE's expert matmuls when many tokens meet quantized weights with quantized
// activations): integer tensor cores (gpu_mma_s8_16x8x32) form the integer sums of every
// storage block, and the float arithmetic after them is quant::dot_row's, step for step, so
// every output equals cpu-ref's (and the CUDA-core tile of matvec.cuh) bit for bit.
//
// Why this is exact: a storage block's integer sums (Σ isc·Σ q_w·q_x, Σ imn·Σ q_x) are sums of
// int32 products that never overflow, so any order gives the same integer — the tensor core's
// included. What must keep dot_row's order is the float part: each block's term is formed from
// its integer sums exactly as block_term does, and each output adds its terms in block order
// with one running float sum, held by one lane.
//
// Tile: 128 weight rows × TN tokens, 8 groups of 32 lanes each owning 16 rows; the K loop walks
// the row 256 elements at a time (one Q2_K/Q4_K/IQ2_XXS block, eight Q8_0 blocks), with weight
// rows, activation codes and scales of the next steps loading (async copies) while one is
// computed. Per 32-element group the codes become A fragments straight from shared memory:
//   Q2_K:    codes × their 4-bit sub-block scale (≤ 45, fits int8), so one accumulator chain
//            gives the block's Σ isc·Σ q_w·q_x; a second chain with A = the sub-block mins
//            gives Σ imn·Σ q_x (the same integers as the Q8_K bsums route);
//   Q4_K:    codes 0..15 per 32-wide sub-block: fresh sums scaled by the 6-bit isc in int32;
//            mins chained like Q2_K's;
//   IQ2_XXS: ±grid codes per 32-wide sub-block: fresh sums scaled by 2s+1 in int32;
//   Q8_0:    each group is a block: its float term is added right after its sum.
// Used only where gpu_has_int8_mma() and layout_ok() hold; elsewhere matvec.cuh's tile runs.
#pragma once
#include <cstdint>

#include "common.cuh"
#include "matvec.cuh"

namespace ds4::gpu::mma {

inline constexpr int kThreads = 256;
inline constexpr int kGroups = kThreads / 32;  // 32-lane groups per block
inline constexpr int kRows = 16 * kGroups;     // weight rows per tile
inline constexpr int kStep = 256;              // elements per pipeline step
inline constexpr int kStages = 3;
inline constexpr int kActRowBytes = kStep + 16;  // token row in shared memory: +16 keeps B loads conflict-free

template <int WT> inline constexpr bool kSupported = mv::kQuantized<WT>;

// One step of one weight row: WB bytes from byte st·WB of the row. Rows are copied in 16-byte
// pieces where WB allows (Q8_0, Q4_K) and in 4-byte words otherwise; an IQ2_XXS step starts 2
// bytes into a word when st is odd (66 = 16·4 + 2), so its copy starts at the word before and
// `lead` says where the block begins. SW: words per row in shared memory, ≡ 4 (mod 8) so the
// 8 rows × 4 lanes of one fragment load hit 32 different banks.
template <int WT> struct StepShape;
template <> struct StepShape<DS4_TYPE_Q8_0> { static constexpr int WB = 272, words = 68, SW = 68, act_scales = 8; };
template <> struct StepShape<DS4_TYPE_Q4_K> { static constexpr int WB = 144, words = 36, SW = 36, act_scales = 1; };
template <> struct StepShape<DS4_TYPE_Q2_K> { static constexpr int WB = 84, words = 21, SW = 28, act_scales = 1; };
template <> struct StepShape<DS4_TYPE_IQ2_XXS> { static constexpr int WB = 66, words = 17, SW = 20, act_scales = 1; };
template <int WT> inline constexpr bool kWideCopy = StepShape<WT>::WB % 16 == 0;

// Shared memory: kStages × [weights kRows × SW words | activation codes TN × kActRowBytes |
// activation scales TN × act_scales floats], then the tile's token rows and output rows, then
// (IQ2_XXS) the grid and sign tables.
template <int WT> inline constexpr int kWeightBytes = kRows * StepShape<WT>::SW * 4;
template <int WT, int TN> inline constexpr int kStageBytes =
    kWeightBytes<WT> + TN * kActRowBytes + (TN * StepShape<WT>::act_scales * 4 + 15) / 16 * 16;
template <int WT, int TN> inline constexpr int kTokensOffset = kStages * kStageBytes<WT, TN>;
template <int WT, int TN> inline constexpr int kTablesOffset = kTokensOffset<WT, TN> + TN * 16;
template <int WT, int TN>
constexpr int smem_bytes() {
    return kTablesOffset<WT, TN> + (WT == DS4_TYPE_IQ2_XXS ? int(sizeof(mv::Iq2Smem)) : 0);
}

// Whether rows of `in` elements at w (row stride nb1, matrix stride nb2) can use these tiles.
template <int WT>
inline bool layout_ok(const uint8_t* w, int64_t in, int64_t nb1, int64_t nb2) {
    if (in % kStep != 0) return false;
    // An IQ2_XXS row of an odd number of blocks would end in a word reaching 2 bytes past it.
    if (WT == DS4_TYPE_IQ2_XXS && (in / kStep) % 2 != 0) return false;
    const int64_t align = kWideCopy<WT> ? 16 : 4;
    return reinterpret_cast<uintptr_t>(w) % align == 0 && nb1 % align == 0 && nb2 % align == 0;
}

// The tile's tokens, set by the caller in shared memory before tile(): the activation row of
// token slot t (−1: no token) and where its outputs go (row o at y[t][o·y_stride]).
struct Tokens {
    int64_t* xrow;
    float** y;
};
template <int WT, int TN>
__device__ inline Tokens tokens_of(uint8_t* smem) {
    auto* base = smem + kTokensOffset<WT, TN>;
    return Tokens{reinterpret_cast<int64_t*>(base), reinterpret_cast<float**>(base + TN * 8)};
}

__device__ inline uint32_t lds_u32(const uint8_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// IQ2_XXS codes k = 8·gi + 4·half .. +3 of a 32-wide sub-block: grid bytes with the sign mask
// applied (negating a byte in {8, 25, 43} as (b ^ 0xFF) + 1 never carries).
__device__ inline int iq2_word(uint32_t A, uint32_t B, int gi, int half, const mv::Iq2Smem* tabs) {
    const uint64_t grid = tabs->grid[(A >> (8 * gi)) & 0xFF];
    const uint64_t mask = tabs->mask[(B >> (7 * gi)) & 127];
    const uint32_t g = half ? uint32_t(grid >> 32) : uint32_t(grid);
    const uint32_t m = half ? uint32_t(mask >> 32) : uint32_t(mask);
    return int((g ^ m) + (m & 0x01010101u));
}

// One tile: weight rows o0 .. o0+kRows-1 (row o at w + o·nb1, `in` elements) against the TN
// token slots set in shared memory (tokens_of). Writes (row o, slot t)·scale for live rows and
// slots. Every thread of the block calls it; it synchronizes the block. smem: smem_bytes().
template <int WT, int TN>
__device__ void tile(const uint8_t* w, int64_t nb1, int64_t in, int64_t out, int64_t o0, const mv::Acts& acts,
                     int64_t y_stride, uint8_t* smem, const mv::Iq2Smem* tabs, float scale) {
    using S = StepShape<WT>;
    constexpr int NT = TN / 8;  // 8-token column tiles per group
    constexpr int kScaleStride = S::act_scales;
    const int tid = threadIdx.x, grp = tid / 32, lane = tid % 32, g = lane / 4, q = lane % 4;
    const int64_t steps = in / kStep;
    const Tokens tok = tokens_of<WT, TN>(smem);

    auto stage = [&](int64_t st) { return smem + (st % kStages) * kStageBytes<WT, TN>; };
    auto issue = [&](int64_t st) {
        uint8_t* buf = stage(st);
        // Weight rows.
        if constexpr (kWideCopy<WT>) {
            constexpr int P = S::WB / 16;
            for (int p = tid; p < kRows * P; p += kThreads) {
                const int r = p / P, c = p % P;
                if (o0 + r < out) gpu_async_copy16(buf + r * S::SW * 4 + 16 * c, w + (o0 + r) * nb1 + st * S::WB + 16 * c);
            }
        } else {
            const int64_t word0 = st * S::WB / 4;
            for (int p = tid; p < kRows * S::words; p += kThreads) {
                const int r = p / S::words, c = p % S::words;
                if (o0 + r < out) gpu_async_copy4(buf + r * S::SW * 4 + 4 * c, w + (o0 + r) * nb1 + 4 * (word0 + c));
            }
        }
        // Activation codes: 16 pieces of 16 bytes per token.
        uint8_t* abuf = buf + kWeightBytes<WT>;
        for (int p = tid; p < TN * 16; p += kThreads) {
            const int t = p / 16, c = p % 16;
            const int64_t xr = tok.xrow[t];
            if (xr >= 0) gpu_async_copy16(abuf + t * kActRowBytes + 16 * c, acts.q + xr * acts.ld + st * kStep + 16 * c);
        }
        // Activation scales: Q8_K one per step, Q8_0-act eight (32 bytes, two pieces).
        float* sbuf = reinterpret_cast<float*>(abuf + TN * kActRowBytes);
        if constexpr (kScaleStride == 1) {
            for (int t = tid; t < TN; t += kThreads) {
                const int64_t xr = tok.xrow[t];
                if (xr >= 0) gpu_async_copy4(sbuf + t, acts.d + xr * (acts.ld / kStep) + st);
            }
        } else {
            for (int p = tid; p < TN * 2; p += kThreads) {
                const int t = p / 2, c = p % 2;
                const int64_t xr = tok.xrow[t];
                if (xr >= 0) gpu_async_copy16(sbuf + 8 * t + 4 * c, acts.d + xr * (acts.ld / 32) + st * 8 + 4 * c);
            }
        }
        gpu_async_commit();
    };

    float acc[NT][4];  // the running dot of (row, token) per C fragment slot
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[n][i] = 0.0f;

    for (int s = 0; s < kStages - 1; ++s) {
        if (s < steps) issue(s);
        else gpu_async_commit();
    }
    for (int64_t st = 0; st < steps; ++st) {
        gpu_async_wait<kStages - 2>();
        __syncthreads();
        if (st + kStages - 1 < steps) issue(st + kStages - 1);
        else gpu_async_commit();

        const uint8_t* buf = stage(st);
        const int lead = WT == DS4_TYPE_IQ2_XXS ? int(st * S::WB % 4) : 0;
        const uint8_t* wr[2] = {buf + (16 * grp + g) * S::SW * 4 + lead, buf + (16 * grp + g + 8) * S::SW * 4 + lead};
        const uint8_t* arow = buf + kWeightBytes<WT> + g * kActRowBytes + 4 * q;  // token 8n + g
        const float* xs = reinterpret_cast<const float*>(buf + kWeightBytes<WT> + TN * kActRowBytes);

        // Integer sums of this step's block (Q2_K, Q4_K, IQ2_XXS): isum and msum per C slot.
        int isum[NT][4], msum[NT][4];
#pragma unroll
        for (int n = 0; n < NT; ++n)
#pragma unroll
            for (int i = 0; i < 4; ++i) isum[n][i] = msum[n][i] = 0;

#pragma unroll
        for (int j = 0; j < 8; ++j) {  // 32-element groups of the step
            int a[4], amin[4] = {0, 0, 0, 0}, isc[2] = {1, 1};
            if constexpr (WT == DS4_TYPE_Q8_0) {
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    a[h] = int(mv::lds_u32_a2(wr[h] + 34 * j + 2 + 4 * q));
                    a[h + 2] = int(mv::lds_u32_a2(wr[h] + 34 * j + 2 + 16 + 4 * q));
                }
            } else if constexpr (WT == DS4_TYPE_Q2_K) {
                const int hb = j >> 2, shift = 2 * (j & 3);
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const uint32_t lo = lds_u32(wr[h] + 16 + 32 * hb + 4 * q), hi = lds_u32(wr[h] + 32 + 32 * hb + 4 * q);
                    const int sc0 = wr[h][2 * j], sc1 = wr[h][2 * j + 1];
                    a[h] = int(((lo >> shift) & 0x03030303u) * uint32_t(sc0 & 15));
                    a[h + 2] = int(((hi >> shift) & 0x03030303u) * uint32_t(sc1 & 15));
                    amin[h] = int(uint32_t(sc0 >> 4) * 0x01010101u);
                    amin[h + 2] = int(uint32_t(sc1 >> 4) * 0x01010101u);
                }
            } else if constexpr (WT == DS4_TYPE_Q4_K) {
                const int shift = 4 * (j & 1);
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const uint32_t lo = lds_u32(wr[h] + 16 + 32 * (j >> 1) + 4 * q);
                    const uint32_t hi = lds_u32(wr[h] + 32 + 32 * (j >> 1) + 4 * q);
                    a[h] = int((lo >> shift) & 0x0F0F0F0Fu);
                    a[h + 2] = int((hi >> shift) & 0x0F0F0F0Fu);
                    int imn;
                    d_q4k_scale_min(wr[h] + 4, j, isc[h], imn);
                    amin[h] = amin[h + 2] = int(uint32_t(imn) * 0x01010101u);
                }
            } else {  // IQ2_XXS: sub-block j, grid groups q/2 (a[0..1]) and 2 + q/2 (a[2..3])
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const uint32_t A = mv::lds_u32_a2(wr[h] + 2 + 8 * j), B = mv::lds_u32_a2(wr[h] + 6 + 8 * j);
                    a[h] = iq2_word(A, B, q >> 1, q & 1, tabs);
                    a[h + 2] = iq2_word(A, B, 2 + (q >> 1), q & 1, tabs);
                    isc[h] = int(2 * (B >> 28) + 1);
                }
            }
            // a and amin are fragments in gpu_mma's order: rows g, g+8 at k 4q.., then at 16+4q...
#pragma unroll
            for (int n = 0; n < NT; ++n) {
                const uint8_t* b = arow + 8 * n * kActRowBytes + 32 * j;
                const int b0 = int(lds_u32(b)), b1 = int(lds_u32(b + 16));
                if constexpr (WT == DS4_TYPE_Q2_K) {
                    gpu_mma_s8_16x8x32(isum[n], a, b0, b1);
                    gpu_mma_s8_16x8x32(msum[n], amin, b0, b1);
                } else {
                    int c[4] = {0, 0, 0, 0};
                    gpu_mma_s8_16x8x32(c, a, b0, b1);
                    if constexpr (WT == DS4_TYPE_Q8_0) {
                        // Block j of the step is a whole storage block: its term, in block order.
#pragma unroll
                        for (int i = 0; i < 4; ++i) {
                            const float dx = xs[(8 * n + 2 * q + (i & 1)) * kScaleStride + j];
                            acc[n][i] = acc[n][i] + mv::block_term<WT>(wr[i >> 1], j, dx, c[i], 0);
                        }
                    } else {
#pragma unroll
                        for (int i = 0; i < 4; ++i) isum[n][i] += isc[i >> 1] * c[i];
                        if constexpr (WT == DS4_TYPE_Q4_K) gpu_mma_s8_16x8x32(msum[n], amin, b0, b1);
                    }
                }
            }
        }
        if constexpr (WT != DS4_TYPE_Q8_0) {
            // The step's block (one storage block) term per output.
#pragma unroll
            for (int n = 0; n < NT; ++n)
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const float dx = xs[8 * n + 2 * q + (i & 1)];
                    acc[n][i] = acc[n][i] + mv::block_term<WT>(wr[i >> 1], 0, dx, isum[n][i], msum[n][i]);
                }
        }
    }
    // Outputs: slot (n, i) is row 16·grp + g (+8 for i ≥ 2), token 8n + 2q + (i & 1).
#pragma unroll
    for (int n = 0; n < NT; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int64_t o = o0 + 16 * grp + g + 8 * (i >> 1);
            float* y = tok.y[8 * n + 2 * q + (i & 1)];
            if (o < out && y) y[o * y_stride] = (WT == DS4_TYPE_IQ2_XXS ? 0.125f * acc[n][i] : acc[n][i]) * scale;
        }
    __syncthreads();  // the next tile reuses the buffers and token slots
}

}  // namespace ds4::gpu::mma
