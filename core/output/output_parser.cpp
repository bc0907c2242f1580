// Parser pipeline (stop filter → UTF-8 tail → state machine) and the reasoning/content
// states. Tool-block states live in dsml_block.cpp.
#include "output/output_parser.h"

#include "output/parser_impl.h"
#include "output/text_scan.h"

namespace ds4::output {

using detail::is_ascii_ws;

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::ToolCalls: return "tool_calls";
    case FinishReason::Error: return "error";
    case FinishReason::None: break;
  }
  return "";
}

Parser::Impl::Impl(Options o) : opt(std::move(o)), stop(opt.stop) {
  if (opt.raw) state = State::Raw;
  else if (opt.thinking) state = State::ThinkStart;
  else state = State::Content;
}

void Parser::Impl::emit_delta(EventKind kind, std::string_view text, int index) {
  if (text.empty()) return;
  // Merge with the previous delta of this call when it is the same stream, so one fed
  // piece yields at most one delta per stream segment.
  if (out->size() > out_start) {
    Event& last = out->back();
    if (last.kind == kind && last.index == index) {
      last.text.append(text);
      return;
    }
  }
  Event e;
  e.kind = kind;
  e.text.assign(text);
  e.index = index;
  out->push_back(std::move(e));
}

void Parser::Impl::emit_event(Event e) { out->push_back(std::move(e)); }

void Parser::Impl::stop_generation(FinishReason reason, std::string message) {
  state = State::Done;
  done = true;
  if (done_reason == FinishReason::None) {
    done_reason = reason;
    done_message = std::move(message);
  }
}

void Parser::Impl::push_released(std::string_view text) {
  // The state machine only sees complete UTF-8 sequences, so no delta can end inside a
  // code point even when the caller splits bytes arbitrarily.
  utf8_stash.append(text);
  size_t tail = detail::incomplete_utf8_tail(utf8_stash);
  buf.append(utf8_stash, 0, utf8_stash.size() - tail);
  utf8_stash.erase(0, utf8_stash.size() - tail);
  process();
}

void Parser::Impl::end_of_input() {
  buf += utf8_stash;
  utf8_stash.clear();
  eof = true;
  process();
}

void Parser::Impl::process() {
  while (state != State::Done && step()) {
  }
  if (state == State::Done) {
    buf.clear();
    pos = 0;
  } else if (pos > 0) {
    buf.erase(0, pos);
    pos = 0;
  }
}

bool Parser::Impl::step() {
  switch (state) {
    case State::ThinkStart: return step_think_start();
    case State::Reasoning: return step_reasoning();
    case State::Content: return step_content();
    case State::Raw: {
      emit_delta(EventKind::ContentDelta, view());
      consume(view().size());
      return false;
    }
    case State::Block: return step_block();
    case State::ObjectBody: return step_object();
    case State::ParamPending: return step_param_pending();
    case State::ParamString: return step_param_string();
    case State::ParamJson: return step_param_json();
    case State::Failed: return step_failed();
    case State::Done: return false;
  }
  return false;
}

bool Parser::Impl::step_think_start() {
  detail::TagMatch m = detail::match_literal(view(), kThinkOpen);
  if (m == detail::TagMatch::Full) {
    consume(kThinkOpen.size());  // §C.4: a leading <think> is skipped
  } else if (m == detail::TagMatch::Partial && !eof) {
    return false;
  }
  state = State::Reasoning;
  return true;
}

bool Parser::Impl::step_reasoning() {
  std::string_view v = view();
  size_t at = v.find(kThinkClose);
  if (at != std::string_view::npos) {
    emit_delta(EventKind::ReasoningDelta, v.substr(0, at));
    consume(at + kThinkClose.size());
    Event e;
    e.kind = EventKind::ReasoningEnd;
    emit_event(std::move(e));
    state = State::Content;
    return true;
  }
  size_t hold = eof ? v.size() : detail::partial_tag_start(v, {kThinkClose});
  emit_delta(EventKind::ReasoningDelta, v.substr(0, hold));
  consume(hold);
  return false;
}

bool Parser::Impl::step_content() {
  std::string_view v = view();
  if (!opt.tools) {
    emit_delta(EventKind::ContentDelta, v);
    consume(v.size());
    return false;
  }
  // Earliest start tag of any variant (live detection rule of §C.3).
  size_t best = std::string_view::npos;
  const DsmlVariant* best_variant = nullptr;
  for (const DsmlVariant& dv : kDsmlVariants) {
    size_t at = v.find(dv.block_start);
    if (at < best) {
      best = at;
      best_variant = &dv;
    }
  }
  if (best_variant != nullptr) {
    // Whitespace right before the block is not content (§C.2, §C.4).
    size_t text_end = best;
    while (text_end > 0 && is_ascii_ws(v[text_end - 1])) --text_end;
    emit_delta(EventKind::ContentDelta, v.substr(0, text_end));
    ws_before.assign(v.substr(text_end, best - text_end));
    consume(best);
    begin_block(best_variant, best_variant->block_start.size());
    return true;
  }
  size_t hold = v.size();
  if (!eof) {
    hold = detail::partial_tag_start(v, {kDsmlVariants[0].block_start, kDsmlVariants[1].block_start,
                                         kDsmlVariants[2].block_start});
    while (hold > 0 && is_ascii_ws(v[hold - 1])) --hold;  // might precede a block
  }
  emit_delta(EventKind::ContentDelta, v.substr(0, hold));
  consume(hold);
  return false;
}

// ---- public surface -------------------------------------------------------------------

Parser::Parser(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Parser::~Parser() = default;
Parser::Parser(Parser&&) noexcept = default;
Parser& Parser::operator=(Parser&&) noexcept = default;

void Parser::feed(std::string_view text, std::vector<Event>& out) {
  Impl& p = *impl_;
  if (p.done || p.finished || text.empty()) return;
  p.out = &out;
  p.out_start = out.size();
  std::string released;
  bool hit = p.stop.feed(text, released);
  p.push_released(released);
  if (hit && !p.done) {
    // Nothing after the cut will ever arrive: resolve everything held now.
    p.end_of_input();
    p.stop_generation(FinishReason::Stop);
  }
  p.out = nullptr;
}

std::vector<Event> Parser::feed(std::string_view text) {
  std::vector<Event> out;
  feed(text, out);
  return out;
}

void Parser::finish(EndCause cause, std::vector<Event>& out) {
  Impl& p = *impl_;
  if (p.finished) return;
  p.finished = true;
  p.out = &out;
  p.out_start = out.size();
  if (!p.done) {
    std::string released;
    p.stop.finish(released);
    p.push_released(released);
    p.end_of_input();
  }
  Event fin;
  fin.kind = EventKind::Finish;
  if (p.unterminated) {
    fin.finish = FinishReason::Error;
    fin.text = "unterminated tool call";
  } else if (p.done) {
    fin.finish = p.done_reason;
    fin.text = p.done_message;
  } else {
    switch (cause) {
      case EndCause::Eos: fin.finish = FinishReason::Stop; break;
      case EndCause::Length: fin.finish = FinishReason::Length; break;
      case EndCause::Error: fin.finish = FinishReason::Error; break;
    }
    fin.text = p.done_message;
  }
  out.push_back(std::move(fin));
  p.out = nullptr;
}

std::vector<Event> Parser::finish(EndCause cause) {
  std::vector<Event> out;
  finish(cause, out);
  return out;
}

bool Parser::done() const { return impl_->done; }

DecodeState Parser::decode_state() const {
  const Impl& p = *impl_;
  switch (p.state) {
    case State::Block:
    case State::ObjectBody:
    case State::ParamPending:
      return DecodeState::Structural;
    case State::ParamString:
      return p.view().starts_with("</") ? DecodeState::Structural : DecodeState::StringBody;
    case State::ParamJson:
      if (p.view().starts_with("</")) return DecodeState::Structural;
      return p.json_in_string ? DecodeState::JsonString : DecodeState::JsonStructural;
    default:
      return DecodeState::Outside;
  }
}

bool Parser::greedy_required() const {
  if (!impl_->opt.tools) return false;
  DecodeState s = decode_state();
  return s == DecodeState::Structural || s == DecodeState::JsonStructural;
}

bool Parser::in_reasoning() const {
  return impl_->state == State::ThinkStart || impl_->state == State::Reasoning;
}

}  // namespace ds4::output
