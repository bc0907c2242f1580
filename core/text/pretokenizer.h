// The DeepSeek V3/V4 pre-tokenizer (PROTOCOL.md §A.4, tokenizer.json "pre_tokenizer"):
//   1. Split \p{N}{1,3}                                   (Isolated)
//   2. Split [\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+     (Isolated)
//   3. Split [!-/:-@[-`{-~][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
//            | ?[\p{P}\p{S}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+   (Isolated)
// "Isolated" keeps both the matches and the unmatched gaps as pieces, and each step only sees
// the pieces of the previous one (so a lookahead never crosses a piece end). The matcher is
// hand-written over code points with the exact leftmost-first backtracking result of each
// alternative; it runs in linear time. Internal to ds4_text.
#pragma once

#include <string_view>
#include <vector>

namespace ds4::text::detail {

// Appends the pieces of `text` (views into it, in order, covering it exactly) to `out`.
void pre_tokenize(std::string_view text, std::vector<std::string_view>& out);

}  // namespace ds4::text::detail
