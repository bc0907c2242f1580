// Numerics profiles of the forward pass (docs/numerics.md, "Numerics profiles").
//
//   Exact:    F32 activations into every matmul, no FP8/FP4/Hadamard simulation, no F16
//             rounding of cache rows, router denominator = plain sum (floor 0). Compare with
//             float references (transformers).
//   Official: what ds4 does to reproduce the official inference numerics: Q8_0/Q8_K
//             activations into quantized matmuls (DS4_ACT_DS4), FP8 KV simulation on raw and
//             compressed attention rows, Hadamard+FP4 QAT on indexer queries and indexer rows,
//             F16 rounding of raw AND compressed attention rows (as ds4's CPU path; its GPU
//             paths round only raw rows), router denominator floor 2^-14.
// Each simulation is a separate toggle so tests can check that Official with every toggle off
// equals Exact.
#pragma once
#include <string>
#include <string_view>

namespace ds4::model {

enum class Numerics { Exact, Official };

struct NumericsOptions {
    bool act_quant_ds4 = false;   // Q8_0 / Q8_K activations into quantized weight matmuls
    bool fp8_kv = false;          // FP8 E4M3 simulation of the nope dims of KV rows
    bool indexer_qat = false;     // Hadamard-128 + FP4 on indexer queries and rows
    bool f16_raw_rows = false;    // F16 round trip of raw ring rows
    bool f16_comp_rows = false;   // F16 round trip of compressed attention rows
    float router_floor = 0.0f;    // max(Σp, floor) in the router weight normalisation

    static NumericsOptions exact() { return {}; }
    static NumericsOptions official() { return {true, true, true, true, true, 6.103515625e-5f}; }
    static NumericsOptions of(Numerics n) { return n == Numerics::Exact ? exact() : official(); }
    bool operator==(const NumericsOptions&) const = default;
};

const char* numerics_name(Numerics n);
// "exact" | "official"; throws ds4::Error naming the accepted values.
Numerics parse_numerics(std::string_view s);

}  // namespace ds4::model
