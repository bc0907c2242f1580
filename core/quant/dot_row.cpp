// Generic matvec row dot: which activation format each weight type consumes (ds4's rules,
// MODEL.md §C.0: Q8_0 weights meet Q8_0-style activations, routed-expert K-quants and
// IQ2_XXS meet Q8_K, float weights meet f32), and the dispatch to the typed kernels.
#include <cstring>

#include "quant/quant.h"

namespace ds4::quant {

ActFormat act_format_for(ds4_type wtype, ActQuant mode) {
    if (mode == ActQuant::None) return ActFormat::F32;
    switch (wtype) {
    case DS4_TYPE_Q8_0: return ActFormat::Q8_0Act;
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS: return ActFormat::Q8_K;
    default: return ActFormat::F32;
    }
}

int64_t act_row_bytes(ActFormat fmt, int64_t n) {
    if (n < 0) return -1;
    switch (fmt) {
    case ActFormat::F32: return n * 4;
    case ActFormat::Q8_0Act: return n % kQK8_0 ? -1 : n / kQK8_0 * int64_t(sizeof(block_q8_0_act));
    case ActFormat::Q8_K: return n % kQK_K ? -1 : n / kQK_K * int64_t(sizeof(block_q8_k));
    }
    return -1;
}

bool quantize_act(ActFormat fmt, const float* x, void* dst, int64_t n) {
    switch (fmt) {
    case ActFormat::F32:
        if (n < 0) return false;
        std::memcpy(dst, x, size_t(n) * 4);
        return true;
    case ActFormat::Q8_0Act: return quantize_act_q8_0(x, dst, n);
    case ActFormat::Q8_K: return quantize_act_q8_k(x, dst, n);
    }
    return false;
}

const char* act_format_name(ActFormat fmt) {
    switch (fmt) {
    case ActFormat::F32: return "f32";
    case ActFormat::Q8_0Act: return "q8_0act";
    case ActFormat::Q8_K: return "q8_k";
    }
    return "?";
}

float dot_row(ds4_type wtype, const void* w_row, const void* x, int64_t n, ActQuant mode) {
    switch (act_format_for(wtype, mode)) {
    case ActFormat::Q8_0Act: return dot_q8_0_q8_0act(w_row, x, n);
    case ActFormat::Q8_K:
        switch (wtype) {
        case DS4_TYPE_Q2_K: return dot_q2_k_q8_k(w_row, x, n);
        case DS4_TYPE_Q4_K: return dot_q4_k_q8_k(w_row, x, n);
        case DS4_TYPE_IQ2_XXS: return dot_iq2_xxs_q8_k(w_row, x, n);
        default: return 0.0f;
        }
    case ActFormat::F32: break;
    }
    return dot_dequant_f32(wtype, w_row, static_cast<const float*>(x), n);
}

}  // namespace ds4::quant
