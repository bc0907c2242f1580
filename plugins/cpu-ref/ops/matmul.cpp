// MATMUL, MATMUL_ID, MATMUL_F32.
//
// Quantized matvecs follow MODEL.md §C.0: with DS4_ACT_DS4 each activation row is quantized
// ONCE into the format the weight type consumes (Q8_0-act for Q8_0, Q8_K for K-quants and
// IQ2_XXS, f32 for float weights) and the quant library's integer dots do the rest; with
// DS4_ACT_F32 the weights are dequantized and dotted against f32 x. Work is split over
// blocks of weight rows; each block reads its weight rows once and dots them with every
// activation row that uses them (prefill batches, or all tokens routed to one expert), so a
// weight row is streamed from memory once per op. Each output element is one dot computed
// in a fixed order, so results do not depend on the thread count or on the batch size.
#include <cstring>
#include <vector>

#include "common.h"
#include "ops.h"
#include "quant/quant.h"

namespace ds4::cpuref {
namespace {

// Weight rows per work item: small enough to balance threads on short matrices, large
// enough that the per-item overhead vanishes.
constexpr int64_t kRowsPerItem = 16;

// Activation rows per weight row from which a whole-row decode (scalar dequantize_row) pays
// off against the fused dequantize-dot kernels (measured ~40 on AVX2 for every block type).
constexpr size_t kDecodeMinPairs = 32;

quant::ActQuant act_mode(uint32_t act_quant) {
    return act_quant == DS4_ACT_DS4 ? quant::ActQuant::Ds4 : quant::ActQuant::None;
}

KernelStatus check_matmul_params(const ds4_node& node, ds4_params_matmul* p) {
    if (!read_params(node, p)) return KernelStatus::invalid("missing ds4_params_matmul");
    if (p->act_quant != DS4_ACT_F32 && p->act_quant != DS4_ACT_DS4)
        return KernelStatus::invalid(msg("unknown act_quant ", p->act_quant));
    return {};
}

KernelStatus check_weight(const ds4_tensor* w) {
    if (!is_weight_type(w->type))
        return KernelStatus::unsupported(msg("weight type ", ds4_type_name(w->type), " not supported"));
    if (auto st = check_whole_blocks(w, "weight"); !st.ok()) return st;
    return check_rows_contiguous(w, "weight");
}

// Activation rows converted once into the weight's activation format, stored contiguously.
struct ActRows {
    quant::ActFormat fmt;
    int64_t row_bytes = 0;
    std::vector<uint8_t> data;
    const void* row(int64_t r) const { return data.data() + r * row_bytes; }
};

ActRows prepare_acts(const ds4_tensor* x, ds4_type wtype, quant::ActQuant mode, ThreadPool& pool) {
    ActRows a;
    a.fmt = quant::act_format_for(wtype, mode);
    const int64_t in = x->ne[0], rows = n_rows(x);
    a.row_bytes = quant::act_row_bytes(a.fmt, in);
    a.row_bytes = (a.row_bytes + 63) / 64 * 64;  // keep every row cache-line aligned
    a.data.resize(static_cast<size_t>(a.row_bytes * rows));
    pool.parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
        std::vector<float> tmp(static_cast<size_t>(in));
        for (int64_t r = r0; r < r1; ++r) {
            load_f32_row(x, r, tmp.data());
            quant::quantize_act(a.fmt, tmp.data(), a.data.data() + r * a.row_bytes, in);
        }
    });
    return a;
}

// One activation row meeting one weight matrix, writing dst row `out` (element o at out + o·stride).
struct Pair {
    int64_t act;
    uint8_t* out;
};

// A weight matrix [OUT][IN] and the pairs that use it.
struct Group {
    const uint8_t* w;
    std::vector<Pair> pairs;
};

// Runs every group over blocks of kRowsPerItem weight rows.
void run_groups(const std::vector<Group>& groups, ds4_type wtype, int64_t in, int64_t out_rows, int64_t w_row_bytes,
                int64_t out_stride, const ActRows& acts, quant::ActQuant mode, ThreadPool& pool) {
    struct Item {
        int32_t group;
        int64_t o0, o1;
    };
    std::vector<Item> items;
    for (size_t g = 0; g < groups.size(); ++g)
        for (int64_t o = 0; o < out_rows; o += kRowsPerItem)
            items.push_back({static_cast<int32_t>(g), o, o + kRowsPerItem < out_rows ? o + kRowsPerItem : out_rows});
    // With f32 activations the library's fused dots (dot_dequant_f32: each element decoded
    // with dequantize_row's formula, 8 lanes as dot_f32_f32) cost about one f32 dot per
    // activation row. When many activation rows share a weight row (prefill, busy experts) the
    // row is instead decoded once into a scratch row and dotted with dot_f32_f32: the same
    // values in the same lane order, so results equal the per-row dots bit for bit, and the
    // decode cost is spread over the rows. F16/BF16 (and F32) never need the scratch row.
    const bool f32_acts = acts.fmt == quant::ActFormat::F32;
    const bool block_quant = wtype != DS4_TYPE_F32 && wtype != DS4_TYPE_F16 && wtype != DS4_TYPE_BF16;
    pool.parallel_for(static_cast<int64_t>(items.size()), 1, [&](int64_t i0, int64_t i1) {
        std::vector<float> wrow;
        for (int64_t i = i0; i < i1; ++i) {
            const Item& it = items[i];
            const Group& g = groups[it.group];
            const bool decode = f32_acts && block_quant && g.pairs.size() >= kDecodeMinPairs;
            if (decode && wrow.empty()) wrow.resize(static_cast<size_t>(in));
            for (int64_t o = it.o0; o < it.o1; ++o) {
                const uint8_t* w = g.w + o * w_row_bytes;
                if (decode) {
                    quant::dequantize_row(wtype, w, wrow.data(), in);
                    for (const Pair& p : g.pairs) {
                        float y = quant::dot_f32_f32(wrow.data(), static_cast<const float*>(acts.row(p.act)), in);
                        std::memcpy(p.out + o * out_stride, &y, 4);
                    }
                } else {
                    for (const Pair& p : g.pairs) {
                        float y = quant::dot_row(wtype, w, acts.row(p.act), in, mode);
                        std::memcpy(p.out + o * out_stride, &y, 4);
                    }
                }
            }
        }
    });
}

}  // namespace

// ---- MATMUL: y[t] = W · x[t] ---------------------------------------------------------------

KernelStatus check_matmul(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    ds4_params_matmul p;
    if (auto st = check_matmul_params(node, &p); !st.ok()) return st;
    const ds4_tensor *w = node.src[0], *x = node.src[1], *y = node.dst[0];
    if (auto st = check_weight(w); !st.ok()) return st;
    if (auto st = check_max_dims(w, "weight", 2); !st.ok()) return st;
    if (auto st = check_type(x, "src1", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(y, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (x->ne[0] != w->ne[0]) return KernelStatus::invalid(msg("src1 ne0 ", x->ne[0], " != weight IN ", w->ne[0]));
    if (y->ne[0] != w->ne[1]) return KernelStatus::invalid(msg("dst ne0 ", y->ne[0], " != weight OUT ", w->ne[1]));
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (y->ne[i] != x->ne[i])
            return KernelStatus::invalid(msg("dst shape ", shape_str(y), " does not match src1 shape ", shape_str(x)));
    return {};
}

KernelStatus run_matmul(const ds4_node& node, KernelContext& ctx) {
    ds4_params_matmul p;
    read_params(node, &p);
    const ds4_tensor *w = node.src[0], *x = node.src[1], *y = node.dst[0];
    const auto wtype = static_cast<ds4_type>(w->type);
    const quant::ActQuant mode = act_mode(p.act_quant);
    ActRows acts = prepare_acts(x, wtype, mode, ctx.pool);
    std::vector<Group> groups(1);
    groups[0].w = tensor_data(w);
    for (int64_t r = 0; r < n_rows(x); ++r) groups[0].pairs.push_back({r, row_elem(y, r)});
    run_groups(groups, wtype, w->ne[0], w->ne[1], w->nb[1], y->nb[0], acts, mode, ctx.pool);
    return {};
}

// ---- MATMUL_ID: y[t][j] = W[ids[t][j]] · x[t][kx == 1 ? 0 : j] -------------------------------

KernelStatus check_matmul_id(const ds4_node& node) {
    if (auto st = check_operands(node, 3, 3, 1); !st.ok()) return st;
    ds4_params_matmul p;
    if (auto st = check_matmul_params(node, &p); !st.ok()) return st;
    const ds4_tensor *w = node.src[0], *x = node.src[1], *ids = node.src[2], *y = node.dst[0];
    if (auto st = check_weight(w); !st.ok()) return st;
    if (auto st = check_max_dims(w, "weight", 3); !st.ok()) return st;
    if (auto st = check_type(x, "src1", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(ids, "src2", {DS4_TYPE_I32}); !st.ok()) return st;
    if (auto st = check_type(y, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_max_dims(x, "src1", 3); !st.ok()) return st;
    if (auto st = check_max_dims(ids, "src2", 2); !st.ok()) return st;
    if (auto st = check_max_dims(y, "dst", 3); !st.ok()) return st;
    const int64_t k = ids->ne[0], n = ids->ne[1];
    if (x->ne[0] != w->ne[0]) return KernelStatus::invalid(msg("src1 ne0 ", x->ne[0], " != weight IN ", w->ne[0]));
    if (x->ne[1] != 1 && x->ne[1] != k)
        return KernelStatus::invalid(msg("src1 ne1 ", x->ne[1], " must be 1 or k = ", k));
    if (x->ne[2] != n) return KernelStatus::invalid(msg("src1 ne2 ", x->ne[2], " != ids rows ", n));
    if (y->ne[0] != w->ne[1] || y->ne[1] != k || y->ne[2] != n)
        return KernelStatus::invalid(msg("dst shape ", shape_str(y), " != [", w->ne[1], ", ", k, ", ", n, "]"));
    return {};
}

KernelStatus run_matmul_id(const ds4_node& node, KernelContext& ctx) {
    ds4_params_matmul p;
    read_params(node, &p);
    const ds4_tensor *w = node.src[0], *x = node.src[1], *ids = node.src[2], *y = node.dst[0];
    const int64_t E = w->ne[2], k = ids->ne[0], n = ids->ne[1], kx = x->ne[1], out = w->ne[1];
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < k; ++j) {
            int32_t e = i32_at(ids, j, t);
            if (e != -1 && (e < 0 || e >= E))
                return KernelStatus::invalid(msg("expert id ", e, " at [", t, "][", j, "] outside [0, ", E, ")"));
        }
    const auto wtype = static_cast<ds4_type>(w->type);
    const quant::ActQuant mode = act_mode(p.act_quant);
    ActRows acts = prepare_acts(x, wtype, mode, ctx.pool);
    // Group (token, slot) pairs by expert, in (t, j) order; id -1 gives a zero row.
    std::vector<int32_t> group_of(static_cast<size_t>(E), -1);
    std::vector<Group> groups;
    for (int64_t t = 0; t < n; ++t)
        for (int64_t j = 0; j < k; ++j) {
            int32_t e = i32_at(ids, j, t);
            uint8_t* dst_row = element_ptr(y, 0, j, t);
            if (e == -1) {
                for (int64_t o = 0; o < out; ++o) std::memset(dst_row + o * y->nb[0], 0, 4);
                continue;
            }
            if (group_of[e] < 0) {
                group_of[e] = static_cast<int32_t>(groups.size());
                groups.push_back({tensor_data(w) + e * w->nb[2], {}});
            }
            groups[group_of[e]].pairs.push_back({t * kx + (kx == 1 ? 0 : j), dst_row});
        }
    run_groups(groups, wtype, w->ne[0], out, w->nb[1], y->nb[0], acts, mode, ctx.pool);
    return {};
}

// ---- MATMUL_F32: dst[b][m][n] = Σ_k A[b][m][k]·B[b mod B'][n][k] -----------------------------

KernelStatus check_matmul_f32(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    if (auto st = check_type(a, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(b, "src1", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (a->ne[0] != b->ne[0]) return KernelStatus::invalid(msg("src1 ne0 ", b->ne[0], " != src0 K ", a->ne[0]));
    if (d->ne[0] != b->ne[1] || d->ne[1] != a->ne[1] || d->ne[2] != a->ne[2] || d->ne[3] != a->ne[3])
        return KernelStatus::invalid(
            msg("dst shape ", shape_str(d), " != [N ", b->ne[1], ", M ", a->ne[1], ", ", a->ne[2], ", ", a->ne[3], "]"));
    return {};
}

KernelStatus run_matmul_f32(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *a = node.src[0], *b = node.src[1], *d = node.dst[0];
    const int64_t K = a->ne[0], M = a->ne[1], N = b->ne[1];
    std::vector<float> packed(static_cast<size_t>(N * K));  // B of the current batch, [N][K] contiguous
    for (int64_t b3 = 0; b3 < a->ne[3]; ++b3)
        for (int64_t b2 = 0; b2 < a->ne[2]; ++b2) {
            const int64_t bb2 = b2 % b->ne[2], bb3 = b3 % b->ne[3];
            ctx.pool.parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
                for (int64_t nn = n0; nn < n1; ++nn)
                    for (int64_t kk = 0; kk < K; ++kk)
                        std::memcpy(&packed[nn * K + kk], element_ptr(b, kk, nn, bb2, bb3), 4);
            });
            ctx.pool.parallel_for(M, 1, [&](int64_t m0, int64_t m1) {
                std::vector<float> arow(static_cast<size_t>(K));
                for (int64_t m = m0; m < m1; ++m) {
                    for (int64_t kk = 0; kk < K; ++kk) std::memcpy(&arow[kk], element_ptr(a, kk, m, b2, b3), 4);
                    for (int64_t nn = 0; nn < N; ++nn) {
                        const float* brow = &packed[nn * K];
                        float acc = 0.0f;  // one accumulator, k ascending (the documented order)
                        for (int64_t kk = 0; kk < K; ++kk) acc += arow[kk] * brow[kk];
                        f32_at(d, nn, m, b2, b3) = acc;
                    }
                }
            });
        }
    return {};
}

}  // namespace ds4::cpuref
