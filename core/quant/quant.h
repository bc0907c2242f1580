// ds4::quant — number formats of DeepSeek V4 Flash as ds4 uses them (MODEL.md §C.0, §E).
//
//   * IEEE half / bfloat16 conversions (round-to-nearest-even, inf/nan/subnormals exact)
//   * GGUF block formats: dequantize_row / quantize_row for F32, F16, BF16, Q8_0, Q2_K,
//     Q4_K, IQ2_XXS (+ dequantize of Q8_K activation blocks)
//   * ds4's activation quantization (Q8_0-style act blocks with f32 scale, Q8_K)
//   * row dot products used by matvec kernels (scalar, fixed order, deterministic)
//   * QAT simulations: E4M3FN / E2M1 rounding, FP8 KV, Hadamard-128, FP4, F16 round trip
//   * official checkpoint decoding (FP8 e4m3 + UE8M0 128x128 scales, FP4 e2m1 + 1x32 scales)
//
// This library depends on nothing but api/ds4/types.h and the C++ standard library: it is
// compiled into backend plugins too. No function allocates on the heap except the weight
// quantizers' small scratch, none throws, none keeps global mutable state (thread-safe).
// Functions that can be handed a bad type or length return false / 0 instead of crashing.
//
// Quality of the weight quantizers (relative RMSE = rms(w - deq(q(w))) / rms(w), seeded
// Gaussian data, 8192 values, no importance weights; tests/quant/test_quantize.cpp asserts
// bounds slightly above these measurements):
//     F16 0.0002  BF16 0.0017  Q8_0 0.0054  Q4_K 0.071  Q2_K 0.27  IQ2_XXS 0.33
// (see docs/quant.md). Speed: Q8_0/K-quants ≈ 0.1–1 µs per weight, IQ2_XXS ≈ 1.5 µs.
//
// Block pointers are `void*`/`const void*` byte pointers: GGUF rows are only 2-byte aligned
// for Q8_0 (34-byte blocks), so implementations read fields with memcpy. The structs below
// document the layouts (and have the exact sizes) for code that wants typed access.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ds4/types.h"

namespace ds4::quant {

inline constexpr int kQK8_0 = 32;   // elements per Q8_0 block (weights and activations)
inline constexpr int kQK_K = 256;   // elements per K-quant / IQ2_XXS / Q8_K super-block

// ---------------------------------------------------------------------------------------
// Block layouts (all little-endian; `uint16_t d` fields hold IEEE half bits).
// ---------------------------------------------------------------------------------------

// Q8_0 weights, 34 bytes / 32: w[i] = f16(d) · qs[i].
struct block_q8_0 {
    uint16_t d;
    int8_t qs[kQK8_0];
};

// Q2_K, 84 bytes / 256. scales[sb]: low nibble scale, high nibble min, sub-block of 16.
// qs: two 32-byte halves, each holding four 2-bit planes (plane j = elements 32j..32j+31
// of that 128-element half). w = d·(sc&15)·q − dmin·(sc>>4).
struct block_q2_k {
    uint8_t scales[kQK_K / 16];
    uint8_t qs[kQK_K / 4];
    uint16_t d;
    uint16_t dmin;
};

// Q4_K, 144 bytes / 256. Eight sub-blocks of 32 with 6-bit scale and min packed in 12
// bytes (MODEL.md §E.3). qs[32p + l]: low nibble = element 64p + l, high = 64p + 32 + l.
struct block_q4_k {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[kQK_K / 2];
};

// IQ2_XXS, 66 bytes / 256. Per 32-group: 8 bytes = uint32 A (4 grid indices) and uint32 B
// (4 × 7-bit sign indices, bits 28..31 = 4-bit scale s); w = d·(2s+1)/8 · grid · sign.
struct block_iq2_xxs {
    uint16_t d;
    uint16_t qs[kQK_K / 8];
};

// Q8_K activation block, 292 bytes / 256 (§E.5). bsums[k] = Σ qs[16k .. 16k+15].
struct block_q8_k {
    float d;
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];
};

// ds4's Q8_0 activation block (§E.6): like Q8_0 but the scale stays f32 (36 bytes / 32).
// Not a GGUF storage type.
struct block_q8_0_act {
    float d;
    int8_t qs[kQK8_0];
};

static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q2_k) == 84);
static_assert(sizeof(block_q4_k) == 144);
static_assert(sizeof(block_iq2_xxs) == 66);
static_assert(sizeof(block_q8_k) == 292);
static_assert(sizeof(block_q8_0_act) == 36);

// ---------------------------------------------------------------------------------------
// 1. Half / bfloat16 conversions (half.cpp)
// ---------------------------------------------------------------------------------------

// IEEE binary16, round-to-nearest-even; overflow → ±inf; NaN stays NaN (quiet, top payload
// bits kept); f32 values below the half subnormal range round correctly (to 0 or 2^-24).
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t h);  // exact
// bfloat16 = top 16 bits of f32, round-to-nearest-even; NaN stays (quiet) NaN.
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t h);  // exact

void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n);
void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n);
void f32_to_bf16_row(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32_row(const uint16_t* src, float* dst, int64_t n);

// x ← f16_to_f32(f32_to_f16(x)) (§C.0 "F16 round trip" of cached KV rows).
inline float f16_round(float x) { return f16_to_f32(f32_to_f16(x)); }
void f16_round_trip_row(float* row, int64_t n);

// ---------------------------------------------------------------------------------------
// 2. Dequantization (dequant.cpp): exactly the formulas of MODEL.md §E.
// ---------------------------------------------------------------------------------------

// Decodes n elements of `type` (F32, F16, BF16, Q8_0, Q2_K, Q4_K, IQ2_XXS, Q8_K) into dst.
// Returns false (dst untouched) for another type or n not a multiple of the block size.
bool dequantize_row(ds4_type type, const void* src, float* dst, int64_t n);

// ---------------------------------------------------------------------------------------
// 3. Weight quantizers (quantize_*.cpp), for the model converter.
// ---------------------------------------------------------------------------------------

// Encodes n floats as `type` (F32, F16, BF16, Q8_0, Q2_K, Q4_K, IQ2_XXS) into dst, which
// must hold ds4_type_row_bytes(type, n) bytes. `importance` (n values ≥ 0, may be null)
// weights the squared error of each element in the scale/grid searches (an imatrix:
// typically the mean squared activation feeding that column); null = plain MSE.
// Q8_0: d = absmax/127 stored as f16, q = round(x / f16(d)).
// Q4_K/Q2_K: per sub-block (scale, min) search over a few candidate scales with a
// least-squares refit, then 6-bit (Q4_K) / 4-bit (Q2_K) quantization of scales and mins.
// IQ2_XXS: per 32-group scale search, per 8-group exhaustive grid choice with the
// even-sign-parity rule (odd parity flips the sign of the smallest |w|), 4-bit group
// scales, f16 super-block d chosen by error search. Non-finite input is treated as 0.
// Returns false for another type or n not a multiple of the block size.
// Deterministic and thread-safe; call it on different rows from different threads.
bool quantize_row(ds4_type type, const float* src, void* dst, int64_t n,
                  const float* importance = nullptr);

// True for the types quantize_row accepts.
bool can_quantize(ds4_type type);
// True for the types dequantize_row accepts.
bool can_dequantize(ds4_type type);

// ---------------------------------------------------------------------------------------
// 4. Activation quantization exactly as ds4 (act_quant.cpp).
// ---------------------------------------------------------------------------------------

// §E.6: per 32 values d = max|x|/127 (f32, never f16-rounded), id = 1/d in f32 (0 when
// d = 0), q = clamp(round_half_even(x·id), −128, 127). dst = n/32 block_q8_0_act.
// Returns false when n is not a multiple of 32.
bool quantize_act_q8_0(const float* x, void* dst, int64_t n);

// §E.5: per 256 values v = the signed x with the largest |x| (first on ties); v = 0 → an
// all-zero block; iscale = −127/v; q = clamp(round_half_even(iscale·x), −128, 127);
// d = 1/iscale; bsums per 16. dst = n/256 block_q8_k. False when n % 256 != 0.
bool quantize_act_q8_k(const float* x, void* dst, int64_t n);

// Round-half-even of a float to int under any rounding mode (ds4 uses lrintf under the
// default mode). Values beyond ±2^31 are clamped before conversion.
int32_t round_half_even(float x);

// ---------------------------------------------------------------------------------------
// 5. Dot products (dot.cpp): one weight row × one activation row of n elements.
//    n must be a multiple of the weight block size (unchecked in the typed kernels).
// ---------------------------------------------------------------------------------------

// Σ_blocks (f16(d_w)·d_x)·Σ q_w·q_x  (int32 inner sums), x = block_q8_0_act row.
float dot_q8_0_q8_0act(const void* w_row, const void* x_act, int64_t n);
// K-quants / IQ2_XXS against a block_q8_k row (integer inner sums, bsums for the mins):
//   Q2_K:    Σ (d_x·d)·Σ_sb sc·Σ q2·q8  −  (d_x·dmin)·Σ_sb m·bsums[sb]
//   Q4_K:    same with 32-wide sub-blocks (bsums pairs)
//   IQ2_XXS: 0.125 · Σ (d·d_x)·Σ_ib (2s+1)·Σ signed_grid·q8
float dot_q2_k_q8_k(const void* w_row, const void* x_q8k, int64_t n);
float dot_q4_k_q8_k(const void* w_row, const void* x_q8k, int64_t n);
float dot_iq2_xxs_q8_k(const void* w_row, const void* x_q8k, int64_t n);

// Float activations. Fixed accumulation order: 8 partial sums, element i goes to lane
// i % 8 (in element order), then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). The lane layout
// lets the compiler vectorize without -ffast-math and the result never depends on it.
float dot_f32_f32(const float* w, const float* x, int64_t n);
float dot_f16_f32(const void* w_f16, const float* x, int64_t n);
float dot_bf16_f32(const void* w_bf16, const float* x, int64_t n);

// Dequantize-then-dot in f32 (the "exact" numerics path), any dequantizable weight type:
// each block is decoded to f32 and accumulated with the same 8-lane order as dot_f32_f32.
// Returns 0 for an unsupported type.
float dot_dequant_f32(ds4_type wtype, const void* w_row, const float* x, int64_t n);

// How activations meet the weights of a matvec.
enum class ActQuant {
    None,  // x is f32 for every weight type (dot_dequant_f32 / dot_*_f32)
    Ds4,   // as ds4: x is block_q8_0_act for Q8_0 weights, block_q8_k for Q2_K, Q4_K,
           // IQ2_XXS weights, f32 for F32/F16/BF16 weights
};

// The activation row format a weight type consumes.
enum class ActFormat { F32, Q8_0Act, Q8_K };

ActFormat act_format_for(ds4_type wtype, ActQuant mode);
// Bytes of an n-element activation row in `fmt`; -1 if n is not a multiple of its block.
int64_t act_row_bytes(ActFormat fmt, int64_t n);
// Writes x (n floats) in `fmt` into dst (act_row_bytes(fmt, n) bytes). F32 is a copy.
bool quantize_act(ActFormat fmt, const float* x, void* dst, int64_t n);
const char* act_format_name(ActFormat fmt);  // "f32", "q8_0act", "q8_k"

// Generic row dot: x is in act_format_for(wtype, mode). Returns 0 for an unsupported type.
float dot_row(ds4_type wtype, const void* w_row, const void* x, int64_t n, ActQuant mode);

// ---------------------------------------------------------------------------------------
// 6. QAT simulations (sim.cpp), MODEL.md §C.0 / §E.7.
// ---------------------------------------------------------------------------------------

inline constexpr float kE4M3Max = 448.0f;
inline constexpr float kE2M1Max = 6.0f;

// Nearest float8 e4m3fn value to x after clamping to ±448 (saturating), ties to the even
// encoding (= round-half-even); subnormal step 2^-9; NaN → NaN. Zero signs as ds4: ±0 → +0,
// a negative value that rounds to zero → −0 (same for round_e2m1).
float round_e4m3fn(float x);
// Nearest of {0, .5, 1, 1.5, 2, 3, 4, 6} (signed) after clamping to ±6, ties to the even
// code index (0.25→0, 0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4). NaN → NaN.
float round_e2m1(float x);

// Power-of-two scale 2^ceil(log2(amax / max_code)) for amax > 0 (UE8M0 scale of the QAT
// simulations). Computed exactly from frexp of the f32 quotient r = amax/max_code:
// exact powers of two give themselves. ds4 computes ldexpf(1, ceilf(log2f(r))); the two
// agree on exact powers of two and whenever log2f(r) is not rounded onto the integer k,
// but for r = 2^k·(1+δ) with δ a few f32 ulps and |k| ≥ 2 the float log2f rounds to
// exactly k and ds4 gets 2^k where the exact answer is 2^(k+1) (the clamp to max_code
// then absorbs the overshoot). tests/quant/test_sim.cpp measures the disagreement set.
float pow2_ceil_scale(float amax, float max_code);
// Bit-compatible with ds4's ldexpf(1, (int)ceilf(log2f(amax / max_code))), for parity
// experiments (depends on the libm's log2f).
float pow2_ceil_scale_log2f(float amax, float max_code);

// FP8 KV simulation on dims [0, n_nope) of a row in blocks of `block` (ds4: 448 and 64;
// a partial last block is handled over its own elements): a = max(max|x|, 1e-4),
// s = pow2_ceil_scale(a, 448), x = round_e4m3fn(clamp(x/s, ±448))·s. Dims ≥ n_nope untouched.
void fp8_kv_sim_row(float* row, int64_t n_nope = 448, int64_t block = 64);

// y = H128·x/√128 in place, H[i][j] = (−1)^popcount(i&j): butterflies (a+b, a−b) with
// stride 1, 2, …, 64 in that order, then every element × 0.08838834764831845f (1/√128).
void hadamard128_inplace(float* x);

// FP4 simulation in blocks of `block`: a = max(max|x|, 6·2^-126), s = pow2_ceil_scale(a, 6),
// x = round_e2m1(clamp(x/s, ±6))·s.
void fp4_sim_row(float* row, int64_t n, int64_t block = 32);

// Indexer QAT on one 128-wide row: hadamard128_inplace then fp4_sim_row(row, 128, 32).
void indexer_qat_row(float* row128);

// ---------------------------------------------------------------------------------------
// 7. Official checkpoint decoding (checkpoint.cpp), MODEL.md §E.8.
// ---------------------------------------------------------------------------------------

// e4m3fn code → value (exp 0: mant·2^-9; else (1+mant/8)·2^(exp−7); 0x7F/0xFF → NaN).
float e4m3fn_to_f32(uint8_t code);
// UE8M0 scale byte → 2^(e−127); e = 0 → 2^-127 (as ds4's converter); e = 255 → NaN.
float e8m0_to_f32(uint8_t e);
// e2m1 nibble (low 4 bits used) → value; codes 0..7 positive, 8..15 the negatives.
float e2m1_to_f32(uint8_t nibble);
// Nearest codes (same rounding and saturation as round_e4m3fn / round_e2m1); NaN → 0x7F
// for e4m3fn and 0 for e2m1 (which has no NaN).
uint8_t f32_to_e4m3fn(float x);
uint8_t f32_to_e2m1(float x);

// FP8 weight [rows, cols] row-major e4m3fn codes with a UE8M0 scale grid
// [ceil(rows/128), ceil(cols/128)] row-major: out[r][c] = e4m3(q[r][c])·scale[r/128][c/128].
// Returns false for negative dimensions.
bool dequant_fp8_weight(const uint8_t* q, const uint8_t* scale, float* out, int64_t rows,
                        int64_t cols);
// FP4 weight [rows, cols] packed as [rows, cols/2] bytes (low nibble = even column, high =
// odd column) with UE8M0 scales [rows, ceil(cols/32)]: out = e2m1(code)·scale[r][c/32].
// Returns false for negative dimensions or odd cols.
bool dequant_fp4_weight(const uint8_t* packed, const uint8_t* scale, float* out,
                        int64_t rows, int64_t cols);

// ---------------------------------------------------------------------------------------
// IQ2_XXS tables (iq2xxs_tables.cpp; facts of the format, from shared/data/iq2xxs_tables.txt)
// ---------------------------------------------------------------------------------------
extern const uint64_t kIq2xxsGrid[256];  // 8 bytes per entry, each 8, 25 or 43
extern const uint8_t kIq2xsSigns[128];   // bits 0..6 = index, bit 7 = parity (even masks)

}  // namespace ds4::quant
