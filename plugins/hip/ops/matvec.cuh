// Device side of the weight matmuls (MATMUL, MATMUL_ID; usable by fused ops such as MOE_FFN):
// activation formats in scratch, the per-type decoding of 16-element weight units from a
// shared-memory tile, and the tile kernel body that streams weight rows through shared memory.
//
// Fixed reduction order (deterministic, independent of the launch shape and of the number of
// tokens in a tile, so a prefill row equals the same row computed alone):
//   * a weight row is cut into chunks of kChunkElems<WT> elements and each chunk into units of
//     16 elements; lane l (of a 32-lane group) takes units l, l+32, ... of every chunk, chunks
//     in ascending order, and accumulates unit results into one float;
//   * the 32 lane sums are combined by the xor butterfly 16, 8, 4, 2, 1 (gpu_shfl_xor32).
// Under DS4_ACT_DS4 a unit is an integer dot of 16 weight codes with 16 quantized activation
// codes (dp4a), scaled in float; otherwise 16 products in float, index order.
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

// A decoded unit: 16 weight codes as int8 in four words, the value of element i being
// ws·code_i − wm (wm = 0 for types without mins); float types decode to w[] directly.
struct QUnit {
    int q[4];
    float ws, wm;
};

__device__ inline uint16_t lds_u16(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }
// A 32-bit word at a 2-byte aligned address.
__device__ inline uint32_t lds_u32_a2(const uint8_t* p) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
    return uint32_t(h[0]) | (uint32_t(h[1]) << 16);
}
__device__ inline float ld_half(const uint8_t* p) { return gpu_half_to_float(lds_u16(p)); }

// Unit u of a chunk whose first block is at `s` (shared memory, 16-byte aligned).
template <int WT>
__device__ inline QUnit decode_unit(const uint8_t* s, int u, const Iq2Smem* tabs) {
    QUnit r;
    if constexpr (WT == DS4_TYPE_Q8_0) {
        const uint8_t* blk = s + (u >> 1) * 34;
        r.ws = ld_half(blk);
        r.wm = 0.0f;
        const uint8_t* q = blk + 2 + (u & 1) * 16;
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = int(lds_u32_a2(q + 4 * i));
    } else if constexpr (WT == DS4_TYPE_Q2_K) {
        // Unit = one 16-wide sub-block sb: codes (qs[32·hb + l0 + i] >> 2j) & 3.
        const int sb = u & 15;
        const uint8_t* blk = s + (u >> 4) * 84;
        const uint8_t sc = blk[sb];
        r.ws = ld_half(blk + 80) * float(sc & 15);
        r.wm = ld_half(blk + 82) * float(sc >> 4);
        const uint32_t* qw = reinterpret_cast<const uint32_t*>(blk + 16 + 32 * (sb >> 3) + 16 * (sb & 1));
        const int shift = 2 * ((sb >> 1) & 3);
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = int((qw[i] >> shift) & 0x03030303u);
    } else if constexpr (WT == DS4_TYPE_Q4_K) {
        // Unit = half of the 32-wide sub-block j: codes (qs[32·(j/2) + l0 + i] >> 4(j%2)) & 15.
        const int sub = u & 15, j = sub >> 1;
        const uint8_t* blk = s + (u >> 4) * 144;
        const uint8_t* sc6 = blk + 4;
        int sc, m;
        if (j < 4) {
            sc = sc6[j] & 63;
            m = sc6[j + 4] & 63;
        } else {
            sc = (sc6[j + 4] & 15) | ((sc6[j - 4] >> 6) << 4);
            m = (sc6[j + 4] >> 4) | ((sc6[j] >> 6) << 4);
        }
        r.ws = ld_half(blk) * float(sc);
        r.wm = ld_half(blk + 2) * float(m);
        const uint4 qv = *reinterpret_cast<const uint4*>(blk + 16 + 32 * (j >> 1) + 16 * (sub & 1));
        const int shift = 4 * (j & 1);
        r.q[0] = int((qv.x >> shift) & 0x0F0F0F0Fu);
        r.q[1] = int((qv.y >> shift) & 0x0F0F0F0Fu);
        r.q[2] = int((qv.z >> shift) & 0x0F0F0F0Fu);
        r.q[3] = int((qv.w >> shift) & 0x0F0F0F0Fu);
    } else if constexpr (WT == DS4_TYPE_IQ2_XXS) {
        // Unit = grid groups g0, g0+1 of the 32-wide sub-block ib; codes ±grid, scale d·(2s+1)/8.
        const int sub = u & 15, ib = sub >> 1, g0 = 2 * (sub & 1);
        const uint8_t* blk = s + (u >> 4) * 66;
        const uint32_t A = lds_u32_a2(blk + 2 + 8 * ib);
        const uint32_t B = lds_u32_a2(blk + 6 + 8 * ib);
        r.ws = ld_half(blk) * float(2 * (B >> 28) + 1) * 0.125f;
        r.wm = 0.0f;
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
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            if constexpr (WT == DS4_TYPE_F16) {
                w[2 * i] = gpu_half_to_float(uint16_t(words[i] & 0xFFFF));
                w[2 * i + 1] = gpu_half_to_float(uint16_t(words[i] >> 16));
            } else {
                w[2 * i] = __uint_as_float(words[i] << 16);
                w[2 * i + 1] = __uint_as_float(words[i] & 0xFFFF0000u);
            }
        }
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

// One unit against one activation row, added to acc.
template <int WT, bool Q>
__device__ inline float unit_dot(const QUnit& w, const Acts& a, int64_t row, int64_t k, float acc) {
    if constexpr (Q) {
        const int4 xq = *reinterpret_cast<const int4*>(a.q + row * a.ld + k);
        const float dx = a.d[row * (a.ld / kActBlock<WT>) + k / kActBlock<WT>];
        int isum = gpu_dp4a(w.q[0], xq.x, 0);
        isum = gpu_dp4a(w.q[1], xq.y, isum);
        isum = gpu_dp4a(w.q[2], xq.z, isum);
        isum = gpu_dp4a(w.q[3], xq.w, isum);
        float v = w.ws * float(isum);
        if constexpr (WT == DS4_TYPE_Q2_K || WT == DS4_TYPE_Q4_K) {
            int xsum = gpu_dp4a(0x01010101, xq.x, 0);
            xsum = gpu_dp4a(0x01010101, xq.y, xsum);
            xsum = gpu_dp4a(0x01010101, xq.z, xsum);
            xsum = gpu_dp4a(0x01010101, xq.w, xsum);
            v = v - w.wm * float(xsum);
        }
        return fmaf(dx, v, acc);
    } else {
        float x[kUnit];
        load_f32_acts(a, row, k, kUnit, x);
        float sq = 0.0f, sx = 0.0f;
#pragma unroll
        for (int i = 0; i < kUnit; ++i) {
            const int code = int(int8_t(w.q[i / 4] >> (8 * (i % 4))));
            sq = fmaf(float(code), x[i], sq);
            if constexpr (WT == DS4_TYPE_Q2_K || WT == DS4_TYPE_Q4_K) sx += x[i];
        }
        float v = w.ws * sq;
        if constexpr (WT == DS4_TYPE_Q2_K || WT == DS4_TYPE_Q4_K) v = v - w.wm * sx;
        return acc + v;
    }
}

// Chunks in flight per block: the pipeline keeps kStages-1 chunks loading while one is computed.
inline constexpr int kStages = 3;

// One tile: weight rows o0 .. o0+kRows-1 (row o at w + o·nb1) against up to T activation rows
// (xrow[t] < 0: no token in slot t). Output (row o, slot t) goes to y[t] + o·y_stride when
// y[t] is not null. Every thread of the block must call it (it synchronizes the block).
// The weight loads of the first chunks are issued before gpu_dependency_wait(): weights never
// depend on earlier kernels, activations and outputs do.
// smem: kStages·kRows·Chunk<WT>::bytes bytes, 16-byte aligned.
template <int WT, bool Q, int T>
__device__ void tile(const uint8_t* w, int64_t nb1, int64_t in, int64_t out, int64_t o0, const Acts& acts,
                     const int64_t (&xrow)[T], float* const (&y)[T], int64_t y_stride, uint8_t* smem,
                     const Iq2Smem* tabs) {
    constexpr int CE = Chunk<WT>::elems, CB = Chunk<WT>::bytes;
    constexpr int kPieces16 = kRows * CB / 16;                         // 16-byte pieces per chunk of the tile
    constexpr int kPerThread = (kPieces16 + kThreads - 1) / kThreads;
    const int64_t row_bytes = in / Chunk<WT>::be * Chunk<WT>::bb;
    const int64_t n_chunks = (in + CE - 1) / CE;
    const int group = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;

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

    float acc[T];
#pragma unroll
    for (int t = 0; t < T; ++t) acc[t] = 0.0f;
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
        if (o0 + group < out) {
            for (int u = lane; u < units; u += kLanes) {
                const int64_t k = k0 + int64_t(kUnit) * u;
                if constexpr (kQuantized<WT>) {
                    const QUnit q = decode_unit<WT>(s, u, tabs);
#pragma unroll
                    for (int t = 0; t < T; ++t)
                        if (xrow[t] >= 0) acc[t] = unit_dot<WT, Q>(q, acts, xrow[t], k, acc[t]);
                } else {
                    const int cnt = in - k < kUnit ? static_cast<int>(in - k) : kUnit;
                    float wv[kUnit];
                    decode_float_unit<WT>(s, u, cnt, wv);
#pragma unroll
                    for (int t = 0; t < T; ++t) {
                        if (xrow[t] < 0) continue;
                        float x[kUnit];
                        load_f32_acts(acts, xrow[t], k, cnt, x);
                        float sum = 0.0f;
#pragma unroll
                        for (int i = 0; i < kUnit; ++i) sum = fmaf(wv[i], x[i], sum);
                        acc[t] += sum;
                    }
                }
            }
        }
    }
#pragma unroll
    for (int t = 0; t < T; ++t) {
        float v = acc[t];
#pragma unroll
        for (int m = kLanes / 2; m > 0; m /= 2) v += gpu_shfl_xor32(v, m);
        if (lane == 0 && o0 + group < out && y[t]) y[t][(o0 + group) * y_stride] = v;
    }
    __syncthreads();  // the next tile of this block reuses the buffers
}

// Bytes of dynamic shared memory `tile` needs (plus the IQ2 tables for IQ2_XXS); at most the
// 48 KiB every device grants without opting in.
template <int WT>
constexpr int smem_bytes() {
    return kStages * kRows * Chunk<WT>::bytes + (WT == DS4_TYPE_IQ2_XXS ? int(sizeof(Iq2Smem)) : 0);
}
static_assert(kStages * kRows * Chunk<DS4_TYPE_F32>::bytes <= 48 * 1024, "tile buffers above 48 KiB");
static_assert(kStages * kRows * Chunk<DS4_TYPE_IQ2_XXS>::bytes + sizeof(Iq2Smem) <= 48 * 1024, "tile buffers above 48 KiB");

}  // namespace ds4::gpu::mv
