// Maps op ids to the check_/run_ pairs of ops.h. Only ops whose implementation is built are
// registered; the registered set is exactly what the plugin claims.
#pragma once
#include <cstdint>

#include "../kernel.h"

namespace ds4::cpuref {

using CheckFn = KernelStatus (*)(const ds4_node&);
using RunFn = KernelStatus (*)(const ds4_node&, KernelContext&);

struct OpEntry {
    uint32_t op;
    const char* name;  // lower-case, as in ops.def ("matmul")
    CheckFn check;
    RunFn run;
};

// The entry for an op id, or nullptr when cpu-ref does not implement it.
const OpEntry* find_op(uint32_t op);
// The claimed op ids (static array, ascending).
const uint32_t* claimed_ops(uint32_t* count);
// Lower-case name of any op id of ops.def ("op#<id>" style fallback "unknown").
const char* op_name(uint32_t op);

}  // namespace ds4::cpuref
