// Internal to core/model's synthetic writer: the fast generator of routed-expert tensors
// (SyntheticSpec::fast_experts, docs/convert.md "Fast experts").
//
// Instead of drawing floats and running the quantizers (IQ2_XXS ≈ 1.5 µs per weight: hours
// for a full-width model), block types get random payloads: every quant bit random, the f16
// scale fields set so the dequantized weights have the requested standard deviation and mean
// ≈ 0. Float types draw uniform floats with that deviation. The tensor is cut into fixed
// units of rows, each generated from its own seed (tensor seed, unit index), in parallel:
// the bytes depend on the seed only, never on the thread count.
#pragma once
#include <cstdint>
#include <functional>

#include "ds4/types.h"
#include "gguf/gguf.h"

namespace ds4::model::detail {

// True for the types stream_fast_tensor can write (F32, F16, BF16, Q8_0, Q2_K, Q4_K, IQ2_XXS).
bool fast_tensor_type(ds4_type type);

// Writes rows × row_len elements of `type` with standard deviation `sigma` into `sink`.
// threads = 0: all hardware threads. on_bytes(n) after each batch written (for progress).
void stream_fast_tensor(gguf::ByteSink& sink, ds4_type type, int64_t row_len, int64_t rows, float sigma,
                        uint64_t seed, unsigned threads, const std::function<void(uint64_t)>& on_bytes);

}  // namespace ds4::model::detail
