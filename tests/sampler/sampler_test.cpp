// Sampler: greedy ties, reproducibility, and sampling statistics with a fixed seed
// (empirical frequencies vs the exact distribution, excluded ids never drawn).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "sampler/rng.h"
#include "sampler/sampler.h"

namespace ds4::sampler {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(Rng, MatchesReferenceXorshift64Star) {
  // Reference values computed independently (Python big-int arithmetic) for seed 42:
  // state = splitmix64(42), then xorshift64* (12, 25, 27; 0x2545F4914F6CDD1D).
  Xorshift64Star r(42);
  EXPECT_EQ(r.state(), 0xbdd732262feb6e95ull);
  EXPECT_EQ(r.next(), 0x31b0ece7c4f697a2ull);
  EXPECT_EQ(r.next(), 0x9008a3b1cb686f03ull);
  EXPECT_EQ(r.next(), 0x7c7173abd97be16full);
  Xorshift64Star z(0);
  EXPECT_NE(z.state(), 0u);
  for (int i = 0; i < 1000; ++i) {
    double u = z.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(Argmax, LowestIdOnTiesAndNaNSkipped) {
  std::vector<float> l = {1.0f, 3.0f, kNaN, 3.0f, -1.0f};
  EXPECT_EQ(argmax(l), 1);
  std::vector<float> nan_first = {kNaN, -5.0f, -5.0f};
  EXPECT_EQ(argmax(nan_first), 1);
  std::vector<float> all_nan = {kNaN, kNaN};
  EXPECT_EQ(argmax(all_nan), -1);
  EXPECT_EQ(argmax({}), -1);
}

TEST(Sampler, GreedyModes) {
  std::vector<float> l = {0.5f, 2.0f, 2.0f, 1.0f};
  Sampler greedy({.temperature = 0.0f}, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(greedy.sample(l), 1);
  Sampler neg({.temperature = -1.0f}, 1);
  EXPECT_EQ(neg.sample(l), 1);
  // force_greedy (§C.7 DSML structure) overrides a hot temperature.
  Sampler hot({.temperature = 5.0f, .top_p = 1.0f, .min_p = 0.0f}, 7);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(hot.sample(l, /*force_greedy=*/true), 1);
}

TEST(Sampler, BadInputIsAnErrorNotACrash) {
  EXPECT_THROW(Sampler({.temperature = kNaN}), std::invalid_argument);
  EXPECT_THROW(Sampler({.top_p = kNaN}), std::invalid_argument);
  EXPECT_EQ(validate({.min_p = kNaN}), "sampling: min_p must be a number");
  EXPECT_EQ(validate({}), "");
  Sampler s;
  EXPECT_THROW(s.sample({}), std::invalid_argument);
  std::vector<float> all_nan = {kNaN, kNaN};
  try {
    s.sample(all_nan);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "sampler: logits row has no numeric value");
  }
}

TEST(Sampler, InfiniteLogits) {
  std::vector<float> l = {0.0f, kInf, 1.0f, kInf};
  Sampler s({.temperature = 1.0f, .min_p = 0.0f}, 3);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(l), 1);
  std::vector<float> neg = {-kInf, -kInf, -kInf};
  EXPECT_EQ(s.sample(neg), 0);
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> l(1000);
  for (size_t i = 0; i < l.size(); ++i) l[i] = std::sin(static_cast<float>(i) * 0.37f) * 3.0f;
  SamplingParams p{.temperature = 1.0f, .top_p = 0.9f, .min_p = 0.0f, .top_k = 0};
  Sampler a(p, 1234), b(p, 1234), c(p, 1235);
  std::vector<int32_t> sa, sb, sc;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(l));
    sb.push_back(b.sample(l));
    sc.push_back(c.sample(l));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
  a.reseed(1234);
  EXPECT_EQ(a.sample(l), sa[0]);
}

std::vector<double> softmax(const std::vector<float>& l, double t) {
  double mx = -INFINITY;
  for (float v : l) mx = std::max(mx, static_cast<double>(v));
  std::vector<double> p(l.size());
  double sum = 0;
  for (size_t i = 0; i < l.size(); ++i) sum += (p[i] = std::exp((l[i] - mx) / t));
  for (double& v : p) v /= sum;
  return p;
}

// |f - p| within 5 standard deviations of a binomial proportion (plus a floor): fails
// for a wrong distribution, essentially never for the right one; the seed is fixed anyway.
void expect_frequencies(Sampler& s, const std::vector<float>& l, const std::vector<double>& expected,
                        int draws = 20000) {
  std::vector<int> count(l.size(), 0);
  for (int i = 0; i < draws; ++i) {
    int32_t id = s.sample(l);
    ASSERT_GE(id, 0);
    ASSERT_LT(static_cast<size_t>(id), l.size());
    ++count[id];
  }
  for (size_t i = 0; i < l.size(); ++i) {
    double f = static_cast<double>(count[i]) / draws;
    double p = expected[i];
    double tol = 5.0 * std::sqrt(p * (1 - p) / draws) + 1e-3;
    EXPECT_NEAR(f, p, tol) << "id " << i;
    if (p == 0.0) {
      EXPECT_EQ(count[i], 0) << "excluded id " << i << " was sampled";
    }
  }
}

const std::vector<float> kLogits = {2.0f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, 1.5f, -3.0f};

TEST(SamplerStats, PlainSoftmax) {
  Sampler s({.temperature = 1.0f, .top_p = 1.0f, .min_p = 0.0f, .top_k = 0}, 11);
  expect_frequencies(s, kLogits, softmax(kLogits, 1.0));
}

TEST(SamplerStats, Temperature) {
  for (float t : {0.5f, 2.0f}) {
    Sampler s({.temperature = t, .top_p = 1.0f, .min_p = 0.0f, .top_k = 0}, 12);
    expect_frequencies(s, kLogits, softmax(kLogits, t));
  }
}

TEST(SamplerStats, TopK) {
  Sampler s({.temperature = 1.0f, .top_p = 1.0f, .min_p = 0.0f, .top_k = 3}, 13);
  // Top 3 logits: ids 0 (2.0), 6 (1.5), 1 (1.0).
  std::vector<double> p = softmax(kLogits, 1.0);
  std::vector<double> e(kLogits.size(), 0.0);
  double sum = p[0] + p[6] + p[1];
  e[0] = p[0] / sum;
  e[6] = p[6] / sum;
  e[1] = p[1] / sum;
  expect_frequencies(s, kLogits, e);
}

TEST(SamplerStats, TopKTieKeepsLowerIds) {
  std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f, 0.0f};
  Sampler s({.temperature = 1.0f, .top_p = 1.0f, .min_p = 0.0f, .top_k = 2}, 14);
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(s.sample(l));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
}

TEST(SamplerStats, MinP) {
  // min_p 0.3: keep p >= 0.3 * p_max, i.e. logit >= 2 + ln 0.3 = 0.796: ids 0, 1, 6.
  Sampler s({.temperature = 1.0f, .top_p = 1.0f, .min_p = 0.3f, .top_k = 0}, 15);
  std::vector<double> p = softmax(kLogits, 1.0);
  std::vector<double> e(kLogits.size(), 0.0);
  double sum = p[0] + p[1] + p[6];
  for (int id : {0, 1, 6}) e[id] = p[id] / sum;
  expect_frequencies(s, kLogits, e);
}

TEST(SamplerStats, TopP) {
  // Sorted probabilities at T=1: id0 .373, id6 .226, id1 .137, id2 .083, ... The nucleus
  // for top_p 0.7 is {0, 6, 1, 2} (cumulative .373, .599, .736 ≥ .7 → stop after id1).
  std::vector<double> p = softmax(kLogits, 1.0);
  ASSERT_LT(p[0] + p[6], 0.7);
  ASSERT_GE(p[0] + p[6] + p[1], 0.7);
  Sampler s({.temperature = 1.0f, .top_p = 0.7f, .min_p = 0.0f, .top_k = 0}, 16);
  std::vector<double> e(kLogits.size(), 0.0);
  double sum = p[0] + p[6] + p[1];
  for (int id : {0, 6, 1}) e[id] = p[id] / sum;
  expect_frequencies(s, kLogits, e);
  // top_p <= 0 keeps only the best token.
  Sampler one({.temperature = 1.0f, .top_p = 0.0f, .min_p = 0.0f}, 17);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(one.sample(kLogits), 0);
}

TEST(SamplerStats, CombinedOrderTopKThenMinPThenTopP) {
  // top_k 4 → {0, 6, 1, 2}; min_p 0.2 → logit >= 2 + ln 0.2 = 0.39: {0, 6, 1, 2};
  // top_p 0.8 over those 4 (renormalised .451 .273 .166 .110): .451, .724, .890 → {0, 6, 1}.
  Sampler s({.temperature = 1.0f, .top_p = 0.8f, .min_p = 0.2f, .top_k = 4}, 18);
  std::vector<double> p = softmax(kLogits, 1.0);
  std::vector<double> e(kLogits.size(), 0.0);
  double sum = p[0] + p[6] + p[1];
  for (int id : {0, 6, 1}) e[id] = p[id] / sum;
  expect_frequencies(s, kLogits, e);
}

TEST(SamplerStats, FullVocabularyNeverDrawsExcludedIds) {
  // V = 129280 like the model; a few strong logits and a long tail.
  constexpr size_t kV = 129280;
  std::vector<float> l(kV);
  uint64_t x = 99;
  for (size_t i = 0; i < kV; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    l[i] = static_cast<float>(x % 1000) / 250.0f - 16.0f;  // [-16, -12): tail mass ~0.2
  }
  l[5] = 4.0f;
  l[77777] = 3.5f;
  l[129279] = 3.0f;
  l[42] = 1.0f;  // p/pmax = e^-3 ≈ 0.0498 < 0.05: excluded by the default min_p
  Sampler s(SamplingParams{}, 19);  // defaults: T 1, top_p 1, min_p 0.05, top_k 0
  std::map<int32_t, int> count;
  for (int i = 0; i < 1000; ++i) ++count[s.sample(l)];
  std::set<int32_t> ids;
  for (auto& [id, n] : count) ids.insert(id);
  EXPECT_EQ(ids, (std::set<int32_t>{5, 77777, 129279}));
  // top_p on the full row without min_p goes through the partial sort.
  Sampler np({.temperature = 1.0f, .top_p = 0.4f, .min_p = 0.0f}, 20);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(np.sample(l), 5);  // p(5) ≈ 0.50 of the mass
}

}  // namespace
}  // namespace ds4::sampler
