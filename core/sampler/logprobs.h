// Log-probabilities of the raw logits, for `--dump-logprobs` (PROTOCOL.md §F.1) and the
// API's logprobs. Always the log-softmax over ALL logits at temperature 1, independent of
// the sampling settings.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ds4::sampler {

struct TokenLogprob {
  int32_t id = -1;
  float logit = 0.0f;
  float logprob = 0.0f;
  bool operator==(const TokenLogprob&) const = default;
};

// log(sum_i exp(l_i)), computed in double in id order (deterministic); NaN entries are
// skipped. -inf for an empty row or one with only NaN / -inf.
double log_sum_exp(std::span<const float> logits);

// Log-probability of `id` given log_sum_exp(logits) (pass it to avoid recomputing).
float token_logprob(std::span<const float> logits, int32_t id, double lse);

// The `n` most likely tokens, sorted by logit descending, ties by lower id; NaN skipped.
// O(V log n) with a bounded heap; `out` is reused (cleared first).
void top_logprobs(std::span<const float> logits, int n, std::vector<TokenLogprob>& out);
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int n);

}  // namespace ds4::sampler
