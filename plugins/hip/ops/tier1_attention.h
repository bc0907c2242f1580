// Host-side pieces shared by the attention-side Tier-1 ops of the GPU plugin (COMPRESSOR,
// INDEXER_TOPK, ATTENTION): their plan-scratch needs and the GPU limits their checks enforce.
#pragma once
#include <cstdint>

#include "../kernel.h"

namespace ds4::gpu {

// Limits of these kernels (checks refuse larger nodes with UNSUPPORTED; core then lowers
// them to Tier-0 ops).
inline constexpr int64_t kCompMaxHeadDim = 1024;     // COMPRESSOR: one pooled row in shared memory
inline constexpr int64_t kIdxMaxHeadDim = 128;       // INDEXER_TOPK: a query head in registers
inline constexpr int64_t kIdxMaxHeads = 128;         // INDEXER_TOPK: per-row head terms in shared memory
inline constexpr int64_t kAttnMaxHeadDim = 1024;     // ATTENTION: output columns per thread
inline constexpr int64_t kAttnMaxSelected = 4096;    // ATTENTION: `selected` sorted in shared memory
inline constexpr int64_t kMaxTokens = 65535;         // tokens ride on gridDim.y

uint64_t compressor_scratch_bytes(const ds4_node& node);
uint64_t indexer_topk_scratch_bytes(const ds4_node& node);
uint64_t attention_scratch_bytes(const ds4_node& node);

}  // namespace ds4::gpu
