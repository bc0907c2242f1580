#include "sampler/top_select.h"

#include <algorithm>
#include <cmath>

namespace ds4::sampler::detail {

void select_top(std::span<const float> logits, size_t k, std::vector<Scored>& out) {
  out.clear();
  if (k == 0) return;
  // Heap ordered by ranks_before: the front is the WORST kept entry.
  for (size_t i = 0; i < logits.size(); ++i) {
    float l = logits[i];
    if (std::isnan(l)) continue;
    Scored s{static_cast<int32_t>(i), l};
    if (out.size() < k) {
      out.push_back(s);
      std::push_heap(out.begin(), out.end(), ranks_before);
    } else if (ranks_before(s, out.front())) {
      std::pop_heap(out.begin(), out.end(), ranks_before);
      out.back() = s;
      std::push_heap(out.begin(), out.end(), ranks_before);
    }
  }
  std::sort(out.begin(), out.end(), ranks_before);
}

}  // namespace ds4::sampler::detail
