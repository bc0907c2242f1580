// ds4::text chat rendering (PROTOCOL.md §B): message list -> prompt token ids.
//
// The renderer reproduces ds4's render_chat_prompt_text byte for byte (§B.1–§B.6, golden tests
// on every §B.8 example), with one deliberate difference in HOW the string becomes ids:
// instead of rendering one string and re-scanning it for control strings (ds4 / HF, §A.3 (2)),
// it produces a sequence of pieces, each either a control token id or plain text. Text that
// comes from a client (user, system, tool results, tool schemas, reasoning, assistant content,
// tool-call arguments) is always plain, so it can never forge `<｜Assistant｜>` or `｜DSML｜`
// (injection safety). Template text written by the renderer itself (tools block, DSML markup)
// carries its control tokens as ids. For text without control strings the ids are identical to
// ds4's, because adjacent text pieces are merged into one span before BPE, exactly like ds4's
// scan which only cuts at control strings.
//
// RenderOptions::content_specials = kRecognize restores ds4's behaviour (control strings inside
// client text become control ids) for compatibility checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace ds4::text {

enum class Role {
  kSystem,     // hoisted into the system region
  kDeveloper,  // hoisted like system (§B.1 1b)
  kUser,
  kAssistant,
  kTool,       // also "function"
  kOther,      // e.g. "latest_reminder": ignored entirely
};
// "system", "developer", "user", "assistant", "tool", "function"; anything else -> kOther.
Role role_from_string(std::string_view role);

enum class ThinkMode {
  kNone,  // non-thinking: `</think>` markers
  kHigh,  // thinking (default)
  kMax,   // Think Max: high + §B.6 prefix, only when context >= kThinkMaxMinContext
};

// §B.6 context gate: below this many tokens of context, kMax is silently downgraded to kHigh.
inline constexpr uint32_t kThinkMaxMinContext = 393216;

struct ToolCall {
  std::string id;         // client id (informational; exact replay is decided by the caller)
  std::string name;
  // The arguments as JSON text: the decoded OpenAI `arguments` string, or the raw bytes of an
  // Anthropic `input` / Responses object. Not a JSON object (invalid JSON, array, bare string,
  // free text) -> one `arguments` string parameter with this text (§B.4).
  std::string arguments;
};

struct Message {
  Role role = Role::kUser;
  std::string content;
  std::string reasoning;            // reasoning_content / thinking; empty if absent
  std::vector<ToolCall> tool_calls; // assistant only
  // §B.4 (1) exact replay: the DSML bytes the model sampled for these calls (from its "\n\n"
  // through `</｜DSML｜tool_calls>`), found by the caller in its tool memory (§C.6). When set it
  // replaces the canonical rendering of tool_calls. Trusted: its control strings become ids.
  std::optional<std::string> dsml_replay;
};

enum class ContentSpecials {
  kPlain,      // client text never yields control ids (default, injection-safe)
  kRecognize,  // ds4/HF compatible: control strings in client text become control ids
};

struct RenderOptions {
  ThinkMode think = ThinkMode::kHigh;
  uint32_t context_size = 0;  // session ctx, for the Think Max gate
  ContentSpecials content_specials = ContentSpecials::kPlain;
};

struct ChatRequest {
  std::vector<Message> messages;
  // One entry per tool: the exact schema bytes to show (§B.3 SCHEMAS); joined with "\n".
  // Empty -> no tools block (the caller leaves it empty for tool_choice "none").
  std::vector<std::string> tool_schemas;
  RenderOptions options;
};

// One element of a rendered prompt.
struct PromptPiece {
  bool is_special = false;
  Special special = Special::kBos;  // valid when is_special
  std::string text;                 // valid when !is_special: plain text, BPE'd as one span
};

struct RenderedPrompt {
  std::vector<int32_t> ids;
  std::string text;  // the same prompt as one UTF-8 string (debugging, golden tests, logs)
  ThinkMode effective_think = ThinkMode::kHigh;  // after the Think Max gate
};

// Effective think mode after the §B.6 gate.
ThinkMode effective_think_mode(ThinkMode requested, uint32_t context_size);

// §B.1 rendering into pieces (adjacent text already merged). Needs no vocabulary.
std::vector<PromptPiece> render_pieces(const ChatRequest& request);
// Concatenated text of pieces (what ds4's renderer would produce as one string).
std::string pieces_text(const std::vector<PromptPiece>& pieces);
// Pieces -> ids: specials by id, each text piece through Tokenizer::encode.
std::vector<int32_t> pieces_to_ids(const Tokenizer& tok, const std::vector<PromptPiece>& pieces);

// Full render: pieces, ids and text.
RenderedPrompt render(const Tokenizer& tok, const ChatRequest& request);

// §B.7 single-turn prompt used by the CLI and /v1/completions:
// BOS [+ Think Max prefix] + system + <｜User｜> + prompt + <｜Assistant｜> + (<think>|</think>).
// The CLI default system is "You are a helpful assistant" (no period; "" removes it); the
// official test vectors use system "" and kNone.
std::vector<PromptPiece> render_single_turn_pieces(std::string_view system,
                                                   std::string_view prompt,
                                                   ThinkMode think, uint32_t context_size);
RenderedPrompt render_single_turn(const Tokenizer& tok, std::string_view system,
                                  std::string_view prompt, ThinkMode think,
                                  uint32_t context_size);

// Canonical DSML block for tool calls (§B.4 (2)), starting with "\n\n", ending with
// `</｜DSML｜tool_calls>`. Exposed for the output parser's canonicalisation (§C.6).
std::string render_dsml_tool_calls(const std::vector<ToolCall>& calls);

// Fixed template strings (§B.3, §B.6), exact bytes.
std::string_view tools_block_prefix();
std::string_view tools_block_suffix();
std::string_view think_max_prefix();

}  // namespace ds4::text
