// Declarations of every op implementation of cpu-ref (see kernel.h for the contract).
// Tier-0 ops live in copy/matmul/elementwise/norm/reduce/rope/quant_sim.cpp; Tier-1 ops in
// hc/compressor/indexer/attention/moe.cpp (registered only when their file is built, see
// CMakeLists.txt: DS4_CPUREF_HAS_<FILE>).
#pragma once
#include "../kernel.h"

namespace ds4::cpuref {

#define DS4_CPUREF_DECLARE_OP(name)                   \
    KernelStatus check_##name(const ds4_node& node); \
    KernelStatus run_##name(const ds4_node& node, KernelContext& ctx);

// Tier 0
DS4_CPUREF_DECLARE_OP(copy)
DS4_CPUREF_DECLARE_OP(get_rows)
DS4_CPUREF_DECLARE_OP(set_rows)
DS4_CPUREF_DECLARE_OP(matmul)
DS4_CPUREF_DECLARE_OP(matmul_id)
DS4_CPUREF_DECLARE_OP(matmul_f32)
DS4_CPUREF_DECLARE_OP(add)
DS4_CPUREF_DECLARE_OP(mul)
DS4_CPUREF_DECLARE_OP(div)
DS4_CPUREF_DECLARE_OP(scale)
DS4_CPUREF_DECLARE_OP(unary)
DS4_CPUREF_DECLARE_OP(clamp)
DS4_CPUREF_DECLARE_OP(rms_norm)
DS4_CPUREF_DECLARE_OP(sum_rows)
DS4_CPUREF_DECLARE_OP(softmax)
DS4_CPUREF_DECLARE_OP(topk)
DS4_CPUREF_DECLARE_OP(gather_cols)
DS4_CPUREF_DECLARE_OP(rope_tail)
DS4_CPUREF_DECLARE_OP(quant_sim)

// Tier 1 (hc.cpp, compressor.cpp, indexer.cpp, attention.cpp, moe.cpp)
DS4_CPUREF_DECLARE_OP(hc_pre)
DS4_CPUREF_DECLARE_OP(hc_post)
DS4_CPUREF_DECLARE_OP(hc_head)
DS4_CPUREF_DECLARE_OP(compressor)
DS4_CPUREF_DECLARE_OP(indexer_topk)
DS4_CPUREF_DECLARE_OP(attention)
DS4_CPUREF_DECLARE_OP(moe_router)
DS4_CPUREF_DECLARE_OP(moe_ffn)

#undef DS4_CPUREF_DECLARE_OP

}  // namespace ds4::cpuref
