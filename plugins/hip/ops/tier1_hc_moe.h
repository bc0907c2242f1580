// Host-side layout shared by the checks (checks_tier1_hc_moe.cpp) and the launchers (hc.cu,
// moe.cu) of HC_PRE, HC_POST, HC_HEAD, MOE_ROUTER and MOE_FFN: the plan scratch each node
// needs and how it is split.
#pragma once
#include <cstdint>

#include "../kernel.h"

namespace ds4::gpu {

// ---- plan scratch ---------------------------------------------------------------------------

inline constexpr uint64_t kScratchAlign = 256;
inline uint64_t scratch_align(uint64_t b) { return (b + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

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

// MOE_FFN: the expert matmuls' staging (largest of the three), gate rows G (then the weighted
// mid vectors h, in place) and up rows U [n·k][F], down rows Y [n·k][d].
struct MoeScratch {
    uint64_t mm = 0, g = 0, u = 0, y = 0, total = 0;
};
MoeScratch moe_scratch(const ds4_node& node);

// Plan scratch bytes of a node of these five ops (0 for any other op).
uint64_t tier1_hc_moe_scratch_bytes(const ds4_node& node);

}  // namespace ds4::gpu
