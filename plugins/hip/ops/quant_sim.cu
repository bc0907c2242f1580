// QUANT_SIM: the QAT simulations of MODEL.md §C.0 on the device, written to reproduce
// ds4::quant (sim.cpp, checkpoint.cpp) exactly: E4M3FN / E2M1 rounding (ties to even,
// saturating), power-of-two block scales from frexp, Hadamard-128 butterflies in the same
// order, F16 round trip with RNE. One thread per row (FP8_KV) or per 128-wide chunk
// (INDEXER_QAT), one per element (F16_ROUND); the row is read before it is written, so dst
// may alias src0.
#include "common.cuh"
#include "ops.h"
#include "quant_sim.cuh"

namespace ds4::gpu {
namespace {

// FP8_KV on dims [0, n_nope) in blocks of 64, processed in place through a 64-float window
// per block (the blocks are independent); the rest of the row is copied.
__global__ void fp8_kv_kernel(DTensor x, DTensor d, int64_t rows, int64_t n_nope) {
    const int64_t n = x.ne[0];
    for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
        float buf[64];
        for (int64_t off = 0; off < n_nope; off += 64) {
            const int64_t len = n_nope - off < 64 ? n_nope - off : 64;
            for (int64_t i = 0; i < len; ++i) buf[i] = *reinterpret_cast<const float*>(d_row_elem(x, r, off + i));
            d_fp8_kv_block(buf, len);
            for (int64_t i = 0; i < len; ++i) *reinterpret_cast<float*>(d_row_elem(d, r, off + i)) = buf[i];
        }
        for (int64_t i = n_nope; i < n; ++i)
            *reinterpret_cast<float*>(d_row_elem(d, r, i)) = *reinterpret_cast<const float*>(d_row_elem(x, r, i));
    }
}

// INDEXER_QAT: Hadamard-128 (butterflies with stride 1, 2, …, 64, then ×1/√128) and FP4 in
// blocks of 32, per 128-wide chunk.
__global__ void indexer_qat_kernel(DTensor x, DTensor d, int64_t chunks) {
    const int64_t per_row = x.ne[0] / 128;
    for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < chunks; c += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = c / per_row, off = (c % per_row) * 128;
        float v[128];
        for (int i = 0; i < 128; ++i) v[i] = *reinterpret_cast<const float*>(d_row_elem(x, r, off + i));
        d_indexer_qat_row(v);
        for (int i = 0; i < 128; ++i) *reinterpret_cast<float*>(d_row_elem(d, r, off + i)) = v[i];
    }
}

__global__ void f16_round_kernel(DTensor x, DTensor d, int64_t n) {
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
        Idx4 ix = d_split(x, e);
        const float v = *reinterpret_cast<const float*>(d_elem(x, ix.i0, ix.i1, ix.i2, ix.i3));
        *reinterpret_cast<float*>(d_elem(d, ix.i0, ix.i1, ix.i2, ix.i3)) = d_f16_to_f32(d_f32_to_f16(v));
    }
}

}  // namespace

KernelStatus run_quant_sim(const ds4_node& node, KernelContext& ctx) {
    ds4_params_quant_sim p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const int64_t rows = n_rows(x);
    switch (p.kind) {
    case DS4_SIM_FP8_KV:
        fp8_kv_kernel<<<blocks_for(rows, 64), 64, 0, ctx.stream>>>(dtensor(x), dtensor(d), rows, p.n_nope);
        break;
    case DS4_SIM_INDEXER_QAT: {
        const int64_t chunks = rows * (x->ne[0] / 128);
        indexer_qat_kernel<<<blocks_for(chunks, 64), 64, 0, ctx.stream>>>(dtensor(x), dtensor(d), chunks);
        break;
    }
    default:
        f16_round_kernel<<<blocks_for(n_elems(x)), kThreads, 0, ctx.stream>>>(dtensor(x), dtensor(d), n_elems(x));
        break;
    }
    return launch_status("quant_sim");
}

}  // namespace ds4::gpu
