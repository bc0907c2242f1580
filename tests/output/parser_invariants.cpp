#include "parser_invariants.h"

#include <sstream>

namespace ds4::output::testing {

std::vector<Event> run_chunked(std::string_view text, const Options& options,
                               std::span<const size_t> cuts, EndCause cause) {
  Parser parser(options);
  std::vector<Event> events;
  size_t at = 0;
  for (size_t cut : cuts) {
    if (cut <= at || cut >= text.size()) continue;
    parser.feed(text.substr(at, cut - at), events);
    at = cut;
  }
  parser.feed(text.substr(at), events);
  parser.finish(cause, events);
  return events;
}

static bool is_delta(EventKind k) {
  return k == EventKind::ReasoningDelta || k == EventKind::ContentDelta ||
         k == EventKind::ToolCallArgumentsDelta;
}

std::vector<Event> normalize(const std::vector<Event>& events) {
  std::vector<Event> out;
  for (const Event& e : events) {
    if (is_delta(e.kind) && !out.empty() && out.back().kind == e.kind && out.back().index == e.index) {
      out.back().text += e.text;
    } else {
      out.push_back(e);
    }
  }
  return out;
}

ParseResult fold(const std::vector<Event>& events) {
  ResultBuilder b;
  b.apply(events);
  return b.take();
}

static const char* kind_name(EventKind k) {
  switch (k) {
    case EventKind::ReasoningDelta: return "reasoning";
    case EventKind::ReasoningEnd: return "reasoning_end";
    case EventKind::ContentDelta: return "content";
    case EventKind::ToolCallBegin: return "call_begin";
    case EventKind::ToolCallArgumentsDelta: return "args";
    case EventKind::ToolCallEnd: return "call_end";
    case EventKind::ToolBlockEnd: return "block_end";
    case EventKind::ToolBlockInvalid: return "block_invalid";
    case EventKind::Finish: return "finish";
  }
  return "?";
}

std::string describe(const std::vector<Event>& events) {
  std::ostringstream os;
  for (const Event& e : events) {
    os << kind_name(e.kind);
    if (e.index >= 0) os << "[" << e.index << "]";
    if (!e.name.empty()) os << " name=" << e.name;
    if (e.kind == EventKind::Finish) os << " " << finish_reason_name(e.finish);
    if (!e.text.empty()) os << " '" << e.text << "'";
    os << "\n";
  }
  return os.str();
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
    else return false;
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string check_chunking(std::string_view text, const Options& options,
                           std::span<const size_t> cuts, EndCause cause) {
  std::vector<Event> whole = run_chunked(text, options, {}, cause);
  std::vector<Event> split = run_chunked(text, options, cuts, cause);
  const bool valid_input = is_valid_utf8(text);
  for (const std::vector<Event>* evs : {&whole, &split}) {
    for (size_t i = 0; i < evs->size(); ++i) {
      const Event& e = (*evs)[i];
      if (is_delta(e.kind) && e.text.empty()) return "empty delta at event " + std::to_string(i);
      if (is_delta(e.kind) && valid_input && !is_valid_utf8(e.text)) {
        return "delta splits a UTF-8 sequence: '" + e.text + "'";
      }
      if ((e.kind == EventKind::Finish) != (i + 1 == evs->size())) return "Finish is not exactly the last event";
    }
  }
  std::vector<Event> a = normalize(whole), b = normalize(split);
  if (a != b) {
    std::ostringstream os;
    os << "cuts:";
    for (size_t c : cuts) os << " " << c;
    os << "\n--- whole ---\n" << describe(a) << "--- chunked ---\n" << describe(b);
    return os.str();
  }
  return {};
}

size_t option_set_count() { return 10; }

Options option_set(size_t index) {
  Options o;
  if (index >= 8) {
    o.raw = true;
    if (index == 9) o.stop = {"</END>", "STOP"};
    return o;
  }
  o.thinking = (index & 1) != 0;
  o.tools = (index & 2) != 0;
  if (index & 4) o.stop = {"</END>", "STOP", "\n\n\n"};
  return o;
}

}  // namespace ds4::output::testing
