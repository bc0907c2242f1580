// Token sampling from one logits row (PROTOCOL.md §C.7).
//
// Order (the one ds4 uses, §C.7):
//   1. temperature <= 0 or force_greedy → argmax (lowest id on ties).
//   2. top_k > 0: keep the k largest logits (ties by lower id), k capped at 1024.
//   3. probabilities p_i ∝ exp((l_i − l_max) / temperature) over the kept set.
//   4. min_p > 0: keep tokens with p_i ≥ min_p · p_max.
//   5. top_p < 1: sort the survivors by p (desc, ties by id) and keep the smallest prefix
//      whose mass (renormalised over the survivors) reaches top_p.
//   6. draw u in [0,1) from xorshift64* and walk the survivors in ascending id order,
//      picking the first whose cumulative weight exceeds u · total.
// The walk order is fixed so that the drawn id for a given seed depends only on the
// surviving set and its weights, never on a sort implementation.
//
// NaN logits are never chosen; a row without any non-NaN value is an error.
// All work buffers are reused between calls (no per-call allocation after warm-up);
// selection is O(V) (+ O(k log k) / O(m log m) for the small kept sets).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sampler/rng.h"
#include "sampler/top_select.h"

namespace ds4::sampler {

inline constexpr int kMaxTopK = 1024;  // §C.7 cap on top_k

struct SamplingParams {
  float temperature = 1.0f;  // <= 0: greedy
  float top_p = 1.0f;        // (0, 1]; values > 1 act as 1, values <= 0 keep one token
  float min_p = 0.05f;       // [0, 1]; 0 disables
  int top_k = 0;             // 0 (or negative): disabled; capped at kMaxTopK
  bool operator==(const SamplingParams&) const = default;
};

// Empty when usable, else one line naming the bad field (NaN / infinite values).
std::string validate(const SamplingParams& p);

// Argmax over the row, lowest id on ties, NaN skipped; -1 when the row has no non-NaN value.
int32_t argmax(std::span<const float> logits);

class Sampler {
 public:
  // Throws std::invalid_argument with validate()'s message when the params are unusable.
  explicit Sampler(SamplingParams params = {}, uint64_t seed = 0);

  // Samples one id. `force_greedy` is the §C.7 hook (Parser::greedy_required()).
  // Throws std::invalid_argument for an empty row or one with only NaN values.
  int32_t sample(std::span<const float> logits, bool force_greedy = false);

  void reseed(uint64_t seed) { rng_.seed(seed); }
  const SamplingParams& params() const { return params_; }
  void set_params(const SamplingParams& p);  // same validation as the constructor

 private:
  struct Candidate {
    int32_t id;
    float logit;
    double weight;
  };
  SamplingParams params_;
  Xorshift64Star rng_;
  // Reusable scratch: no allocation per call once these have grown.
  std::vector<detail::Scored> top_;
  std::vector<Candidate> cand_;
  std::vector<Candidate> sorted_;
};

}  // namespace ds4::sampler
