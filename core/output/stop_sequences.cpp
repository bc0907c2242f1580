#include "output/stop_sequences.h"

#include <algorithm>

namespace ds4::output {

StopFilter::StopFilter(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (s.empty()) continue;
    max_len_ = std::max(max_len_, s.size());
    stops_.push_back(std::move(s));
  }
}

bool StopFilter::feed(std::string_view text, std::string& released) {
  if (matched_) return true;
  if (stops_.empty()) {
    released.append(text);
    return false;
  }
  held_.append(text);
  std::string_view view(held_);

  // Leftmost complete match anywhere in the held text.
  size_t full = std::string_view::npos;
  for (const std::string& s : stops_) full = std::min(full, view.find(s));

  // Leftmost position whose suffix could still become a stop sequence. Only the last
  // max_len-1 bytes can be such a suffix.
  size_t partial = std::string_view::npos;
  size_t from = view.size() > max_len_ - 1 ? view.size() - (max_len_ - 1) : 0;
  for (size_t i = from; i < view.size() && partial == std::string_view::npos; ++i) {
    std::string_view suffix = view.substr(i);
    for (const std::string& s : stops_) {
      if (suffix.size() < s.size() && std::string_view(s).substr(0, suffix.size()) == suffix) {
        partial = i;
        break;
      }
    }
  }

  // A full match is final unless an earlier partial match might still complete: that one
  // would start further left and win.
  if (full != std::string_view::npos && (partial == std::string_view::npos || full <= partial)) {
    released.append(view.substr(0, full));
    held_.clear();
    matched_ = true;
    return true;
  }
  size_t keep = partial == std::string_view::npos ? view.size() : partial;
  released.append(view.substr(0, keep));
  held_.erase(0, keep);
  return false;
}

void StopFilter::finish(std::string& released) {
  if (matched_) return;
  released += held_;
  held_.clear();
}

}  // namespace ds4::output
