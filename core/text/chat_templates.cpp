// Fixed template strings of the chat renderer: exact bytes from PROTOCOL.md §B.3 and §B.6.
#include "text/chat.h"

namespace ds4::text {

std::string_view tools_block_prefix() {
  static constexpr std::string_view kPrefix =
      "## Tools\n\nYou have access to a set of tools to help answer the user question. You can "
      "invoke tools by writing a \"<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>\" block like the "
      "following:\n\n<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>\n<\xEF\xBD\x9C" "DSML\xEF\xBD\x9C"
      "invoke name=\"$TOOL_NAME\">\n<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cparameter "
      "name=\"$PARAMETER_NAME\" string=\"true|false\">$PARAMETER_VALUE</\xEF\xBD\x9C"
      "DSML\xEF\xBD\x9Cparameter>\n...\n</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cinvoke>\n<\xEF\xBD\x9C"
      "DSML\xEF\xBD\x9Cinvoke name=\"$TOOL_NAME2\">\n...\n</\xEF\xBD\x9C" "DSML\xEF\xBD\x9C"
      "invoke>\n</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>\n\nString parameters should be "
      "specified as raw text and set `string=\"true\"`. Preserve characters such as `>`, `&`, "
      "and `&&` exactly; never replace normal string characters with XML or HTML entity "
      "escapes. Only if a string value itself contains the exact closing parameter tag "
      "`</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cparameter>`, write that tag as `&lt;/\xEF\xBD\x9C"
      "DSML\xEF\xBD\x9Cparameter>` inside the value. For all other types (numbers, booleans, "
      "arrays, objects), pass the value in JSON format and set `string=\"false\"`.\n\nIf "
      "thinking_mode is enabled (triggered by <think>), you MUST output your complete "
      "reasoning inside <think>...</think> BEFORE any tool calls or final response.\n\n"
      "Otherwise, output directly after </think> with tool calls or final response.\n\n"
      "### Available Tool Schemas\n\n";
  return kPrefix;
}

std::string_view tools_block_suffix() {
  static constexpr std::string_view kSuffix =
      "\n\nYou MUST strictly follow the above defined tool name and parameter schemas to invoke "
      "tool calls. Use the exact parameter names from the schemas.";
  return kSuffix;
}

std::string_view think_max_prefix() {
  static constexpr std::string_view kMax =
      "Reasoning Effort: Absolute maximum with no shortcuts permitted.\nYou MUST be very "
      "thorough in your thinking and comprehensively decompose the problem to resolve the root "
      "cause, rigorously stress-testing your logic against all potential paths, edge cases, and "
      "adversarial scenarios.\nExplicitly write out your entire deliberation process, "
      "documenting every intermediate step, considered alternative, and rejected hypothesis to "
      "ensure absolutely no assumption is left unchecked.\n\n";
  return kMax;
}

}  // namespace ds4::text
