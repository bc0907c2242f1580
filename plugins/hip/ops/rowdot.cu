// Exact-order matvecs of the Tier-1 ops (rowdot.h). Float path: a group of 8 threads per
// (output row, activation row), each one lane of quant::dot_f32_f32. Quantized path: 32
// threads per row compute 32 consecutive block terms (integer inner sums, exact in any order)
// and the row's first thread adds them to the row sum in block order.
#include "common.cuh"
#include "rowdot.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

enum RowdotMode : int { kModeF32 = 0, kModeQ8_0 = 1, kModeQ8_K = 2 };

constexpr int kF32RowsPerBlock = 32;  // 8 lanes each: 256 threads per block
constexpr int kQLanes = 32;           // block terms computed at once per row
constexpr int kQRowsPerBlock = 8;     // 32 threads each: 256 threads per block

int mode_for(uint32_t wtype, uint32_t act_quant) {
    if (act_quant != DS4_ACT_DS4) return kModeF32;
    switch (wtype) {
    case DS4_TYPE_Q8_0: return kModeQ8_0;
    case DS4_TYPE_Q2_K: case DS4_TYPE_Q4_K: case DS4_TYPE_IQ2_XXS: return kModeQ8_K;
    default: return kModeF32;
    }
}

// Layout of one prepared activation row: F32: in floats. Q8_0: d[in/32] floats, then q[in]
// int8. Q8_K: d[in/256] floats, bsums[in/16] int16, then q[in] int8. Rows 16-byte aligned.
int64_t act_row_bytes(int mode, int64_t in) {
    int64_t b = 0;
    if (mode == kModeF32) b = in * 4;
    else if (mode == kModeQ8_0) b = in / 32 * 4 + in;
    else b = in / 256 * 4 + in / 16 * 2 + in;
    return (b + 15) / 16 * 16;
}

struct ActRow {
    const float* d;
    const int16_t* bsums;
    const int8_t* q;
};
__device__ inline ActRow act_row(const uint8_t* base, int mode, int64_t in) {
    ActRow r{};
    r.d = reinterpret_cast<const float*>(base);
    if (mode == kModeQ8_0) {
        r.q = reinterpret_cast<const int8_t*>(base + in / 32 * 4);
    } else {
        r.bsums = reinterpret_cast<const int16_t*>(base + in / 256 * 4);
        r.q = reinterpret_cast<const int8_t*>(base + in / 256 * 4 + in / 16 * 2);
    }
    return r;
}

// clamp(round_half_even(v), -128, 127), NaN → 0 (quant::round_half_even + clamp_i8).
__device__ inline int8_t d_q8_code(float v) {
    if (!(v == v)) return 0;
    return static_cast<int8_t>(fminf(fmaxf(rintf(v), -128.0f), 127.0f));
}

// One thread per activation block (one element on the F32 path).
__global__ void act_prep_kernel(DTensor x, int64_t rows, int64_t in, int mode, uint8_t* act, int64_t rb,
                                const DeviceError* err) {
    if (d_failed(err)) return;
    const int64_t bs = mode == kModeQ8_0 ? 32 : (mode == kModeQ8_K ? 256 : 1);
    const int64_t nbk = in / bs, total = rows * nbk;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / nbk, b = e % nbk, i0 = b * bs;
        uint8_t* row = act + r * rb;
        auto xv = [&](int64_t i) { return *reinterpret_cast<const float*>(d_row_elem(x, r, i0 + i)); };
        if (mode == kModeF32) {
            reinterpret_cast<float*>(row)[i0] = xv(0);
            continue;
        }
        ActRow a = act_row(row, mode, in);
        float* dptr = const_cast<float*>(a.d) + b;
        int8_t* q = const_cast<int8_t*>(a.q) + i0;
        if (mode == kModeQ8_0) {
            float amax = 0.0f;
            for (int64_t i = 0; i < bs; ++i) amax = fabsf(xv(i)) > amax ? fabsf(xv(i)) : amax;
            const float d = __fdiv_rn(amax, 127.0f);
            const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
            *dptr = d;
            for (int64_t i = 0; i < bs; ++i) q[i] = d_q8_code(__fmul_rn(xv(i), id));
            continue;
        }
        int16_t* bsums = const_cast<int16_t*>(a.bsums) + b * 16;
        float amax = 0.0f, v = 0.0f;
        for (int64_t i = 0; i < bs; ++i) {
            const float ax = fabsf(xv(i));
            if (ax > amax) {
                amax = ax;
                v = xv(i);
            }
        }
        if (amax == 0.0f) {
            *dptr = 0.0f;
            for (int64_t i = 0; i < bs; ++i) q[i] = 0;
            for (int k = 0; k < 16; ++k) bsums[k] = 0;
            continue;
        }
        const float iscale = __fdiv_rn(-127.0f, v);
        for (int64_t i = 0; i < bs; ++i) q[i] = d_q8_code(__fmul_rn(iscale, xv(i)));
        for (int k = 0; k < 16; ++k) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += q[16 * k + i];
            bsums[k] = static_cast<int16_t>(sum);
        }
        *dptr = __fdiv_rn(1.0f, iscale);
    }
}

// ---- per-block terms of quant::dot_row under DS4_ACT_DS4 -------------------------------------

__device__ inline float term_q8_0(const uint8_t* wrow, const ActRow& x, int64_t b) {
    const uint8_t* w = wrow + b * 34;
    const int8_t* qw = reinterpret_cast<const int8_t*>(w + 2);
    const int8_t* qx = x.q + b * 32;
    int32_t isum = 0;
    for (int i = 0; i < 32; ++i) isum += int32_t(qw[i]) * int32_t(qx[i]);
    return __fmul_rn(__fmul_rn(d_f16_to_f32(d_load_u16(w)), x.d[b]), float(isum));
}

__device__ inline float term_q2_k(const uint8_t* wrow, const ActRow& x, int64_t b) {
    const uint8_t* w = wrow + b * 84;
    const uint8_t* sc = w;
    const uint8_t* qs = w + 16;
    const int8_t* q8 = x.q + b * 256;
    const int16_t* bsums = x.bsums + b * 16;
    int32_t summs = 0;
    for (int sb = 0; sb < 16; ++sb) summs += int32_t(bsums[sb]) * (sc[sb] >> 4);
    int32_t isum = 0;
    for (int sb = 0; sb < 16; ++sb) {
        const int hb = sb / 8, j = (sb % 8) / 2, l0 = 16 * (sb % 2);
        int32_t s = 0;
        for (int l = l0; l < l0 + 16; ++l) s += int32_t((qs[32 * hb + l] >> (2 * j)) & 3) * int32_t(q8[128 * hb + 32 * j + l]);
        isum += (sc[sb] & 15) * s;
    }
    const float dx = x.d[b];
    const float dall = __fmul_rn(dx, d_f16_to_f32(d_load_u16(w + 80)));
    const float dmin = __fmul_rn(dx, d_f16_to_f32(d_load_u16(w + 82)));
    return __fsub_rn(__fmul_rn(dall, float(isum)), __fmul_rn(dmin, float(summs)));
}

__device__ inline float term_q4_k(const uint8_t* wrow, const ActRow& x, int64_t b) {
    const uint8_t* w = wrow + b * 144;
    const uint8_t* scales = w + 4;
    const uint8_t* qs = w + 16;
    const int8_t* q8 = x.q + b * 256;
    const int16_t* bsums = x.bsums + b * 16;
    int32_t summs = 0, isum = 0;
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        if (j < 4) {
            sc = scales[j] & 63;
            m = scales[j + 4] & 63;
        } else {
            sc = (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4);
            m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
        }
        summs += (int32_t(bsums[2 * j]) + int32_t(bsums[2 * j + 1])) * m;
        const int p = j / 2, shift = 4 * (j % 2);
        int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += int32_t((qs[32 * p + l] >> shift) & 15) * int32_t(q8[32 * j + l]);
        isum += s * sc;
    }
    const float dx = x.d[b];
    const float d = __fmul_rn(dx, d_f16_to_f32(d_load_u16(w)));
    const float dmin = __fmul_rn(dx, d_f16_to_f32(d_load_u16(w + 2)));
    return __fsub_rn(__fmul_rn(d, float(isum)), __fmul_rn(dmin, float(summs)));
}

__device__ inline float term_iq2_xxs(const uint8_t* wrow, const ActRow& x, int64_t b, const Iq2Tables& tabs) {
    const uint8_t* w = wrow + b * 66;
    const int8_t* q8 = x.q + b * 256;
    int32_t bsum = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const uint32_t A = d_load_u32(w + 2 + 8 * ib);
        const uint32_t B = d_load_u32(w + 2 + 8 * ib + 4);
        int32_t sumi = 0;
        for (int l = 0; l < 4; ++l) {
            const uint64_t grid = tabs.grid[(A >> (8 * l)) & 0xFF];
            const uint8_t signs = tabs.signs[(B >> (7 * l)) & 127];
            for (int j = 0; j < 8; ++j) {
                const int32_t g = int32_t((grid >> (8 * j)) & 0xFF);
                const int32_t v = int32_t(q8[32 * ib + 8 * l + j]);
                sumi += (signs >> j) & 1 ? -g * v : g * v;
            }
        }
        bsum += sumi * int32_t(2 * (B >> 28) + 1);
    }
    return __fmul_rn(__fmul_rn(d_f16_to_f32(d_load_u16(w)), x.d[b]), float(bsum));
}

// Float path: 8 lanes per output row, 32 rows per block.
__global__ void rowdot_f32_kernel(DTensor w, const uint8_t* act, int64_t rb, int64_t in, int64_t out, float* y, int64_t ldy,
                                  bool scale, float s, Iq2Tables tabs, const DeviceError* err) {
    if (d_failed(err)) return;
    __shared__ float lanes[kF32RowsPerBlock][9];
    const int g = threadIdx.x / 8, lane = threadIdx.x % 8;
    const int64_t o = int64_t(blockIdx.x) * kF32RowsPerBlock + g, t = blockIdx.y;
    const bool active = o < out;
    const uint8_t* wrow = w.data + (active ? o : 0) * w.nb[1];
    const float* x = reinterpret_cast<const float*>(act + t * rb);
    float acc = 0.0f;
    if (active)
        for (int64_t i = lane; i < in; i += 8) acc = __fadd_rn(acc, __fmul_rn(d_dequant(w.type, wrow, i, tabs), x[i]));
    lanes[g][lane] = acc;
    __syncthreads();
    if (lane != 0 || !active) return;
    const float* l = lanes[g];
    const float r = __fadd_rn(__fadd_rn(__fadd_rn(l[0], l[4]), __fadd_rn(l[2], l[6])),
                              __fadd_rn(__fadd_rn(l[1], l[5]), __fadd_rn(l[3], l[7])));
    y[t * ldy + o] = scale ? __fmul_rn(r, s) : r;
}

// Quantized path: 32 threads per output row compute 32 consecutive block terms at a time,
// the row's first thread adds them in block order; 8 rows per block.
__global__ void rowdot_q_kernel(DTensor w, int mode, const uint8_t* act, int64_t rb, int64_t in, int64_t out, float* y,
                                int64_t ldy, bool scale, float s, Iq2Tables tabs, const DeviceError* err) {
    if (d_failed(err)) return;
    __shared__ float terms[kQRowsPerBlock][kQLanes];
    const int g = threadIdx.x / kQLanes, lane = threadIdx.x % kQLanes;
    const int64_t o = int64_t(blockIdx.x) * kQRowsPerBlock + g, t = blockIdx.y;
    const bool active = o < out;
    const uint8_t* wrow = w.data + (active ? o : 0) * w.nb[1];
    const ActRow x = act_row(act + t * rb, mode, in);
    const int64_t bs = w.type == DS4_TYPE_Q8_0 ? 32 : 256, nb = in / bs;
    float acc = 0.0f;
    for (int64_t r0 = 0; r0 < nb; r0 += kQLanes) {
        const int64_t b = r0 + lane;
        float term = 0.0f;
        if (active && b < nb) {
            switch (w.type) {
            case DS4_TYPE_Q8_0: term = term_q8_0(wrow, x, b); break;
            case DS4_TYPE_Q2_K: term = term_q2_k(wrow, x, b); break;
            case DS4_TYPE_Q4_K: term = term_q4_k(wrow, x, b); break;
            default: term = term_iq2_xxs(wrow, x, b, tabs); break;
            }
        }
        terms[g][lane] = term;
        __syncthreads();
        if (lane == 0)
            for (int k = 0; k < kQLanes && r0 + k < nb; ++k) acc = __fadd_rn(acc, terms[g][k]);
        __syncthreads();
    }
    if (lane != 0 || !active) return;
    const float r = w.type == DS4_TYPE_IQ2_XXS ? __fmul_rn(0.125f, acc) : acc;
    y[t * ldy + o] = scale ? __fmul_rn(r, s) : r;
}

}  // namespace

uint64_t rowdot_act_bytes(uint32_t wtype, uint32_t act_quant, int64_t rows, int64_t in) {
    return static_cast<uint64_t>(rows * act_row_bytes(mode_for(wtype, act_quant), in));
}

KernelStatus rowdot_prepare(const DTensor& x, int64_t rows, uint32_t wtype, uint32_t act_quant, void* act,
                            const KernelContext& ctx) {
    const int mode = mode_for(wtype, act_quant);
    const int64_t in = x.ne[0];
    const int64_t bs = mode == kModeQ8_0 ? 32 : (mode == kModeQ8_K ? 256 : 1);
    if (in % bs != 0) return KernelStatus::invalid("activation row length is not a multiple of its quantization block");
    act_prep_kernel<<<blocks_for(rows * (in / bs)), kThreads, 0, ctx.stream>>>(x, rows, in, mode, static_cast<uint8_t*>(act), act_row_bytes(mode, in), ctx.err);
    return launch_status("tier1 activation quantization");
}

KernelStatus rowdot_run(const DTensor& w, uint32_t act_quant, const void* act, int64_t rows, int64_t out, float* y,
                        int64_t ldy, bool scale, float s, const KernelContext& ctx) {
    const int mode = mode_for(w.type, act_quant);
    const int64_t in = w.ne[0];
    const Iq2Tables tabs{ctx.iq2_grid, ctx.iq2_signs};
    const uint8_t* a = static_cast<const uint8_t*>(act);
    if (mode == kModeF32) {
        dim3 grid(static_cast<unsigned>((out + kF32RowsPerBlock - 1) / kF32RowsPerBlock), static_cast<unsigned>(rows));
        rowdot_f32_kernel<<<grid, kF32RowsPerBlock * 8, 0, ctx.stream>>>(w, a, act_row_bytes(mode, in), in, out, y, ldy, scale, s, tabs, ctx.err);
    } else {
        dim3 grid(static_cast<unsigned>((out + kQRowsPerBlock - 1) / kQRowsPerBlock), static_cast<unsigned>(rows));
        rowdot_q_kernel<<<grid, kQRowsPerBlock * kQLanes, 0, ctx.stream>>>(w, mode, a, act_row_bytes(mode, in), in, out, y, ldy, scale, s, tabs, ctx.err);
    }
    return launch_status("tier1 matvec");
}

}  // namespace ds4::gpu
