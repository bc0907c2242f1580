#include "common.h"

#include "quant/quant.h"

namespace ds4::cpuref {

std::string shape_str(const ds4_tensor* t) {
    int last = 0;
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (t->ne[i] != 1) last = i;
    std::string s = "[";
    for (int i = 0; i <= last; ++i) s += (i ? ", " : "") + std::to_string(t->ne[i]);
    return s + "]";
}

KernelStatus check_operands(const ds4_node& node, uint32_t req_src, uint32_t max_src, uint32_t n_dst) {
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

KernelStatus check_type(const ds4_tensor* t, const char* what, std::initializer_list<uint32_t> types) {
    for (uint32_t ty : types)
        if (t->type == ty) return {};
    std::string allowed;
    for (uint32_t ty : types) allowed += (allowed.empty() ? "" : "|") + std::string(ds4_type_name(ty));
    return KernelStatus::unsupported(msg(what, " type ", ds4_type_name(t->type), " not supported (expects ", allowed, ")"));
}

bool is_weight_type(uint32_t type) {
    switch (type) {
    case DS4_TYPE_F32: case DS4_TYPE_F16: case DS4_TYPE_BF16: case DS4_TYPE_Q8_0:
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS:
        return true;
    default:
        return false;
    }
}

KernelStatus check_rows_contiguous(const ds4_tensor* t, const char* what) {
    int64_t bb = ds4_type_block_bytes(t->type);
    if (t->nb[0] != bb)
        return KernelStatus::unsupported(msg(what, " rows must be contiguous (nb0 ", t->nb[0], " != ", bb, ")"));
    return {};
}

KernelStatus check_whole_blocks(const ds4_tensor* t, const char* what) {
    int64_t be = ds4_type_block_elems(t->type);
    if (be <= 0 || t->ne[0] % be != 0)
        return KernelStatus::invalid(msg(what, " ne0 ", t->ne[0], " is not a multiple of the ", ds4_type_name(t->type),
                                         " block size ", be));
    return {};
}

bool same_shape(const ds4_tensor* a, const ds4_tensor* b) {
    for (int i = 0; i < DS4_MAX_DIMS; ++i)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

KernelStatus check_same_shape(const ds4_tensor* a, const char* an, const ds4_tensor* b, const char* bn) {
    if (!same_shape(a, b))
        return KernelStatus::invalid(msg(bn, " shape ", shape_str(b), " != ", an, " shape ", shape_str(a)));
    return {};
}

KernelStatus check_broadcast(const ds4_tensor* a, const char* an, const ds4_tensor* b, const char* bn) {
    for (int i = 0; i < DS4_MAX_DIMS; ++i)
        if (b->ne[i] != 1 && b->ne[i] != a->ne[i])
            return KernelStatus::invalid(msg(bn, " ne", i, " ", b->ne[i], " does not broadcast to ", an, " ne", i, " ",
                                             a->ne[i]));
    return {};
}

KernelStatus check_max_dims(const ds4_tensor* t, const char* what, int dims) {
    for (int i = dims; i < DS4_MAX_DIMS; ++i)
        if (t->ne[i] != 1)
            return KernelStatus::invalid(msg(what, " must have at most ", dims, " dims, got ", shape_str(t)));
    return {};
}

float load_float(uint32_t type, const uint8_t* p) {
    switch (type) {
    case DS4_TYPE_F16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        return quant::f16_to_f32(h);
    }
    case DS4_TYPE_BF16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        return quant::bf16_to_f32(h);
    }
    default: {
        float f;
        std::memcpy(&f, p, 4);
        return f;
    }
    }
}

void store_float(uint32_t type, uint8_t* p, float v) {
    switch (type) {
    case DS4_TYPE_F16: {
        uint16_t h = quant::f32_to_f16(v);
        std::memcpy(p, &h, 2);
        break;
    }
    case DS4_TYPE_BF16: {
        uint16_t h = quant::f32_to_bf16(v);
        std::memcpy(p, &h, 2);
        break;
    }
    default:
        std::memcpy(p, &v, 4);
    }
}

void load_f32_row(const ds4_tensor* t, int64_t r, float* out) {
    const uint8_t* base = row_elem(t, r);
    if (t->nb[0] == 4) {
        std::memcpy(out, base, static_cast<size_t>(t->ne[0]) * 4);
        return;
    }
    for (int64_t i = 0; i < t->ne[0]; ++i) std::memcpy(&out[i], base + i * t->nb[0], 4);
}

void store_f32_row(const ds4_tensor* t, int64_t r, const float* in) {
    uint8_t* base = row_elem(t, r);
    if (t->nb[0] == 4) {
        std::memmove(base, in, static_cast<size_t>(t->ne[0]) * 4);
        return;
    }
    for (int64_t i = 0; i < t->ne[0]; ++i) std::memcpy(base + i * t->nb[0], &in[i], 4);
}

}  // namespace ds4::cpuref
