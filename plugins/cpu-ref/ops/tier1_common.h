// Helpers shared by the Tier-1 fused ops of cpu-ref (hc, compressor, indexer, attention, moe).
// Header-only on purpose: these files are built only when present (see CMakeLists.txt).
//
// They are written from MODEL.md independently of the Tier-0 op files, so the fused ops and
// the decompositions in core/decompose are two separate implementations of the same math.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common.h"
#include "quant/quant.h"

namespace ds4::cpuref::tier1 {

// MODEL.md §0: sigmoid computed stably (x < 0 → e^x/(1+e^x)).
inline float sigmoid_stable(float x) {
    if (x < 0.0f) {
        float e = exp_f32(x);
        return e / (1.0f + e);
    }
    return 1.0f / (1.0f + exp_f32(-x));
}
inline float silu(float x) { return x * sigmoid_stable(x); }
// log1p(e^x) with ds4's shortcuts x > 20 → x, x < -20 → e^x.
inline float softplus_stable(float x) {
    if (x > 20.0f) return x;
    if (x < -20.0f) return exp_f32(x);
    return log1p_f32(exp_f32(x));
}

// Unweighted RMS scale 1/sqrt(mean(x²) + eps): Σx² in double (sum_squares_lanes32), rest in float.
inline float rms_scale(const float* x, int64_t n, float eps) {
    const double ss = sum_squares_lanes32(x, n);
    float mean = static_cast<float>(ss / static_cast<double>(n));
    return 1.0f / std::sqrt(mean + eps);
}

// Plain dot of two f32 vectors, index ascending, one accumulator (activation × activation).
inline float dot_seq(const float* a, const float* b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}

inline quant::ActQuant act_mode(uint32_t act_quant) {
    return act_quant == DS4_ACT_DS4 ? quant::ActQuant::Ds4 : quant::ActQuant::None;
}

// Row r of a weight matrix (dims 1, 2 = row, matrix index for expert stacks).
inline const uint8_t* weight_row(const ds4_tensor* w, int64_t r, int64_t e = 0) {
    return tensor_data(w) + r * w->nb[1] + e * w->nb[2];
}

// An activation vector prepared for one weight type: quantized once (Q8_0-act / Q8_K under
// DS4_ACT_DS4, f32 otherwise), then dotted against many rows with quant::dot_row, the same
// per-row dot a Tier-0 MATMUL uses.
class ActRow {
public:
    ActRow(uint32_t wtype, quant::ActQuant mode, const float* x, int64_t n)
        : wtype_(wtype), mode_(mode), n_(n) {
        quant::ActFormat fmt = quant::act_format_for(static_cast<ds4_type>(wtype), mode);
        int64_t bytes = quant::act_row_bytes(fmt, n);
        buf_.resize(static_cast<size_t>(bytes > 0 ? bytes : 0));
        ok_ = bytes > 0 && quant::quantize_act(fmt, x, buf_.data(), n);
    }
    bool ok() const { return ok_; }
    float dot(const uint8_t* w_row) const {
        return quant::dot_row(static_cast<ds4_type>(wtype_), w_row, buf_.data(), n_, mode_);
    }

private:
    uint32_t wtype_;
    quant::ActQuant mode_;
    int64_t n_;
    std::vector<uint8_t> buf_;
    bool ok_ = false;
};

// y[o] = W[o]·x for o in [0, n_out) of matrix e of W (rows of ne0 = n elements).
inline bool matvec(const ds4_tensor* w, int64_t e, const float* x, int64_t n, int64_t n_out, uint32_t act_quant,
                   float* y) {
    ActRow xr(w->type, act_mode(act_quant), x, n);
    if (!xr.ok()) return false;
    for (int64_t o = 0; o < n_out; ++o) y[o] = xr.dot(weight_row(w, o, e));
    return true;
}

// Y[t][o] = W_e·x_t for t < n_tok, o < n_out (Y row-major [n_tok][n_out]): each activation
// is prepared once, the dots run in parallel over (t, o) with a fixed per-element order.
// `mats` (optional) gives the matrix index per token (expert stacks); -1 gives a zero row.
inline bool matmul_rows(ThreadPool& pool, const ds4_tensor* w, const float* const* xs, int64_t n_tok, int64_t n_in,
                        int64_t n_out, uint32_t act_quant, float* Y, const int32_t* mats = nullptr) {
    std::vector<ActRow> acts;
    acts.reserve(static_cast<size_t>(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) {
        acts.emplace_back(w->type, act_mode(act_quant), xs[t], n_in);
        if (!acts.back().ok()) return false;
    }
    pool.parallel_for(n_tok * n_out, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t t = r / n_out, o = r % n_out;
            const int64_t e = mats ? mats[t] : 0;
            Y[r] = e < 0 ? 0.0f : acts[static_cast<size_t>(t)].dot(weight_row(w, o, e));
        }
    });
    return true;
}

// RoPE on the last n_rot dims of a row of hd values, interleaved pairs (MODEL.md §C.3.3,
// backend.h ds4_rope_params). Angle convention (the official one, shared by every cpu-ref
// rotation so fused and decomposed graphs agree bit for bit): f_k is the documented formula
// evaluated in double and rounded once to f32; θ_k = f32(pos)·f_k in f32; cos/sin in f32;
// the rotation in f32.
class Rope {
public:
    explicit Rope(const ds4_rope_params& p) : n_rot_(p.n_rot) {
        const int n_pairs = static_cast<int>(p.n_rot / 2);
        freq_.resize(n_pairs);
        const double base = p.freq_base;
        double low = 0.0, high = 0.0;
        const bool yarn = p.yarn_factor > 1.0f;
        if (yarn) {
            auto corr = [&](double beta) {
                return p.n_rot * std::log(static_cast<double>(p.yarn_orig_ctx) / (2.0 * 3.14159265358979323846 * beta)) /
                       (2.0 * std::log(base));
            };
            low = std::max(0.0, std::floor(corr(p.yarn_beta_fast)));
            high = std::min(static_cast<double>(p.n_rot) - 1.0, std::ceil(corr(p.yarn_beta_slow)));
        }
        for (int k = 0; k < n_pairs; ++k) {
            double f = std::pow(base, -2.0 * k / static_cast<double>(p.n_rot));
            if (yarn) {
                double ramp = std::clamp((k - low) / std::max(0.001, high - low), 0.0, 1.0);
                f *= (1.0 - ramp) + ramp / static_cast<double>(p.yarn_factor);
            }
            freq_[k] = static_cast<float>(f);
        }
    }
    // Rotates row[hd - n_rot .. hd) by +θ (inverse: -θ).
    void apply(float* row, int64_t hd, int64_t pos, bool inverse = false) const {
        float* t = row + (hd - n_rot_);
        const float fpos = static_cast<float>(pos);
        for (size_t k = 0; k < freq_.size(); ++k) {
            const float theta = fpos * freq_[k];
            const float c = cos_f32(theta);
            float s = sin_f32(theta);
            if (inverse) s = -s;
            const float a = t[2 * k], b = t[2 * k + 1];
            t[2 * k] = a * c - b * s;
            t[2 * k + 1] = a * s + b * c;
        }
    }
    uint32_t n_rot() const { return n_rot_; }

private:
    uint32_t n_rot_;
    std::vector<float> freq_;
};

inline KernelStatus check_rope_params(const ds4_rope_params& r, int64_t hd, const char* what) {
    if (r.n_rot == 0 || r.n_rot % 2 != 0 || r.n_rot > hd)
        return KernelStatus::invalid(msg(what, ": rope n_rot ", r.n_rot, " must be even and in [2, ", hd, "]"));
    if (!(r.freq_base > 0.0f)) return KernelStatus::invalid(msg(what, ": rope freq_base must be > 0"));
    if (r.yarn_factor > 1.0f && r.yarn_orig_ctx == 0)
        return KernelStatus::invalid(msg(what, ": rope yarn_orig_ctx must be > 0 with yarn"));
    return {};
}

// Checks an F32 tensor has exactly the given ne (outermost-last like ds4_tensor.ne).
inline KernelStatus check_f32_shape(const ds4_tensor* t, const char* what, std::initializer_list<int64_t> ne) {
    if (t->type != DS4_TYPE_F32) return KernelStatus::unsupported(msg(what, " must be f32, got ", ds4_type_name(t->type)));
    int i = 0;
    for (int64_t v : ne) {
        if (t->ne[i] != v) return KernelStatus::invalid(msg(what, " shape ", shape_str(t), ": ne", i, " should be ", v));
        ++i;
    }
    for (; i < DS4_MAX_DIMS; ++i)
        if (t->ne[i] != 1) return KernelStatus::invalid(msg(what, " shape ", shape_str(t), " has too many dims"));
    return {};
}

// A weight matrix (or stack) of any weight type with rows of `in` elements, `out` rows and
// `mats` matrices, contiguous blocks within each row.
inline KernelStatus check_weight(const ds4_tensor* w, const char* what, int64_t in, int64_t out, int64_t mats = 1) {
    if (!is_weight_type(w->type)) return KernelStatus::unsupported(msg(what, " type ", ds4_type_name(w->type), " is not a weight type"));
    if (w->ne[0] != in || w->ne[1] != out || w->ne[2] != mats || w->ne[3] != 1)
        return KernelStatus::invalid(msg(what, " shape ", shape_str(w), " should be [", in, ", ", out,
                                         mats != 1 ? ", " + std::to_string(mats) : std::string(), "]"));
    if (auto s = check_rows_contiguous(w, what); !s.ok()) return s;
    return check_whole_blocks(w, what);
}

// Reads an I32 element of a 1-D or 2-D tensor.
inline int32_t i32_get(const ds4_tensor* t, int64_t i0, int64_t i1 = 0) { return i32_at(t, i0, i1); }

}  // namespace ds4::cpuref::tier1
