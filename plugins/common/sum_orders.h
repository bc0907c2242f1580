// Summation orders shared by every plugin (header-only, not part of the ABI). cpu-ref defines
// the arithmetic of each op and a GPU backend reproduces it bit for bit (docs/numerics.md,
// "Orders chosen so that a GPU computes the same bits"); a long sum that a purely sequential
// order would leave to one GPU thread is cut into fixed segments instead: each segment is
// summed sequentially from 0, then the segment sums are added in segment order from 0. The
// segment lengths below are part of the numerics; changing one changes bits on every backend.
#pragma once
#include <cstdint>

namespace ds4::sum_orders {

// Σx² of every RMS scale (RMS_NORM, HC_PRE/HC_HEAD, COMPRESSOR): double, 32 interleaved lanes
// (element i → lane i mod 32) in segments of this many elements; per lane the segment partials
// are added in segment order, then the lanes are combined by the butterfly 16, 8, 4, 2, 1.
constexpr int64_t kRmsSegmentElements = 1024;

// ATTENTION: Σ_j e_j and Σ_j e_j·v_j over a token's rows, rows in segments of this many.
constexpr int64_t kAttentionSegmentRows = 64;

// HC_PRE / HC_HEAD mixing dot over the n_hc·d state: 32 interleaved lanes (column c → lane
// c mod 32) in segments of this many columns; per lane the segment partials are added in
// segment order, then the lanes are combined by the butterfly 16, 8, 4, 2, 1.
constexpr int64_t kHcMixSegmentColumns = 1024;

}  // namespace ds4::sum_orders
