#include "text/chat.h"

#include "text/json_args.h"

namespace ds4::text {
namespace {

constexpr std::string_view kDsmlParamClose = "</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cparameter>";
constexpr std::string_view kToolResultClose = "</tool_result>";

// Replace every occurrence of `needle` by `with_prefix` + needle[1..] (i.e. swap its '<').
std::string escape_leading_lt(std::string_view text, std::string_view needle,
                              std::string_view lt_replacement) {
  std::string out;
  out.reserve(text.size());
  size_t from = 0;
  for (size_t hit; (hit = text.find(needle, from)) != std::string_view::npos;) {
    out.append(text.substr(from, hit - from));
    out.append(lt_replacement);
    out.append(needle.substr(1));
    from = hit + needle.size();
  }
  out.append(text.substr(from));
  return out;
}

std::string attr_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Builds the piece list. Text written by the renderer ("markup") has its control strings
// turned into ids; text from the client is plain unless content_specials says otherwise.
class PromptBuilder {
 public:
  explicit PromptBuilder(ContentSpecials cs) : cs_(cs) {}

  void special(Special s) {
    PromptPiece p;
    p.is_special = true;
    p.special = s;
    pieces_.push_back(std::move(p));
  }
  void plain(std::string_view text) {
    if (text.empty()) return;
    if (pieces_.empty() || pieces_.back().is_special) pieces_.emplace_back();
    pieces_.back().text.append(text);
  }
  void markup(std::string_view text) {
    size_t span = 0;
    for (size_t pos = 0; pos < text.size();) {
      int hit = -1;
      for (int i = 0; i < kSpecialCount; ++i) {
        const std::string_view s = special_string(static_cast<Special>(i));
        if (text.substr(pos, s.size()) == s) {
          hit = i;
          break;
        }
      }
      if (hit < 0) {
        ++pos;
        continue;
      }
      plain(text.substr(span, pos - span));
      special(static_cast<Special>(hit));
      pos += special_string(static_cast<Special>(hit)).size();
      span = pos;
    }
    plain(text.substr(span));
  }
  void client(std::string_view text) {
    if (cs_ == ContentSpecials::kRecognize) markup(text);
    else plain(text);
  }
  std::vector<PromptPiece> take() { return std::move(pieces_); }

 private:
  ContentSpecials cs_;
  std::vector<PromptPiece> pieces_;
};

// §B.4 (2), written through a sink so that the same code yields a string or pieces.
template <typename Markup, typename Client>
void emit_dsml_tool_calls(const std::vector<ToolCall>& calls, Markup&& markup, Client&& client) {
  markup("\n\n<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>\n");
  for (const ToolCall& call : calls) {
    markup("<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cinvoke name=\"");
    client(attr_escape(call.name));
    markup("\">\n");
    auto param = [&](std::string_view key, bool is_string, const std::string& value) {
      markup("<\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cparameter name=\"");
      client(attr_escape(key));
      markup(is_string ? "\" string=\"true\">" : "\" string=\"false\">");
      client(escape_leading_lt(value, kDsmlParamClose, is_string ? "&lt;" : "\\u003c"));
      markup("</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cparameter>\n");
    };
    if (auto members = detail::parse_json_object_members(call.arguments)) {
      for (const detail::JsonMember& m : *members) param(m.key, m.is_string, m.value);
    } else {
      param("arguments", true, call.arguments);
    }
    markup("</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Cinvoke>\n");
  }
  markup("</\xEF\xBD\x9C" "DSML\xEF\xBD\x9Ctool_calls>");
}

}  // namespace

Role role_from_string(std::string_view role) {
  if (role == "system") return Role::kSystem;
  if (role == "developer") return Role::kDeveloper;
  if (role == "user") return Role::kUser;
  if (role == "assistant") return Role::kAssistant;
  if (role == "tool" || role == "function") return Role::kTool;
  return Role::kOther;
}

ThinkMode effective_think_mode(ThinkMode requested, uint32_t context_size) {
  if (requested == ThinkMode::kMax && context_size < kThinkMaxMinContext) return ThinkMode::kHigh;
  return requested;
}

std::string render_dsml_tool_calls(const std::vector<ToolCall>& calls) {
  std::string out;
  auto append = [&](std::string_view s) { out.append(s); };
  emit_dsml_tool_calls(calls, append, append);
  return out;
}

std::vector<PromptPiece> render_pieces(const ChatRequest& request) {
  const RenderOptions& opt = request.options;
  const ThinkMode think = effective_think_mode(opt.think, opt.context_size);
  const bool thinking = think != ThinkMode::kNone;
  const std::vector<Message>& msgs = request.messages;
  PromptBuilder b(opt.content_specials);

  // 2. BOS, Think Max prefix, then 1. the system region.
  b.special(Special::kBos);
  if (think == ThinkMode::kMax) b.markup(think_max_prefix());
  bool region_nonempty = false;
  if (!request.tool_schemas.empty()) {
    b.markup(tools_block_prefix());
    for (size_t i = 0; i < request.tool_schemas.size(); ++i) {
      if (i) b.plain("\n");
      b.client(request.tool_schemas[i]);
    }
    b.markup(tools_block_suffix());
    region_nonempty = true;
  }
  for (const Message& m : msgs) {
    if (m.role != Role::kSystem && m.role != Role::kDeveloper) continue;
    if (region_nonempty) b.plain("\n\n");
    b.client(m.content);
    if (!m.content.empty()) region_nonempty = true;
  }

  // 3. last_user and tool_context.
  ptrdiff_t last_user = -1;
  bool tool_context = !request.tool_schemas.empty();
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].role == Role::kUser || msgs[i].role == Role::kTool) {
      last_user = static_cast<ptrdiff_t>(i);
    }
    if (msgs[i].role == Role::kTool) tool_context = true;
    if (msgs[i].role == Role::kAssistant && !msgs[i].tool_calls.empty()) tool_context = true;
  }

  // 4. The turns.
  bool pending_assistant = false, pending_tool_result = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    switch (m.role) {
      case Role::kSystem:
      case Role::kDeveloper:
      case Role::kOther:
        break;
      case Role::kUser:
        b.special(Special::kUser);
        b.client(m.content);
        pending_assistant = true;
        pending_tool_result = false;
        break;
      case Role::kTool:
        if (!pending_tool_result) b.special(Special::kUser);
        b.plain("<tool_result>");
        b.client(escape_leading_lt(m.content, kToolResultClose, "&lt;"));
        b.plain("</tool_result>");
        pending_assistant = true;
        pending_tool_result = true;
        break;
      case Role::kAssistant:
        if (pending_assistant) {
          b.special(Special::kAssistant);
          if (!thinking) {
            b.special(Special::kThinkClose);
          } else if (tool_context || static_cast<ptrdiff_t>(i) > last_user) {
            b.special(Special::kThinkOpen);
            b.client(m.reasoning);
            b.special(Special::kThinkClose);
          } else {
            b.special(Special::kThinkClose);  // older turn: its reasoning is dropped
          }
        }
        b.client(m.content);
        if (m.dsml_replay) {
          b.markup(*m.dsml_replay);
        } else if (!m.tool_calls.empty()) {
          emit_dsml_tool_calls(
              m.tool_calls, [&](std::string_view s) { b.markup(s); },
              [&](std::string_view s) { b.client(s); });
        }
        b.special(Special::kEos);
        pending_assistant = false;
        pending_tool_result = false;
        break;
    }
  }

  // 5. Generation prefix.
  if (pending_assistant) {
    b.special(Special::kAssistant);
    b.special(thinking ? Special::kThinkOpen : Special::kThinkClose);
  }
  return b.take();
}

std::string pieces_text(const std::vector<PromptPiece>& pieces) {
  std::string out;
  for (const PromptPiece& p : pieces) {
    if (p.is_special) out.append(special_string(p.special));
    else out.append(p.text);
  }
  return out;
}

std::vector<int32_t> pieces_to_ids(const Tokenizer& tok, const std::vector<PromptPiece>& pieces) {
  std::vector<int32_t> ids;
  for (const PromptPiece& p : pieces) {
    if (p.is_special) ids.push_back(tok.specials().id(p.special));
    else tok.encode_append(p.text, ids);
  }
  return ids;
}

RenderedPrompt render(const Tokenizer& tok, const ChatRequest& request) {
  const std::vector<PromptPiece> pieces = render_pieces(request);
  RenderedPrompt r;
  r.ids = pieces_to_ids(tok, pieces);
  r.text = pieces_text(pieces);
  r.effective_think = effective_think_mode(request.options.think, request.options.context_size);
  return r;
}

std::vector<PromptPiece> render_single_turn_pieces(std::string_view system,
                                                   std::string_view prompt, ThinkMode think,
                                                   uint32_t context_size) {
  const ThinkMode mode = effective_think_mode(think, context_size);
  PromptBuilder b(ContentSpecials::kPlain);
  b.special(Special::kBos);
  if (mode == ThinkMode::kMax) b.markup(think_max_prefix());
  b.plain(system);
  b.special(Special::kUser);
  b.plain(prompt);
  b.special(Special::kAssistant);
  b.special(mode == ThinkMode::kNone ? Special::kThinkClose : Special::kThinkOpen);
  return b.take();
}

RenderedPrompt render_single_turn(const Tokenizer& tok, std::string_view system,
                                  std::string_view prompt, ThinkMode think,
                                  uint32_t context_size) {
  const std::vector<PromptPiece> pieces =
      render_single_turn_pieces(system, prompt, think, context_size);
  RenderedPrompt r;
  r.ids = pieces_to_ids(tok, pieces);
  r.text = pieces_text(pieces);
  r.effective_think = effective_think_mode(think, context_size);
  return r;
}

}  // namespace ds4::text
