// Internal: byte-level helpers shared by the stop filter and the output parser.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ds4::output::detail {

inline bool is_ascii_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Start of the longest non-empty suffix of `text` that is a PROPER prefix of one of
// `tags` (it could still grow into the tag); text.size() when there is none. This is the
// hold-back point for "a half-emitted tag never reaches the client".
size_t partial_tag_start(std::string_view text, std::initializer_list<std::string_view> tags);

// Number of trailing bytes that form an incomplete (but so far valid) UTF-8 sequence.
size_t incomplete_utf8_tail(std::string_view text);

enum class TagMatch { None, Partial, Full };

// Does `text` start with `literal`? Partial when `text` is a proper prefix of it.
TagMatch match_literal(std::string_view text, std::string_view literal);

// Like match_literal, but the literal must be followed by ASCII whitespace or '>' (an
// element-name boundary, so `<invoker` is not `<invoke`). Partial while that byte is
// still missing.
TagMatch match_tag_open(std::string_view text, std::string_view literal);

// Entity decoding of DSML text and attribute values (§C.3): &amp; &lt; &gt; &quot; &apos;
// are decoded, any other '&' is kept literally.
void append_entity_decoded(std::string_view text, std::string& out);
std::string entity_decode(std::string_view text);

// Start of a trailing '&…' that is a proper prefix of a decodable entity; text.size()
// when there is none.
size_t partial_entity_start(std::string_view text);

// JSON string escaping as in §C.3 / §D.1: '"' and '\\' escaped, \n \r \t as escapes, other
// bytes < 0x20 as \u00XX, everything else (including '/', DEL, non-ASCII) copied raw.
void append_json_escaped(std::string_view text, std::string& out);

// Value of attribute `name="…"` inside a tag (first occurrence whose name is preceded by
// whitespace), entity-decoded. False when the attribute is absent or unterminated.
bool find_attribute(std::string_view tag, std::string_view name, std::string& value);

}  // namespace ds4::output::detail
