// ds4::text::Tokenizer: DeepSeek V3/V4 byte-level BPE (PROTOCOL.md §A).
//
// The vocabulary arrives as plain vectors so that any source can feed it: the engine reads the
// GGUF arrays `tokenizer.ggml.tokens` (id -> token string) and `tokenizer.ggml.merges`
// ("left right", rank = index), tests read an exported tokenizer.json.
//
// Pre-tokenization follows the official tokenizer.json regex (§A.4 "reference definition"),
// NOT ds4.c's ASCII-centric approximation; docs/tokenizer.md lists where the two differ.
//
// Two entry points, on purpose (§A.3):
//   * encode()               plain text: special strings are NEVER recognised. This is what
//                            every piece of user/system/tool text goes through.
//   * encode_with_specials() debug / pre-rendered prompts: the seven ds4 control strings
//                            (§A.2) become their ids, everything between is encode()d.
//
// Thread safety: a constructed Tokenizer is immutable; all const methods may be called from any
// number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ds4::text {

// Thrown by the constructor for a vocabulary that cannot be used (missing required special
// token, missing byte token, malformed merge). what() is one line naming the problem.
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The control tokens ds4 uses, in the §A.2 table order (which is also the order in which the
// rendered-chat scan tests them).
enum class Special : int {
  kBos = 0,         // <｜begin▁of▁sentence｜>
  kEos,             // <｜end▁of▁sentence｜>
  kUser,            // <｜User｜>
  kAssistant,       // <｜Assistant｜>
  kThinkOpen,       // <think>
  kThinkClose,      // </think>
  kDsml,            // ｜DSML｜
};
inline constexpr int kSpecialCount = 7;

// Exact vocabulary string of a control token (UTF-8).
std::string_view special_string(Special s);

// Ids of the control tokens, resolved by string lookup at construction (never hard-coded).
struct SpecialIds {
  int32_t bos = -1, eos = -1, user = -1, assistant = -1;
  int32_t think_open = -1, think_close = -1, dsml = -1;
  // Optional V4 extra (not required; -1 when absent from the vocabulary).
  int32_t latest_reminder = -1;  // <｜latest_reminder｜>

  int32_t id(Special s) const;
};

class Tokenizer {
 public:
  // tokens[i] is the vocabulary string of id i (GPT-2 byte alphabet; specials stored literally).
  // merges[r] is "left right" with rank r. Throws TokenizerError when a ds4 control token or one
  // of the 256 byte tokens is missing, or a merge has no separating space.
  Tokenizer(std::vector<std::string> tokens, std::vector<std::string> merges);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Number of entries in the token table (129280 for V4 Flash).
  size_t vocab_size() const;

  // Plain BPE of arbitrary bytes. Special strings are ordinary text here. Invalid UTF-8 is not
  // an error: each invalid byte is pre-tokenized as a lone "other" code point and still encoded
  // through its byte token, so decode(encode(s)) == s for every byte string s.
  std::vector<int32_t> encode(std::string_view text) const;
  // Same, appending to `out` (avoids a copy when building a prompt piece by piece).
  void encode_append(std::string_view text, std::vector<int32_t>& out) const;

  // §A.3 (2): scan left to right; at each byte test the seven control strings in Special order;
  // a match flushes the pending span through encode() and emits the id. For pre-rendered
  // prompts and debugging only: never feed untrusted text through this.
  std::vector<int32_t> encode_with_specials(std::string_view text) const;

  // Bytes of a token sequence (§A.7): tokens containing U+FF5C are literal, others go back
  // through the inverse byte map. May end inside a UTF-8 character; ids out of range are
  // skipped. Use Utf8StreamDecoder for incremental text.
  std::string decode(std::span<const int32_t> ids) const;
  // Bytes of one token (§A.7); empty for an out-of-range id.
  std::string token_bytes(int32_t id) const;
  // The raw vocabulary string of one token (byte alphabet); empty for an out-of-range id.
  const std::string& token_text(int32_t id) const;

  // Exact lookup of a vocabulary string (byte alphabet / literal special).
  std::optional<int32_t> find_token(std::string_view vocab_string) const;

  const SpecialIds& specials() const;
  bool is_special(int32_t id) const;  // one of the seven ds4 control ids

  // Pieces of the pre-tokenizer for `text` (testing and docs; byte ranges into `text`).
  std::vector<std::string_view> pre_tokenize(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Incremental detokenizer: feed token ids (or raw bytes), get back only complete UTF-8 text.
// A trailing incomplete but so-far-valid sequence (at most 3 bytes) is held back until the next
// token completes it. Bytes that can never become valid UTF-8 are replaced by U+FFFD, so the
// output is always valid UTF-8 (what JSON/SSE writers need). flush() emits U+FFFD for a held
// incomplete tail and resets.
class Utf8StreamDecoder {
 public:
  explicit Utf8StreamDecoder(const Tokenizer* tokenizer = nullptr) : tok_(tokenizer) {}

  // Decode one token and return the newly completed text (possibly empty).
  std::string push_token(int32_t id);
  // Same for raw bytes.
  std::string push_bytes(std::string_view bytes);
  // End of stream: return whatever is held (as U+FFFD) and reset.
  std::string flush();
  // Number of bytes currently held back.
  size_t pending() const { return pending_.size(); }

 private:
  const Tokenizer* tok_;
  std::string pending_;
};

}  // namespace ds4::text
