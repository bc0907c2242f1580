// Top-N log-probabilities against a double-precision reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sampler/logprobs.h"

namespace ds4::sampler {
namespace {

TEST(Logprobs, LogSumExpAndTopN) {
  std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, std::numeric_limits<float>::quiet_NaN()};
  double ref = std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0) + std::exp(-1.0));
  EXPECT_NEAR(log_sum_exp(l), ref, 1e-12);
  std::vector<TokenLogprob> top = top_logprobs(l, 3);
  ASSERT_EQ(top.size(), 3u);
  // Sorted by logit, ties by lower id.
  EXPECT_EQ(top[0].id, 1);
  EXPECT_EQ(top[1].id, 3);
  EXPECT_EQ(top[2].id, 2);
  EXPECT_FLOAT_EQ(top[0].logit, 3.0f);
  EXPECT_NEAR(top[0].logprob, 3.0 - ref, 1e-6);
  EXPECT_NEAR(top[2].logprob, 2.0 - ref, 1e-6);
  EXPECT_NEAR(token_logprob(l, 4, log_sum_exp(l)), -1.0 - ref, 1e-6);
  EXPECT_EQ(token_logprob(l, 99, 0.0), -std::numeric_limits<float>::infinity());
  // n larger than the row: every non-NaN entry, probabilities sum to 1.
  std::vector<TokenLogprob> all = top_logprobs(l, 100);
  ASSERT_EQ(all.size(), 5u);
  double mass = 0;
  for (const TokenLogprob& t : all) mass += std::exp(static_cast<double>(t.logprob));
  EXPECT_NEAR(mass, 1.0, 1e-6);
  EXPECT_TRUE(top_logprobs(l, 0).empty());
  EXPECT_EQ(log_sum_exp({}), -std::numeric_limits<double>::infinity());
}

TEST(Logprobs, LargeRowMatchesFullSort) {
  constexpr size_t kV = 129280;
  std::vector<float> l(kV);
  uint64_t x = 7;
  for (size_t i = 0; i < kV; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    l[i] = static_cast<float>(x % 4096) / 64.0f;  // many exact ties
  }
  std::vector<TokenLogprob> top;
  top_logprobs(l, 20, top);
  ASSERT_EQ(top.size(), 20u);
  // Reference: full stable ordering.
  std::vector<int32_t> ids(kV);
  for (size_t i = 0; i < kV; ++i) ids[i] = static_cast<int32_t>(i);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  double lse = log_sum_exp(l);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(top[i].id, ids[i]) << i;
    EXPECT_FLOAT_EQ(top[i].logprob, static_cast<float>(l[ids[i]] - lse));
  }
}

}  // namespace
}  // namespace ds4::sampler
