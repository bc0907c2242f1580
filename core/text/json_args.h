// Just enough JSON for §B.4 tool-call arguments, where ds4's exact bytes matter more than a
// data model: keys in client order with duplicates kept, numbers in their original spelling,
// non-string values minified by dropping whitespace outside strings. Internal to ds4_text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds4::text::detail {

struct JsonMember {
  std::string key;        // decoded
  bool is_string = false;
  std::string value;      // decoded string when is_string, else the minified JSON text
};

// Members of `text` when it is exactly one JSON object (surrounding whitespace allowed);
// nullopt for anything else (invalid JSON, array, scalar, trailing garbage, nesting > 256).
std::optional<std::vector<JsonMember>> parse_json_object_members(std::string_view text);

}  // namespace ds4::text::detail
