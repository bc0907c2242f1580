// Q4_K and Q2_K weight quantizers.
//
// Both formats store, per sub-block, x ≈ d·sc·q − dmin·m with small unsigned codes q and
// quantized (sc, m). The search, per sub-block:
//   1. candidate inverse scales (nmax + δ)/(xmax − xmin), δ ∈ [−1, 1] in steps of 0.1,
//      with xmin clipped to ≤ 0 (the format's min term only subtracts);
//   2. for each, round q, then refit (scale, offset) by weighted least squares (offset
//      forced to ≤ 0, refitting the scale alone when it would be positive);
//   3. keep the candidate with the smallest weighted squared error.
// Then the super-block: d = max scale / (2^bits − 1) and dmin = max min / (2^bits − 1)
// as f16, sub-block scales and mins rounded to bits (6 for Q4_K, 4 for Q2_K), and every
// code re-rounded against the scales actually stored.
#include <cmath>

#include "internal.h"
#include "quant/quant.h"
#include "quantize_impl.h"

namespace ds4::quant::detail {
namespace {

struct ScaleMin {
    float scale;  // ≥ 0
    float min;    // ≥ 0; reconstruction = scale·q − min
};

int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

float weighted_error(const float* x, const float* w, int n, int nmax, float scale, float min) {
    const float iscale = scale > 0.0f ? 1.0f / scale : 0.0f;
    float err = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int q = clamp_int(round_half_even((x[i] + min) * iscale), 0, nmax);
        const float e = scale * float(q) - min - x[i];
        err += w[i] * e * e;
    }
    return err;
}

ScaleMin fit_scale_min(const float* x, const float* w, int n, int nmax) {
    float xmin = x[0], xmax = x[0];
    for (int i = 1; i < n; ++i) {
        xmin = x[i] < xmin ? x[i] : xmin;
        xmax = x[i] > xmax ? x[i] : xmax;
    }
    if (xmin > 0.0f) xmin = 0.0f;
    if (xmax <= xmin) return {0.0f, -xmin};

    ScaleMin best{(xmax - xmin) / float(nmax), -xmin};
    float best_err = weighted_error(x, w, n, nmax, best.scale, best.min);
    int q[32];
    for (int step = -10; step <= 10; ++step) {
        const float iscale = (float(nmax) + 0.1f * float(step)) / (xmax - xmin);
        float sw = 0, swq = 0, swqq = 0, swx = 0, swqx = 0;
        for (int i = 0; i < n; ++i) {
            q[i] = clamp_int(round_half_even(iscale * (x[i] - xmin)), 0, nmax);
            sw += w[i];
            swq += w[i] * float(q[i]);
            swqq += w[i] * float(q[i]) * float(q[i]);
            swx += w[i] * x[i];
            swqx += w[i] * float(q[i]) * x[i];
        }
        // Weighted least squares for x ≈ a·q + b.
        const float det = sw * swqq - swq * swq;
        if (!(det > 0.0f)) continue;
        float a = (sw * swqx - swq * swx) / det;
        float b = (swqq * swx - swq * swqx) / det;
        if (b > 0.0f) {  // the format cannot add an offset: fit the scale alone
            b = 0.0f;
            a = swqq > 0.0f ? swqx / swqq : 0.0f;
        }
        if (!(a > 0.0f)) continue;
        float err = 0.0f;
        for (int i = 0; i < n; ++i) {
            const float e = a * float(q[i]) + b - x[i];
            err += w[i] * e * e;
        }
        if (err < best_err) {
            best_err = err;
            best = {a, -b};
        }
    }
    return best;
}

// Super-block scale for values v[0..count) coded on `levels` steps: f16 d = max/levels,
// codes = round(v/d) clamped to [0, levels].
uint16_t quantize_sub_scales(const float* v, int count, int levels, int* codes) {
    float vmax = 0.0f;
    for (int i = 0; i < count; ++i) vmax = v[i] > vmax ? v[i] : vmax;
    uint16_t dh = f32_to_f16(vmax / float(levels));
    if ((dh & 0x7fffu) >= 0x7c00u) dh = 0x7bffu;
    const float d = f16_to_f32(dh);
    for (int i = 0; i < count; ++i) codes[i] = d > 0.0f ? clamp_int(round_half_even(v[i] / d), 0, levels) : 0;
    return dh;
}

// Codes of one sub-block against its stored scale/min.
void requantize(const float* x, int n, int nmax, float dl, float ml, int* q) {
    for (int i = 0; i < n; ++i) q[i] = dl > 0.0f ? clamp_int(round_half_even((x[i] + ml) / dl), 0, nmax) : 0;
}

const float* weights_or_ones(const float* imp, const float* ones) { return imp ? imp : ones; }

// The part Q4_K and Q2_K share: a (scale, min) fit per sub-block of `sub_len` values with
// quants in 0..qmax, then both lists quantized to sub-scales in 0..scale_max under one f16
// super-scale each (dh, mh).
void fit_sub_blocks(const float* x, const float* w, int n_sub, int sub_len, int qmax, int scale_max, int* sc, int* m,
                    uint16_t* dh, uint16_t* mh) {
    float scales[16], mins[16];
    for (int j = 0; j < n_sub; ++j) {
        const ScaleMin fit = fit_scale_min(x + sub_len * j, w + sub_len * j, sub_len, qmax);
        scales[j] = fit.scale;
        mins[j] = fit.min;
    }
    *dh = quantize_sub_scales(scales, n_sub, scale_max, sc);
    *mh = quantize_sub_scales(mins, n_sub, scale_max, m);
}

}  // namespace

void quantize_blocks_q4_k(const float* x, uint8_t* dst, int64_t nb, const float* imp) {
    float ones[256];
    for (float& o : ones) o = 1.0f;
    for (int64_t b = 0; b < nb; ++b, x += 256, dst += 144, imp = imp ? imp + 256 : nullptr) {
        const float* w = weights_or_ones(imp, ones);
        int sc[8], m[8];
        uint16_t dh, mh;
        fit_sub_blocks(x, w, 8, 32, 15, 63, sc, m, &dh, &mh);
        store_u16(dst + q4k::kD, dh);
        store_u16(dst + q4k::kDmin, mh);
        uint8_t* packed = dst + q4k::kScales;
        for (int k = 0; k < 4; ++k) {
            packed[k] = uint8_t(sc[k] | ((sc[k + 4] >> 4) << 6));
            packed[k + 4] = uint8_t(m[k] | ((m[k + 4] >> 4) << 6));
            packed[k + 8] = uint8_t((sc[k + 4] & 15) | ((m[k + 4] & 15) << 4));
        }
        const float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
        int q[256];
        for (int j = 0; j < 8; ++j) requantize(x + 32 * j, 32, 15, d * float(sc[j]), dmin * float(m[j]), q + 32 * j);
        uint8_t* qs = dst + q4k::kQs;
        for (int p = 0; p < 4; ++p)
            for (int l = 0; l < 32; ++l) qs[32 * p + l] = uint8_t(q[64 * p + l] | (q[64 * p + 32 + l] << 4));
    }
}

void quantize_blocks_q2_k(const float* x, uint8_t* dst, int64_t nb, const float* imp) {
    float ones[256];
    for (float& o : ones) o = 1.0f;
    for (int64_t b = 0; b < nb; ++b, x += 256, dst += 84, imp = imp ? imp + 256 : nullptr) {
        const float* w = weights_or_ones(imp, ones);
        int sc[16], m[16];
        uint16_t dh, mh;
        fit_sub_blocks(x, w, 16, 16, 3, 15, sc, m, &dh, &mh);
        store_u16(dst + q2k::kD, dh);
        store_u16(dst + q2k::kDmin, mh);
        const float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
        int q[256];
        for (int sb = 0; sb < 16; ++sb) {
            dst[q2k::kScales + sb] = uint8_t(sc[sb] | (m[sb] << 4));
            requantize(x + 16 * sb, 16, 3, d * float(sc[sb]), dmin * float(m[sb]), q + 16 * sb);
        }
        uint8_t* qs = dst + q2k::kQs;
        for (int hb = 0; hb < 2; ++hb)
            for (int l = 0; l < 32; ++l) {
                int byte = 0;
                for (int j = 0; j < 4; ++j) byte |= q[128 * hb + 32 * j + l] << (2 * j);
                qs[32 * hb + l] = uint8_t(byte);
            }
    }
}

}  // namespace ds4::quant::detail
