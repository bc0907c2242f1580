// Fold of parser events into the final (non-streaming) result.
#include "output/output_parser.h"

namespace ds4::output {

void ResultBuilder::apply(const Event& e) {
  ParseResult& r = result_;
  switch (e.kind) {
    case EventKind::ReasoningDelta: r.reasoning += e.text; break;
    case EventKind::ReasoningEnd: r.reasoning_closed = true; break;
    case EventKind::ContentDelta: r.content += e.text; break;
    case EventKind::ToolCallBegin:
      r.tool_calls.push_back(ToolCall{e.id, e.name, {}});
      break;
    case EventKind::ToolCallArgumentsDelta:
      // Calls are numbered from 0 in stream order, so the index is the vector slot.
      if (e.index >= 0 && static_cast<size_t>(e.index) < r.tool_calls.size()) {
        r.tool_calls[e.index].arguments += e.text;
      }
      break;
    case EventKind::ToolCallEnd: break;
    case EventKind::ToolBlockEnd: r.raw_dsml = e.text; break;
    case EventKind::ToolBlockInvalid:
      if (e.index >= 0 && static_cast<size_t>(e.index) < r.tool_calls.size()) {
        r.tool_calls.resize(e.index);
      }
      r.raw_dsml.clear();
      r.error = e.text;
      break;
    case EventKind::Finish:
      r.finish_reason = e.finish;
      if (!e.text.empty()) r.error = e.text;
      break;
  }
}

ParseResult parse_complete(std::string_view text, const Options& options, EndCause cause) {
  Parser parser(options);
  std::vector<Event> events;
  parser.feed(text, events);
  parser.finish(cause, events);
  ResultBuilder builder;
  builder.apply(events);
  return builder.take();
}

}  // namespace ds4::output
