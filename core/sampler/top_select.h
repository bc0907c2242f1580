// Internal: the k best logits of a row without sorting the whole row.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ds4::sampler::detail {

struct Scored {
  int32_t id;
  float logit;
};

// Strict "a ranks before b": larger logit, then lower id (the tie rule everywhere).
inline bool ranks_before(const Scored& a, const Scored& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// The min(k, #non-NaN) best entries of `logits`, best first, into `out` (cleared first;
// its capacity is reused). A bounded heap keeps this O(V log k); most entries are rejected
// by one comparison with the heap's worst element.
void select_top(std::span<const float> logits, size_t k, std::vector<Scored>& out);

}  // namespace ds4::sampler::detail
