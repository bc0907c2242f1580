#include "text/pretokenizer.h"

#include <cstdint>

#include "text/unicode_class.h"

namespace ds4::text::detail {
namespace {

// Step 2's literal ranges: CJK Unified Ideographs (to U+9FA5 only), Hiragana, Katakana.
bool is_cjk_run_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x309F) ||
         (cp >= 0x30A0 && cp <= 0x30FF);
}

bool is_ascii_letter(uint32_t cp) { return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'; }

// The bracket class of alternative A: every ASCII punctuation or symbol character.
bool is_ascii_punct(uint32_t cp) {
  return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`') ||
         (cp >= '{' && cp <= '~');
}

bool is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

// Decoded text: code points, their classes and byte offsets (offset[n] == text.size()).
struct CodePoints {
  std::vector<uint32_t> cp;
  std::vector<CpClass> cls;
  std::vector<size_t> offset;
};

class Splitter {
 public:
  Splitter(std::string_view text, const CodePoints& c, std::vector<std::string_view>& out)
      : text_(text), c_(c), out_(out) {}

  void run() {
    const size_t n = c_.cp.size();
    size_t i = 0;
    while (i < n) {
      if (c_.cls[i] == CpClass::kNumber) {  // step 1: up to three numbers per piece
        size_t j = i;
        while (j < n && j - i < 3 && c_.cls[j] == CpClass::kNumber) ++j;
        emit(i, j);
        i = j;
        continue;
      }
      size_t end = i;  // gap of step 1: everything up to the next number
      while (end < n && c_.cls[end] != CpClass::kNumber) ++end;
      for (size_t k = i; k < end;) {  // step 2 inside the gap: CJK runs vs the rest
        const bool cjk = is_cjk_run_char(c_.cp[k]);
        size_t m = k;
        while (m < end && is_cjk_run_char(c_.cp[m]) == cjk) ++m;
        split_words(k, m);  // step 3 applies to both kinds of step-2 piece
        k = m;
      }
      i = end;
    }
  }

 private:
  bool is_letter_or_mark(size_t i) const {
    return c_.cls[i] == CpClass::kLetter || c_.cls[i] == CpClass::kMark;
  }
  bool is_punct_or_symbol(size_t i) const {
    return c_.cls[i] == CpClass::kPunct || c_.cls[i] == CpClass::kSymbol;
  }

  void emit(size_t b, size_t e) {
    out_.push_back(text_.substr(c_.offset[b], c_.offset[e] - c_.offset[b]));
  }

  // Step 3 over [b, e): matches and the gaps between them become pieces.
  void split_words(size_t b, size_t e) {
    size_t gap = SIZE_MAX;
    for (size_t i = b; i < e;) {
      const size_t len = match_at(i, e);
      if (len == 0) {
        if (gap == SIZE_MAX) gap = i;
        ++i;
        continue;
      }
      if (gap != SIZE_MAX) emit(gap, i), gap = SIZE_MAX;
      emit(i, i + len);
      i += len;
    }
    if (gap != SIZE_MAX) emit(gap, e);
  }

  // Length (in code points) of the regex-3 match starting at i within [i, e), 0 if none. The
  // alternatives are tried in order; each returns what a backtracking engine would.
  size_t match_at(size_t i, size_t e) const {
    const uint32_t cp = c_.cp[i];
    const CpClass cls = c_.cls[i];
    // A: [ascii punct][A-Za-z]+
    if (is_ascii_punct(cp) && i + 1 < e && is_ascii_letter(c_.cp[i + 1])) {
      size_t j = i + 2;
      while (j < e && is_ascii_letter(c_.cp[j])) ++j;
      return j - i;
    }
    // B: [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ -- the optional prefix is tried first.
    const bool prefix_ok = !is_crlf(cp) && cls != CpClass::kLetter && cls != CpClass::kPunct &&
                           cls != CpClass::kSymbol;
    size_t run_from = SIZE_MAX;
    if (prefix_ok && i + 1 < e && is_letter_or_mark(i + 1)) run_from = i + 1;
    else if (is_letter_or_mark(i)) run_from = i;
    if (run_from != SIZE_MAX) {
      size_t j = run_from + 1;
      while (j < e && is_letter_or_mark(j)) ++j;
      return j - i;
    }
    // C: ' '?[\p{P}\p{S}]+[\r\n]*  (only U+0020 counts as the optional space)
    size_t ps_from = SIZE_MAX;
    if (cp == ' ' && i + 1 < e && is_punct_or_symbol(i + 1)) ps_from = i + 1;
    else if (is_punct_or_symbol(i)) ps_from = i;
    if (ps_from != SIZE_MAX) {
      size_t j = ps_from + 1;
      while (j < e && is_punct_or_symbol(j)) ++j;
      while (j < e && is_crlf(c_.cp[j])) ++j;
      return j - i;
    }
    if (cls != CpClass::kSpace) return 0;
    size_t j = i;
    size_t last_crlf = SIZE_MAX;
    while (j < e && c_.cls[j] == CpClass::kSpace) {
      if (is_crlf(c_.cp[j])) last_crlf = j;
      ++j;
    }
    // D: \s*[\r\n]+ -- greedy \s* backs off to the last CR/LF of the run.
    if (last_crlf != SIZE_MAX) return last_crlf + 1 - i;
    // E: \s+(?!\S) -- the whole run at the piece end, else the run minus its last char.
    if (j == e) return j - i;
    if (j - i >= 2) return j - 1 - i;
    // F: \s+ -- a single whitespace char before a non-space.
    return j - i;
  }

  std::string_view text_;
  const CodePoints& c_;
  std::vector<std::string_view>& out_;
};

}  // namespace

void pre_tokenize(std::string_view text, std::vector<std::string_view>& out) {
  CodePoints c;
  c.cp.reserve(text.size());
  c.cls.reserve(text.size());
  c.offset.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    const DecodedCp d = decode_utf8(text, pos);
    c.cp.push_back(d.cp);
    c.cls.push_back(cp_class(d.cp));
    c.offset.push_back(pos);
    pos += d.len;
  }
  c.offset.push_back(text.size());
  Splitter(text, c, out).run();
}

}  // namespace ds4::text::detail
