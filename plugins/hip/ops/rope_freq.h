// RoPE frequencies for ROPE_TAIL, computed on the host once per launch and passed to the
// kernel by value (backend.h, ds4_rope_params). Same numerical choice as cpu-ref: the formula
// in double, each f_k rounded once to float, so both backends rotate by identical angles.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ds4/backend.h"

namespace ds4::gpu {

// Largest n_rot this backend rotates (the frequency table travels as a kernel argument).
inline constexpr uint32_t kMaxRot = 512;

struct RopeFreqs {
    float f[kMaxRot / 2];
};

inline void rope_frequencies(const ds4_rope_params& p, RopeFreqs* out) {
    const double n = p.n_rot, base = p.freq_base;
    const bool yarn = p.yarn_factor > 1.0f;
    double low = 0, high = 0;
    if (yarn) {
        const double pi = 3.14159265358979323846;
        auto corr = [&](double beta) { return n * std::log(double(p.yarn_orig_ctx) / (2.0 * pi * beta)) / (2.0 * std::log(base)); };
        low = std::max(0.0, std::floor(corr(p.yarn_beta_fast)));
        high = std::min(n - 1.0, std::ceil(corr(p.yarn_beta_slow)));
    }
    for (uint32_t k = 0; k < p.n_rot / 2 && k < kMaxRot / 2; ++k) {
        double f = std::pow(base, -2.0 * k / n);
        if (yarn) {
            double ramp = (k - low) / std::max(0.001, high - low);
            ramp = std::min(1.0, std::max(0.0, ramp));
            f *= (1.0 - ramp) + ramp / double(p.yarn_factor);
        }
        out->f[k] = static_cast<float>(f);
    }
}

}  // namespace ds4::gpu
