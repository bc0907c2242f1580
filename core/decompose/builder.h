// Internal helpers of core/decompose: append typed Tier-0 nodes to a host::Graph with fresh
// contiguous F32 scratch outputs, and build strided views. Not a public header.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ds4/backend.h"
#include "host/graph.h"
#include "host/status.h"

namespace ds4::decompose::detail {

using host::Graph;
using T = ds4_tensor;

[[noreturn]] void fail(uint32_t op, const std::string& what);
void require(bool ok, uint32_t op, const std::string& what);

// The node's params of type P (shorter structs zero-extended); throws when missing.
template <class P>
P read_params(const ds4_node& node) {
    P p{};
    require(node.params != nullptr && node.params_size >= sizeof(uint32_t), node.op, "missing params");
    const size_t n = node.params_size < sizeof(P) ? node.params_size : sizeof(P);
    std::memcpy(&p, node.params, n);
    return p;
}

// src[i] of the node, required non-NULL.
inline const ds4_tensor* src(const ds4_node& node, uint32_t i) {
    require(i < node.n_src && node.src[i] != nullptr, node.op, "src" + std::to_string(i) + " is missing");
    return node.src[i];
}
inline const ds4_tensor* opt_src(const ds4_node& node, uint32_t i) { return i < node.n_src ? node.src[i] : nullptr; }
inline const ds4_tensor* dst(const ds4_node& node, uint32_t i) {
    require(i < node.n_dst && node.dst[i] != nullptr, node.op, "dst" + std::to_string(i) + " is missing");
    return node.dst[i];
}

// ne as a vector with trailing 1s kept (4 entries).
std::vector<int64_t> ne_of(const T* t);

class Builder {
public:
    explicit Builder(Graph& g) : g(g) {}
    Graph& g;

    T* f32(const std::vector<int64_t>& ne) { return g.scratch(DS4_TYPE_F32, ne); }
    T* i32(const std::vector<int64_t>& ne) { return g.scratch(DS4_TYPE_I32, ne); }
    T* const_f32(const std::vector<int64_t>& ne, const std::vector<float>& v) { return g.constant(DS4_TYPE_F32, ne, v.data()); }
    T* const_i32(const std::vector<int64_t>& ne, const std::vector<int32_t>& v) { return g.constant(DS4_TYPE_I32, ne, v.data()); }
    T* view(const T* base, const std::vector<int64_t>& ne, const std::vector<int64_t>& nb, uint64_t off = 0) {
        return g.view(base, ne, nb, off);
    }
    // Single element i of a 1-D tensor as a [1] view (for broadcasting a scalar input).
    T* elem(const T* base, int64_t i) { return view(base, {1}, {base->nb[0]}, static_cast<uint64_t>(i * base->nb[0])); }

    // dst = op(a, b) into a new scratch tensor shaped like a (ADD/MUL/DIV).
    T* binary(uint32_t op, const T* a, const T* b);
    T* add(const T* a, const T* b) { return binary(DS4_OP_ADD, a, b); }
    T* mul(const T* a, const T* b) { return binary(DS4_OP_MUL, a, b); }
    T* div(const T* a, const T* b) { return binary(DS4_OP_DIV, a, b); }
    void binary_into(uint32_t op, const T* a, const T* b, const T* dst);
    T* unary(const T* x, uint32_t kind);
    T* scale(const T* x, float s, float bias);
    T* clamp(const T* x, float lo, float hi);
    T* rms_norm(const T* x, const T* w, float eps);
    // y = W·x (MATMUL): ne {OUT, x.ne1, x.ne2, x.ne3}.
    T* matmul(const T* w, const T* x, uint32_t act_quant);
    // y = W[ids]·x (MATMUL_ID): ne {OUT, k, n}.
    T* matmul_id(const T* w, const T* x, const T* ids, uint32_t act_quant);
    // dst[b][m][n] = Σ_k A[b][m][k]·B[b mod B'][n][k]: ne {B.ne1, A.ne1, A.ne2, A.ne3}.
    T* matmul_f32(const T* a, const T* b);
    void matmul_f32_into(const T* a, const T* b, const T* dst);
    T* sum_rows(const T* x);
    void sum_rows_into(const T* x, const T* dst);
    T* softmax(const T* x, const T* mask, const T* sinks, float scale);
    void copy(const T* src, const T* dst);
    // src itself when contiguous, else a contiguous copy.
    const T* contiguous(const T* src);
    T* get_rows(const T* table, const T* idx);  // ne {table.ne0, idx.ne0, idx.ne1}
    void set_rows(const T* src, const T* idx, const T* dst, int64_t row_modulo = 0);
    T* topk(const T* x, int64_t k);  // I32 {k, x.ne1, x.ne2, x.ne3}
    void topk_into(const T* x, const T* dst);
    T* gather_cols(const T* x, const T* idx);
    void rope_inplace(const T* x, const T* pos, uint32_t pos_dim, const ds4_rope_params& rope);
    void quant_sim_inplace(const T* x, uint32_t kind, uint32_t n_nope);
};

}  // namespace ds4::decompose::detail
