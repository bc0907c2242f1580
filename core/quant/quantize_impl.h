// Private: per-format weight quantizers behind quantize_row (quantize.cpp dispatches).
// Each encodes `nb` whole blocks; `imp` is the optional per-element importance (or null).
#pragma once

#include <cstdint>

namespace ds4::quant::detail {

void quantize_blocks_q8_0(const float* x, uint8_t* dst, int64_t nb);
void quantize_blocks_q2_k(const float* x, uint8_t* dst, int64_t nb, const float* imp);
void quantize_blocks_q4_k(const float* x, uint8_t* dst, int64_t nb, const float* imp);
void quantize_blocks_iq2_xxs(const float* x, uint8_t* dst, int64_t nb, const float* imp);

}  // namespace ds4::quant::detail
