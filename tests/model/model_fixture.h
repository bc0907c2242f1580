// Shared helpers of tests/model: the cpu-ref device, tiny synthetic models per recipe
// (generated once per test binary run into the build dir), and logits comparisons.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "host/device.h"
#include "host/plugin_loader.h"
#include "model/model.h"
#include "model/session.h"
#include "model/synthetic.h"

namespace ds4::model::test {

// The cpu-ref device, or nullptr with `why` set when the plugin cannot run the model
// (not built, or a Tier-1 op missing).
const host::Device* cpu_device(std::string* why);

// Path of the tiny synthetic model for a recipe (written on first use).
std::string tiny_model_path(Recipe r);
// Opened tiny model on the cpu-ref device (cached per recipe).
const Model& tiny_model(Recipe r);

// A deterministic token sequence over the tiny vocabulary (specials, bytes, pads).
std::vector<int32_t> test_tokens(size_t n, uint32_t seed = 7);

// Runs tokens one per eval (the decode path) and returns every position's logits.
std::vector<float> decode_each(Session& s, const std::vector<int32_t>& tokens);

// Largest |a-b| and bit-exact equality.
float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);
// KL(p_ref || p_test) of the softmaxes of two logit rows, and argmax.
double kl_divergence(const float* ref, const float* test, size_t n);
size_t argmax(const float* v, size_t n);

SessionOptions opts(Numerics num, uint32_t chunk, uint64_t ctx = 512);

#define DS4_REQUIRE_DEVICE()                                                  \
    do {                                                                      \
        std::string why_;                                                     \
        if (!::ds4::model::test::cpu_device(&why_)) GTEST_SKIP() << why_;     \
    } while (0)

}  // namespace ds4::model::test
