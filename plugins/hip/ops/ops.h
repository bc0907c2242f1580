// Declarations of every op of the GPU plugin: check_<op> in ops/checks.cpp (host), run_<op>
// in ops/<family>.cu (launchers).
#pragma once
#include "../kernel.h"

namespace ds4::gpu {

#define DS4_GPU_DECLARE_OP(name)                     \
    KernelStatus check_##name(const ds4_node& node); \
    KernelStatus run_##name(const ds4_node& node, KernelContext& ctx);

DS4_GPU_DECLARE_OP(copy)
DS4_GPU_DECLARE_OP(get_rows)
DS4_GPU_DECLARE_OP(set_rows)
DS4_GPU_DECLARE_OP(matmul)
DS4_GPU_DECLARE_OP(matmul_id)
DS4_GPU_DECLARE_OP(matmul_f32)
DS4_GPU_DECLARE_OP(add)
DS4_GPU_DECLARE_OP(mul)
DS4_GPU_DECLARE_OP(div)
DS4_GPU_DECLARE_OP(scale)
DS4_GPU_DECLARE_OP(unary)
DS4_GPU_DECLARE_OP(clamp)
DS4_GPU_DECLARE_OP(rms_norm)
DS4_GPU_DECLARE_OP(sum_rows)
DS4_GPU_DECLARE_OP(softmax)
DS4_GPU_DECLARE_OP(topk)
DS4_GPU_DECLARE_OP(gather_cols)
DS4_GPU_DECLARE_OP(rope_tail)
DS4_GPU_DECLARE_OP(quant_sim)
// Tier-1: checks in checks_tier1_hc_moe.cpp, launchers in hc.cu / moe.cu.
DS4_GPU_DECLARE_OP(hc_pre)
DS4_GPU_DECLARE_OP(hc_post)
DS4_GPU_DECLARE_OP(hc_head)
DS4_GPU_DECLARE_OP(moe_router)
DS4_GPU_DECLARE_OP(moe_ffn)
// Tier-1: checks in checks_tier1_attention.cpp, launchers in compressor.cu / indexer.cu /
// attention.cu.
DS4_GPU_DECLARE_OP(compressor)
DS4_GPU_DECLARE_OP(indexer_topk)
DS4_GPU_DECLARE_OP(attention)

#undef DS4_GPU_DECLARE_OP

// Plan scratch of one HC_PRE / HC_HEAD / MOE_ROUTER / MOE_FFN node (checks_tier1_hc_moe.cpp).
uint64_t tier1_hc_moe_scratch_bytes(const ds4_node& node);
// Plan scratch of one COMPRESSOR / INDEXER_TOPK / ATTENTION node (checks_tier1_attention.cpp).
uint64_t tier1_attention_scratch_bytes(const ds4_node& node);

// Plan scratch of one MATMUL / MATMUL_ID node (matmul.cu).
uint64_t matmul_scratch_bytes(const ds4_node& node);

}  // namespace ds4::gpu
