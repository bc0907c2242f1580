#include "sampler/logprobs.h"

#include <cmath>
#include <limits>

#include "sampler/top_select.h"

namespace ds4::sampler {

double log_sum_exp(std::span<const float> logits) {
  double mx = -std::numeric_limits<double>::infinity();
  for (float l : logits) {
    if (!std::isnan(l) && l > mx) mx = l;
  }
  if (!std::isfinite(mx)) return mx;  // empty / all -inf → -inf; any +inf → +inf
  // Fixed id order and a double accumulator: bit-identical on every run.
  double sum = 0.0;
  for (float l : logits) {
    if (!std::isnan(l)) sum += std::exp(static_cast<double>(l) - mx);
  }
  return mx + std::log(sum);
}

float token_logprob(std::span<const float> logits, int32_t id, double lse) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) {
    return -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(static_cast<double>(logits[id]) - lse);
}

void top_logprobs(std::span<const float> logits, int n, std::vector<TokenLogprob>& out) {
  out.clear();
  if (n <= 0 || logits.empty()) return;
  thread_local std::vector<detail::Scored> scratch;  // reused across calls
  detail::select_top(logits, static_cast<size_t>(n), scratch);
  double lse = log_sum_exp(logits);
  out.reserve(scratch.size());
  for (const detail::Scored& s : scratch) {
    out.push_back(TokenLogprob{s.id, s.logit, static_cast<float>(static_cast<double>(s.logit) - lse)});
  }
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int n) {
  std::vector<TokenLogprob> out;
  top_logprobs(logits, n, out);
  return out;
}

}  // namespace ds4::sampler
