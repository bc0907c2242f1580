// Host-side layout shared by the checks (checks_tier1_hc_moe.cpp) and the launchers (hc.cu,
// moe.cu) of HC_PRE, HC_POST, HC_HEAD, MOE_ROUTER and MOE_FFN: the plan scratch each node
// needs and how it is split, and the per-block geometry of the term-parallel row dots.
#pragma once
#include <cstdint>

#include "../kernel.h"

namespace ds4::gpu {

#if defined(__CUDACC__) || defined(__HIPCC__)
#define DS4_HD __host__ __device__
#else
#define DS4_HD
#endif

// ---- activation formats of the quantized row dots (ds4::quant::act_format_for) -------------

enum ActFmt : int { kFmtF32 = 0, kFmtQ8_0 = 1, kFmtQ8_K = 2 };

inline constexpr int kFloatTerms = 32;    // interleaved slices per row dot with f32 activations
inline constexpr int kQ8_0ActBytes = 36;  // f32 d, int8 qs[32]
inline constexpr int kQ8KBytes = 292;     // f32 d, int8 qs[256], int16 bsums[16]

DS4_HD inline int act_fmt_for(uint32_t wtype, uint32_t act_quant) {
    if (act_quant != DS4_ACT_DS4) return kFmtF32;
    switch (wtype) {
    case DS4_TYPE_Q8_0: return kFmtQ8_0;
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS: return kFmtQ8_K;
    default: return kFmtF32;
    }
}
DS4_HD inline int64_t act_block_elems(int fmt) { return fmt == kFmtQ8_0 ? 32 : (fmt == kFmtQ8_K ? 256 : 1); }
DS4_HD inline int64_t act_block_bytes(int fmt) { return fmt == kFmtQ8_0 ? kQ8_0ActBytes : (fmt == kFmtQ8_K ? kQ8KBytes : 4); }
DS4_HD inline int64_t act_row_bytes(int fmt, int64_t n) { return n / act_block_elems(fmt) * act_block_bytes(fmt); }
// Terms per row dot of n elements: activation blocks, or kFloatTerms slices.
DS4_HD inline int64_t row_terms(int fmt, int64_t n) {
    if (fmt == kFmtF32) return n < kFloatTerms ? n : kFloatTerms;
    return n / act_block_elems(fmt);
}

// ---- plan scratch ---------------------------------------------------------------------------

inline constexpr uint64_t kScratchAlign = 256;
inline uint64_t scratch_align(uint64_t b) { return (b + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

// Threads of the term-parallel dot kernels, and the largest shared term array one block may
// hold (rows·terms floats): shapes beyond it are refused by the checks (core decomposes).
inline constexpr int kDotBlock = 256;
inline constexpr int64_t kMaxTerms = 4096;

// Rows per block when `groups` row sets (gate and up: 2; the k down projections: k) of T
// terms each share a block: about one term per thread, at least one row.
inline int64_t rows_per_block(int64_t T, int64_t groups, int64_t total_rows) {
    int64_t r = kDotBlock / (T * groups);
    if (r < 1) r = 1;
    return r > total_rows ? total_rows : r;
}

// HC_PRE / HC_HEAD: the mixing vectors [n][n_mix], then the scaled states x·r [n][n_hc·d].
struct HcScratch {
    uint64_t mix = 0, xr = 0, total = 0;
};
HcScratch hc_scratch(const ds4_node& node);

// MOE_ROUTER: z staged for the logit matvec (rowdot.h), then the scores p [n][E].
struct RouterScratch {
    uint64_t z = 0, p = 0, total = 0;
};
RouterScratch router_scratch(const ds4_node& node);

// MOE_FFN: z in the gate/up activation format [n], the weighted mid vectors h [n·k][F] (f32),
// and h in the down activation format [n·k] (empty when that format is f32).
struct MoeScratch {
    int fmt_gu = 0, fmt_down = 0;
    uint64_t zq = 0, h = 0, hq = 0, total = 0;
};
MoeScratch moe_scratch(const ds4_node& node);

// Plan scratch bytes of a node of these five ops (0 for any other op).
uint64_t tier1_hc_moe_scratch_bytes(const ds4_node& node);

}  // namespace ds4::gpu
