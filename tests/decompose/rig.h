// Test rig for fused-vs-decomposed checks: tensors live in one device arena with host-side
// initial contents; a node runs either as the fused Tier-1 op or as its decomposition.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "decompose/decompose.h"
#include "host/device.h"
#include "host/graph.h"
#include "host/plugin_loader.h"
#include "host/status.h"
#include "quant/quant.h"

namespace ds4::test {

// The cpu-ref plugin and one device, shared by every test of the binary.
host::Device& cpu_device();
// A second cpu-ref device with one worker thread (for thread-count invariance checks).
host::Device& cpu_device_1thread();

// Host-side description of a tensor (contiguous).
struct Spec {
    ds4_type type = DS4_TYPE_F32;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
};

Spec f32_spec(const std::vector<int64_t>& ne, const std::vector<float>& v);
Spec i32_spec(const std::vector<int64_t>& ne, const std::vector<int32_t>& v);
// Random N(0, sigma) values quantized to `type` (F32, F16, BF16, Q8_0, Q2_K, IQ2_XXS...).
Spec weight_spec(ds4_type type, const std::vector<int64_t>& ne, std::mt19937& rng, float sigma);
// Block-quantized weights with random payload bytes and a fixed small scale (fast at real
// shapes: no quantizer search). Q2_K and IQ2_XXS only.
Spec random_blocks_spec(ds4_type type, const std::vector<int64_t>& ne, std::mt19937& rng);
std::vector<float> randn(size_t n, std::mt19937& rng, float sigma = 1.0f);

// One device arena holding a list of tensors.
class Rig {
public:
    explicit Rig(const std::vector<Spec>& specs, host::Device* dev = nullptr);
    // Overwrites tensor i (same byte size).
    void write(size_t i, const std::vector<uint8_t>& bytes);
    std::vector<uint8_t> read(size_t i) const;
    std::vector<float> read_f32(size_t i) const;
    std::vector<int32_t> read_i32(size_t i) const;
    // Runs one node: src/dst are tensor indices (-1 = NULL). decomposed: the node is replaced
    // by core/decompose's Tier-0 graph (read_i32 answers from the host-side contents).
    void run(uint32_t op, const void* params, uint32_t params_size, const std::vector<int>& srcs,
             const std::vector<int>& dsts, bool decomposed);
    template <class P>
    void run(uint32_t op, P params, const std::vector<int>& srcs, const std::vector<int>& dsts, bool decomposed) {
        params.struct_size = sizeof(P);
        run(op, &params, sizeof(P), srcs, dsts, decomposed);
    }
    // Nodes in the last graph run (to check that a decomposition has only Tier-0 nodes).
    const std::vector<uint32_t>& last_ops() const { return last_ops_; }

private:
    host::Device* dev_;
    std::vector<Spec> specs_;
    std::vector<uint64_t> offsets_;
    host::Buffer buf_;
    std::vector<uint32_t> last_ops_;
};

// Runs `op` on two rigs built from the same specs (fused on one, decomposed on the other).
struct Pair {
    explicit Pair(const std::vector<Spec>& specs) : fused(specs), decomp(specs) {}
    template <class P>
    void run(uint32_t op, const P& params, const std::vector<int>& srcs, const std::vector<int>& dsts) {
        fused.run(op, params, srcs, dsts, false);
        decomp.run(op, params, srcs, dsts, true);
    }
    void write(size_t i, const std::vector<uint8_t>& b) {
        fused.write(i, b);
        decomp.write(i, b);
    }
    Rig fused, decomp;
};

// Tolerance of fused vs decomposed F32 outputs: |a - b| <= kRelTol·(|b| + rms(b)). The two
// differ only by float reduction order/fusion; the rms term keeps entries near zero (which
// carry absolute, not relative, rounding error) from dominating.
inline constexpr double kRelTol = 1e-5;
// Compares every entry; equal infinities match. Returns the worst error / tolerance ratio.
double expect_close(const std::vector<float>& fused, const std::vector<float>& decomp, const std::string& what,
                    double rel_tol = kRelTol);
inline void expect_close_rigs(Pair& p, size_t idx, const std::string& what, double rel_tol = kRelTol) {
    expect_close(p.fused.read_f32(idx), p.decomp.read_f32(idx), what, rel_tol);
}
inline void expect_equal_i32(Pair& p, size_t idx, const std::string& what) {
    EXPECT_EQ(p.fused.read_i32(idx), p.decomp.read_i32(idx)) << what;
}

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// The two numerics profiles of the engine.
enum class Numerics { Exact, Official };
inline const char* numerics_name(Numerics n) { return n == Numerics::Exact ? "exact" : "official"; }

ds4_rope_params rope_params(uint32_t n_rot, bool yarn);

}  // namespace ds4::test
