#include "output/text_scan.h"

#include <algorithm>

namespace ds4::output::detail {

size_t partial_tag_start(std::string_view text, std::initializer_list<std::string_view> tags) {
  size_t longest = 0;
  for (std::string_view t : tags) longest = std::max(longest, t.size());
  if (longest < 2) return text.size();
  // Scan from the left so the first hit is the longest suffix.
  size_t from = text.size() > longest - 1 ? text.size() - (longest - 1) : 0;
  for (size_t i = from; i < text.size(); ++i) {
    std::string_view suffix = text.substr(i);
    for (std::string_view t : tags) {
      if (suffix.size() < t.size() && t.substr(0, suffix.size()) == suffix) return i;
    }
  }
  return text.size();
}

size_t incomplete_utf8_tail(std::string_view text) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = 0;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) need = 3;
    else if (c >= 0xF0 && c <= 0xF4) need = 4;
    else return 0;  // ASCII or an invalid lead: nothing worth waiting for
    return back < need ? back : 0;
  }
  return 0;
}

TagMatch match_literal(std::string_view text, std::string_view literal) {
  if (text.size() >= literal.size()) {
    return text.substr(0, literal.size()) == literal ? TagMatch::Full : TagMatch::None;
  }
  return literal.substr(0, text.size()) == text ? TagMatch::Partial : TagMatch::None;
}

TagMatch match_tag_open(std::string_view text, std::string_view literal) {
  TagMatch m = match_literal(text, literal);
  if (m != TagMatch::Full) return m;
  if (text.size() == literal.size()) return TagMatch::Partial;
  char next = text[literal.size()];
  return (is_ascii_ws(next) || next == '>') ? TagMatch::Full : TagMatch::None;
}

namespace {
struct Entity {
  std::string_view spelled;
  char decoded;
};
constexpr Entity kEntities[] = {
    {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
};
}  // namespace

void append_entity_decoded(std::string_view text, std::string& out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t amp = text.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(text.substr(i));
      return;
    }
    out.append(text.substr(i, amp - i));
    bool decoded = false;
    for (const Entity& e : kEntities) {
      if (text.substr(amp, e.spelled.size()) == e.spelled) {
        out.push_back(e.decoded);
        i = amp + e.spelled.size();
        decoded = true;
        break;
      }
    }
    if (!decoded) {
      out.push_back('&');
      i = amp + 1;
    }
  }
}

std::string entity_decode(std::string_view text) {
  std::string out;
  append_entity_decoded(text, out);
  return out;
}

size_t partial_entity_start(std::string_view text) {
  // The longest entity is 6 bytes, so only the last 5 bytes can hold a proper prefix.
  size_t from = text.size() > 5 ? text.size() - 5 : 0;
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] != '&') continue;
    std::string_view suffix = text.substr(i);
    for (const Entity& e : kEntities) {
      if (suffix.size() < e.spelled.size() && e.spelled.substr(0, suffix.size()) == suffix) {
        return i;
      }
    }
  }
  return text.size();
}

void append_json_escaped(std::string_view text, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
}

bool find_attribute(std::string_view tag, std::string_view name, std::string& value) {
  std::string pattern(name);
  pattern += "=\"";
  size_t at = 0;
  while ((at = tag.find(pattern, at)) != std::string_view::npos) {
    if (at > 0 && is_ascii_ws(tag[at - 1])) {
      size_t begin = at + pattern.size();
      size_t end = tag.find('"', begin);
      if (end == std::string_view::npos) return false;
      value = entity_decode(tag.substr(begin, end - begin));
      return true;
    }
    at += 1;
  }
  return false;
}

}  // namespace ds4::output::detail
