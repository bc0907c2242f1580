// Independent double-precision references for MATMUL / MATMUL_ID (tests only).
//
//   DS4_ACT_F32:  y = Σ w·x with w from ds4::quant::dequantize_row, all in double.
//   DS4_ACT_DS4:  x is first quantized with ds4::quant exactly as the backend must
//                 (Q8_0-act for Q8_0 weights, Q8_K for Q2_K/Q4_K/IQ2_XXS, f32 for float
//                 weights). Q8_0: exact integer block dots Σ_b d_w·d_x·Σ q_w·q_x; K-quants:
//                 Σ w·(d_x·q_x) in double.
//   mag = Σ|terms|, which bounds the rounding error of any summation order.
//
// Tolerance (MatmulTolerance): |y − ref| <= (8 + 2·sqrt(IN))·2^-24·mag. A float summation of
// n terms errs by at most ~n·eps·mag and typically by ~sqrt(n)·eps·mag; the backends
// accumulate in a few lanes or trees, which stays well inside this bound, while a wrong
// element, block or scale is orders of magnitude larger.
#pragma once
#include <cmath>
#include <vector>

#include "conformance.h"

namespace ds4::conformance {

struct DotRef {
    std::vector<double> value;  // [rows_x][OUT]
    std::vector<double> mag;
};

// W: an Input [OUT][IN] (or one expert slice given by `w_offset_rows`), x: n rows of IN.
DotRef matmul_reference(const Input& w, int64_t w_first_row, int64_t out, const std::vector<float>& x, int64_t n_x,
                        uint32_t act_quant);

inline double matmul_tolerance(int64_t in) { return (8.0 + 2.0 * std::sqrt(static_cast<double>(in))) * 5.96e-8; }

}  // namespace ds4::conformance
