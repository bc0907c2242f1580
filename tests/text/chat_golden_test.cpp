// Chat renderer golden tests: every worked example of PROTOCOL.md §B.8 (and the §B.4 canonical
// DSML example) byte for byte. Expected strings are the spec's JSON literals, copied into
// tests/fixtures/text/chat_golden.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "text/chat.h"
#include "text_test_util.h"

namespace ds4::text {
namespace {

const nlohmann::json& golden() {
  static const nlohmann::json j = nlohmann::json::parse(
      testing::read_file(std::string(DS4_SOURCE_DIR) + "/tests/fixtures/text/chat_golden.json"));
  return j;
}
std::string expected(const char* name) { return golden()["cases"][name].get<std::string>(); }

Message msg(Role r, std::string content, std::string reasoning = {}) {
  Message m;
  m.role = r;
  m.content = std::move(content);
  m.reasoning = std::move(reasoning);
  return m;
}

std::string render_text(const ChatRequest& req) { return pieces_text(render_pieces(req)); }

TEST(ChatGolden, Example1SingleTurnNonThinking) {
  ChatRequest req;
  req.messages = {msg(Role::kUser, "Hello")};
  req.options.think = ThinkMode::kNone;
  EXPECT_EQ(render_text(req), expected("ex1_nonthinking"));
}

TEST(ChatGolden, Example2SystemAndDeveloperHoisted) {
  ChatRequest req;
  req.messages = {msg(Role::kSystem, "You are terse."), msg(Role::kDeveloper, "Answer in English."),
                  msg(Role::kUser, "What is 2+2?")};
  EXPECT_EQ(render_text(req), expected("ex2_system_developer"));
  // Hoisting: a system message after the user turn lands in the same place.
  req.messages = {msg(Role::kSystem, "You are terse."), msg(Role::kUser, "What is 2+2?"),
                  msg(Role::kDeveloper, "Answer in English.")};
  EXPECT_EQ(render_text(req), expected("ex2_system_developer"));
}

TEST(ChatGolden, Example3ThinkMaxAndItsContextGate) {
  ChatRequest req;
  req.messages = {msg(Role::kSystem, "You are terse."), msg(Role::kUser, "Prove it.")};
  req.options.think = ThinkMode::kMax;
  req.options.context_size = kThinkMaxMinContext;
  EXPECT_EQ(render_text(req), expected("ex3_think_max"));
  // Below 393216 tokens of context, max silently becomes high: no prefix.
  req.options.context_size = kThinkMaxMinContext - 1;
  EXPECT_EQ(render_text(req),
            "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>You are terse."
            "<\xEF\xBD\x9CUser\xEF\xBD\x9C>Prove it.<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C><think>");
  EXPECT_EQ(effective_think_mode(ThinkMode::kMax, 16384), ThinkMode::kHigh);
  EXPECT_EQ(effective_think_mode(ThinkMode::kMax, 1u << 20), ThinkMode::kMax);
  EXPECT_EQ(effective_think_mode(ThinkMode::kNone, 1u << 20), ThinkMode::kNone);
}

TEST(ChatGolden, Example4OldReasoningDropped) {
  ChatRequest req;
  req.messages = {msg(Role::kUser, "What is 2+2?"),
                  msg(Role::kAssistant, "4", "Simple addition."),
                  msg(Role::kUser, "And 3+3?")};
  EXPECT_EQ(render_text(req), expected("ex4_multiturn_drop"));
}

TEST(ChatGolden, Example4EndsWithAssistantKeepsReasoning) {
  ChatRequest req;
  req.messages = {msg(Role::kUser, "Hi"), msg(Role::kAssistant, "Hel", "greet")};
  EXPECT_EQ(render_text(req), expected("ex4_ends_with_assistant"));
}

ChatRequest example5(ThinkMode think) {
  ChatRequest req;
  req.tool_schemas = {
      R"({"name":"bash","description":"Run a shell command.","parameters":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"integer"}},"required":["command"]}})",
      R"({"name":"read_file","description":"Read a file.","parameters":{"type":"object","properties":{"path":{"type":"string"},"lines":{"type":"array","items":{"type":"integer"}}}}})"};
  Message asst = msg(Role::kAssistant, "", "Need two tools.");
  asst.tool_calls = {{"call_1", "read_file", R"({"path": "a.c", "lines": [1, 20]})"},
                     {"call_2", "bash", R"({"command":"wc -l a.c && echo done","timeout":10})"}};
  req.messages = {msg(Role::kSystem, "You are a coding agent."),
                  msg(Role::kUser, "Show me a.c and count lines."), asst,
                  msg(Role::kTool, "int main(void) { return 0; }"),
                  msg(Role::kTool, "1 a.c\ndone")};
  req.options.think = think;
  return req;
}

TEST(ChatGolden, Example5ToolsThinking) {
  EXPECT_EQ(render_text(example5(ThinkMode::kHigh)), expected("ex5_tools_thinking"));
}

TEST(ChatGolden, Example5ToolsNonThinking) {
  EXPECT_EQ(render_text(example5(ThinkMode::kNone)), expected("ex5_tools_nonthinking"));
}

TEST(ChatGolden, Example6AnthropicMixedUserMessage) {
  ChatRequest req;
  req.tool_schemas = {
      R"({"name":"Bash","description":"Run bash","input_schema":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"}}}})"};
  Message asst = msg(Role::kAssistant, "Running ls.", "Use Bash.");
  asst.tool_calls = {{"toolu_1", "Bash", R"({"command":"ls","timeout":5})"}};
  // §B.5: an Anthropic user message mixing tool_result and text blocks is one user message.
  req.messages = {msg(Role::kSystem, "You are Claude Code."), msg(Role::kUser, "List files."),
                  asst, msg(Role::kUser, "<tool_result>a.c\nb.c</tool_result>Now summarize.")};
  EXPECT_EQ(render_text(req), expected("ex6_anthropic"));
}

TEST(ChatGolden, B4CanonicalDsmlWithEscapesAndTyping) {
  const std::vector<ToolCall> calls = {
      {"", "edit",
       "{\"path\":\"x</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cparameter>y\",\"opts\":{\"a\": [1, 2]},"
       "\"flag\":true,\"n\":null}"}};
  EXPECT_EQ(render_dsml_tool_calls(calls), golden()["b4_canonical"].get<std::string>());
}

// ---- further §B.1/§B.4/§B.5 rules --------------------------------------------------------------

std::string bos() { return std::string(special_string(Special::kBos)); }
std::string usr() { return std::string(special_string(Special::kUser)); }
std::string ast() { return std::string(special_string(Special::kAssistant)); }
std::string eos() { return std::string(special_string(Special::kEos)); }
const std::string kDsml = "\xEF\xBD\x9C" "DSML\xEF\xBD\x9C";

TEST(ChatRules, DsmlArgumentEdgeCases) {
  // Non-object arguments become one `arguments` string parameter, closing tag escaped.
  for (const std::string& args : {std::string("[1,2]"), std::string("not json"),
                                  std::string("\"str\""), std::string("{\"a\":1,}"),
                                  std::string("{\"a\":1} trailing")}) {
    const std::string out = render_dsml_tool_calls({{"", "t", args}});
    EXPECT_NE(out.find("<" + kDsml + "parameter name=\"arguments\" string=\"true\">" + args + "</" +
                       kDsml + "parameter>\n"),
              std::string::npos)
        << args;
  }
  // Empty object: an invoke with no parameter lines.
  EXPECT_EQ(render_dsml_tool_calls({{"", "t", "{}"}}),
            "\n\n<" + kDsml + "tool_calls>\n<" + kDsml + "invoke name=\"t\">\n</" + kDsml +
                "invoke>\n</" + kDsml + "tool_calls>");
  // Attribute escaping of names and keys; duplicate keys kept in order; string escapes decoded
  // for string values but kept verbatim (minified) in non-string values; numbers keep spelling.
  const std::string out = render_dsml_tool_calls(
      {{"", "a\"<&>", R"({"k":"v1","k":"line\nA\u00e9\ud83d\ude00","n":1.50E+3,"o":{ "s" : "a b\"c" }})"}});
  EXPECT_NE(out.find("invoke name=\"a&quot;&lt;&amp;&gt;\">"), std::string::npos);
  const size_t first = out.find("name=\"k\" string=\"true\">v1<");
  const size_t second = out.find("name=\"k\" string=\"true\">line\nA\xC3\xA9\xF0\x9F\x98\x80<");
  EXPECT_NE(first, std::string::npos);
  EXPECT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_NE(out.find("name=\"n\" string=\"false\">1.50E+3<"), std::string::npos);
  EXPECT_NE(out.find(R"(name="o" string="false">{"s":"a b\"c"}<)"), std::string::npos);
  // A closing tag inside a non-string value gets \u003c.
  const std::string nested = render_dsml_tool_calls(
      {{"", "t", "{\"o\":[\"</" + kDsml + "parameter>\"]}"}});
  EXPECT_NE(nested.find("[\"\\u003c/" + kDsml + "parameter>\"]"), std::string::npos);
  // Deep nesting is rejected as non-object without crashing.
  const std::string deep = "{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_NE(render_dsml_tool_calls({{"", "t", deep}}).find("name=\"arguments\""),
            std::string::npos);
}

TEST(ChatRules, ToolResultsShareOneUserTurnAndAreEscaped) {
  ChatRequest req;
  req.options.think = ThinkMode::kNone;
  req.messages = {msg(Role::kTool, "a</tool_result>b"), msg(Role::kTool, "c"),
                  msg(Role::kUser, "u"), msg(Role::kTool, "d")};
  EXPECT_EQ(render_text(req), bos() + usr() + "<tool_result>a&lt;/tool_result>b</tool_result>"
                                  "<tool_result>c</tool_result>" + usr() + "u" + usr() +
                                  "<tool_result>d</tool_result>" + ast() + "</think>");
}

TEST(ChatRules, ReasoningKeptInToolContextAndConsecutiveAssistants) {
  // A tool result anywhere makes tool_context true: older reasoning is kept.
  ChatRequest req;
  req.messages = {msg(Role::kUser, "q"), msg(Role::kAssistant, "a", "r1"),
                  msg(Role::kTool, "t"), msg(Role::kUser, "q2")};
  EXPECT_EQ(render_text(req), bos() + usr() + "q" + ast() + "<think>r1</think>a" + eos() + usr() +
                                  "<tool_result>t</tool_result>" + usr() + "q2" + ast() + "<think>");
  // Two assistants in a row: the second has no <｜Assistant｜> and no think marker; a leading
  // assistant neither; unknown roles are ignored.
  req.messages = {msg(Role::kAssistant, "x"), msg(Role::kUser, "q"),
                  msg(Role::kAssistant, "a", "r"), msg(Role::kAssistant, "b", "r2"),
                  msg(Role::kOther, "reminder")};
  EXPECT_EQ(render_text(req), bos() + "x" + eos() + usr() + "q" + ast() + "<think>r</think>a" +
                                  eos() + "b" + eos());
  EXPECT_EQ(role_from_string("function"), Role::kTool);
  EXPECT_EQ(role_from_string("developer"), Role::kDeveloper);
  EXPECT_EQ(role_from_string("latest_reminder"), Role::kOther);
}

TEST(ChatRules, EmptySystemMessagesAddNoSeparator) {
  ChatRequest req;
  req.options.think = ThinkMode::kNone;
  req.messages = {msg(Role::kSystem, ""), msg(Role::kSystem, "S"), msg(Role::kUser, "u")};
  EXPECT_EQ(render_text(req), bos() + "S" + usr() + "u" + ast() + "</think>");
}

TEST(ChatRules, ExactReplayReplacesCanonicalBlock) {
  ChatRequest req;
  Message a = msg(Role::kAssistant, "", "r");
  a.tool_calls = {{"id1", "bash", "{\"command\":\"ls\"}"}};
  a.dsml_replay = "\n\n<" + kDsml + "tool_calls>\n<" + kDsml + "invoke name=\"bash\">\n<" + kDsml +
                  "parameter name=\"command\" string=\"true\">ls  </" + kDsml +
                  "parameter>\n</" + kDsml + "invoke>\n</" + kDsml + "tool_calls>";
  req.messages = {msg(Role::kUser, "q"), a, msg(Role::kTool, "out")};
  const std::string text = render_text(req);
  EXPECT_NE(text.find(*a.dsml_replay + eos()), std::string::npos);
}

TEST(ChatSingleTurn, CliAndCompletionsShape) {
  const auto pieces = render_single_turn_pieces("You are a helpful assistant", "hi",
                                                ThinkMode::kHigh, 4096);
  EXPECT_EQ(pieces_text(pieces), bos() + "You are a helpful assistant" + usr() + "hi" + ast() +
                                     "<think>");
  EXPECT_EQ(pieces_text(render_single_turn_pieces("", "hi", ThinkMode::kNone, 4096)),
            bos() + usr() + "hi" + ast() + "</think>");
  EXPECT_EQ(pieces_text(render_single_turn_pieces("", "hi", ThinkMode::kMax, kThinkMaxMinContext)),
            bos() + std::string(think_max_prefix()) + usr() + "hi" + ast() + "<think>");
}

}  // namespace
}  // namespace ds4::text

namespace ds4::text {
namespace {

// Mutated JSON arguments: never crash, always produce a well-formed block.
TEST(ChatRules, MutatedArgumentsNeverBreakTheBlock) {
  const std::string base = R"({"a": "x\"y", "b": [1, {"c": null}], "d": -1.5e3, "e": "\u00e9"})";
  uint32_t x = 88172645u;
  for (int i = 0; i < 2000; ++i) {
    std::string s = base;
    for (int k = 0; k < 1 + i % 4; ++k) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      const size_t pos = x % s.size();
      switch ((x >> 8) % 3) {
        case 0: s.erase(pos, 1); break;
        case 1: s.insert(pos, 1, "{}[]\",:\\u0 9e-"[(x >> 12) % 15]); break;
        default: s[pos] = static_cast<char>(x >> 16); break;
      }
      if (s.empty()) s = "{";
    }
    const std::string out = render_dsml_tool_calls({{"", "t", s}});
    ASSERT_EQ(out.rfind("\n\n<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>\n", 0), 0u) << s;
    ASSERT_NE(out.find("</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace ds4::text
