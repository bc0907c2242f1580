#include "decompose/builder.h"

#include "host/plugin_loader.h"

namespace ds4::decompose::detail {

void fail(uint32_t op, const std::string& what) {
    throw Error(std::string("decompose ") + host::op_name(op) + ": " + what);
}

void require(bool ok, uint32_t op, const std::string& what) {
    if (!ok) fail(op, what);
}

std::vector<int64_t> ne_of(const T* t) { return {t->ne[0], t->ne[1], t->ne[2], t->ne[3]}; }

T* Builder::binary(uint32_t op, const T* a, const T* b) {
    T* d = f32(ne_of(a));
    binary_into(op, a, b, d);
    return d;
}

void Builder::binary_into(uint32_t op, const T* a, const T* b, const T* dst) { g.add(op, {a, b}, {dst}); }

T* Builder::unary(const T* x, uint32_t kind) {
    T* d = f32(ne_of(x));
    auto p = host::params<ds4_params_unary>();
    p.kind = kind;
    g.add(DS4_OP_UNARY, {x}, {d}, p);
    return d;
}

T* Builder::scale(const T* x, float s, float bias) {
    T* d = f32(ne_of(x));
    auto p = host::params<ds4_params_scale>();
    p.scale = s;
    p.bias = bias;
    g.add(DS4_OP_SCALE, {x}, {d}, p);
    return d;
}

T* Builder::clamp(const T* x, float lo, float hi) {
    T* d = f32(ne_of(x));
    auto p = host::params<ds4_params_clamp>();
    p.lo = lo;
    p.hi = hi;
    g.add(DS4_OP_CLAMP, {x}, {d}, p);
    return d;
}

T* Builder::rms_norm(const T* x, const T* w, float eps) {
    T* d = f32(ne_of(x));
    auto p = host::params<ds4_params_rms_norm>();
    p.eps = eps;
    if (w)
        g.add(DS4_OP_RMS_NORM, {x, w}, {d}, p);
    else
        g.add(DS4_OP_RMS_NORM, {x}, {d}, p);
    return d;
}

T* Builder::matmul(const T* w, const T* x, uint32_t act_quant) {
    T* d = f32({w->ne[1], x->ne[1], x->ne[2], x->ne[3]});
    auto p = host::params<ds4_params_matmul>();
    p.act_quant = act_quant;
    g.add(DS4_OP_MATMUL, {w, x}, {d}, p);
    return d;
}

T* Builder::matmul_id(const T* w, const T* x, const T* ids, uint32_t act_quant) {
    T* d = f32({w->ne[1], ids->ne[0], ids->ne[1]});
    auto p = host::params<ds4_params_matmul>();
    p.act_quant = act_quant;
    g.add(DS4_OP_MATMUL_ID, {w, x, ids}, {d}, p);
    return d;
}

T* Builder::matmul_f32(const T* a, const T* b) {
    T* d = f32({b->ne[1], a->ne[1], a->ne[2], a->ne[3]});
    matmul_f32_into(a, b, d);
    return d;
}

void Builder::matmul_f32_into(const T* a, const T* b, const T* dst) { g.add(DS4_OP_MATMUL_F32, {a, b}, {dst}); }

T* Builder::sum_rows(const T* x) {
    T* d = f32({1, x->ne[1], x->ne[2], x->ne[3]});
    sum_rows_into(x, d);
    return d;
}

void Builder::sum_rows_into(const T* x, const T* dst) { g.add(DS4_OP_SUM_ROWS, {x}, {dst}); }

T* Builder::softmax(const T* x, const T* mask, const T* sinks, float s) {
    T* d = f32(ne_of(x));
    auto p = host::params<ds4_params_softmax>();
    p.scale = s;
    if (sinks)
        g.add(DS4_OP_SOFTMAX, {x, mask, sinks}, {d}, p);
    else if (mask)
        g.add(DS4_OP_SOFTMAX, {x, mask}, {d}, p);
    else
        g.add(DS4_OP_SOFTMAX, {x}, {d}, p);
    return d;
}

void Builder::copy(const T* src, const T* dst) { g.add(DS4_OP_COPY, {src}, {dst}); }

const T* Builder::contiguous(const T* src) {
    if (Graph::is_contiguous(*src)) return src;
    T* d = f32(ne_of(src));
    copy(src, d);
    return d;
}

T* Builder::get_rows(const T* table, const T* idx) {
    T* d = f32({table->ne[0], idx->ne[0], idx->ne[1]});
    g.add(DS4_OP_GET_ROWS, {table, idx}, {d});
    return d;
}

void Builder::set_rows(const T* src, const T* idx, const T* dst, int64_t row_modulo) {
    auto p = host::params<ds4_params_set_rows>();
    p.row_modulo = row_modulo;
    g.add(DS4_OP_SET_ROWS, {src, idx}, {dst}, p);
}

T* Builder::topk(const T* x, int64_t k) {
    T* d = i32({k, x->ne[1], x->ne[2], x->ne[3]});
    topk_into(x, d);
    return d;
}

void Builder::topk_into(const T* x, const T* dst) { g.add(DS4_OP_TOPK, {x}, {dst}); }

T* Builder::gather_cols(const T* x, const T* idx) {
    T* d = f32(ne_of(idx));
    g.add(DS4_OP_GATHER_COLS, {x, idx}, {d});
    return d;
}

void Builder::rope_inplace(const T* x, const T* pos, uint32_t pos_dim, const ds4_rope_params& rope) {
    auto p = host::params<ds4_params_rope>();
    p.inverse = 0;
    p.pos_dim = pos_dim;
    p.rope = rope;
    p.rope.struct_size = sizeof(ds4_rope_params);
    g.add(DS4_OP_ROPE_TAIL, {x, pos}, {x}, p);
}

void Builder::quant_sim_inplace(const T* x, uint32_t kind, uint32_t n_nope) {
    auto p = host::params<ds4_params_quant_sim>();
    p.kind = kind;
    p.n_nope = n_nope;
    g.add(DS4_OP_QUANT_SIM, {x}, {x}, p);
}

}  // namespace ds4::decompose::detail
