#include "text/json_args.h"

#include "text/byte_level.h"

namespace ds4::text::detail {
namespace {

constexpr int kMaxDepth = 256;  // bounds recursion on hostile input

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<std::vector<JsonMember>> object_members() {
    skip_ws();
    if (!eat('{')) return std::nullopt;
    std::vector<JsonMember> members;
    skip_ws();
    if (!eat('}')) {
      for (;;) {
        skip_ws();
        JsonMember m;
        if (!string_value(&m.key)) return std::nullopt;
        skip_ws();
        if (!eat(':')) return std::nullopt;
        skip_ws();
        if (peek() == '"') {
          m.is_string = true;
          if (!string_value(&m.value)) return std::nullopt;
        } else {
          const size_t start = pos_;
          if (!value(1)) return std::nullopt;
          m.value = minify(s_.substr(start, pos_ - start));
        }
        members.push_back(std::move(m));
        skip_ws();
        if (eat(',')) continue;
        if (eat('}')) break;
        return std::nullopt;
      }
    }
    skip_ws();
    if (pos_ != s_.size()) return std::nullopt;
    return members;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  void skip_ws() {
    while (pos_ < s_.size() && is_ws(s_[pos_])) ++pos_;
  }

  // Validates any value; strings are checked by string_value(nullptr).
  bool value(int depth) {
    if (depth > kMaxDepth) return false;
    switch (peek()) {
      case '"': return string_value(nullptr);
      case '{': {
        ++pos_;
        skip_ws();
        if (eat('}')) return true;
        for (;;) {
          skip_ws();
          if (!string_value(nullptr)) return false;
          skip_ws();
          if (!eat(':')) return false;
          skip_ws();
          if (!value(depth + 1)) return false;
          skip_ws();
          if (eat(',')) continue;
          return eat('}');
        }
      }
      case '[': {
        ++pos_;
        skip_ws();
        if (eat(']')) return true;
        for (;;) {
          skip_ws();
          if (!value(depth + 1)) return false;
          skip_ws();
          if (eat(',')) continue;
          return eat(']');
        }
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool digits() {
    const size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool number() {
    eat('-');
    if (peek() == '0') ++pos_;
    else if (!digits()) return false;
    if (eat('.') && !digits()) return false;
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!digits()) return false;
    }
    return true;
  }

  bool hex4(uint32_t* out) {
    if (s_.size() - pos_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(s_[pos_ + i]);
      if (h < 0) return false;
      v = v << 4 | static_cast<uint32_t>(h);
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  // Parses a JSON string at pos_; decodes it into *out when out != nullptr. A lone surrogate
  // escape decodes to U+FFFD (the text stays valid UTF-8).
  bool string_value(std::string* out) {
    if (!eat('"')) return false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        if (out) *out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      char plain = 0;
      switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            const size_t save = pos_;
            pos_ += 2;
            uint32_t lo;
            if (hex4(&lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              pos_ = save;
            }
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          if (out) append_utf8(*out, cp);
          continue;
        }
        default: return false;
      }
      if (out) *out += plain;
    }
    return false;
  }

  static std::string minify(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    bool in_string = false;
    for (size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      if (in_string) {
        out += c;
        if (c == '\\' && i + 1 < raw.size()) out += raw[++i];
        else if (c == '"') in_string = false;
      } else if (!is_ws(c)) {
        out += c;
        if (c == '"') in_string = true;
      }
    }
    return out;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::vector<JsonMember>> parse_json_object_members(std::string_view text) {
  return Parser(text).object_members();
}

}  // namespace ds4::text::detail
