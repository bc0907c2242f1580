// ds4's activation quantizers (MODEL.md §E.5, §E.6). Bit-exact rules:
//  * the scale is kept in f32 (never f16-rounded),
//  * Q8_0 activations multiply by the f32 reciprocal id = 1/d (not a division by d: the two
//    differ in the last bit for some inputs, and ds4 multiplies),
//  * rounding is round-half-even (ds4: lrintf under the default rounding mode).
#include <cmath>

#include "internal.h"
#include "quant/quant.h"

namespace ds4::quant {
using namespace detail;

int32_t round_half_even(float x) {
    if (!(x == x)) return 0;  // NaN: no meaningful code; callers clamp anyway
    if (x >= 2147483520.0f) return INT32_MAX;  // largest float below 2^31
    if (x <= -2147483648.0f) return INT32_MIN;
    // floor and the difference are exact for every float, in any rounding mode.
    const float f = std::floor(x);
    const float diff = x - f;
    int32_t r = int32_t(f);
    if (diff > 0.5f || (diff == 0.5f && (r & 1))) ++r;
    return r;
}

namespace {
int8_t clamp_i8(int32_t v) { return int8_t(v < -128 ? -128 : (v > 127 ? 127 : v)); }
}  // namespace

bool quantize_act_q8_0(const float* x, void* dst_v, int64_t n) {
    if (n < 0 || n % kQK8_0 != 0) return false;
    auto* dst = static_cast<uint8_t*>(dst_v);
    for (int64_t b = 0; b < n / kQK8_0; ++b, x += kQK8_0, dst += sizeof(block_q8_0_act)) {
        float amax = 0.0f;
        for (int i = 0; i < kQK8_0; ++i) amax = std::fabs(x[i]) > amax ? std::fabs(x[i]) : amax;
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_f32(dst, d);
        int8_t* q = reinterpret_cast<int8_t*>(dst + 4);
        for (int i = 0; i < kQK8_0; ++i) q[i] = clamp_i8(round_half_even(x[i] * id));
    }
    return true;
}

bool quantize_act_q8_k(const float* x, void* dst_v, int64_t n) {
    if (n < 0 || n % kQK_K != 0) return false;
    auto* dst = static_cast<uint8_t*>(dst_v);
    for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K, dst += sizeof(block_q8_k)) {
        // v = the signed element of largest magnitude, the first one on ties.
        float amax = 0.0f, v = 0.0f;
        for (int i = 0; i < kQK_K; ++i) {
            const float ax = std::fabs(x[i]);
            if (ax > amax) {
                amax = ax;
                v = x[i];
            }
        }
        int8_t* q = reinterpret_cast<int8_t*>(dst + q8k::kQs);
        if (amax == 0.0f) {
            std::memset(dst, 0, sizeof(block_q8_k));
            continue;
        }
        const float iscale = -127.0f / v;
        for (int i = 0; i < kQK_K; ++i) q[i] = clamp_i8(round_half_even(iscale * x[i]));
        for (int k = 0; k < kQK_K / 16; ++k) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += q[16 * k + i];
            store_i16(dst + q8k::kBsums + 2 * k, int16_t(sum));
        }
        store_f32(dst + q8k::kD, 1.0f / iscale);
    }
    return true;
}

}  // namespace ds4::quant
