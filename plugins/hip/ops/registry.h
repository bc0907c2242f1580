// Op table of the GPU plugin: op id → (name, host-side check, launcher).
#pragma once
#include <cstdint>

#include "../kernel.h"

namespace ds4::gpu {

struct OpEntry {
    uint32_t op;
    const char* name;
    KernelStatus (*check)(const ds4_node& node);
    KernelStatus (*run)(const ds4_node& node, KernelContext& ctx);
};

const OpEntry* find_op(uint32_t op);
const uint32_t* claimed_ops(uint32_t* count);
const char* op_name(uint32_t op);

}  // namespace ds4::gpu
