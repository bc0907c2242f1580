// Output parser on the examples of PROTOCOL.md §C (and the DSML of §B.4/§B.8), malformed
// DSML, hold-back behaviour and the §C.7 decode state.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "output/output_parser.h"
#include "parser_invariants.h"

namespace ds4::output {
namespace {

using testing::normalize;

Options chat(bool thinking, bool tools = true) {
  Options o;
  o.thinking = thinking;
  o.tools = tools;
  return o;
}

// §C.3 worked example (thinking mode), exact bytes.
const std::string kC3Example =
    "The user wants files.</think>I'll check.\n\n<｜DSML｜tool_calls>\n"
    "<｜DSML｜invoke name=\"read_file\">\n"
    "<｜DSML｜parameter name=\"path\" string=\"true\">a&amp;b.c</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"lines\" string=\"false\">[1, 20]</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"bash\">\n"
    "<｜DSML｜parameter name=\"command\" string=\"true\">wc -l a.c</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n"
    "</｜DSML｜tool_calls>";

// The assistant turn of §B.8 example 5, as the model would sample it.
const std::string kB8Example5Block =
    "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read_file\">\n"
    "<｜DSML｜parameter name=\"path\" string=\"true\">a.c</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"lines\" string=\"false\">[1,20]</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n<｜DSML｜invoke name=\"bash\">\n"
    "<｜DSML｜parameter name=\"command\" string=\"true\">wc -l a.c && echo done</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"timeout\" string=\"false\">10</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";

TEST(OutputParser, C3ExampleSplitsReasoningContentAndCalls) {
  ParseResult r = parse_complete(kC3Example, chat(true));
  EXPECT_EQ(r.reasoning, "The user wants files.");
  EXPECT_TRUE(r.reasoning_closed);
  EXPECT_EQ(r.content, "I'll check.");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "read_file");
  EXPECT_EQ(r.tool_calls[0].id, "call_0");
  // §C.5 wire form: compact, entity decoded, non-string values minified.
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"path":"a&b.c","lines":[1,20]})");
  EXPECT_EQ(r.tool_calls[1].name, "bash");
  EXPECT_EQ(r.tool_calls[1].arguments, R"({"command":"wc -l a.c"})");
  EXPECT_EQ(r.finish_reason, FinishReason::ToolCalls);
  EXPECT_EQ(r.error, "");
  // raw_dsml: from the model's "\n\n" through the final '>'.
  size_t start = kC3Example.find("\n\n<｜DSML｜tool_calls>");
  EXPECT_EQ(r.raw_dsml, kC3Example.substr(start));
  for (const ToolCall& c : r.tool_calls) EXPECT_TRUE(nlohmann::json::accept(c.arguments)) << c.arguments;
}

TEST(OutputParser, C3ExampleEventOrderMatchesStreamingShape) {
  std::vector<Event> ev = normalize(testing::run_chunked(kC3Example, chat(true), {}));
  std::vector<EventKind> kinds;
  for (const Event& e : ev) kinds.push_back(e.kind);
  using K = EventKind;
  std::vector<EventKind> expected = {K::ReasoningDelta, K::ReasoningEnd, K::ContentDelta,
                                     K::ToolCallBegin, K::ToolCallArgumentsDelta, K::ToolCallEnd,
                                     K::ToolCallBegin, K::ToolCallArgumentsDelta, K::ToolCallEnd,
                                     K::ToolBlockEnd, K::Finish};
  EXPECT_EQ(kinds, expected) << testing::describe(ev);
  EXPECT_EQ(ev[3].index, 0);
  EXPECT_EQ(ev[3].name, "read_file");
  EXPECT_EQ(ev[6].index, 1);
  EXPECT_EQ(ev[6].id, "call_1");
}

TEST(OutputParser, StreamsArgumentFragmentsLikeD4) {
  // Token-like pieces; the argument fragments follow §C.4: "{", "\"path\":\"", body
  // pieces, "\"", ",\"lines\":", value, "}".
  Parser p(chat(true));
  std::vector<Event> ev;
  for (std::string_view piece : {"The user wants files.</think>I'll check.\n\n<｜DSML｜tool_calls>\n",
                                 "<｜DSML｜invoke name=\"read_file\">", "\n<｜DSML｜parameter name=\"path\" string=\"true\">",
                                 "a&", "amp;b.c", "</｜DSML｜parameter>\n"}) {
    p.feed(piece, ev);
  }
  std::vector<std::string> args;
  for (const Event& e : ev) {
    if (e.kind == EventKind::ToolCallArgumentsDelta) args.push_back(e.text);
  }
  // "a&" is held until "amp;" proves it is an entity.
  std::vector<std::string> expected = {"{", "\"path\":\"", "a", "&b.c", "\""};
  EXPECT_EQ(args, expected);
}

TEST(OutputParser, B8Example5NonThinking) {
  ParseResult r = parse_complete(kB8Example5Block, chat(false));
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"path":"a.c","lines":[1,20]})");
  EXPECT_EQ(r.tool_calls[1].arguments, R"({"command":"wc -l a.c && echo done","timeout":10})");
  EXPECT_EQ(r.raw_dsml, kB8Example5Block);
  EXPECT_EQ(r.finish_reason, FinishReason::ToolCalls);
}

TEST(OutputParser, B8Example5Thinking) {
  ParseResult r = parse_complete("<think>Need two tools.</think>" + kB8Example5Block, chat(true));
  EXPECT_EQ(r.reasoning, "Need two tools.");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 2u);
}

TEST(OutputParser, B8Example6ContentThenCall) {
  std::string text =
      "Use Bash.</think>Running ls.\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"Bash\">\n"
      "<｜DSML｜parameter name=\"command\" string=\"true\">ls</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"timeout\" string=\"false\">5</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
  ParseResult r = parse_complete(text, chat(true));
  EXPECT_EQ(r.reasoning, "Use Bash.");
  EXPECT_EQ(r.content, "Running ls.");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "Bash");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"command":"ls","timeout":5})");
}

TEST(OutputParser, B4CanonicalEscapesRoundTrip) {
  // §B.4: the escaped closing tag inside a string value decodes back; non-string values
  // of every JSON kind pass through minified.
  std::string text =
      "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"edit\">\n"
      "<｜DSML｜parameter name=\"path\" string=\"true\">x&lt;/｜DSML｜parameter>y</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"opts\" string=\"false\">{\"a\":[1,2]}</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"flag\" string=\"false\">true</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"n\" string=\"false\">null</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls>";
  ParseResult r = parse_complete(text, chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments,
            R"({"path":"x</｜DSML｜parameter>y","opts":{"a":[1,2]},"flag":true,"n":null})");
  nlohmann::json j = nlohmann::json::parse(r.tool_calls[0].arguments);
  EXPECT_EQ(j["path"], "x</｜DSML｜parameter>y");
}

TEST(OutputParser, StringValuesKeepRawCharactersAndEscapeJson) {
  std::string text =
      "<tool_calls><invoke name=\"sh\"><parameter name=\"cmd\" string=\"true\">"
      "2>&1 && echo \"q\\\" /tmp\n\ttab</parameter></invoke></tool_calls>";
  ParseResult r = parse_complete(text, chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"cmd":"2>&1 && echo \"q\\\" /tmp\n\ttab"})");
  EXPECT_EQ(nlohmann::json::parse(r.tool_calls[0].arguments)["cmd"], "2>&1 && echo \"q\\\" /tmp\n\ttab");
}

TEST(OutputParser, ShortAndPlainVariants) {
  std::string short_form =
      "<DSML｜tool_calls>\n<DSML｜invoke name=\"f\">\n<DSML｜parameter name=\"a\" string=\"true\">1</DSML｜parameter>\n"
      "</DSML｜invoke>\n</DSML｜tool_calls>";
  ParseResult r = parse_complete("ok" + short_form, chat(false));
  EXPECT_EQ(r.content, "ok");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"a":"1"})");

  std::string plain = "<tool_calls><invoke name=\"g\"><parameter name=\"b\" string=\"false\">[ 1 ,\n 2 ]</parameter></invoke></tool_calls>";
  r = parse_complete(plain, chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "g");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"b":[1,2]})");
}

TEST(OutputParser, EarliestVariantStartWins) {
  // Plain start first, then a DSML start inside its body: the plain block is parsed, and
  // the DSML text is just an invalid element there.
  ParseResult r = parse_complete(
      "<tool_calls><invoke name=\"a\"></invoke></tool_calls> <｜DSML｜tool_calls>", chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "a");
  EXPECT_EQ(r.tool_calls[0].arguments, "{}");
}

TEST(OutputParser, MissingStringAttributeMeansString) {
  ParseResult r = parse_complete(
      "<tool_calls><invoke name=\"f\"><parameter name=\"x\"> 42 </parameter></invoke></tool_calls>", chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"x":" 42 "})");
}

TEST(OutputParser, EmptyNonStringBodyIsNull) {
  ParseResult r = parse_complete(
      "<tool_calls><invoke name=\"f\"><parameter name=\"x\" string=\"false\"> \n</parameter></invoke></tool_calls>",
      chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"x":null})");
}

TEST(OutputParser, JsonStringsKeepTheirWhitespace) {
  ParseResult r = parse_complete(
      "<tool_calls><invoke name=\"f\"><parameter name=\"x\" string=\"false\">{ \"a b\" : \"c \\\" d\" }</parameter>"
      "</invoke></tool_calls>",
      chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"x":{"a b":"c \" d"}})");
}

TEST(OutputParser, LooseNestedParametersBecomeObjects) {
  // dsml_parser_recovers_loose_nested_parameters: untyped parameter whose body is more
  // parameters; closing tag present, then absent (the invoke end closes it).
  std::string with_close =
      "<｜DSML｜tool_calls><｜DSML｜invoke name=\"f\">"
      "<｜DSML｜parameter name=\"opts\">\n  <｜DSML｜parameter name=\"a\" string=\"true\">x &amp; y</｜DSML｜parameter>"
      "<｜DSML｜parameter name=\"b\" string=\"false\">2</｜DSML｜parameter>\n</｜DSML｜parameter>"
      "<｜DSML｜parameter name=\"c\" string=\"true\">z</｜DSML｜parameter>"
      "</｜DSML｜invoke></｜DSML｜tool_calls>";
  ParseResult r = parse_complete(with_close, chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u) << r.error;
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"opts":{"a":"x & y","b":2},"c":"z"})");

  std::string without_close =
      "<tool_calls><invoke name=\"f\"><parameter name=\"o\"><parameter name=\"a\" string=\"true\">1</parameter>"
      "</invoke></tool_calls>";
  r = parse_complete(without_close, chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u) << r.error;
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"o":{"a":"1"}})");
}

TEST(OutputParser, AttributeNamesAreEntityDecodedAndKeysEscaped) {
  ParseResult r = parse_complete(
      "<tool_calls><invoke name=\"a&amp;b\"><parameter name=\"k&quot;1\" string=\"true\">v</parameter></invoke></tool_calls>",
      chat(false));
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "a&b");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"k\"1":"v"})");
}

TEST(OutputParser, DuplicateKeysAndParallelCallsKeepOrder) {
  ParseResult r = parse_complete(
      "<tool_calls><invoke name=\"f\"><parameter name=\"z\" string=\"true\">1</parameter>"
      "<parameter name=\"a\" string=\"true\">2</parameter><parameter name=\"z\" string=\"true\">3</parameter></invoke>"
      "<invoke name=\"g\"></invoke></tool_calls>",
      chat(false));
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"z":"1","a":"2","z":"3"})");
  EXPECT_EQ(r.tool_calls[1].arguments, "{}");
}

TEST(OutputParser, ToolSeparatorWhitespaceIsNotContent) {
  ParseResult r = parse_complete("  Sure.\n\n\n\n<tool_calls><invoke name=\"f\"></invoke></tool_calls>", chat(false));
  EXPECT_EQ(r.content, "  Sure.");  // leading whitespace kept, trailing before the block dropped
  EXPECT_EQ(r.raw_dsml, "\n\n<tool_calls><invoke name=\"f\"></invoke></tool_calls>");
}

TEST(OutputParser, MalformedInvokeReturnsTextWithStopFinish) {
  // tool_parse_failure_returns_recoverable_finish
  std::string block = "<tool_calls>\n<invoke name=\"f\">\n<oops/>\n</invoke>\n</tool_calls>";
  ParseResult r = parse_complete("Text.\n\n" + block, chat(false));
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, "Text.\n\n" + block);  // nothing lost
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);
  EXPECT_EQ(r.error.rfind("invalid tool call", 0), 0u) << r.error;
  EXPECT_EQ(r.raw_dsml, "");
}

TEST(OutputParser, InvalidSecondCallVoidsTheFirst) {
  std::string text =
      "<tool_calls><invoke name=\"ok\"><parameter name=\"a\" string=\"true\">1</parameter></invoke>"
      "<invoke>bad</invoke></tool_calls>";
  Parser p(chat(false));
  std::vector<Event> ev = p.feed(text);
  p.finish(EndCause::Eos, ev);
  ev = normalize(ev);
  bool saw_begin = false, saw_invalid = false;
  for (const Event& e : ev) {
    if (e.kind == EventKind::ToolCallBegin) saw_begin = true;
    if (e.kind == EventKind::ToolBlockInvalid) {
      saw_invalid = true;
      EXPECT_EQ(e.index, 0);
      EXPECT_EQ(e.text, "invalid tool call: invoke without a name");
    }
  }
  EXPECT_TRUE(saw_begin);
  EXPECT_TRUE(saw_invalid);
  ParseResult r = testing::fold(ev);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, text);
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);
  EXPECT_TRUE(p.done());  // generation stops at the invalid block's end tag too
}

TEST(OutputParser, EmptyBlockIsInvalid) {
  ParseResult r = parse_complete("<tool_calls>\n</tool_calls>", chat(false));
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, "<tool_calls>\n</tool_calls>");
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);
}

TEST(OutputParser, UnterminatedBlockIsError) {
  std::string text = "Hi\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n<｜DSML｜parameter name=\"a\" string=\"true\">x";
  for (EndCause cause : {EndCause::Eos, EndCause::Length}) {
    ParseResult r = parse_complete(text, chat(false), cause);
    EXPECT_TRUE(r.tool_calls.empty());
    EXPECT_EQ(r.content, text);
    EXPECT_EQ(r.finish_reason, FinishReason::Error);
    EXPECT_EQ(r.error, "unterminated tool call");
  }
}

TEST(OutputParser, DsmlInsideReasoningIsNotExecutable) {
  std::string dsml = "<tool_calls><invoke name=\"f\"></invoke></tool_calls>";
  ParseResult r = parse_complete("plan " + dsml, chat(true));
  EXPECT_EQ(r.reasoning, "plan " + dsml);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_FALSE(r.reasoning_closed);
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);

  r = parse_complete("plan " + dsml + "</think>" + dsml, chat(true));
  EXPECT_EQ(r.reasoning, "plan " + dsml);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.finish_reason, FinishReason::ToolCalls);
}

TEST(OutputParser, ThinkingEdgeCases) {
  // Leading <think> skipped; unterminated reasoning stays reasoning (the streamed view).
  ParseResult r = parse_complete("<think>abc", chat(true, false), EndCause::Length);
  EXPECT_EQ(r.reasoning, "abc");
  EXPECT_EQ(r.content, "");
  EXPECT_FALSE(r.reasoning_closed);
  EXPECT_EQ(r.finish_reason, FinishReason::Length);
  // A partial "<thi" at the very end is reasoning text, not lost.
  r = parse_complete("<thi", chat(true, false));
  EXPECT_EQ(r.reasoning, "<thi");
  // Only the first </think> splits; a later one is content.
  r = parse_complete("a</think>b</think>c", chat(true, false));
  EXPECT_EQ(r.reasoning, "a");
  EXPECT_EQ(r.content, "b</think>c");
  // Non-thinking mode: think tags are ordinary content.
  r = parse_complete("a</think>b", chat(false, false));
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "a</think>b");
  // Empty reasoning.
  r = parse_complete("</think>\n\nHello", chat(true));
  EXPECT_EQ(r.reasoning, "");
  EXPECT_TRUE(r.reasoning_closed);
  EXPECT_EQ(r.content, "\n\nHello");
}

TEST(OutputParser, ToolsDisabledLeavesDsmlAsContent) {
  ParseResult r = parse_complete(kB8Example5Block, chat(false, false));
  EXPECT_EQ(r.content, kB8Example5Block);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);
}

TEST(OutputParser, RawModeIsPassthrough) {
  Options o;
  o.raw = true;
  o.tools = true;
  o.thinking = true;
  std::string text = "<think>r</think>x" + kB8Example5Block;
  ParseResult r = parse_complete(text, o);
  EXPECT_EQ(r.content, text);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_TRUE(r.tool_calls.empty());
}

TEST(OutputParser, DoneAfterToolBlockIgnoresLaterText) {
  Parser p(chat(false));
  std::vector<Event> ev = p.feed("<tool_calls><invoke name=\"f\"></invoke></tool_calls>trailing");
  EXPECT_TRUE(p.done());
  EXPECT_TRUE(p.feed("more").empty());
  p.finish(EndCause::Length, ev);  // the cause is ignored once done
  ParseResult r = testing::fold(ev);
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(r.finish_reason, FinishReason::ToolCalls);
  EXPECT_TRUE(p.finish(EndCause::Eos).empty());  // second finish: nothing
}

TEST(OutputParser, CustomCallIds) {
  Options o = chat(false);
  o.make_call_id = [](int i) { return "toolu_" + std::to_string(100 + i); };
  ParseResult r = parse_complete("<tool_calls><invoke name=\"f\"></invoke><invoke name=\"g\"></invoke></tool_calls>", o);
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].id, "toolu_100");
  EXPECT_EQ(r.tool_calls[1].id, "toolu_101");
}

TEST(OutputParser, ErrorCauseGivesErrorFinish) {
  ParseResult r = parse_complete("hello", chat(false), EndCause::Error);
  EXPECT_EQ(r.content, "hello");
  EXPECT_EQ(r.finish_reason, FinishReason::Error);
  EXPECT_STREQ(finish_reason_name(FinishReason::ToolCalls), "tool_calls");
  EXPECT_STREQ(finish_reason_name(FinishReason::Length), "length");
}

TEST(OutputParser, HostileLongTagIsInvalidNotUnbounded) {
  std::string text = "<tool_calls><invoke name=\"" + std::string(10000, 'a');
  ParseResult r = parse_complete(text, chat(false));
  EXPECT_EQ(r.content, text);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.finish_reason, FinishReason::Error);  // never closed
  // The verdict is "too long", taken on the text, not on what was buffered.
  Parser p(chat(false));
  std::vector<Event> ev;
  for (char c : text) p.feed(std::string_view(&c, 1), ev);
  bool too_long = false;
  for (const Event& e : ev) too_long |= e.kind == EventKind::ToolBlockInvalid && e.text.find("too long") != std::string::npos;
  EXPECT_TRUE(too_long);
}

TEST(OutputParser, DeepNestingIsInvalid) {
  std::string text = "<tool_calls><invoke name=\"f\">";
  for (int i = 0; i < 40; ++i) text += "<parameter name=\"p\">";
  text += "x</parameter></invoke></tool_calls>";
  ParseResult r = parse_complete(text, chat(false));
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.error, "invalid tool call: nested parameters too deep");
  EXPECT_EQ(r.content, text);
}

}  // namespace
}  // namespace ds4::output
