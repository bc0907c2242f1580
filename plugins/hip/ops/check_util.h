// Helpers shared by the host-side op checks (checks.cpp, checks_tier1_*.cpp): one copy of the
// type/shape/operand rules, so the three files word their messages the same way (tests and
// cpu-ref compare them byte for byte). Host-only; not for kernels.
#pragma once
#include <initializer_list>
#include <sstream>
#include <string>

#include "../kernel.h"

namespace ds4::gpu::check_util {

template <class... A>
std::string msg(const A&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    return os.str();
}

inline std::string shape_str(const ds4_tensor* t) {
    int last = 0;
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (t->ne[i] != 1) last = i;
    std::string s = "[";
    for (int i = 0; i <= last; ++i) s += (i ? ", " : "") + std::to_string(t->ne[i]);
    return s + "]";
}

inline KernelStatus check_operands(const ds4_node& node, uint32_t req_src, uint32_t max_src, uint32_t n_dst) {
    if (node.n_src < req_src || node.n_src > max_src) {
        if (req_src == max_src) return KernelStatus::invalid(msg("expects ", req_src, " sources, got ", node.n_src));
        return KernelStatus::invalid(msg("expects ", req_src, "..", max_src, " sources, got ", node.n_src));
    }
    for (uint32_t i = 0; i < req_src; ++i)
        if (!node.src[i]) return KernelStatus::invalid(msg("src", i, " is NULL"));
    if (node.n_dst != n_dst) return KernelStatus::invalid(msg("expects ", n_dst, " destinations, got ", node.n_dst));
    for (uint32_t i = 0; i < n_dst; ++i)
        if (!node.dst[i]) return KernelStatus::invalid(msg("dst", i, " is NULL"));
    return {};
}

inline KernelStatus check_type(const ds4_tensor* t, const char* what, std::initializer_list<uint32_t> types) {
    for (uint32_t ty : types)
        if (t->type == ty) return {};
    std::string allowed;
    for (uint32_t ty : types) allowed += (allowed.empty() ? "" : "|") + std::string(ds4_type_name(ty));
    return KernelStatus::unsupported(msg(what, " type ", ds4_type_name(t->type), " not supported (expects ", allowed, ")"));
}

inline bool is_weight_type(uint32_t type) {
    switch (type) {
    case DS4_TYPE_F32: case DS4_TYPE_F16: case DS4_TYPE_BF16: case DS4_TYPE_Q8_0:
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS:
        return true;
    default:
        return false;
    }
}

inline KernelStatus check_rows_contiguous(const ds4_tensor* t, const char* what) {
    const int64_t bb = ds4_type_block_bytes(t->type);
    if (t->nb[0] != bb) return KernelStatus::unsupported(msg(what, " rows must be contiguous (nb0 ", t->nb[0], " != ", bb, ")"));
    return {};
}

inline KernelStatus check_whole_blocks(const ds4_tensor* t, const char* what) {
    const int64_t be = ds4_type_block_elems(t->type);
    if (be <= 0 || t->ne[0] % be != 0)
        return KernelStatus::invalid(msg(what, " ne0 ", t->ne[0], " is not a multiple of the ", ds4_type_name(t->type),
                                         " block size ", be));
    return {};
}

// An F32 tensor with exactly these ne (innermost first), any strides.
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

}  // namespace ds4::gpu::check_util

// Early return of the first failed check.
#define TRY(expr)                  \
    do {                           \
        KernelStatus st_ = (expr); \
        if (!st_.ok()) return st_; \
    } while (0)
