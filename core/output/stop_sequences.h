// Stop-sequence filter over the raw generated text (PROTOCOL.md §C.1).
//
// Released text never contains a stop sequence nor a suffix that could still grow into
// one. The cut is at the LEFTMOST match in the whole text: a full match is only acted on
// once no earlier position holds a partial match that could still complete, so the result
// does not depend on how the text was split into pieces.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ds4::output {

class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops = {});  // "" entries are dropped

  // Appends the text that is now safe to `released`. Returns true when a stop sequence
  // matched: `released` then ends right before it and all later input is ignored.
  bool feed(std::string_view text, std::string& released);

  // End of generation: releases the held partial match (it can no longer complete).
  void finish(std::string& released);

  bool matched() const { return matched_; }
  size_t max_len() const { return max_len_; }
  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  size_t max_len_ = 0;
  std::string held_;
  bool matched_ = false;
};

}  // namespace ds4::output
