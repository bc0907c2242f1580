// Tool-block states of the output parser (PROTOCOL.md §C.3, §C.4).
//
// Arguments are streamed as compact JSON while the DSML arrives:
//   invoke tag complete      → ToolCallBegin, then "{"
//   parameter tag complete   → [","] "\"key\":" and, for strings, "\""
//   string body              → entity-decoded, JSON-escaped pieces
//   string="false" body      → minified pieces (whitespace outside JSON strings dropped);
//                              an empty body becomes null
//   untyped nested parameter → "{" … "}"
//   invoke end               → "}", ToolCallEnd
// so the concatenated deltas are exactly the final arguments string.
#include "output/parser_impl.h"
#include "output/text_scan.h"

namespace ds4::output {

using detail::is_ascii_ws;
using detail::TagMatch;

const DsmlVariant kDsmlVariants[3] = {
    {"<｜DSML｜tool_calls>", "</｜DSML｜tool_calls>", "<｜DSML｜invoke", "</｜DSML｜invoke>",
     "<｜DSML｜parameter", "</｜DSML｜parameter>"},
    {"<DSML｜tool_calls>", "</DSML｜tool_calls>", "<DSML｜invoke", "</DSML｜invoke>",
     "<DSML｜parameter", "</DSML｜parameter>"},
    {"<tool_calls>", "</tool_calls>", "<invoke", "</invoke>", "<parameter", "</parameter>"},
};

namespace {

enum class TagRead { Complete, Wait, TooLong };

// Length of the opening tag at the start of `v` (through its '>'). The '>' is searched
// only within the first kMaxTagBytes+1 bytes so the verdict does not depend on how much
// text happens to be buffered.
TagRead read_open_tag(std::string_view v, size_t& len) {
  size_t gt = v.substr(0, kMaxTagBytes + 1).find('>');
  if (gt != std::string_view::npos) {
    len = gt + 1;
    return TagRead::Complete;
  }
  return v.size() > kMaxTagBytes ? TagRead::TooLong : TagRead::Wait;
}

}  // namespace

void Parser::Impl::begin_block(const DsmlVariant* v, size_t start_tag_len) {
  variant = v;
  block_raw.clear();
  consume_block(start_tag_len);
  block_first_call = next_call;
  calls_in_block = 0;
  frames.clear();
  state = State::Block;
}

void Parser::Impl::skip_block_whitespace() {
  std::string_view v = view();
  size_t n = 0;
  while (n < v.size() && is_ascii_ws(v[n])) ++n;
  consume_block(n);
}

bool Parser::Impl::wait_or_unterminated() {
  if (!eof) return false;
  unterminated = true;
  fail("unterminated tool call");
  return true;
}

void Parser::Impl::fail(std::string_view message) {
  // The calls streamed for this block are void; the block's bytes become content so the
  // text is not lost (§C.3 "returned as plain assistant text").
  Event e;
  e.kind = EventKind::ToolBlockInvalid;
  e.index = block_first_call;
  e.text = "invalid tool call: ";
  e.text += message;
  if (done_message.empty()) done_message = e.text;
  emit_event(std::move(e));
  std::string raw = ws_before + block_raw;
  emit_delta(EventKind::ContentDelta, raw);
  ws_before.clear();
  block_raw.clear();
  frames.clear();
  state = State::Failed;
}

void Parser::Impl::finish_member() {
  frames.back().first_member = false;
  state = State::ObjectBody;
}

bool Parser::Impl::step_block() {
  skip_block_whitespace();
  std::string_view v = view();
  if (v.empty()) return wait_or_unterminated();
  TagMatch end = detail::match_literal(v, variant->block_end);
  if (end == TagMatch::Full) {
    if (calls_in_block == 0) {
      fail("tool block without invoke");  // the Failed state then passes the end tag on
      return true;
    }
    consume_block(variant->block_end.size());
    Event e;
    e.kind = EventKind::ToolBlockEnd;
    // raw_dsml starts at the model's own "\n\n" when it wrote one (§C.3, §B.4).
    if (ws_before.size() >= 2 && ws_before.ends_with("\n\n")) e.text = "\n\n";
    e.text += block_raw;
    emit_event(std::move(e));
    ws_before.clear();
    stop_generation(FinishReason::ToolCalls);
    return false;
  }
  TagMatch inv = detail::match_tag_open(v, variant->invoke_open);
  if (inv == TagMatch::Full) {
    size_t len = 0;
    TagRead r = read_open_tag(v, len);
    if (r == TagRead::Wait) return wait_or_unterminated();
    if (r == TagRead::TooLong) {
      fail("invoke tag too long");
      return true;
    }
    std::string name;
    if (!detail::find_attribute(v.substr(0, len), "name", name) || name.empty()) {
      fail("invoke without a name");
      return true;
    }
    consume_block(len);
    int index = next_call++;
    ++calls_in_block;
    Event e;
    e.kind = EventKind::ToolCallBegin;
    e.index = index;
    e.id = opt.make_call_id ? opt.make_call_id(index) : "call_" + std::to_string(index);
    e.name = std::move(name);
    emit_event(std::move(e));
    emit_args("{");
    frames.assign(1, Frame{});
    state = State::ObjectBody;
    return true;
  }
  if (end == TagMatch::Partial || inv == TagMatch::Partial) return wait_or_unterminated();
  fail("expected an invoke or the end of the tool block");
  return true;
}

bool Parser::Impl::step_object() {
  skip_block_whitespace();
  std::string_view v = view();
  if (v.empty()) return wait_or_unterminated();
  bool partial = false;
  auto full = [&](TagMatch m) {
    if (m == TagMatch::Partial) partial = true;
    return m == TagMatch::Full;
  };

  if (frames.size() == 1) {
    if (full(detail::match_literal(v, variant->invoke_end))) {
      consume_block(variant->invoke_end.size());
      emit_args("}");
      Event e;
      e.kind = EventKind::ToolCallEnd;
      e.index = next_call - 1;
      emit_event(std::move(e));
      frames.clear();
      state = State::Block;
      return true;
    }
  } else {
    // A nested object ends at its optional closing parameter tag, or implicitly at the
    // invoke end (which the invoke level then consumes).
    if (full(detail::match_literal(v, variant->param_end))) {
      consume_block(variant->param_end.size());
      emit_args("}");
      frames.pop_back();
      finish_member();
      return true;
    }
    if (full(detail::match_literal(v, variant->invoke_end))) {
      emit_args("}");
      frames.pop_back();
      finish_member();
      return true;
    }
  }

  if (full(detail::match_tag_open(v, variant->param_open))) {
    size_t len = 0;
    TagRead r = read_open_tag(v, len);
    if (r == TagRead::Wait) return wait_or_unterminated();
    if (r == TagRead::TooLong) {
      fail("parameter tag too long");
      return true;
    }
    std::string_view tag = v.substr(0, len);
    std::string name;
    if (!detail::find_attribute(tag, "name", name)) {
      fail("parameter without a name");
      return true;
    }
    std::string type;
    bool typed = detail::find_attribute(tag, "string", type);
    consume_block(len);
    std::string key = frames.back().first_member ? "\"" : ",\"";
    detail::append_json_escaped(name, key);
    key += "\":";
    if (typed && type == "false") {
      emit_args(key);
      json_in_string = json_escape = json_any = false;
      state = State::ParamJson;
    } else if (typed) {
      key += '"';
      emit_args(key);
      state = State::ParamString;
    } else {
      pending_key = std::move(key);
      state = State::ParamPending;
    }
    return true;
  }
  if (partial) return wait_or_unterminated();
  fail(frames.size() == 1 ? "expected a parameter or the end of the invoke"
                          : "expected a parameter or the end of the nested parameter");
  return true;
}

bool Parser::Impl::step_param_pending() {
  // §C.3: an untyped parameter whose body starts (after whitespace) with another
  // parameter tag is a nested object; otherwise it is a string.
  std::string_view v = view();
  size_t ws = 0;
  while (ws < v.size() && is_ascii_ws(v[ws])) ++ws;
  TagMatch m = ws < v.size() ? detail::match_tag_open(v.substr(ws), variant->param_open)
                             : TagMatch::Partial;
  if (m == TagMatch::Partial && !eof) return false;
  if (m == TagMatch::Full) {
    if (frames.size() > kMaxNesting) {
      fail("nested parameters too deep");
      return true;
    }
    consume_block(ws);
    pending_key += '{';
    emit_args(pending_key);
    frames.push_back(Frame{});
    state = State::ObjectBody;
    return true;
  }
  pending_key += '"';
  emit_args(pending_key);
  state = State::ParamString;  // the whitespace is part of the string value
  return true;
}

bool Parser::Impl::step_param_string() {
  std::string_view v = view();
  size_t end = v.find(variant->param_end);
  size_t take = end;
  if (end == std::string_view::npos) {
    if (eof) return wait_or_unterminated();
    // Hold a partial end tag and a partial entity: both change the meaning of the bytes.
    take = std::min(detail::partial_tag_start(v, {variant->param_end}),
                    detail::partial_entity_start(v));
  }
  std::string piece;
  std::string decoded = detail::entity_decode(v.substr(0, take));
  detail::append_json_escaped(decoded, piece);
  emit_args(piece);
  consume_block(take);
  if (end == std::string_view::npos) return false;
  consume_block(variant->param_end.size());
  emit_args("\"");
  finish_member();
  return true;
}

bool Parser::Impl::step_param_json() {
  std::string_view v = view();
  size_t end = v.find(variant->param_end);
  size_t take = end;
  if (end == std::string_view::npos) {
    if (eof) return wait_or_unterminated();
    take = detail::partial_tag_start(v, {variant->param_end});
  }
  // Minify: drop whitespace outside JSON strings (§C.3); the JSON is not validated.
  std::string piece;
  for (char c : v.substr(0, take)) {
    if (json_in_string) {
      piece.push_back(c);
      if (json_escape) json_escape = false;
      else if (c == '\\') json_escape = true;
      else if (c == '"') json_in_string = false;
    } else if (!is_ascii_ws(c)) {
      piece.push_back(c);
      json_any = true;
      if (c == '"') json_in_string = true;
    }
  }
  emit_args(piece);
  consume_block(take);
  if (end == std::string_view::npos) return false;
  consume_block(variant->param_end.size());
  if (!json_any) emit_args("null");
  json_in_string = json_escape = false;
  finish_member();
  return true;
}

bool Parser::Impl::step_failed() {
  // After an invalid block the text stays content up to the block's end tag, where
  // generation stops as it would for a valid block (finish "stop").
  std::string_view v = view();
  size_t end = v.find(variant->block_end);
  if (end != std::string_view::npos) {
    size_t n = end + variant->block_end.size();
    emit_delta(EventKind::ContentDelta, v.substr(0, n));
    consume(n);
    stop_generation(FinishReason::Stop, done_message);
    return false;
  }
  size_t hold = eof ? v.size() : detail::partial_tag_start(v, {variant->block_end});
  emit_delta(EventKind::ContentDelta, v.substr(0, hold));
  consume(hold);
  if (eof) unterminated = true;
  return false;
}

}  // namespace ds4::output
