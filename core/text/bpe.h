// Byte-level BPE merge engine (PROTOCOL.md §A.6). Internal to ds4_text.
//
// Symbols are integers: ids < vocab_size are vocabulary tokens; a merge whose result (or
// operand) is not a vocabulary string gets an extra symbol id >= vocab_size so that merging is
// still done exactly on strings, as ds4 does. Such a symbol left at the end is emitted as the
// tokens of its single characters (§A.6 fallback; never happens with the real vocabulary).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ds4::text::detail {

class BpeModel {
 public:
  // `vocab` maps token string -> id for ids [0, vocab_size). Throws TokenizerError on a merge
  // without a space or when a byte token is missing.
  BpeModel(const std::unordered_map<std::string, int32_t>& vocab, size_t vocab_size,
           const std::vector<std::string>& merges);

  // BPE of one pre-token piece (raw bytes), token ids appended to `out`.
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    uint32_t rank;
    int32_t result;
  };
  // Open-addressing table keyed by (left << 32 | right); empty slots hold kEmpty.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  const Merge* find_merge(int32_t left, int32_t right) const;
  void insert_merge(int32_t left, int32_t right, Merge m);
  void emit_symbol(int32_t sym, std::vector<int32_t>& out) const;
  void merge_small(std::vector<int32_t>& syms) const;
  void merge_large(std::vector<int32_t>& syms) const;

  size_t vocab_size_;
  int32_t byte_token_[256];
  std::vector<std::string> extra_symbols_;  // strings of symbol ids >= vocab_size
  std::vector<uint64_t> keys_;
  std::vector<Merge> values_;
  uint64_t mask_ = 0;
};

}  // namespace ds4::text::detail
