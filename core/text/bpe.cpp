#include "text/bpe.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "text/byte_level.h"
#include "text/tokenizer.h"
#include "text/unicode_class.h"

namespace ds4::text::detail {
namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t hash_key(uint64_t k) {  // splitmix64 finaliser: cheap and well mixed
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebULL;
  k ^= k >> 31;
  return k;
}

// Below this many symbols a quadratic scan beats the heap (most words are a few bytes).
constexpr size_t kSmallPiece = 48;

}  // namespace

BpeModel::BpeModel(const std::unordered_map<std::string, int32_t>& vocab, size_t vocab_size,
                   const std::vector<std::string>& merges)
    : vocab_size_(vocab_size) {
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(byte_to_utf8(static_cast<uint8_t>(b)));
    if (it == vocab.end()) {
      char msg[96];
      snprintf(msg, sizeof msg, "tokenizer vocabulary lacks the byte token for byte 0x%02x", b);
      throw TokenizerError(msg);
    }
    byte_token_[b] = it->second;
  }
  std::unordered_map<std::string, int32_t> extra;
  auto symbol = [&](const std::string& s) -> int32_t {
    if (auto it = vocab.find(s); it != vocab.end()) return it->second;
    if (auto it = extra.find(s); it != extra.end()) return it->second;
    const auto id = static_cast<int32_t>(vocab_size_ + extra_symbols_.size());
    extra_symbols_.push_back(s);
    extra.emplace(s, id);
    return id;
  };
  size_t cap = 16;
  while (cap < merges.size() * 2) cap <<= 1;
  keys_.assign(cap, kEmpty);
  values_.resize(cap);
  mask_ = cap - 1;
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= m.size() ||
        m.find(' ', sp + 1) != std::string::npos) {
      throw TokenizerError("tokenizer merge " + std::to_string(r) +
                           " is not \"<left> <right>\": \"" + m.substr(0, 64) + "\"");
    }
    const std::string left = m.substr(0, sp), right = m.substr(sp + 1);
    const int32_t l = symbol(left), rr = symbol(right);
    if (find_merge(l, rr)) continue;  // duplicate merge: the lower rank wins
    insert_merge(l, rr, Merge{static_cast<uint32_t>(r), symbol(left + right)});
  }
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t h = hash_key(key) & mask_;; h = (h + 1) & mask_) {
    if (keys_[h] == key) return &values_[h];
    if (keys_[h] == kEmpty) return nullptr;
  }
}

void BpeModel::insert_merge(int32_t left, int32_t right, Merge m) {
  const uint64_t key = pair_key(left, right);
  uint64_t h = hash_key(key) & mask_;
  while (keys_[h] != kEmpty) h = (h + 1) & mask_;
  keys_[h] = key;
  values_[h] = m;
}

void BpeModel::emit_symbol(int32_t sym, std::vector<int32_t>& out) const {
  if (static_cast<size_t>(sym) < vocab_size_) {
    out.push_back(sym);
    return;
  }
  // Not a vocabulary string: emit its characters (each is one alphabet char = one byte token).
  const std::string& s = extra_symbols_[static_cast<size_t>(sym) - vocab_size_];
  for (size_t pos = 0; pos < s.size();) {
    const DecodedCp d = decode_utf8(s, pos);
    const int b = cp_to_byte(d.cp);
    if (b >= 0) out.push_back(byte_token_[b]);
    pos += d.len;
  }
}

// Lowest rank first, leftmost on ties, one merge per step.
void BpeModel::merge_small(std::vector<int32_t>& syms) const {
  while (syms.size() > 1) {
    uint32_t best_rank = UINT32_MAX;
    size_t best = 0;
    int32_t best_result = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      const Merge* m = find_merge(syms[i], syms[i + 1]);
      if (m && m->rank < best_rank) {
        best_rank = m->rank;
        best = i;
        best_result = m->result;
      }
    }
    if (best_rank == UINT32_MAX) return;
    syms[best] = best_result;
    syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

// Same order as merge_small in O(n log n): a heap of candidate pairs keyed by (rank, left
// position), symbols in a doubly linked list; stale heap entries are skipped on pop.
void BpeModel::merge_large(std::vector<int32_t>& syms) const {
  const size_t n = syms.size();
  std::vector<size_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = i - 1;  // wraps to SIZE_MAX for i == 0
    next[i] = i + 1;
  }
  struct Cand {
    uint32_t rank;
    size_t pos;
    int32_t left, right;
    bool operator>(const Cand& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](size_t i) {
    if (i >= n || next[i] >= n) return;
    if (const Merge* m = find_merge(syms[i], syms[next[i]])) {
      heap.push(Cand{m->rank, i, syms[i], syms[next[i]]});
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const size_t i = c.pos;
    if (!alive[i] || next[i] >= n || syms[i] != c.left || syms[next[i]] != c.right) continue;
    const size_t j = next[i];
    syms[i] = find_merge(c.left, c.right)->result;
    alive[j] = false;
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    if (prev[i] < n) push(prev[i]);
    push(i);
  }
  size_t w = 0;
  for (size_t i = 0; i < n; i = next[i]) syms[w++] = syms[i];
  syms.resize(w);
}

void BpeModel::encode_piece(std::string_view bytes, std::vector<int32_t>& out) const {
  std::vector<int32_t> syms(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) syms[i] = byte_token_[static_cast<uint8_t>(bytes[i])];
  if (syms.size() <= kSmallPiece) merge_small(syms);
  else merge_large(syms);
  for (int32_t s : syms) emit_symbol(s, out);
}

}  // namespace ds4::text::detail
