// Device side of the weight matmuls (MATMUL, MATMUL_ID; usable by fused ops such as MOE_FFN):
// activation formats in scratch, the per-type decoding of 16-element weight units from a
// shared-memory tile, and the tile kernel body that streams weight rows through shared memory.
//
// Reduction order: quant::dot_row's, step for step, so every output equals cpu-ref's bit for
// bit (details at `tile` below): per storage block the integer sums (exact in any order), the
// block's float term, the terms added in block order; with f32 activations dot_f32_f32's 8
// lanes and reduce_lanes8's tree. It does not depend on the launch shape or on the number of
// tokens in a tile, so a prefill row equals the same row computed alone.
#pragma once
#include <cstdint>

#include "common.cuh"

namespace ds4::gpu::mv {

inline constexpr int kThreads = 256;  // threads per tile block
inline constexpr int kLanes = 32;     // lanes per row group (a warp on NVIDIA, half a wavefront on AMD)
inline constexpr int kRows = kThreads / kLanes;  // weight rows per tile
inline constexpr int kUnit = 16;      // elements per unit

// Elements per chunk: about 1-2 KiB of weight bytes per row, whole blocks, a multiple of 16
// bytes (so rows starting 16-byte aligned keep every chunk aligned).
// be/bb: elements/bytes of one storage block of the type.
template <int WT> struct Chunk;
template <> struct Chunk<DS4_TYPE_F32> { static constexpr int elems = 512, bytes = 2048, be = 1, bb = 4; };
template <> struct Chunk<DS4_TYPE_F16> { static constexpr int elems = 1024, bytes = 2048, be = 1, bb = 2; };
template <> struct Chunk<DS4_TYPE_BF16> { static constexpr int elems = 1024, bytes = 2048, be = 1, bb = 2; };
template <> struct Chunk<DS4_TYPE_Q8_0> { static constexpr int elems = 1024, bytes = 32 * 34, be = 32, bb = 34; };
template <> struct Chunk<DS4_TYPE_Q2_K> { static constexpr int elems = 4096, bytes = 16 * 84, be = 256, bb = 84; };
template <> struct Chunk<DS4_TYPE_Q4_K> { static constexpr int elems = 2048, bytes = 8 * 144, be = 256, bb = 144; };
template <> struct Chunk<DS4_TYPE_IQ2_XXS> { static constexpr int elems = 4096, bytes = 16 * 66, be = 256, bb = 66; };

template <int WT> inline constexpr bool kQuantized = WT == DS4_TYPE_Q8_0 || WT == DS4_TYPE_Q2_K ||
                                                     WT == DS4_TYPE_Q4_K || WT == DS4_TYPE_IQ2_XXS;
// Elements per activation scale under DS4_ACT_DS4 (Q8_0-act: 32, Q8_K: 256).
template <int WT> inline constexpr int kActBlock = WT == DS4_TYPE_Q8_0 ? 32 : 256;

// Activation rows as the tile kernel reads them (plan scratch, rows of `ld` elements):
//   q == true:  int8 codes q[row·ld + i] and f32 scales d[row·(ld/act_block) + i/act_block];
//   q == false: f32 values f[row·ld + i] (ld a multiple of 16).
struct Acts {
    const int8_t* q;
    const float* d;
    const float* f;
    int64_t ld;
};

// Shared-memory copies of the IQ2_XXS tables: the grid and, per sign index, the 8 sign bits
// expanded to byte masks (0xFF = negative).
struct Iq2Smem {
    uint64_t grid[256];
    uint64_t mask[128];
};

__device__ inline void load_iq2_tables(Iq2Smem* t, const Iq2Tables& g) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) t->grid[i] = g.grid[i];
    for (int i = threadIdx.x; i < 128; i += blockDim.x) {
        const uint8_t s = g.signs[i];
        uint64_t m = 0;
        for (int j = 0; j < 8; ++j)
            if ((s >> j) & 1) m |= uint64_t(0xFF) << (8 * j);
        t->mask[i] = m;
    }
}

// A decoded unit: 16 weight codes as int8 in four words. For f32 activations the value of
// element i is ws·code_i − wm (dequantize_row's formula: wm = 0 for types without mins); for
// quantized activations the integer sub-block scale isc and min imn multiply the unit's integer
// sums (ds4::quant's integer block sums: exact in any order).
struct QUnit {
    int q[4];
    float ws, wm;
    int isc, imn;
};

__device__ inline uint16_t lds_u16(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }
// A 32-bit word at a 2-byte aligned address.
__device__ inline uint32_t lds_u32_a2(const uint8_t* p) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
    return uint32_t(h[0]) | (uint32_t(h[1]) << 16);
}
__device__ inline float ld_half(const uint8_t* p) { return gpu_half_to_float(lds_u16(p)); }

// Units (16 elements) per storage block.
template <int WT> inline constexpr int kUnitsPerBlock = Chunk<WT>::be / kUnit;

// Unit u of a chunk whose first block is at `s` (shared memory, 16-byte aligned).
template <int WT>
__device__ inline QUnit decode_unit(const uint8_t* s, int u, const Iq2Smem* tabs) {
    QUnit r;
    if constexpr (WT == DS4_TYPE_Q8_0) {
        const uint8_t* blk = s + (u >> 1) * 34;
        r.ws = ld_half(blk);
        r.wm = 0.0f;
        r.isc = 1;
        r.imn = 0;
        const uint8_t* q = blk + 2 + (u & 1) * 16;
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = int(lds_u32_a2(q + 4 * i));
    } else if constexpr (WT == DS4_TYPE_Q2_K) {
        // Unit = one 16-wide sub-block sb: codes (qs[32·hb + l0 + i] >> 2j) & 3.
        const int sb = u & 15;
        const uint8_t* blk = s + (u >> 4) * 84;
        const uint8_t sc = blk[sb];
        r.isc = sc & 15;
        r.imn = sc >> 4;
        r.ws = ld_half(blk + 80) * float(r.isc);
        r.wm = ld_half(blk + 82) * float(r.imn);
        const uint32_t* qw = reinterpret_cast<const uint32_t*>(blk + 16 + 32 * (sb >> 3) + 16 * (sb & 1));
        const int shift = 2 * ((sb >> 1) & 3);
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = int((qw[i] >> shift) & 0x03030303u);
    } else if constexpr (WT == DS4_TYPE_Q4_K) {
        // Unit = half of the 32-wide sub-block j: codes (qs[32·(j/2) + l0 + i] >> 4(j%2)) & 15.
        const int sub = u & 15, j = sub >> 1;
        const uint8_t* blk = s + (u >> 4) * 144;
        d_q4k_scale_min(blk + 4, j, r.isc, r.imn);
        r.ws = ld_half(blk) * float(r.isc);
        r.wm = ld_half(blk + 2) * float(r.imn);
        const uint4 qv = *reinterpret_cast<const uint4*>(blk + 16 + 32 * (j >> 1) + 16 * (sub & 1));
        const int shift = 4 * (j & 1);
        r.q[0] = int((qv.x >> shift) & 0x0F0F0F0Fu);
        r.q[1] = int((qv.y >> shift) & 0x0F0F0F0Fu);
        r.q[2] = int((qv.z >> shift) & 0x0F0F0F0Fu);
        r.q[3] = int((qv.w >> shift) & 0x0F0F0F0Fu);
    } else if constexpr (WT == DS4_TYPE_IQ2_XXS) {
        // Unit = grid groups g0, g0+1 of the 32-wide sub-block ib; codes ±grid, scale
        // d·(0.5 + s)·0.25 (f32 path) or the integer 2s + 1 (the 1/8 comes once per row).
        const int sub = u & 15, ib = sub >> 1, g0 = 2 * (sub & 1);
        const uint8_t* blk = s + (u >> 4) * 66;
        const uint32_t A = lds_u32_a2(blk + 2 + 8 * ib);
        const uint32_t B = lds_u32_a2(blk + 6 + 8 * ib);
        r.ws = ld_half(blk) * (0.5f + float(B >> 28)) * 0.25f;
        r.wm = 0.0f;
        r.isc = int(2 * (B >> 28) + 1);
        r.imn = 0;
#pragma unroll
        for (int gg = 0; gg < 2; ++gg) {
            const int g = g0 + gg;
            const uint64_t grid = tabs->grid[(A >> (8 * g)) & 0xFF];
            const uint64_t mask = tabs->mask[(B >> (7 * g)) & 127];
            // Negating a byte b in {8, 25, 43} as (b ^ 0xFF) + 1 never carries into the next byte.
            const uint32_t lo = uint32_t(grid), hi = uint32_t(grid >> 32);
            const uint32_t mlo = uint32_t(mask), mhi = uint32_t(mask >> 32);
            r.q[2 * gg] = int((lo ^ mlo) + (mlo & 0x01010101u));
            r.q[2 * gg + 1] = int((hi ^ mhi) + (mhi & 0x01010101u));
        }
    }
    return r;
}

// Block b of a chunk at `s` against its activation scale dx, from the block's integer sums
// (isum = Σ isc·Σ q_w·q_x, msum = Σ imn·Σ q_x): ds4::quant's float step, operand for operand
// (the plugin is compiled without FMA contraction).
template <int WT>
__device__ inline float block_term(const uint8_t* s, int b, float dx, int isum, int msum) {
    if constexpr (WT == DS4_TYPE_Q8_0) {
        return ld_half(s + b * 34) * dx * float(isum);
    } else if constexpr (WT == DS4_TYPE_Q2_K) {
        const uint8_t* blk = s + b * 84;
        const float dall = dx * ld_half(blk + 80), dmin = dx * ld_half(blk + 82);
        return dall * float(isum) - dmin * float(msum);
    } else if constexpr (WT == DS4_TYPE_Q4_K) {
        const uint8_t* blk = s + b * 144;
        const float d = dx * ld_half(blk), dmin = dx * ld_half(blk + 2);
        return d * float(isum) - dmin * float(msum);
    } else {
        return ld_half(s + b * 66) * dx * float(isum);
    }
}

// W 32-bit words of F16 or BF16 pairs (low half first) → 2·W floats (exact conversions).
template <int WT, int W>
__device__ inline void half_words_to_f32(const uint32_t (&words)[W], float* w) {
#pragma unroll
    for (int i = 0; i < W; ++i) {
        if constexpr (WT == DS4_TYPE_F16) {
            w[2 * i] = gpu_half_to_float(uint16_t(words[i] & 0xFFFF));
            w[2 * i + 1] = gpu_half_to_float(uint16_t(words[i] >> 16));
        } else {
            w[2 * i] = __uint_as_float(words[i] << 16);
            w[2 * i + 1] = __uint_as_float(words[i] & 0xFFFF0000u);
        }
    }
}

// Float weights: unit u of a chunk as 16 floats (elements past `cnt` are not read).
template <int WT>
__device__ inline void decode_float_unit(const uint8_t* s, int u, int cnt, float (&w)[kUnit]) {
    if constexpr (WT == DS4_TYPE_F32) {
        const float* p = reinterpret_cast<const float*>(s) + kUnit * u;
        if (cnt == kUnit) {
#pragma unroll
            for (int i = 0; i < kUnit; i += 4) {
                const float4 v = *reinterpret_cast<const float4*>(p + i);
                w[i] = v.x, w[i + 1] = v.y, w[i + 2] = v.z, w[i + 3] = v.w;
            }
        } else {
            for (int i = 0; i < kUnit; ++i) w[i] = i < cnt ? p[i] : 0.0f;
        }
    } else {
        const uint16_t* p = reinterpret_cast<const uint16_t*>(s) + kUnit * u;
        uint32_t words[8];
        if (cnt == kUnit) {
            const uint4 a = reinterpret_cast<const uint4*>(p)[0], b = reinterpret_cast<const uint4*>(p)[1];
            words[0] = a.x, words[1] = a.y, words[2] = a.z, words[3] = a.w;
            words[4] = b.x, words[5] = b.y, words[6] = b.z, words[7] = b.w;
        } else {
            for (int i = 0; i < 8; ++i)
                words[i] = (2 * i < cnt ? uint32_t(p[2 * i]) : 0u) | (2 * i + 1 < cnt ? uint32_t(p[2 * i + 1]) << 16 : 0u);
        }
        half_words_to_f32<WT>(words, w);
    }
}

// 16 activations of row `row` starting at element k (k a multiple of 16).
__device__ inline void load_f32_acts(const Acts& a, int64_t row, int64_t k, int cnt, float (&x)[kUnit]) {
    const float* p = a.f + row * a.ld + k;
    if (cnt == kUnit) {
#pragma unroll
        for (int i = 0; i < kUnit; i += 4) {
            const float4 v = *reinterpret_cast<const float4*>(p + i);
            x[i] = v.x, x[i + 1] = v.y, x[i + 2] = v.z, x[i + 3] = v.w;
        }
    } else {
        for (int i = 0; i < kUnit; ++i) x[i] = i < cnt ? p[i] : 0.0f;
    }
}

// Chunks in flight per block: the pipeline keeps kStages-1 chunks loading while one is computed.
inline constexpr int kStages = 3;
inline constexpr int kMaxT = 8;  // activation rows per tile, at most

// Shared-memory layout of a tile block: kStages chunk buffers of kRows rows, the IQ2 tables
// (IQ2_XXS only), then the block terms of the chunk being summed: [kRows][kMaxT][blocks].
template <int WT> inline constexpr int kTablesOffset = kStages * kRows * Chunk<WT>::bytes;
template <int WT>
inline constexpr int kTermsOffset = kTablesOffset<WT> + (WT == DS4_TYPE_IQ2_XXS ? int(sizeof(Iq2Smem)) : 0);
template <int WT> inline constexpr int kChunkBlocks = Chunk<WT>::elems / Chunk<WT>::be;

// Element e (0..15) of a decoded unit as dequantize_row computes it.
__device__ inline int unit_code(const QUnit& w, int e) { return int(int8_t(w.q[e >> 2] >> (8 * (e & 3)))); }
template <int WT>
__device__ inline float float_elem(const uint8_t* s, int u, int e) {
    if constexpr (WT == DS4_TYPE_F32) return reinterpret_cast<const float*>(s)[kUnit * u + e];
    else if constexpr (WT == DS4_TYPE_F16) return gpu_half_to_float(reinterpret_cast<const uint16_t*>(s)[kUnit * u + e]);
    else return __uint_as_float(uint32_t(reinterpret_cast<const uint16_t*>(s)[kUnit * u + e]) << 16);
}

// One tile: weight rows o0 .. o0+kRows-1 (row o at w + o·nb1) against up to T activation rows
// (xrow[t] < 0: no token in slot t). Output (row o, slot t)·scale goes to y[t] + o·y_stride
// when y[t] is not null (scale 1 is exact: plain MATMUL). Every thread of the block must call it (it synchronizes the block).
// The weight loads of the first chunks are issued before gpu_dependency_wait(): weights never
// depend on earlier kernels, activations and outputs do.
// smem: smem_bytes<WT>() bytes, 16-byte aligned.
//
// Every output is ds4::quant's row dot, step for step (bit-identical to cpu-ref):
//   * quantized weights and activations: the integer sums of a storage block (any order:
//     exact) come from the lanes holding its units, the block's float term is formed by the
//     first of them into shared memory, and lane t of the row's group adds token t's terms
//     in block order, chunk after chunk (quant::dot_row's sequential sum);
//   * f32 activations: lane l of a group is lane l % 8 of dot_f32_f32 for tokens ≡ l / 8
//     (mod 4): it accumulates elements i ≡ l (mod 8) in ascending order, and the xor
//     butterfly 4, 2, 1 over the 8 lanes is reduce_lanes8's tree.
template <int WT, bool Q, int T>
__device__ void tile(const uint8_t* w, int64_t nb1, int64_t in, int64_t out, int64_t o0, const Acts& acts,
                     const int64_t (&xrow)[T], float* const (&y)[T], int64_t y_stride, uint8_t* smem,
                     const Iq2Smem* tabs, float scale = 1.0f) {
    static_assert(T <= kMaxT, "token tile too large");
    constexpr int CE = Chunk<WT>::elems, CB = Chunk<WT>::bytes;
    constexpr int kPieces16 = kRows * CB / 16;                         // 16-byte pieces per chunk of the tile
    constexpr int kPerThread = (kPieces16 + kThreads - 1) / kThreads;
    constexpr bool kBlockTerms = kQuantized<WT> && Q;
    const int64_t row_bytes = in / Chunk<WT>::be * Chunk<WT>::bb;
    const int64_t n_chunks = (in + CE - 1) / CE;
    const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
    const bool row_live = o0 + group < out;

    // Piece p of chunk c = row p / (CB/16), bytes 16·(p % (CB/16)) of that row's chunk. Aligned
    // whole pieces go through async copies; the tail of a row or misaligned rows (rare shapes)
    // are copied bytewise. Pieces past the row or past `out` are left stale: never read.
    auto issue = [&](int64_t c) {
        uint8_t* buf = smem + (c % kStages) * (kRows * CB);
        const int64_t off = c * CB;
        const int64_t bytes = row_bytes - off < CB ? row_bytes - off : CB;
#pragma unroll
        for (int i = 0; i < kPerThread; ++i) {
            const int p = threadIdx.x + i * kThreads;
            if (p >= kPieces16) break;
            const int r = p / (CB / 16), b = 16 * (p % (CB / 16));
            if (o0 + r >= out || b >= bytes) continue;
            const uint8_t* src = w + (o0 + r) * nb1 + off + b;
            if (b + 16 <= bytes && (reinterpret_cast<uintptr_t>(src) & 15) == 0) {
                gpu_async_copy16(buf + 16 * p, src);
            } else {
                uint32_t v[4] = {0, 0, 0, 0};
                for (int k = 0; k < 16 && b + k < bytes; ++k) v[k / 4] |= uint32_t(src[k]) << (8 * (k % 4));
                *reinterpret_cast<uint4*>(buf + 16 * p) = make_uint4(v[0], v[1], v[2], v[3]);
            }
        }
        gpu_async_commit();
    };

    float acc[T];  // f32 path: this lane's lane-accumulator of tokens ≡ lane/8 (mod 4)
#pragma unroll
    for (int t = 0; t < T; ++t) acc[t] = 0.0f;
    float row_sum = 0.0f;  // block-term path: the running dot of token `lane` (lane < T)
    bool lane_has_token = false;
#pragma unroll
    for (int t = 0; t < T; ++t)
        if (t == lane) lane_has_token = xrow[t] >= 0;
    float* terms = reinterpret_cast<float*>(smem + kTermsOffset<WT>) + group * (kMaxT * kChunkBlocks<WT>);

    for (int s = 0; s < kStages - 1; ++s) {
        if (s < n_chunks) issue(s);
        else gpu_async_commit();  // keeps the group count uniform
    }
    gpu_dependency_wait();
    for (int64_t c = 0; c < n_chunks; ++c) {
        gpu_async_wait<kStages - 2>();  // this thread's pieces of chunk c have landed
        __syncthreads();                // everyone's have; everyone is done with chunk c-1
        if (c + kStages - 1 < n_chunks) issue(c + kStages - 1);  // refills chunk c-1's buffer
        else gpu_async_commit();
        const uint8_t* s = smem + (c % kStages) * (kRows * CB) + group * CB;
        const int64_t k0 = c * CE;
        const int units = static_cast<int>(((in - k0 < CE ? in - k0 : CE) + kUnit - 1) / kUnit);
        if constexpr (kBlockTerms) {
            constexpr int UPB = kUnitsPerBlock<WT>;
            constexpr bool kMins = WT == DS4_TYPE_Q2_K || WT == DS4_TYPE_Q4_K;
            if (row_live) {
                for (int u0 = 0; u0 < units; u0 += kLanes) {  // uniform over the group: shuffles below
                    const int u = u0 + lane;
                    const bool live = u < units;
                    QUnit q{};
                    if (live) q = decode_unit<WT>(s, u, tabs);
                    const int64_t k = k0 + int64_t(kUnit) * u;
#pragma unroll
                    for (int t = 0; t < T; ++t) {
                        int isum = 0, msum = 0;
                        if (live && xrow[t] >= 0) {
                            const int4 xq = *reinterpret_cast<const int4*>(acts.q + xrow[t] * acts.ld + k);
                            int d = gpu_dp4a(q.q[0], xq.x, 0);
                            d = gpu_dp4a(q.q[1], xq.y, d);
                            d = gpu_dp4a(q.q[2], xq.z, d);
                            d = gpu_dp4a(q.q[3], xq.w, d);
                            isum = q.isc * d;
                            if constexpr (kMins) {
                                int xs = gpu_dp4a(0x01010101, xq.x, 0);
                                xs = gpu_dp4a(0x01010101, xq.y, xs);
                                xs = gpu_dp4a(0x01010101, xq.z, xs);
                                xs = gpu_dp4a(0x01010101, xq.w, xs);
                                msum = q.imn * xs;
                            }
                        }
#pragma unroll
                        for (int m = UPB / 2; m > 0; m /= 2) {
                            isum += gpu_shfl_xor32(isum, m);
                            if constexpr (kMins) msum += gpu_shfl_xor32(msum, m);
                        }
                        if (live && lane % UPB == 0 && xrow[t] >= 0) {
                            const float dx = acts.d[xrow[t] * (acts.ld / kActBlock<WT>) + k / kActBlock<WT>];
                            terms[t * kChunkBlocks<WT> + u / UPB] = block_term<WT>(s, u / UPB, dx, isum, msum);
                        }
                    }
                }
            }
            __syncthreads();  // the chunk's terms are in shared memory
            if (row_live && lane_has_token) {
                const int nblk = units / UPB;
                for (int b = 0; b < nblk; ++b) row_sum += terms[lane * kChunkBlocks<WT> + b];
            }
        } else if (row_live) {
            const int e8 = lane & 7, slot = lane >> 3;
            auto unit = [&](int u, bool tail) {
                const int64_t k = k0 + int64_t(kUnit) * u;
                float v[2];
                if constexpr (kQuantized<WT>) {
                    const QUnit q = decode_unit<WT>(s, u, tabs);
                    v[0] = q.ws * float(unit_code(q, e8)) - q.wm;
                    v[1] = q.ws * float(unit_code(q, e8 + 8)) - q.wm;
                } else {
                    v[0] = float_elem<WT>(s, u, e8);
                    v[1] = float_elem<WT>(s, u, e8 + 8);
                }
#pragma unroll
                for (int t = 0; t < T; ++t) {
                    if (t % 4 != slot || xrow[t] < 0) continue;
                    const float* x = acts.f + xrow[t] * acts.ld + k;
                    // Elements past `in` (the last unit of a row not a multiple of 16) are
                    // skipped like dot_f32_f32's tail: nothing is added for them.
                    if (!tail || k + e8 < in) acc[t] = acc[t] + v[0] * x[e8];
                    if (!tail || k + e8 + 8 < in) acc[t] = acc[t] + v[1] * x[e8 + 8];
                }
            };
            // Whole units without bounds tests, unrolled so that the loads of several units are
            // in flight ahead of the (sequential) adds; then the row's partial last unit.
            const int full = static_cast<int>((in - k0) / kUnit < units ? (in - k0) / kUnit : units);
#pragma unroll 8
            for (int u = 0; u < full; ++u) unit(u, false);
            for (int u = full; u < units; ++u) unit(u, true);
        }
    }
    if constexpr (kBlockTerms) {
        if (row_live && lane_has_token) {
            const float r = (WT == DS4_TYPE_IQ2_XXS ? 0.125f * row_sum : row_sum) * scale;
#pragma unroll
            for (int t = 0; t < T; ++t)
                if (t == lane && y[t]) y[t][(o0 + group) * y_stride] = r;
        }
    } else {
#pragma unroll
        for (int t = 0; t < T; ++t) {
            float v = acc[t];
            // reduce_lanes8: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
            v = v + gpu_shfl_xor32(v, 4);
            v = v + gpu_shfl_xor32(v, 2);
            v = v + gpu_shfl_xor32(v, 1);
            if ((lane & 7) == 0 && lane >> 3 == t % 4 && row_live && y[t]) y[t][(o0 + group) * y_stride] = v * scale;
        }
    }
    __syncthreads();  // the next tile of this block reuses the buffers
}

// Bytes of dynamic shared memory `tile` needs; at most the 48 KiB every device grants without
// opting in. Float types have no block terms.
template <int WT>
constexpr int smem_bytes() {
    return kTermsOffset<WT> + (kQuantized<WT> ? kRows * kMaxT * kChunkBlocks<WT> * 4 : 0);
}
static_assert(smem_bytes<DS4_TYPE_F32>() <= 48 * 1024, "tile buffers above 48 KiB");
static_assert(smem_bytes<DS4_TYPE_Q2_K>() <= 48 * 1024, "tile buffers above 48 KiB");
static_assert(smem_bytes<DS4_TYPE_IQ2_XXS>() <= 48 * 1024, "tile buffers above 48 KiB");

}  // namespace ds4::gpu::mv
