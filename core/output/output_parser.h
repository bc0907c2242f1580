// Incremental parser for DeepSeek V4 model output (PROTOCOL.md §C).
//
// The generation loop feeds decoded UTF-8 text piece by piece and receives events the
// three HTTP APIs project onto their wire formats (§C.4, §D.4, §D.6, §D.7):
//
//   raw text ──► stop sequences ──► UTF-8 tail hold ──► reasoning / content / DSML state machine
//
// * Reasoning vs content: with `thinking`, output starts inside reasoning; a leading
//   `<think>` is skipped; the first `</think>` switches to content for good (later
//   `</think>` strings are ordinary content).
// * DSML tool blocks (only with `tools`, only in content): the three variants of §C.3
//   (`<｜DSML｜tool_calls>`, `<DSML｜tool_calls>`, `<tool_calls>`); the earliest start tag
//   wins. Calls are streamed live: ToolCallBegin, then the arguments as a compact JSON
//   object in fragments (`{`, `"key":`, string pieces, minified non-string values, `}`),
//   then ToolCallEnd. Generation must stop when the block closes (done() → true).
// * Hold-back: a half-emitted tag, entity, stop sequence or UTF-8 sequence never reaches a
//   client; whitespace right before a tool block is never emitted.
// * Stop sequences match the RAW text (reasoning and DSML included); the leftmost match
//   cuts everything from its first byte on.
//
// Invariant (tested for every split of short strings, and fuzzed): the event sequence,
// after merging adjacent deltas of the same kind, does not depend on how the text was cut
// into pieces. parse_complete() is the fold of that sequence.
//
// Malformed DSML is never lost: a block that does not parse produces ToolBlockInvalid
// (which voids the calls streamed for that block) followed by a ContentDelta carrying the
// block's raw bytes; text up to the block's end tag stays content. See
// docs/output-and-sampling.md for the places where this deliberately differs from ds4.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ds4::output {

// Finish reason as reported on the wire (§D.4): "stop", "length", "tool_calls", "error".
enum class FinishReason { None, Stop, Length, ToolCalls, Error };
const char* finish_reason_name(FinishReason r);  // "" for None

// Why the generation loop stopped feeding text (argument of Parser::finish()).
enum class EndCause {
  Eos,     // end-of-sentence token sampled → finish "stop"
  Length,  // max_tokens or context full → finish "length"
  Error,   // shutdown / client gone / backend failure → finish "error"
};

// Where the text seen so far leaves the parser, for §C.7 (greedy DSML structure).
enum class DecodeState {
  Outside,         // reasoning, content, raw text: normal sampling
  Structural,      // inside a tool block between values: tags, attributes, a partial `</`
  StringBody,      // body of a string="true" parameter: normal sampling
  JsonStructural,  // string="false" body outside a JSON string: punctuation, numbers
  JsonString,      // string="false" body inside a JSON string literal: normal sampling
};

struct Options {
  bool thinking = false;  // the prompt ended with `<think>`: output starts inside reasoning
  bool tools = false;     // tools active (has_tools): recognise DSML blocks, stop after one
  bool raw = false;       // /v1/completions: no reasoning/tool parsing, only stop sequences
  std::vector<std::string> stop;  // stop sequences (empty strings are ignored)
  // Id for the call with this 0-based index; default "call_<index>" (deterministic, for
  // tests). The server passes its `call_`/`toolu_` random-id generator.
  std::function<std::string(int index)> make_call_id;
};

enum class EventKind {
  ReasoningDelta,          // text: reasoning bytes
  ReasoningEnd,            // `</think>` consumed (reasoning is complete)
  ContentDelta,            // text: visible assistant text
  ToolCallBegin,           // index, id, name: an invoke tag is complete
  ToolCallArgumentsDelta,  // index, text: next fragment of the compact JSON arguments
  ToolCallEnd,             // index: the invoke closed; its arguments object is complete
  ToolBlockEnd,            // text: raw DSML of the block (for exact replay, §C.6)
  ToolBlockInvalid,        // index: first call of the block, text: error. Voids all calls
                           // with index >= `index`; a ContentDelta with the raw block follows.
  Finish,                  // finish, text: error message (empty unless there is one)
};

struct Event {
  EventKind kind = EventKind::ContentDelta;
  std::string text;
  int index = -1;
  std::string id;
  std::string name;
  FinishReason finish = FinishReason::None;
  bool operator==(const Event&) const = default;
};

class Parser {
 public:
  explicit Parser(Options options = {});
  ~Parser();
  Parser(Parser&&) noexcept;
  Parser& operator=(Parser&&) noexcept;

  // Feeds the next decoded piece; appends the resulting events to `out`. After done()
  // (or finish()) further text is ignored.
  void feed(std::string_view text, std::vector<Event>& out);
  std::vector<Event> feed(std::string_view text);

  // Flushes everything held back and appends a final Finish event. `cause` says why the
  // loop stopped; it is ignored when done() was already true (stop sequence / tool block
  // end decide). An unterminated tool block always finishes as Error
  // ("unterminated tool call"). Calling finish() twice appends nothing the second time.
  void finish(EndCause cause, std::vector<Event>& out);
  std::vector<Event> finish(EndCause cause);

  // True once a stop sequence matched or a tool block closed: stop generating and call
  // finish(). The events for all text up to the cut point have already been returned.
  bool done() const;

  // §C.7: state after the text processed so far (text still held by the stop-sequence
  // filter is not yet seen), and whether the next token must be sampled greedily
  // (tools active and state is Structural or JsonStructural).
  DecodeState decode_state() const;
  bool greedy_required() const;

  // True while the parser is in reasoning (before `</think>` in thinking mode).
  bool in_reasoning() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // compact JSON object text (§C.5); non-string values unvalidated
  bool operator==(const ToolCall&) const = default;
};

// Final, non-streaming view of one generation (§C.2, §C.3).
struct ParseResult {
  std::string reasoning;          // empty = absent
  bool reasoning_closed = false;  // `</think>` was seen (Responses item status)
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::string raw_dsml;           // the block's bytes incl. a directly preceding "\n\n"
  FinishReason finish_reason = FinishReason::None;
  std::string error;              // "unterminated tool call", "invalid tool call: ..."
  bool operator==(const ParseResult&) const = default;
};

// Folds events into a ParseResult; the server can run it beside a stream to build the
// final response object.
class ResultBuilder {
 public:
  void apply(const Event& e);
  void apply(const std::vector<Event>& events) {
    for (const Event& e : events) apply(e);
  }
  const ParseResult& result() const { return result_; }
  ParseResult take() { return std::move(result_); }

 private:
  ParseResult result_;
};

// One-shot parse of a complete generation (equivalent to feed(text) + finish(cause)).
ParseResult parse_complete(std::string_view text, const Options& options,
                           EndCause cause = EndCause::Eos);

}  // namespace ds4::output
