// RoPE helpers of cpu-ref, shared by ROPE_TAIL and the Tier-1 ops that rotate rows
// (compressor, indexer). MODEL.md §C.3.3; the formulas are in backend.h (ds4_rope_params).
#pragma once
#include <cstdint>

#include "ds4/backend.h"

namespace ds4::cpuref {

// f_k for k = 0 .. n_rot/2-1 into freq[]. Numerical choice: base^(-2k/n_rot), the YaRN
// correction range and the ramp are computed in double and the final f_k is rounded once to
// float, so f_k is the correctly rounded value of the documented formula (ds4's CPU path
// iterates multiplications; the official code builds f_k in float32). Returns false when
// n_rot is 0 or odd, or the base is not > 1.
bool rope_frequencies(const ds4_rope_params& p, float* freq);

// Rotates the interleaved pairs (t[2k], t[2k+1]) of an n_rot-wide tail in place:
// θ_k = float(pos)·f_k in float, cos/sin in float; inverse rotates by −θ_k.
void rope_rotate(float* tail, uint32_t n_rot, int32_t pos, const float* freq, bool inverse);

}  // namespace ds4::cpuref
