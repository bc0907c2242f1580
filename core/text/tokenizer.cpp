#include "text/tokenizer.h"

#include <cstring>
#include <unordered_map>

#include "text/bpe.h"
#include "text/byte_level.h"
#include "text/pretokenizer.h"
#include "text/unicode_class.h"

namespace ds4::text {
namespace {

// §A.2, in scan order.
constexpr std::string_view kSpecialStrings[kSpecialCount] = {
    "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<\xEF\xBD\x9CUser\xEF\xBD\x9C>",
    "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>",
    "<think>",
    "</think>",
    "\xEF\xBD\x9C" "DSML\xEF\xBD\x9C",
};
constexpr std::string_view kLatestReminder =
    "<\xEF\xBD\x9Clatest\xE2\x96\x81reminder\xEF\xBD\x9C>";
constexpr std::string_view kFullwidthBar = "\xEF\xBD\x9C";  // U+FF5C

// Pieces up to this size are memoised per encode() call: natural text repeats words a lot.
constexpr size_t kCacheablePiece = 64;

}  // namespace

std::string_view special_string(Special s) { return kSpecialStrings[static_cast<int>(s)]; }

int32_t SpecialIds::id(Special s) const {
  switch (s) {
    case Special::kBos: return bos;
    case Special::kEos: return eos;
    case Special::kUser: return user;
    case Special::kAssistant: return assistant;
    case Special::kThinkOpen: return think_open;
    case Special::kThinkClose: return think_close;
    case Special::kDsml: return dsml;
  }
  return -1;
}

struct Tokenizer::Impl {
  std::vector<std::string> tokens;
  std::vector<std::string> token_bytes;  // §A.7 decoded bytes of every token
  std::unordered_map<std::string, int32_t> vocab;
  SpecialIds specials;
  std::unique_ptr<detail::BpeModel> bpe;

  void encode_plain(std::string_view text, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    std::vector<std::string_view> pieces;
    detail::pre_tokenize(text, pieces);
    std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;  // piece -> out span
    std::vector<int32_t> memo;
    for (std::string_view p : pieces) {
      if (p.size() > kCacheablePiece) {
        bpe->encode_piece(p, out);
        continue;
      }
      if (auto it = cache.find(p); it != cache.end()) {
        out.insert(out.end(), memo.begin() + static_cast<std::ptrdiff_t>(it->second.first),
                   memo.begin() + static_cast<std::ptrdiff_t>(it->second.second));
        continue;
      }
      const size_t start = out.size();
      bpe->encode_piece(p, out);
      const size_t mstart = memo.size();
      memo.insert(memo.end(), out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
      cache.emplace(p, std::make_pair(mstart, memo.size()));
    }
  }
};

static std::string decode_token_string(const std::string& s) {
  if (s.find(kFullwidthBar) != std::string::npos) return s;  // literal special (§A.7)
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const detail::DecodedCp d = detail::decode_utf8(s, pos);
    const int b = detail::cp_to_byte(d.cp);
    if (b >= 0) out += static_cast<char>(b);  // code points outside the alphabet are dropped
    pos += d.len;
  }
  return out;
}

Tokenizer::Tokenizer(std::vector<std::string> tokens, std::vector<std::string> merges)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (tokens.empty()) throw TokenizerError("tokenizer vocabulary is empty");
  if (tokens.size() > static_cast<size_t>(INT32_MAX / 2)) {
    throw TokenizerError("tokenizer vocabulary is too large: " + std::to_string(tokens.size()));
  }
  m.tokens = std::move(tokens);
  m.vocab.reserve(m.tokens.size());
  m.token_bytes.reserve(m.tokens.size());
  for (size_t i = 0; i < m.tokens.size(); ++i) {
    m.vocab.emplace(m.tokens[i], static_cast<int32_t>(i));  // first id wins on duplicates
    m.token_bytes.push_back(decode_token_string(m.tokens[i]));
  }
  int32_t* slots[kSpecialCount] = {&m.specials.bos,        &m.specials.eos,
                                   &m.specials.user,       &m.specials.assistant,
                                   &m.specials.think_open, &m.specials.think_close,
                                   &m.specials.dsml};
  for (int i = 0; i < kSpecialCount; ++i) {
    auto it = m.vocab.find(std::string(kSpecialStrings[i]));
    if (it == m.vocab.end()) {
      throw TokenizerError("required tokenizer token is missing: " +
                           std::string(kSpecialStrings[i]));
    }
    *slots[i] = it->second;
  }
  if (auto it = m.vocab.find(std::string(kLatestReminder)); it != m.vocab.end()) {
    m.specials.latest_reminder = it->second;
  }
  m.bpe = std::make_unique<detail::BpeModel>(m.vocab, m.tokens.size(), merges);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

size_t Tokenizer::vocab_size() const { return impl_->tokens.size(); }

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  impl_->encode_plain(text, out);
  return out;
}

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out) const {
  impl_->encode_plain(text, out);
}

std::vector<int32_t> Tokenizer::encode_with_specials(std::string_view text) const {
  std::vector<int32_t> out;
  size_t span = 0;
  for (size_t pos = 0; pos < text.size();) {
    const char c = text[pos];
    int hit = -1;
    if (c == '<' || c == '\xEF') {  // every control string starts with '<' or U+FF5C
      for (int i = 0; i < kSpecialCount; ++i) {
        if (text.substr(pos, kSpecialStrings[i].size()) == kSpecialStrings[i]) {
          hit = i;
          break;
        }
      }
    }
    if (hit < 0) {
      ++pos;
      continue;
    }
    impl_->encode_plain(text.substr(span, pos - span), out);
    out.push_back(impl_->specials.id(static_cast<Special>(hit)));
    pos += kSpecialStrings[hit].size();
    span = pos;
  }
  impl_->encode_plain(text.substr(span), out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && static_cast<size_t>(id) < impl_->tokens.size()) out += impl_->token_bytes[id];
  }
  return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->tokens.size()) return {};
  return impl_->token_bytes[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  if (id < 0 || static_cast<size_t>(id) >= impl_->tokens.size()) return kEmpty;
  return impl_->tokens[id];
}

std::optional<int32_t> Tokenizer::find_token(std::string_view vocab_string) const {
  auto it = impl_->vocab.find(std::string(vocab_string));
  if (it == impl_->vocab.end()) return std::nullopt;
  return it->second;
}

const SpecialIds& Tokenizer::specials() const { return impl_->specials; }

bool Tokenizer::is_special(int32_t id) const {
  const SpecialIds& s = impl_->specials;
  return id == s.bos || id == s.eos || id == s.user || id == s.assistant || id == s.think_open ||
         id == s.think_close || id == s.dsml;
}

std::vector<std::string_view> Tokenizer::pre_tokenize(std::string_view text) const {
  std::vector<std::string_view> out;
  detail::pre_tokenize(text, out);
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string Utf8StreamDecoder::push_token(int32_t id) {
  return tok_ ? push_bytes(tok_->token_bytes(id)) : std::string();
}

std::string Utf8StreamDecoder::push_bytes(std::string_view bytes) {
  pending_.append(bytes);
  const size_t hold = detail::incomplete_utf8_tail(pending_);
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - hold);
  std::string out;
  out.reserve(ready.size());
  for (size_t pos = 0; pos < ready.size();) {
    const detail::DecodedCp d = detail::decode_utf8(ready, pos);
    if (d.cp == detail::kInvalidByteCp) out += "\xEF\xBF\xBD";  // U+FFFD
    else out.append(ready.substr(pos, d.len));
    pos += d.len;
  }
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string Utf8StreamDecoder::flush() {
  std::string out = pending_.empty() ? std::string() : std::string("\xEF\xBF\xBD");
  pending_.clear();
  return out;
}

}  // namespace ds4::text
