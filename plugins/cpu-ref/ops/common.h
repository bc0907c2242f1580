// Helpers shared by the cpu-ref op files: operand/type/shape checks that produce the one-line
// messages plan_create reports ("src1 ne0 4095 != weight IN 4096"), element access for the
// float types, and row iteration over 4-D views.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <sstream>
#include <string>

#include "../../common/sum_orders.h"
#include "../kernel.h"

namespace ds4::cpuref {

// Concatenates anything streamable into a message.
template <class... A>
std::string msg(const A&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    return os.str();
}

// "[ne0, ne1, ne2, ne3]" with trailing 1s dropped (at least one dim shown).
std::string shape_str(const ds4_tensor* t);

// Operand counts: n_src in [min_src, max_src] with src[0..req_src) non-NULL, exactly n_dst
// non-NULL destinations.
KernelStatus check_operands(const ds4_node& node, uint32_t req_src, uint32_t max_src, uint32_t n_dst);

// Type of `t` is one of `types`; `what` names the operand ("src0").
KernelStatus check_type(const ds4_tensor* t, const char* what, std::initializer_list<uint32_t> types);

// True for F32, F16, BF16.
inline bool is_float_type(uint32_t type) {
    return type == DS4_TYPE_F32 || type == DS4_TYPE_F16 || type == DS4_TYPE_BF16;
}
// True for every weight type a matmul / get_rows accepts (dequantizable by ds4::quant).
bool is_weight_type(uint32_t type);

// Rows made of contiguous elements/blocks: nb[0] == block bytes.
KernelStatus check_rows_contiguous(const ds4_tensor* t, const char* what);
// ne0 is a whole number of blocks of t's type.
KernelStatus check_whole_blocks(const ds4_tensor* t, const char* what);

// Same ne in every dim.
bool same_shape(const ds4_tensor* a, const ds4_tensor* b);
KernelStatus check_same_shape(const ds4_tensor* a, const char* an, const ds4_tensor* b, const char* bn);
// Each b.ne[i] is 1 or a.ne[i].
KernelStatus check_broadcast(const ds4_tensor* a, const char* an, const ds4_tensor* b, const char* bn);
// dims 1..3 of t are 1 (a 1-D tensor) / dims 2..3 are 1 (2-D).
KernelStatus check_max_dims(const ds4_tensor* t, const char* what, int dims);

// e^x, log1p(x), cos and sin of every op: evaluated in double and rounded once to float,
// i.e. correctly rounded but for vanishingly rare double-rounding cases. The host libm's expf
// is not correctly rounded everywhere (glibc: < 0.502 ulp), a GPU's double exp is within one
// double ulp: rounding a double result makes both sides agree bit for bit in practice.
inline float exp_f32(float x) { return static_cast<float>(std::exp(static_cast<double>(x))); }
inline float log1p_f32(float x) { return static_cast<float>(std::log1p(static_cast<double>(x))); }
inline float cos_f32(float x) { return static_cast<float>(std::cos(static_cast<double>(x))); }
inline float sin_f32(float x) { return static_cast<float>(std::sin(static_cast<double>(x))); }

// Σx² of an RMS norm (MODEL.md §0, docs/numerics.md): in double over 32 interleaved lanes
// (element i → lane i % 32) in segments of kRmsSegmentElements: within a segment each lane
// sums in index order from 0, each lane adds its segment partials in segment order, and the
// lanes are combined by the butterfly 16, 8, 4, 2, 1 (lane l adds lane l ^ m). Every square is
// exact in double; the order is fixed so that a GPU computes the same bits with one warp per
// segment (plugins/common/sum_orders.h).
inline double sum_squares_lanes32(const float* x, int64_t n) {
    double lane[32] = {};
    for (int64_t s0 = 0; s0 < n; s0 += sum_orders::kRmsSegmentElements) {
        const int64_t s1 = std::min(n, s0 + sum_orders::kRmsSegmentElements);
        double part[32] = {};
        for (int64_t i = s0; i < s1; ++i) part[i % 32] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
        for (int l = 0; l < 32; ++l) lane[l] += part[l];
    }
    for (int m = 16; m > 0; m /= 2) {
        double next[32];
        for (int l = 0; l < 32; ++l) next[l] = lane[l] + lane[l ^ m];
        for (int l = 0; l < 32; ++l) lane[l] = next[l];
    }
    return lane[0];
}

inline int64_t n_rows(const ds4_tensor* t) { return t->ne[1] * t->ne[2] * t->ne[3]; }
inline int64_t n_elems(const ds4_tensor* t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

// Flat row index r → (i1, i2, i3).
struct RowIndex {
    int64_t i1, i2, i3;
};
inline RowIndex split_row(const ds4_tensor* t, int64_t r) {
    RowIndex ix;
    ix.i1 = r % t->ne[1];
    r /= t->ne[1];
    ix.i2 = r % t->ne[2];
    ix.i3 = r / t->ne[2];
    return ix;
}
// Address of element i0 of flat row r (non-block types).
inline uint8_t* row_elem(const ds4_tensor* t, int64_t r, int64_t i0 = 0) {
    RowIndex ix = split_row(t, r);
    return element_ptr(t, i0, ix.i1, ix.i2, ix.i3);
}

// Loads/stores one element of a float type as f32 (stores round to nearest even).
float load_float(uint32_t type, const uint8_t* p);
void store_float(uint32_t type, uint8_t* p, float v);

// Copies row r of an F32 tensor (any strides) into out[0..ne0) / back from in[].
void load_f32_row(const ds4_tensor* t, int64_t r, float* out);
void store_f32_row(const ds4_tensor* t, int64_t r, const float* in);

// Index of `broadcast` (each ne 1 or equal) matching element (i0..i3) of the full shape.
inline const float* broadcast_f32(const ds4_tensor* b, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    return reinterpret_cast<const float*>(element_ptr(b, b->ne[0] == 1 ? 0 : i0, b->ne[1] == 1 ? 0 : i1,
                                                      b->ne[2] == 1 ? 0 : i2, b->ne[3] == 1 ? 0 : i3));
}

}  // namespace ds4::cpuref
