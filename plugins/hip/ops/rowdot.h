// Matrix-vector products of the Tier-1 ops (COMPRESSOR, INDEXER_TOPK projections) in exactly
// cpu-ref's arithmetic (quant::dot_row): the activation rows are staged once per weight type
// as MATMUL stages them (Q8_0-act blocks for Q8_0 weights, Q8_K for Q2_K/Q4_K/IQ2_XXS under
// DS4_ACT_DS4, f32 otherwise) and the same tile kernels run the dots (matmul.cu, matvec.cuh).
// Bit-identical projections keep the discontinuous steps downstream (FP8/FP4 simulation, the
// indexer's top-k) from amplifying reduction-order noise into visible differences.
#pragma once
#include <cstdint>

#include "../kernel.h"

namespace ds4::gpu {

// Bytes of activation scratch for `rows` rows of `in` elements meeting weights of `wtype`.
uint64_t rowdot_act_bytes(uint32_t wtype, uint32_t act_quant, int64_t rows, int64_t in);

// Quantizes (or copies) the F32 rows x [rows][in] into `act` for weights of type wtype.
KernelStatus rowdot_prepare(const DTensor& x, int64_t rows, uint32_t wtype, uint32_t act_quant, void* act,
                            const KernelContext& ctx);

// y[t·ldy + o] = dot_row(W[o], act_t)·(scale ? s : 1) for t < rows, o < out; W [out][in]
// with contiguous blocks per row. Kernels skip their work once the submit recorded an error.
KernelStatus rowdot_run(const DTensor& w, uint32_t act_quant, const void* act, int64_t rows, int64_t out, float* y,
                        int64_t ldy, bool scale, float s, const KernelContext& ctx);

// MATMUL_ID on views, for the fused MoE: y[o, j, t] = W_{ids[j, t]}[o]·x[:, j (or 0 when kx is
// 1), t] with w [in, out, E], x [in, kx, n] (f32), ids [k, n] (I32; -1 gives a zero row, any
// other id outside [0, E) is reported in the device error word), y [out, k, n]. Same kernels
// and dot order as MATMUL_ID; the scratch holds the staged activations and grouping lists.
uint64_t expert_matmul_scratch_bytes(uint32_t wtype, uint32_t act_quant, int64_t x_rows, int64_t in, int64_t experts,
                                     int64_t pairs);
KernelStatus expert_matmul(const DTensor& w, const DTensor& x, const DTensor& ids, const DTensor& y, uint32_t act_quant,
                           void* scratch, uint64_t scratch_bytes, const KernelContext& ctx);

}  // namespace ds4::gpu
