// COPY, GET_ROWS, SET_ROWS: moving rows between tensors and types.
#include <vector>

#include "common.h"
#include "ops.h"
#include "quant/quant.h"

namespace ds4::cpuref {

// ---- COPY: dst = convert(src0), F32|F16|BF16, same ne, any strides -----------------------

KernelStatus check_copy(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 1, 1); !st.ok()) return st;
    const ds4_tensor *src = node.src[0], *dst = node.dst[0];
    if (auto st = check_type(src, "src0", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}); !st.ok()) return st;
    if (auto st = check_type(dst, "dst", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}); !st.ok()) return st;
    return check_same_shape(src, "src0", dst, "dst");
}

KernelStatus run_copy(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *src = node.src[0], *dst = node.dst[0];
    const int64_t ne0 = src->ne[0];
    ctx.pool.parallel_for(n_rows(src), 16, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* s = row_elem(src, r);
            uint8_t* d = row_elem(dst, r);
            for (int64_t i = 0; i < ne0; ++i)
                store_float(dst->type, d + i * dst->nb[0], load_float(src->type, s + i * src->nb[0]));
        }
    });
    return {};
}

// ---- GET_ROWS: dst[i] = dequantize(src0[idx[i]]), idx -1 → zeros -------------------------

KernelStatus check_get_rows(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    const ds4_tensor *table = node.src[0], *idx = node.src[1], *dst = node.dst[0];
    if (!is_weight_type(table->type))
        return KernelStatus::unsupported(msg("src0 type ", ds4_type_name(table->type), " not supported"));
    if (auto st = check_max_dims(table, "src0", 2); !st.ok()) return st;
    if (ds4_type_block_elems(table->type) > 1)
        if (auto st = check_rows_contiguous(table, "src0"); !st.ok()) return st;
    if (auto st = check_type(idx, "src1", {DS4_TYPE_I32}); !st.ok()) return st;
    if (auto st = check_type(dst, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_max_dims(idx, "src1", 3); !st.ok()) return st;
    if (dst->ne[0] != table->ne[0])
        return KernelStatus::invalid(msg("dst ne0 ", dst->ne[0], " != src0 row length ", table->ne[0]));
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        if (dst->ne[i] != idx->ne[i - 1])
            return KernelStatus::invalid(msg("dst shape ", shape_str(dst), " does not match [n, indices ", shape_str(idx), "]"));
    return {};
}

KernelStatus run_get_rows(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *table = node.src[0], *idx = node.src[1], *dst = node.dst[0];
    const int64_t n = table->ne[0], R = table->ne[1], m = n_elems(idx);
    // Validate every index before writing anything.
    for (int64_t i = 0; i < m; ++i) {
        int32_t r = *reinterpret_cast<const int32_t*>(row_elem(idx, i / idx->ne[0], i % idx->ne[0]));
        if (r != -1 && (r < 0 || r >= R))
            return KernelStatus::invalid(msg("row index ", r, " at position ", i, " outside [0, ", R, ")"));
    }
    const bool blocks = ds4_type_block_elems(table->type) > 1;
    ctx.pool.parallel_for(m, 4, [&](int64_t i0, int64_t i1) {
        std::vector<float> row(static_cast<size_t>(n));
        for (int64_t i = i0; i < i1; ++i) {
            int32_t r = *reinterpret_cast<const int32_t*>(row_elem(idx, i / idx->ne[0], i % idx->ne[0]));
            if (r == -1) {
                std::fill(row.begin(), row.end(), 0.0f);
            } else if (blocks) {
                quant::dequantize_row(static_cast<ds4_type>(table->type), row_ptr(table, r), row.data(), n);
            } else {
                const uint8_t* s = row_ptr(table, r);
                for (int64_t j = 0; j < n; ++j) row[j] = load_float(table->type, s + j * table->nb[0]);
            }
            store_f32_row(dst, i, row.data());
        }
    });
    return {};
}

// ---- SET_ROWS: dst[idx[i] mod row_modulo] = src0[i], idx -1 skips, rows in order ----------

KernelStatus check_set_rows(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    const ds4_tensor *src = node.src[0], *idx = node.src[1], *dst = node.dst[0];
    ds4_params_set_rows p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_set_rows");
    if (p.row_modulo < 0) return KernelStatus::invalid(msg("row_modulo ", p.row_modulo, " < 0"));
    if (auto st = check_type(src, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(idx, "src1", {DS4_TYPE_I32}); !st.ok()) return st;
    if (auto st = check_type(dst, "dst", {DS4_TYPE_F32, DS4_TYPE_F16}); !st.ok()) return st;
    if (auto st = check_max_dims(dst, "dst", 2); !st.ok()) return st;
    if (src->ne[0] != dst->ne[0])
        return KernelStatus::invalid(msg("src0 ne0 ", src->ne[0], " != dst row length ", dst->ne[0]));
    if (n_elems(idx) != n_rows(src))
        return KernelStatus::invalid(msg("src1 has ", n_elems(idx), " indices for ", n_rows(src), " rows of src0"));
    return {};
}

KernelStatus run_set_rows(const ds4_node& node, KernelContext& ctx) {
    const ds4_tensor *src = node.src[0], *idx = node.src[1], *dst = node.dst[0];
    ds4_params_set_rows p;
    read_params(node, &p);
    const int64_t n = src->ne[0], R = dst->ne[1], m = n_rows(src);
    auto target = [&](int64_t i) -> int64_t {
        int32_t r = *reinterpret_cast<const int32_t*>(row_elem(idx, i / idx->ne[0], i % idx->ne[0]));
        if (r == -1) return -1;
        if (r < 0) return -2;
        return p.row_modulo > 0 ? r % p.row_modulo : r;
    };
    for (int64_t i = 0; i < m; ++i) {
        int64_t t = target(i);
        if (t == -2 || t >= R) {
            int32_t r = *reinterpret_cast<const int32_t*>(row_elem(idx, i / idx->ne[0], i % idx->ne[0]));
            return KernelStatus::invalid(msg("row index ", r, " at position ", i, " maps outside [0, ", R, ")"));
        }
    }
    // Rows are written in index order i = 0..m-1 (later duplicates win); the columns of a
    // row are split across threads, which keeps that order.
    for (int64_t i = 0; i < m; ++i) {
        int64_t t = target(i);
        if (t < 0) continue;
        const uint8_t* s = row_elem(src, i);
        uint8_t* d = row_ptr(dst, t);
        ctx.pool.parallel_for(n, 4096, [&](int64_t j0, int64_t j1) {
            for (int64_t j = j0; j < j1; ++j) store_float(dst->type, d + j * dst->nb[0], load_float(DS4_TYPE_F32, s + j * src->nb[0]));
        });
    }
    return {};
}

}  // namespace ds4::cpuref
