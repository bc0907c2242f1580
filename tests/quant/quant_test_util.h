// Small helpers for the ds4_quant tests: seeded Gaussian data and byte-level block builders.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "quant/quant.h"

namespace ds4::quant::test {

// Seeded standard Gaussian values (Box–Muller on mt19937 bits, so the sequence is the same
// with every standard library).
inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    auto uniform = [&] { return (double(rng()) + 0.5) / 4294967296.0; };
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i += 2) {
        const double r = std::sqrt(-2.0 * std::log(uniform())), t = 2.0 * M_PI * uniform();
        v[i] = float(sigma * r * std::cos(t));
        if (i + 1 < n) v[i + 1] = float(sigma * r * std::sin(t));
    }
    return v;
}

inline double rms(const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double(x) * x;
    return std::sqrt(s / double(v.size()));
}

inline double rel_rmse(const std::vector<float>& ref, const std::vector<float>& got) {
    double e = 0, r = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        e += (double(ref[i]) - got[i]) * (double(ref[i]) - got[i]);
        r += double(ref[i]) * ref[i];
    }
    return std::sqrt(e / r);
}

inline void put_u16(std::vector<uint8_t>& b, size_t off, uint16_t v) { std::memcpy(&b[off], &v, 2); }
inline void put_u32(std::vector<uint8_t>& b, size_t off, uint32_t v) { std::memcpy(&b[off], &v, 4); }
inline void put_f32(std::vector<uint8_t>& b, size_t off, float v) { std::memcpy(&b[off], &v, 4); }

inline std::vector<float> dequant(ds4_type t, const std::vector<uint8_t>& blocks, int64_t n) {
    std::vector<float> out(size_t(n), NAN);
    if (!dequantize_row(t, blocks.data(), out.data(), n)) out.clear();
    return out;
}

inline std::vector<uint8_t> quant(ds4_type t, const std::vector<float>& x, const float* imp = nullptr) {
    std::vector<uint8_t> out(size_t(ds4_type_row_bytes(t, int64_t(x.size()))), 0xAB);
    if (!quantize_row(t, x.data(), out.data(), int64_t(x.size()), imp)) out.clear();
    return out;
}

}  // namespace ds4::quant::test
