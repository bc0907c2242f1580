// Streaming behaviour: hold-back of partial tags/entities/UTF-8/stop sequences, stop
// sequences across chunk boundaries, the §C.7 decode state, and the chunking invariant
// over every split of the examples.
#include <gtest/gtest.h>

#include <cstdint>

#include "output/output_parser.h"
#include "output/stop_sequences.h"
#include "parser_invariants.h"

namespace ds4::output {
namespace {

std::string text_of(const std::vector<Event>& ev, EventKind kind) {
  std::string s;
  for (const Event& e : ev) {
    if (e.kind == kind) s += e.text;
  }
  return s;
}

Options chat(bool thinking, bool tools = true) {
  Options o;
  o.thinking = thinking;
  o.tools = tools;
  return o;
}

TEST(Streaming, ReasoningHoldsOnlyAPossibleThinkClose) {
  // openai_chat_stream_splits_reasoning_without_tools
  Parser p(chat(true, false));
  std::vector<Event> ev = p.feed("We need to generate a title</thi");
  EXPECT_EQ(text_of(ev, EventKind::ReasoningDelta), "We need to generate a title");
  EXPECT_TRUE(p.in_reasoning());
  ev = p.feed("nk>Title");
  EXPECT_EQ(text_of(ev, EventKind::ReasoningDelta), "");
  EXPECT_EQ(text_of(ev, EventKind::ContentDelta), "Title");
  EXPECT_FALSE(p.in_reasoning());
  // A '<' that turns out not to be </think> is released as reasoning.
  Parser q(chat(true, false));
  EXPECT_EQ(text_of(q.feed("a </"), EventKind::ReasoningDelta), "a ");
  EXPECT_EQ(text_of(q.feed("b>"), EventKind::ReasoningDelta), "</b>");
}

TEST(Streaming, ContentHoldsPartialMarkerAndTrailingWhitespace) {
  Parser p(chat(false));
  EXPECT_EQ(text_of(p.feed("Sure.\n\n<｜DSML｜tool_"), EventKind::ContentDelta), "Sure.");
  std::vector<Event> ev = p.feed("calls>");
  EXPECT_EQ(text_of(ev, EventKind::ContentDelta), "");  // the whitespace never leaks
  EXPECT_EQ(p.decode_state(), DecodeState::Structural);
  // Whitespace followed by ordinary text is released.
  Parser q(chat(false));
  EXPECT_EQ(text_of(q.feed("a \n"), EventKind::ContentDelta), "a");
  EXPECT_EQ(text_of(q.feed(" b <"), EventKind::ContentDelta), " \n b");
  EXPECT_EQ(text_of(q.feed("3"), EventKind::ContentDelta), " <3");
}

TEST(Streaming, WaitsForIncompleteInvokeAndParameterTags) {
  // openai_tool_stream_waits_for_incomplete_tool_tags
  Parser p(chat(false));
  std::vector<Event> ev = p.feed("<tool_calls>\n<invoke name=\"ba");
  EXPECT_TRUE(ev.empty());
  ev = p.feed("sh\">\n<parameter name=\"comm");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, EventKind::ToolCallBegin);
  EXPECT_EQ(ev[0].name, "bash");
  EXPECT_EQ(ev[1].text, "{");
  ev = p.feed("and\" string=\"true\">echo partial");
  EXPECT_EQ(text_of(ev, EventKind::ToolCallArgumentsDelta), "\"command\":\"echo partial");
  ev = p.feed(" done</para");
  EXPECT_EQ(text_of(ev, EventKind::ToolCallArgumentsDelta), " done");
  EXPECT_EQ(p.decode_state(), DecodeState::Structural);  // a partial "</" is structural
  ev = p.feed("meter>");
  EXPECT_EQ(text_of(ev, EventKind::ToolCallArgumentsDelta), "\"");
}

TEST(Streaming, HoldsPartialEntities) {
  // openai_tool_stream_holds_partial_dsml_entities
  Parser p(chat(false));
  p.feed("<tool_calls><invoke name=\"f\"><parameter name=\"c\" string=\"true\">");
  EXPECT_EQ(text_of(p.feed("echo &amp"), EventKind::ToolCallArgumentsDelta), "echo ");
  EXPECT_EQ(text_of(p.feed("; done"), EventKind::ToolCallArgumentsDelta), "& done");
  EXPECT_EQ(text_of(p.feed(" &am&"), EventKind::ToolCallArgumentsDelta), " &am");  // not an entity
}

TEST(Streaming, NonStringValuesStreamMinified) {
  // openai_tool_stream_sends_partial_raw_arguments (ds4 forwards "[1,2,3" raw; we minify,
  // so the stream equals the final arguments).
  Parser p(chat(false));
  p.feed("<tool_calls><invoke name=\"f\"><parameter name=\"v\" string=\"false\">");
  EXPECT_EQ(p.decode_state(), DecodeState::JsonStructural);
  EXPECT_TRUE(p.greedy_required());
  EXPECT_EQ(text_of(p.feed("[1, 2,\n 3"), EventKind::ToolCallArgumentsDelta), "[1,2,3");
  p.feed(", \"a b");
  EXPECT_EQ(p.decode_state(), DecodeState::JsonString);
  EXPECT_FALSE(p.greedy_required());
}

TEST(Streaming, DecodeStatesAcrossABlock) {
  // dsml_decode_state_separates_structure_and_payload
  Parser p(chat(true));
  EXPECT_EQ(p.decode_state(), DecodeState::Outside);
  p.feed("r</think>c\n\n<｜DSML｜tool_calls>");
  EXPECT_EQ(p.decode_state(), DecodeState::Structural);
  EXPECT_TRUE(p.greedy_required());
  p.feed("<｜DSML｜invoke name=\"f\"><｜DSML｜parameter name=\"s\" string=\"true\">hello");
  EXPECT_EQ(p.decode_state(), DecodeState::StringBody);
  EXPECT_FALSE(p.greedy_required());
  p.feed(" <");  // a lone '<' may be text
  EXPECT_EQ(p.decode_state(), DecodeState::StringBody);
  p.feed("/");
  EXPECT_EQ(p.decode_state(), DecodeState::Structural);
  p.feed("｜DSML｜parameter>");
  EXPECT_EQ(p.decode_state(), DecodeState::Structural);
  p.feed("</｜DSML｜invoke></｜DSML｜tool_calls>");
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.decode_state(), DecodeState::Outside);
  // Without tools nothing is ever greedy.
  Parser q(chat(false, false));
  q.feed("<tool_calls><invoke name=\"f\">");
  EXPECT_FALSE(q.greedy_required());
}

TEST(Streaming, Utf8IsNeverSplit) {
  // streaming_holds_partial_utf8 / ..._partial_utf8_arguments: bytes fed one at a time.
  std::string text = "</think>héllo 日本 🎉\n\n<tool_calls><invoke name=\"f\"><parameter name=\"s\" string=\"true\">ü🎉x</parameter></invoke></tool_calls>";
  Parser p(chat(true));
  std::vector<Event> ev;
  for (char c : text) p.feed(std::string_view(&c, 1), ev);
  p.finish(EndCause::Eos, ev);
  for (const Event& e : ev) EXPECT_TRUE(testing::is_valid_utf8(e.text)) << e.text;
  ParseResult r = testing::fold(ev);
  EXPECT_EQ(r.content, "héllo 日本 🎉");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"s":"ü🎉x"})");
}

TEST(Streaming, StopSequenceAcrossChunks) {
  // stop_list_streaming_holds_and_trims_stop_text
  Options o = chat(false, false);
  o.stop = {"</END>"};
  Parser p(o);
  EXPECT_EQ(text_of(p.feed("hello </E"), EventKind::ContentDelta), "hello ");
  EXPECT_FALSE(p.done());
  std::vector<Event> ev = p.feed("ND> tail");
  EXPECT_EQ(text_of(ev, EventKind::ContentDelta), "");
  EXPECT_TRUE(p.done());
  p.finish(EndCause::Eos, ev);
  EXPECT_EQ(ev.back().finish, FinishReason::Stop);
  // A held prefix that does not complete is released.
  Parser q(o);
  EXPECT_EQ(text_of(q.feed("a </EN"), EventKind::ContentDelta), "a ");
  EXPECT_EQ(text_of(q.feed("x"), EventKind::ContentDelta), "</ENx");
  EXPECT_EQ(text_of(q.finish(EndCause::Eos), EventKind::ContentDelta), "");
  Parser r(o);
  r.feed("a </EN");
  EXPECT_EQ(text_of(r.finish(EndCause::Length), EventKind::ContentDelta), "</EN");
}

TEST(Streaming, StopInsideReasoningAndAcrossThinkTag) {
  Options o = chat(true, false);
  o.stop = {"STOP"};
  ParseResult r = parse_complete("abc STOP def</think>x", o);
  EXPECT_EQ(r.reasoning, "abc ");
  EXPECT_EQ(r.content, "");
  EXPECT_EQ(r.finish_reason, FinishReason::Stop);
  // Stop strings match the raw text, so one can span the </think> tag.
  o.stop = {"k>He"};
  r = parse_complete("r</think>Hello", o);
  EXPECT_EQ(r.reasoning, "r</thin");
  EXPECT_FALSE(r.reasoning_closed);
}

TEST(Streaming, StopInsideToolBlockIsUnterminated) {
  Options o = chat(false);
  o.stop = {"STOP"};
  ParseResult r = parse_complete("<tool_calls><invoke name=\"f\">STOP</invoke></tool_calls>", o);
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, "<tool_calls><invoke name=\"f\">");
  EXPECT_EQ(r.finish_reason, FinishReason::Error);
}

TEST(StopFilter, LeftmostMatchWinsRegardlessOfChunking) {
  // "bc" completes first, but "abcd" starts earlier: the leftmost match in the text wins.
  for (int split = 0; split <= 5; ++split) {
    std::string text = "xabcd";
    StopFilter f({"abcd", "bc", ""});
    std::string out;
    bool hit = f.feed(text.substr(0, split), out);
    if (!hit) hit = f.feed(text.substr(split), out);
    EXPECT_TRUE(hit);
    EXPECT_EQ(out, "x") << split;
  }
  // When the longer candidate fails, the shorter match applies.
  StopFilter f({"abcd", "bc"});
  std::string out;
  EXPECT_FALSE(f.feed("xabc", out));
  EXPECT_EQ(out, "x");
  EXPECT_TRUE(f.feed("e", out));
  EXPECT_EQ(out, "xa");
  EXPECT_EQ(f.max_len(), 4u);
  EXPECT_EQ(f.stops().size(), 2u);
}

TEST(StopFilter, NoStopsReleasesEverything) {
  StopFilter f({"", ""});
  std::string out;
  EXPECT_FALSE(f.feed("abc", out));
  EXPECT_EQ(out, "abc");
  f.finish(out);
  EXPECT_EQ(out, "abc");
}

// ---- chunking invariant over the examples ---------------------------------------------

const char* const kSamples[] = {
    "The user wants files.</think>I'll check.\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"read_file\">\n"
    "<｜DSML｜parameter name=\"path\" string=\"true\">a&amp;b.c</｜DSML｜parameter>\n"
    "<｜DSML｜parameter name=\"lines\" string=\"false\">[1, 20]</｜DSML｜parameter>\n</｜DSML｜invoke>\n"
    "<｜DSML｜invoke name=\"bash\">\n<｜DSML｜parameter name=\"command\" string=\"true\">wc -l a.c</｜DSML｜parameter>\n"
    "</｜DSML｜invoke>\n</｜DSML｜tool_calls>",
    "<think>r</think>\n\n<DSML｜tool_calls><DSML｜invoke name=\"f\"><DSML｜parameter name=\"o\">"
    "<DSML｜parameter name=\"a\" string=\"false\">{ \"x\" : [1, \"y z\"] }</DSML｜parameter></DSML｜parameter>"
    "</DSML｜invoke></DSML｜tool_calls>",
    "plan</think>ok <tool_calls><invoke name=\"f\"><parameter name=\"p\" string=\"true\">x&lt;/parameter>&am&amp;</parameter>"
    "<parameter name=\"q\" string=\"false\"> </parameter></invoke><invoke name=\"g\"></invoke></tool_calls> after",
    "a</think>b <tool_calls><invoke name=\"f\"><oops/></invoke></tool_calls> tail",
    "a</think>b\n\n<tool_calls><invoke name=\"f\"><parameter name=\"p\" string=\"true\">unterminated",
    "日本</think>語 🎉 STOP x </END> y\n\n\n z",
    "<think>x</thi</think>y</think>z <｜DSML｜tool <tool_calls",
    "<tool_calls><invoke name=\"f\"><parameter name=\"a\">  <parameter name=\"b\">v</parameter></invoke></tool_calls>",
    "</think><tool_calls>\n</tool_calls>",
    "</think>text <DSML｜tool_calls><DSML｜invoke name=\"x\"><DSML｜parameter name=\"k\" string=\"true\">&quot;STOP</DSML｜parameter>",
};

class ChunkingInvariant : public ::testing::TestWithParam<size_t> {};

TEST_P(ChunkingInvariant, EverySplitGivesTheSameEvents) {
  const Options opt = testing::option_set(GetParam());
  for (const char* sample : kSamples) {
    std::string text(sample);
    ParseResult whole = parse_complete(text, opt);
    // Every single split point.
    for (size_t a = 1; a < text.size(); ++a) {
      size_t cuts[] = {a};
      std::string err = testing::check_chunking(text, opt, cuts);
      ASSERT_EQ(err, "") << text;
    }
    // Every pair of split points for the shorter samples.
    if (text.size() <= 140) {
      for (size_t a = 1; a < text.size(); ++a) {
        for (size_t b = a + 1; b < text.size(); ++b) {
          size_t cuts[] = {a, b};
          ASSERT_EQ(testing::check_chunking(text, opt, cuts), "") << text;
        }
      }
    }
    // Byte by byte, and random chunkings (fixed seed).
    std::vector<size_t> all;
    for (size_t a = 1; a < text.size(); ++a) all.push_back(a);
    ASSERT_EQ(testing::check_chunking(text, opt, all), "") << text;
    uint64_t state = 0x9E3779B97F4A7C15ull ^ text.size();
    for (int round = 0; round < 100; ++round) {
      std::vector<size_t> cuts;
      size_t at = 0;
      while (true) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        at += 1 + state % 9;
        if (at >= text.size()) break;
        cuts.push_back(at);
      }
      ASSERT_EQ(testing::check_chunking(text, opt, cuts), "") << text;
      EXPECT_EQ(testing::fold(testing::run_chunked(text, opt, cuts)), whole);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(OptionSets, ChunkingInvariant,
                         ::testing::Range<size_t>(0, testing::option_set_count()));

}  // namespace
}  // namespace ds4::output
