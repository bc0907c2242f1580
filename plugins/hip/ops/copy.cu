// COPY, GET_ROWS, SET_ROWS: moving rows between tensors and types.
#include "common.cuh"
#include "ops.h"

namespace ds4::gpu {
namespace {

__global__ void copy_kernel(DTensor src, DTensor dst, int64_t n) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
        Idx4 ix = d_split(src, e);
        float v = d_load_float(src.type, d_elem(src, ix.i0, ix.i1, ix.i2, ix.i3));
        d_store_float(dst.type, d_elem(dst, ix.i0, ix.i1, ix.i2, ix.i3), v);
    }
}

// One block per gathered row; every thread first sees the row index (so a bad index stops the
// whole row before anything is written).
__global__ void get_rows_kernel(DTensor table, DTensor idx, DTensor dst, int64_t m, Iq2Tables tabs, DeviceError* err,
                                int32_t node) {
    const int64_t n = table.ne[0], R = table.ne[1];
    for (int64_t i = blockIdx.x; i < m; i += gridDim.x) {
        const int32_t r = *reinterpret_cast<const int32_t*>(d_row_elem(idx, i / idx.ne[0], i % idx.ne[0]));
        if (r != -1 && (r < 0 || r >= R)) {
            if (threadIdx.x == 0) d_report(err, kErrRowIndex, node, r, i);
            continue;
        }
        const uint8_t* row = table.data + int64_t(r < 0 ? 0 : r) * table.nb[1];
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            float v = r == -1 ? 0.0f : d_dequant(table.type, row, j, tabs);
            *reinterpret_cast<float*>(d_row_elem(dst, i, j)) = v;
        }
    }
}

// Grid (column blocks, rows): every block first checks all m indices (a bad index anywhere
// means nothing is written; the first bad row is reported), then writes its rows unless a later
// row has the same target — so later duplicates win exactly as the ABI says, without a
// sequential walk over the rows.
__device__ inline int64_t set_rows_target(const DTensor& idx, int64_t i, int64_t modulo, int32_t* raw) {
    const int32_t r = *reinterpret_cast<const int32_t*>(d_row_elem(idx, i / idx.ne[0], i % idx.ne[0]));
    *raw = r;
    if (r == -1) return -1;
    if (r < 0) return -2;
    return modulo > 0 ? r % modulo : r;
}

__global__ void set_rows_kernel(DTensor src, DTensor idx, DTensor dst, int64_t m, int64_t modulo, DeviceError* err,
                                int32_t node) {
    __shared__ unsigned long long first_bad;
    const int64_t n = src.ne[0], R = dst.ne[1];
    if (threadIdx.x == 0) first_bad = ~0ull;
    __syncthreads();
    int32_t raw;
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x) {
        const int64_t t = set_rows_target(idx, i, modulo, &raw);
        if (t != -1 && (t < 0 || t >= R)) atomicMin(&first_bad, static_cast<unsigned long long>(i));
    }
    __syncthreads();
    if (first_bad != ~0ull) {
        const int64_t i = static_cast<int64_t>(first_bad);
        set_rows_target(idx, i, modulo, &raw);
        if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) d_report(err, kErrSetRowIndex, node, raw, i);
        return;
    }
    for (int64_t i = blockIdx.y; i < m; i += gridDim.y) {
        const int64_t t = set_rows_target(idx, i, modulo, &raw);
        bool overwritten = false;
        for (int64_t k = i + 1 + threadIdx.x; k < m && t >= 0; k += blockDim.x)
            overwritten |= set_rows_target(idx, k, modulo, &raw) == t;
        if (__syncthreads_or(overwritten) || t < 0) continue;
        for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n; j += int64_t(gridDim.x) * blockDim.x) {
            const float v = *reinterpret_cast<const float*>(d_row_elem(src, i, j));
            d_store_float(dst.type, d_elem(dst, j, t, 0, 0), v);
        }
    }
}

}  // namespace

KernelStatus run_copy(const ds4_node& node, KernelContext& ctx) {
    const int64_t n = n_elems(node.src[0]);
    copy_kernel<<<blocks_for(n), kThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.dst[0]), n);
    return launch_status("copy");
}

KernelStatus run_get_rows(const ds4_node& node, KernelContext& ctx) {
    const int64_t m = n_elems(node.src[1]);
    const unsigned grid = static_cast<unsigned>(m < 65535 * 16 ? m : 65535 * 16);
    get_rows_kernel<<<grid, kThreads, 0, ctx.stream>>>(dtensor(node.src[0]), dtensor(node.src[1]), dtensor(node.dst[0]), m,
                                                       Iq2Tables{ctx.iq2_grid, ctx.iq2_signs}, ctx.err, ctx.node);
    return launch_status("get_rows");
}

KernelStatus run_set_rows(const ds4_node& node, KernelContext& ctx) {
    ds4_params_set_rows p;
    read_params(node, &p);
    const int64_t m = n_rows(node.src[0]);
    const dim3 grid(blocks_for(node.src[0]->ne[0]), static_cast<unsigned>(m < 1 ? 1 : m < 65535 ? m : 65535));
    set_rows_kernel<<<grid, kThreads, 0, ctx.stream>>>(
        dtensor(node.src[0]), dtensor(node.src[1]), dtensor(node.dst[0]), m, p.row_modulo, ctx.err, ctx.node);
    return launch_status("set_rows");
}

}  // namespace ds4::gpu
