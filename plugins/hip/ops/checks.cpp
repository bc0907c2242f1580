// Host-side checks of every op (types, shapes, params): the same rules as cpu-ref, so a
// graph valid for one backend is valid for the other, plus the GPU plugin's own limits
// (n_rot <= kMaxRot). No side effects: they back node_supported and plan_create.
#include <string>

#include "../kernel.h"
#include "check_util.h"
#include "ops.h"
#include "rope_freq.h"

namespace ds4::gpu {
using namespace check_util;
namespace {

bool same_shape(const ds4_tensor* a, const ds4_tensor* b) {
    for (int i = 0; i < DS4_MAX_DIMS; ++i)
        if (a->ne[i] != b->ne[i]) return false;
    return true;
}

KernelStatus check_same_shape(const ds4_tensor* a, const char* an, const ds4_tensor* b, const char* bn) {
    if (!same_shape(a, b)) return KernelStatus::invalid(msg(bn, " shape ", shape_str(b), " != ", an, " shape ", shape_str(a)));
    return {};
}

KernelStatus check_broadcast(const ds4_tensor* a, const char* an, const ds4_tensor* b, const char* bn) {
    for (int i = 0; i < DS4_MAX_DIMS; ++i)
        if (b->ne[i] != 1 && b->ne[i] != a->ne[i])
            return KernelStatus::invalid(
                msg(bn, " ne", i, " ", b->ne[i], " does not broadcast to ", an, " ne", i, " ", a->ne[i]));
    return {};
}

KernelStatus check_max_dims(const ds4_tensor* t, const char* what, int dims) {
    for (int i = dims; i < DS4_MAX_DIMS; ++i)
        if (t->ne[i] != 1) return KernelStatus::invalid(msg(what, " must have at most ", dims, " dims, got ", shape_str(t)));
    return {};
}

// Kernels index grid dimensions with 32-bit block counts: keep every tensor well inside.
KernelStatus check_gpu_size(const ds4_node& node) {
    for (uint32_t i = 0; i < node.n_src; ++i)
        if (node.src[i] && n_elems(node.src[i]) > (int64_t(1) << 40))
            return KernelStatus::unsupported(msg("src", i, " too large for this backend"));
    for (uint32_t i = 0; i < node.n_dst; ++i)
        if (node.dst[i] && n_rows(node.dst[i]) > (int64_t(1) << 31) - 1)
            return KernelStatus::unsupported(msg("dst", i, " has too many rows for this backend"));
    return {};
}

KernelStatus check_binary(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    TRY(check_type(a, "src0", {DS4_TYPE_F32}));
    TRY(check_type(b, "src1", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_same_shape(a, "src0", d, "dst"));
    return check_broadcast(a, "src0", b, "src1");
}

KernelStatus check_unary_shape(const ds4_node& node) {
    TRY(check_operands(node, 1, 1, 1));
    TRY(check_type(node.src[0], "src0", {DS4_TYPE_F32}));
    TRY(check_type(node.dst[0], "dst", {DS4_TYPE_F32}));
    return check_same_shape(node.src[0], "src0", node.dst[0], "dst");
}

KernelStatus check_matmul_params(const ds4_node& node) {
    ds4_params_matmul p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_matmul");
    if (p.act_quant != DS4_ACT_F32 && p.act_quant != DS4_ACT_DS4)
        return KernelStatus::invalid(msg("unknown act_quant ", p.act_quant));
    return {};
}

KernelStatus check_weight(const ds4_tensor* w) {
    if (!is_weight_type(w->type)) return KernelStatus::unsupported(msg("weight type ", ds4_type_name(w->type), " not supported"));
    TRY(check_whole_blocks(w, "weight"));
    return check_rows_contiguous(w, "weight");
}

}  // namespace

// ---- copy.cu --------------------------------------------------------------------------------

KernelStatus check_copy(const ds4_node& node) {
    TRY(check_operands(node, 1, 1, 1));
    TRY(check_type(node.src[0], "src0", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}));
    TRY(check_type(node.dst[0], "dst", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}));
    TRY(check_gpu_size(node));
    return check_same_shape(node.src[0], "src0", node.dst[0], "dst");
}

KernelStatus check_get_rows(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    const ds4_tensor *table = node.src[0], *idx = node.src[1], *dst = node.dst[0];
    if (!is_weight_type(table->type))
        return KernelStatus::unsupported(msg("src0 type ", ds4_type_name(table->type), " not supported"));
    TRY(check_max_dims(table, "src0", 2));
    if (ds4_type_block_elems(table->type) > 1) TRY(check_rows_contiguous(table, "src0"));
    TRY(check_type(idx, "src1", {DS4_TYPE_I32}));
    TRY(check_type(dst, "dst", {DS4_TYPE_F32}));
    TRY(check_max_dims(idx, "src1", 3));
    TRY(check_gpu_size(node));
    if (dst->ne[0] != table->ne[0]) return KernelStatus::invalid(msg("dst ne0 ", dst->ne[0], " != src0 row length ", table->ne[0]));
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (dst->ne[i] != idx->ne[i - 1])
            return KernelStatus::invalid(msg("dst shape ", shape_str(dst), " does not match [n, indices ", shape_str(idx), "]"));
    return {};
}

KernelStatus check_set_rows(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    const ds4_tensor *src = node.src[0], *idx = node.src[1], *dst = node.dst[0];
    ds4_params_set_rows p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_set_rows");
    if (p.row_modulo < 0) return KernelStatus::invalid(msg("row_modulo ", p.row_modulo, " < 0"));
    TRY(check_type(src, "src0", {DS4_TYPE_F32}));
    TRY(check_type(idx, "src1", {DS4_TYPE_I32}));
    TRY(check_type(dst, "dst", {DS4_TYPE_F32, DS4_TYPE_F16}));
    TRY(check_max_dims(dst, "dst", 2));
    TRY(check_gpu_size(node));
    if (src->ne[0] != dst->ne[0]) return KernelStatus::invalid(msg("src0 ne0 ", src->ne[0], " != dst row length ", dst->ne[0]));
    if (n_elems(idx) != n_rows(src))
        return KernelStatus::invalid(msg("src1 has ", n_elems(idx), " indices for ", n_rows(src), " rows of src0"));
    return {};
}

// ---- matmul.cu ------------------------------------------------------------------------------

KernelStatus check_matmul(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    TRY(check_matmul_params(node));
    const ds4_tensor *w = node.src[0], *x = node.src[1], *y = node.dst[0];
    TRY(check_weight(w));
    TRY(check_max_dims(w, "weight", 2));
    TRY(check_type(x, "src1", {DS4_TYPE_F32}));
    TRY(check_type(y, "dst", {DS4_TYPE_F32}));
    TRY(check_gpu_size(node));
    if (x->ne[0] != w->ne[0]) return KernelStatus::invalid(msg("src1 ne0 ", x->ne[0], " != weight IN ", w->ne[0]));
    if (y->ne[0] != w->ne[1]) return KernelStatus::invalid(msg("dst ne0 ", y->ne[0], " != weight OUT ", w->ne[1]));
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (y->ne[i] != x->ne[i])
            return KernelStatus::invalid(msg("dst shape ", shape_str(y), " does not match src1 shape ", shape_str(x)));
    return {};
}

KernelStatus check_matmul_id(const ds4_node& node) {
    TRY(check_operands(node, 3, 3, 1));
    TRY(check_matmul_params(node));
    const ds4_tensor *w = node.src[0], *x = node.src[1], *ids = node.src[2], *y = node.dst[0];
    TRY(check_weight(w));
    TRY(check_max_dims(w, "weight", 3));
    TRY(check_type(x, "src1", {DS4_TYPE_F32}));
    TRY(check_type(ids, "src2", {DS4_TYPE_I32}));
    TRY(check_type(y, "dst", {DS4_TYPE_F32}));
    TRY(check_max_dims(x, "src1", 3));
    TRY(check_max_dims(ids, "src2", 2));
    TRY(check_max_dims(y, "dst", 3));
    TRY(check_gpu_size(node));
    const int64_t k = ids->ne[0], n = ids->ne[1];
    if (x->ne[0] != w->ne[0]) return KernelStatus::invalid(msg("src1 ne0 ", x->ne[0], " != weight IN ", w->ne[0]));
    if (x->ne[1] != 1 && x->ne[1] != k) return KernelStatus::invalid(msg("src1 ne1 ", x->ne[1], " must be 1 or k = ", k));
    if (x->ne[2] != n) return KernelStatus::invalid(msg("src1 ne2 ", x->ne[2], " != ids rows ", n));
    if (y->ne[0] != w->ne[1] || y->ne[1] != k || y->ne[2] != n)
        return KernelStatus::invalid(msg("dst shape ", shape_str(y), " != [", w->ne[1], ", ", k, ", ", n, "]"));
    return {};
}

KernelStatus check_matmul_f32(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    TRY(check_type(a, "src0", {DS4_TYPE_F32}));
    TRY(check_type(b, "src1", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_gpu_size(node));
    if (a->ne[0] != b->ne[0]) return KernelStatus::invalid(msg("src1 ne0 ", b->ne[0], " != src0 K ", a->ne[0]));
    if (d->ne[0] != b->ne[1] || d->ne[1] != a->ne[1] || d->ne[2] != a->ne[2] || d->ne[3] != a->ne[3])
        return KernelStatus::invalid(
            msg("dst shape ", shape_str(d), " != [N ", b->ne[1], ", M ", a->ne[1], ", ", a->ne[2], ", ", a->ne[3], "]"));
    return {};
}

// Matmuls stage the activation rows (quantized codes or f32 copies) and MATMUL_ID's expert
// lists in plan scratch (layout in matmul.cu).
uint64_t scratch_bytes_for(const ds4_node& node) {
    if (node.op == DS4_OP_MATMUL || node.op == DS4_OP_MATMUL_ID) return matmul_scratch_bytes(node);
    if (uint64_t b = tier1_hc_moe_scratch_bytes(node)) return b;
    if (uint64_t b = tier1_attention_scratch_bytes(node)) return b;
    return 0;
}

// ---- elementwise.cu -------------------------------------------------------------------------

KernelStatus check_add(const ds4_node& node) { return check_binary(node); }
KernelStatus check_mul(const ds4_node& node) { return check_binary(node); }
KernelStatus check_div(const ds4_node& node) { return check_binary(node); }

KernelStatus check_scale(const ds4_node& node) {
    ds4_params_scale p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_scale");
    return check_unary_shape(node);
}

KernelStatus check_unary(const ds4_node& node) {
    ds4_params_unary p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_unary");
    if (p.kind > DS4_UNARY_RECIP) return KernelStatus::unsupported(msg("unknown unary kind ", p.kind));
    return check_unary_shape(node);
}

KernelStatus check_clamp(const ds4_node& node) {
    ds4_params_clamp p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_clamp");
    if (!(p.lo <= p.hi)) return KernelStatus::invalid(msg("clamp lo ", p.lo, " > hi ", p.hi));
    return check_unary_shape(node);
}

// ---- norm.cu --------------------------------------------------------------------------------

KernelStatus check_rms_norm(const ds4_node& node) {
    TRY(check_operands(node, 1, 2, 1));
    ds4_params_rms_norm p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_rms_norm");
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_same_shape(x, "src0", d, "dst"));
    if (node.n_src > 1 && node.src[1]) {
        const ds4_tensor* w = node.src[1];
        TRY(check_type(w, "src1", {DS4_TYPE_F32}));
        if (w->ne[0] != x->ne[0] || n_rows(w) != 1)
            return KernelStatus::invalid(msg("weight shape ", shape_str(w), " != [", x->ne[0], "]"));
    }
    return {};
}

// ---- reduce.cu ------------------------------------------------------------------------------

KernelStatus check_sum_rows(const ds4_node& node) {
    TRY(check_operands(node, 1, 1, 1));
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    if (d->ne[0] != 1 || d->ne[1] != x->ne[1] || d->ne[2] != x->ne[2] || d->ne[3] != x->ne[3])
        return KernelStatus::invalid(msg("dst shape ", shape_str(d), " != src0 shape ", shape_str(x), " with ne0 = 1"));
    return {};
}

KernelStatus check_softmax(const ds4_node& node) {
    TRY(check_operands(node, 1, 3, 1));
    ds4_params_softmax p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_softmax");
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_same_shape(x, "src0", d, "dst"));
    if (node.n_src > 1 && node.src[1]) {
        TRY(check_type(node.src[1], "mask", {DS4_TYPE_F32}));
        TRY(check_broadcast(x, "src0", node.src[1], "mask"));
    }
    if (node.n_src > 2 && node.src[2]) {
        const ds4_tensor* s = node.src[2];
        TRY(check_type(s, "sinks", {DS4_TYPE_F32}));
        if (s->ne[0] != x->ne[1] || n_rows(s) != 1)
            return KernelStatus::invalid(msg("sinks shape ", shape_str(s), " != [src0 ne1 ", x->ne[1], "]"));
    }
    return {};
}

KernelStatus check_topk(const ds4_node& node) {
    TRY(check_operands(node, 1, 1, 1));
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_I32}));
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (d->ne[i] != x->ne[i])
            return KernelStatus::invalid(msg("dst shape ", shape_str(d), " does not match src0 rows ", shape_str(x)));
    return {};
}

KernelStatus check_gather_cols(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    const ds4_tensor *x = node.src[0], *idx = node.src[1], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(idx, "src1", {DS4_TYPE_I32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_same_shape(idx, "src1", d, "dst"));
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (idx->ne[i] != x->ne[i])
            return KernelStatus::invalid(msg("src1 shape ", shape_str(idx), " does not match src0 rows ", shape_str(x)));
    return {};
}

// ---- rope.cu --------------------------------------------------------------------------------

KernelStatus check_rope_tail(const ds4_node& node) {
    TRY(check_operands(node, 2, 2, 1));
    ds4_params_rope p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_rope");
    const ds4_tensor *x = node.src[0], *pos = node.src[1], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(pos, "src1", {DS4_TYPE_I32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_same_shape(x, "src0", d, "dst"));
    if (p.pos_dim != 1 && p.pos_dim != 2) return KernelStatus::invalid(msg("pos_dim ", p.pos_dim, " must be 1 or 2"));
    if (p.rope.n_rot == 0 || p.rope.n_rot % 2 || p.rope.n_rot > x->ne[0])
        return KernelStatus::invalid(msg("n_rot ", p.rope.n_rot, " must be even, > 0 and <= row length ", x->ne[0]));
    if (p.rope.n_rot > kMaxRot)
        return KernelStatus::unsupported(msg("n_rot ", p.rope.n_rot, " > ", kMaxRot, " (this backend's limit)"));
    if (!(p.rope.freq_base > 1.0f)) return KernelStatus::invalid(msg("freq_base ", p.rope.freq_base, " must be > 1"));
    if (p.rope.yarn_factor > 1.0f &&
        (p.rope.yarn_orig_ctx == 0 || !(p.rope.yarn_beta_fast > 0) || !(p.rope.yarn_beta_slow > 0)))
        return KernelStatus::invalid("YaRN needs yarn_orig_ctx, yarn_beta_fast and yarn_beta_slow > 0");
    if (n_elems(pos) != x->ne[p.pos_dim])
        return KernelStatus::invalid(msg("src1 has ", n_elems(pos), " positions, src0 ne", p.pos_dim, " is ", x->ne[p.pos_dim]));
    return {};
}

// ---- quant_sim.cu ---------------------------------------------------------------------------

KernelStatus check_quant_sim(const ds4_node& node) {
    TRY(check_operands(node, 1, 1, 1));
    ds4_params_quant_sim p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_quant_sim");
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    TRY(check_type(x, "src0", {DS4_TYPE_F32}));
    TRY(check_type(d, "dst", {DS4_TYPE_F32}));
    TRY(check_same_shape(x, "src0", d, "dst"));
    switch (p.kind) {
    case DS4_SIM_FP8_KV:
        if (p.n_nope > x->ne[0]) return KernelStatus::invalid(msg("n_nope ", p.n_nope, " > row length ", x->ne[0]));
        return {};
    case DS4_SIM_INDEXER_QAT:
        if (x->ne[0] % 128 != 0) return KernelStatus::invalid(msg("INDEXER_QAT needs rows of a multiple of 128, got ", x->ne[0]));
        return {};
    case DS4_SIM_F16_ROUND: return {};
    default: return KernelStatus::unsupported(msg("unknown quant_sim kind ", p.kind));
    }
}

}  // namespace ds4::gpu
