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

#undef DS4_GPU_DECLARE_OP

}  // namespace ds4::gpu
