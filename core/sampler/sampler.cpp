#include "sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ds4::sampler {

std::string validate(const SamplingParams& p) {
  if (!std::isfinite(p.temperature)) return "sampling: temperature must be a finite number";
  if (std::isnan(p.top_p)) return "sampling: top_p must be a number";
  if (std::isnan(p.min_p)) return "sampling: min_p must be a number";
  return {};
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = -1;
  for (size_t i = 0; i < logits.size(); ++i) {
    float l = logits[i];
    if (std::isnan(l)) continue;
    if (best < 0 || l > logits[best]) best = static_cast<int32_t>(i);  // strict: lowest id wins ties
  }
  return best;
}

Sampler::Sampler(SamplingParams params, uint64_t seed) : rng_(seed) { set_params(params); }

void Sampler::set_params(const SamplingParams& p) {
  std::string err = validate(p);
  if (!err.empty()) throw std::invalid_argument(err);
  params_ = p;
}

int32_t Sampler::sample(std::span<const float> logits, bool force_greedy) {
  if (logits.empty()) throw std::invalid_argument("sampler: empty logits row");
  const SamplingParams& p = params_;
  if (force_greedy || p.temperature <= 0.0f) {
    int32_t id = argmax(logits);
    if (id < 0) throw std::invalid_argument("sampler: logits row has no numeric value");
    return id;
  }

  const double inv_t = 1.0 / static_cast<double>(p.temperature);
  const double min_p = std::clamp(static_cast<double>(p.min_p), 0.0, 1.0);
  // w >= min_p  <=>  (l - lmax) / T >= log(min_p). This pre-test (with a small margin)
  // runs on logits only, so the bulk of a 129k vocabulary is rejected without exp() and
  // without being copied; the exact test on w below decides.
  const double pre_cut = min_p > 0.0 ? std::log(min_p) - 1e-6 : -INFINITY;

  // 1. Candidates: the top_k best (k capped at 1024), or every entry passing the min_p
  //    pre-test (in id order).
  cand_.clear();
  float lmax = -INFINITY;
  if (p.top_k > 0) {
    detail::select_top(logits, static_cast<size_t>(std::min(p.top_k, kMaxTopK)), top_);
    if (top_.empty()) throw std::invalid_argument("sampler: logits row has no numeric value");
    lmax = top_[0].logit;
    for (const detail::Scored& s : top_) cand_.push_back(Candidate{s.id, s.logit, 0.0});
  } else {
    int32_t best = argmax(logits);
    if (best < 0) throw std::invalid_argument("sampler: logits row has no numeric value");
    lmax = logits[best];
    if (std::isfinite(lmax)) {
      for (size_t i = 0; i < logits.size(); ++i) {
        float l = logits[i];
        if (std::isnan(l) || (static_cast<double>(l) - lmax) * inv_t < pre_cut) continue;
        cand_.push_back(Candidate{static_cast<int32_t>(i), l, 0.0});
      }
    } else {
      cand_.push_back(Candidate{best, lmax, 0.0});
    }
  }
  if (!std::isfinite(lmax)) {
    // +inf: the infinite entries are certain; all -inf: nothing is more likely than
    // anything else. Either way the lowest id among the maxima, as greedy would pick.
    int32_t id = -1;
    for (const Candidate& c : cand_) {
      if (c.logit == lmax && (id < 0 || c.id < id)) id = c.id;
    }
    rng_.next();  // keep one draw per sampled token
    return id;
  }

  // 2. Weights w = exp((l - lmax) / T) = p / p_max, and 3. the exact min_p cut on them.
  size_t kept = 0;
  for (const Candidate& c : cand_) {
    double z = (static_cast<double>(c.logit) - lmax) * inv_t;
    if (z < pre_cut) continue;
    double w = std::exp(z);
    if (w <= 0.0 || w < min_p) continue;
    cand_[kept++] = Candidate{c.id, c.logit, w};
  }
  cand_.resize(kept);  // never empty: the maximum has w == 1

  // 4. Nucleus: smallest most-likely prefix whose mass reaches top_p.
  const double top_p = static_cast<double>(p.top_p);
  if (top_p < 1.0 && cand_.size() > 1) {
    double total = 0.0;
    for (const Candidate& c : cand_) total += c.weight;
    const double target = top_p * total;
    auto by_weight = [](const Candidate& a, const Candidate& b) {
      return a.weight > b.weight || (a.weight == b.weight && a.id < b.id);
    };
    sorted_.assign(cand_.begin(), cand_.end());
    // Sort only as much as needed: the nucleus is usually tiny next to the vocabulary.
    size_t sorted_n = 0;
    size_t keep = 0;
    double cum = 0.0;
    for (size_t chunk = 64;; chunk *= 4) {
      size_t upto = std::min(chunk, sorted_.size());
      std::partial_sort(sorted_.begin() + sorted_n, sorted_.begin() + upto, sorted_.end(), by_weight);
      for (; sorted_n < upto; ++sorted_n) {
        cum += sorted_[sorted_n].weight;
        if (cum >= target) break;
      }
      if (sorted_n < upto || upto == sorted_.size()) {
        keep = std::min(sorted_n + 1, sorted_.size());
        break;
      }
    }
    cand_.assign(sorted_.begin(), sorted_.begin() + keep);
  }

  // 5. Draw, walking in ascending id order.
  if (p.top_k > 0 || top_p < 1.0) {
    std::sort(cand_.begin(), cand_.end(), [](const Candidate& a, const Candidate& b) { return a.id < b.id; });
  }
  double total = 0.0;
  for (const Candidate& c : cand_) total += c.weight;
  const double target = rng_.uniform() * total;
  double cum = 0.0;
  for (const Candidate& c : cand_) {
    cum += c.weight;
    if (cum > target) return c.id;
  }
  return cand_.back().id;  // rounding: target within the last ulp of total
}

}  // namespace ds4::sampler
