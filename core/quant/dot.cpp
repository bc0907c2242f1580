// Row dot products of one weight row with one activation row (MODEL.md §C.0, §E.5, §E.6).
// Quantized dots: integer inner sums per (sub-)block, then the float combination in the
// order ds4's scalar kernels use, so results are bit-reproducible across runs and builds.
// Float dots: 8 lane accumulators (element i → lane i % 8) reduced in a fixed tree.
// The typed kernels live in dot_portable.cpp / dot_avx2.cpp (bit-identical sets); this file
// picks one set per process and keeps the f32 and dequantize-then-dot paths.
#include <cstdlib>
#include <cstring>

#include "internal.h"
#include "quant/quant.h"

namespace ds4::quant {
namespace detail {

const DotKernels& active_dots() {
    static const DotKernels& chosen = []() -> const DotKernels& {
        const char* env = std::getenv("DS4_QUANT_DOTS");
        if (env && std::strcmp(env, "portable") == 0) return portable_dots();
        if (const DotKernels* k = avx2_dots()) return *k;
        return portable_dots();
    }();
    return chosen;
}

}  // namespace detail

using namespace detail;

float dot_q8_0_q8_0act(const void* w_row, const void* x_act, int64_t n) { return active_dots().q8_0(w_row, x_act, n); }
float dot_q2_k_q8_k(const void* w_row, const void* x_q8k, int64_t n) { return active_dots().q2_k(w_row, x_q8k, n); }
float dot_q4_k_q8_k(const void* w_row, const void* x_q8k, int64_t n) { return active_dots().q4_k(w_row, x_q8k, n); }
float dot_iq2_xxs_q8_k(const void* w_row, const void* x_q8k, int64_t n) {
    return active_dots().iq2_xxs(w_row, x_q8k, n);
}

float dot_f32_f32(const float* w, const float* x, int64_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) lanes[k] += w[i + k] * x[i + k];
    for (int k = 0; i < n; ++i, ++k) lanes[k] += w[i] * x[i];
    return reduce_lanes8(lanes);
}

float dot_f16_f32(const void* w_f16, const float* x, int64_t n) { return active_dots().f16(w_f16, x, n); }
float dot_bf16_f32(const void* w_bf16, const float* x, int64_t n) { return active_dots().bf16(w_bf16, x, n); }

float dot_dequant_f32(ds4_type wtype, const void* w_row, const float* x, int64_t n) {
    switch (wtype) {
    case DS4_TYPE_F32: return dot_f32_f32(static_cast<const float*>(w_row), x, n);
    case DS4_TYPE_F16: return dot_f16_f32(w_row, x, n);
    case DS4_TYPE_BF16: return dot_bf16_f32(w_row, x, n);
    default: break;
    }
    if (!can_dequantize(wtype) || ds4_type_row_bytes(wtype, n) < 0) return 0.0f;
    const DotKernels& k = active_dots();
    switch (wtype) {
    case DS4_TYPE_Q8_0: return k.q8_0_f32(w_row, x, n);
    case DS4_TYPE_Q2_K: return k.q2_k_f32(w_row, x, n);
    case DS4_TYPE_Q4_K: return k.q4_k_f32(w_row, x, n);
    case DS4_TYPE_IQ2_XXS: return k.iq2_xxs_f32(w_row, x, n);
    default: break;
    }
    // Decode one block (≤ 256 elements, a multiple of 8) at a time and keep accumulating
    // into the same lanes, so the order equals dot_f32_f32 on the dequantized row.
    const int64_t be = ds4_type_block_elems(wtype), bb = ds4_type_block_bytes(wtype);
    const auto* w = static_cast<const uint8_t*>(w_row);
    float buf[kQK_K];
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < n / be; ++b) {
        dequantize_row(wtype, w + b * bb, buf, be);
        const float* xb = x + b * be;
        for (int64_t i = 0; i < be; i += 8)
            for (int k = 0; k < 8; ++k) lanes[k] += buf[i + k] * xb[i + k];
    }
    return reduce_lanes8(lanes);
}

}  // namespace ds4::quant
