// Private helpers shared by the ds4_quant sources: unaligned little-endian field access
// and the Q4_K 6-bit scale/min unpacking. Not installed, not for other libraries.
#pragma once

#include <cstdint>
#include <cstring>

namespace ds4::quant::detail {

// GGUF rows are only 2-byte aligned for Q8_0/IQ2_XXS, so fields are read with memcpy
// (which compilers turn into plain loads).
inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline float load_f32(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
}
inline int16_t load_i16(const uint8_t* p) {
    int16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void store_f32(uint8_t* p, float v) { std::memcpy(p, &v, 4); }
inline void store_i16(uint8_t* p, int16_t v) { std::memcpy(p, &v, 2); }

// Byte offsets inside the blocks (MODEL.md §E), so every file agrees on them.
namespace q2k {
inline constexpr int kScales = 0, kQs = 16, kD = 80, kDmin = 82;
}
namespace q4k {
inline constexpr int kD = 0, kDmin = 2, kScales = 4, kQs = 16;
}
namespace q8k {
inline constexpr int kD = 0, kQs = 4, kBsums = 260;
}

// Q4_K sub-block j (0..7): 6-bit scale and min from the 12 packed bytes (MODEL.md §E.3).
inline void q4k_scale_min(const uint8_t* scales, int j, int& sc, int& m) {
    if (j < 4) {
        sc = scales[j] & 63;
        m = scales[j + 4] & 63;
    } else {
        sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
        m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

// Grid byte j (0..7) of IQ2_XXS grid entry `index`.
inline int iq2xxs_grid_byte(uint64_t entry, int j) { return int((entry >> (8 * j)) & 0xFF); }

// Sum of 8 lane accumulators in the documented fixed order.
inline float reduce_lanes8(const float* l) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

// Replaces non-finite values by 0 (the quantizers' documented treatment of bad input).
inline float finite_or_zero(float x) { return (x - x == 0.0f) ? x : 0.0f; }

}  // namespace ds4::quant::detail
