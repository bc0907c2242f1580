// Internal: state of ds4::output::Parser, shared by output_parser.cpp (pipeline,
// reasoning/content) and dsml_block.cpp (tool-block states).
//
// Design rule that makes streaming independent of chunking: every decision is taken on
// bytes already seen and only once it can no longer change (a prefix that could still
// become a tag is held, never guessed); look-ahead limits are applied to the text, never
// to "what happens to be in the buffer right now". End of input (eof) resolves what is
// still open.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "output/output_parser.h"
#include "output/stop_sequences.h"

namespace ds4::output {

// One accepted tool-call syntax (§C.3 table).
struct DsmlVariant {
  std::string_view block_start;
  std::string_view block_end;
  std::string_view invoke_open;  // followed by whitespace or '>'
  std::string_view invoke_end;
  std::string_view param_open;   // followed by whitespace or '>'
  std::string_view param_end;
};

// Priority order of §C.3: DSML, short (first bar dropped), plain XML.
extern const DsmlVariant kDsmlVariants[3];

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
// An opening tag must close within this many bytes, else the block is invalid (bounds the
// memory a hostile stream can make us hold).
inline constexpr size_t kMaxTagBytes = 4096;
// Nested untyped parameters (§C.3 "nested object") deeper than this are invalid.
inline constexpr size_t kMaxNesting = 16;

enum class State {
  ThinkStart,   // thinking mode, before the optional leading `<think>`
  Reasoning,    // before `</think>`
  Content,      // visible text (tool blocks recognised when tools are on)
  Raw,          // options.raw: everything is content
  Block,        // inside <tool_calls>, between invokes
  ObjectBody,   // inside an invoke (frames[0]) or a nested object parameter
  ParamPending, // untyped parameter: string or nested object? (decided by its body)
  ParamString,  // string="true" body
  ParamJson,    // string="false" body
  Failed,       // invalid block: passthrough as content until the block end tag
  Done,         // tool block closed or stop sequence hit: ignore everything
};

struct Parser::Impl {
  explicit Impl(Options o);

  Options opt;
  StopFilter stop;
  std::string utf8_stash;  // incomplete trailing UTF-8 sequence, not yet given to buf
  std::string buf;         // text seen by the state machine, consumed from pos
  size_t pos = 0;
  bool eof = false;
  State state = State::Content;

  bool done = false;      // generation must stop
  bool finished = false;  // finish() was called
  FinishReason done_reason = FinishReason::None;
  std::string done_message;
  bool unterminated = false;  // a tool block started and never closed

  // Current tool block.
  const DsmlVariant* variant = nullptr;
  std::string ws_before;  // whitespace held right before the block start tag
  std::string block_raw;  // block bytes consumed so far, from its start tag
  int next_call = 0;
  int block_first_call = 0;
  int calls_in_block = 0;
  struct Frame {
    bool first_member = true;
  };
  std::vector<Frame> frames;  // [0]: the invoke's arguments object; more: nested objects
  std::string pending_key;    // `,"key":` of an untyped parameter awaiting its type
  bool json_in_string = false;
  bool json_escape = false;
  bool json_any = false;  // a non-whitespace byte was seen in the string="false" body

  // Output of the current feed()/finish() call; deltas appended since out_start merge.
  std::vector<Event>* out = nullptr;
  size_t out_start = 0;

  // Pipeline.
  void push_released(std::string_view text);
  void end_of_input();
  void process();
  bool step();  // false: nothing more can be decided without more input

  // Helpers.
  std::string_view view() const { return std::string_view(buf).substr(pos); }
  void consume(size_t n) { pos += n; }
  void consume_block(size_t n) {
    block_raw.append(buf, pos, n);
    pos += n;
  }
  void emit_delta(EventKind kind, std::string_view text, int index = -1);
  void emit_args(std::string_view text) { emit_delta(EventKind::ToolCallArgumentsDelta, text, next_call - 1); }
  void emit_event(Event e);
  void stop_generation(FinishReason reason, std::string message = {});

  // Text states (output_parser.cpp).
  bool step_think_start();
  bool step_reasoning();
  bool step_content();

  // Tool-block states (dsml_block.cpp).
  void begin_block(const DsmlVariant* v, size_t start_tag_len);
  bool step_block();
  bool step_object();
  bool step_param_pending();
  bool step_param_string();
  bool step_param_json();
  bool step_failed();
  bool wait_or_unterminated();
  void fail(std::string_view message);
  void skip_block_whitespace();
  void finish_member();
};

}  // namespace ds4::output
