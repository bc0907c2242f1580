#include "repl.h"

#include <editline/readline.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "host/status.h"
#include "terminal.h"

namespace ds4::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void on_sigint(int) { g_interrupted.store(true); }

// Ctrl+C stops the current generation instead of killing the process.
void install_sigint() {
    struct sigaction sa{};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns so the loop can look at the flag
    sigaction(SIGINT, &sa, nullptr);
}

// Prints parser events: reasoning dimmed (or between [thinking] markers on a pipe), content
// plain, tool calls on their own line.
class AnswerPrinter {
public:
    explicit AnswerPrinter(Terminal& t) : t_(t) {}
    void operator()(const output::Event& e) {
        FILE* f = t_.stream();
        switch (e.kind) {
        case output::EventKind::ReasoningDelta:
            if (!in_reasoning_) {
                std::fprintf(f, "%s%s", t_.dim(), t_.tty() ? "Thinking: " : "[thinking]\n");
                in_reasoning_ = true;
            }
            std::fputs(e.text.c_str(), f);
            break;
        case output::EventKind::ReasoningEnd:
            end_reasoning();
            break;
        case output::EventKind::ContentDelta:
            end_reasoning();
            std::fputs(e.text.c_str(), f);
            wrote_content_ = true;
            break;
        case output::EventKind::ToolCallBegin:
            end_reasoning();
            std::fprintf(f, "\n%s[tool call %s] %s", t_.bold(), e.name.c_str(), t_.reset());
            break;
        case output::EventKind::ToolCallArgumentsDelta:
            std::fputs(e.text.c_str(), f);
            break;
        case output::EventKind::ToolBlockInvalid:
            std::fprintf(f, "\n[invalid tool call: %s]", e.text.c_str());
            break;
        case output::EventKind::Finish:
            end_reasoning();
            if (!e.text.empty()) std::fprintf(stderr, "ds4: %s\n", e.text.c_str());
            break;
        default:
            break;
        }
        std::fflush(f);
    }
    void end_reasoning() {
        if (!in_reasoning_) return;
        std::fprintf(t_.stream(), "%s%s", t_.tty() ? "" : "\n[/thinking]", t_.reset());
        std::fputs("\n\n", t_.stream());
        in_reasoning_ = false;
    }

private:
    Terminal& t_;
    bool in_reasoning_ = false;
    bool wrote_content_ = false;
};

void print_stats(const GenerateResult& r) {
    double pre = r.prefill_seconds > 0 ? r.prompt_tokens / r.prefill_seconds : 0;
    double dec = r.decode_seconds > 0 ? r.generated_tokens / r.decode_seconds : 0;
    std::fprintf(stderr, "\nds4: prompt %lld tokens (%lld reused) %.1f t/s, generated %lld tokens %.1f t/s, finish %s\n",
                 static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.reused_tokens), pre,
                 static_cast<long long>(r.generated_tokens), dec, output::finish_reason_name(r.finish));
}

GenerateResult generate_turn(Engine& engine, model::Session& session, const std::vector<int32_t>& prompt,
                             const GenerateOptions& g) {
    Terminal& err = Terminal::err();
    AnswerPrinter printer(Terminal::out());
    g_interrupted.store(false);
    auto r = engine.generate(
        session, prompt, g, [&](const output::Event& e) { printer(e); },
        [] { return g_interrupted.load(); },
        [&](uint64_t done, uint64_t total) {
            if (total >= 256) err.progress("prefill", total ? double(done) / double(total) : 1.0);
        });
    err.progress_done();
    std::fputs("\n", stdout);
    if (g_interrupted.load()) std::fprintf(stderr, "ds4: generation stopped (Ctrl+C)\n");
    print_stats(r);
    return r;
}

const char* kHelp =
    "/help          this help\n"
    "/think         thinking mode (default)\n"
    "/think-max     Think Max mode (needs a context of at least 393216 tokens)\n"
    "/nothink       answer without thinking\n"
    "/ctx N         start a new session with a context of N tokens\n"
    "/read FILE     send the contents of FILE as your message\n"
    "/quit          exit (also Ctrl+D)\n"
    "Ctrl+C stops the current answer.\n";

}  // namespace

int run_one_shot(Engine& engine, model::Session& session, const Options& o, const std::string& prompt) {
    install_sigint();
    text::ThinkMode think = o.nothink ? text::ThinkMode::kNone : o.think_max ? text::ThinkMode::kMax
                                                                               : text::ThinkMode::kHigh;
    auto rendered = engine.render_user_turn(o.system, prompt, think);
    GenerateOptions g = generate_options(o);
    g.thinking = rendered.effective_think != text::ThinkMode::kNone;
    generate_turn(engine, session, rendered.ids, g);
    return 0;
}

int run_repl(Engine& engine, model::Session& session_in, const Options& o) {
    install_sigint();
    model::Session* session = &session_in;
    std::unique_ptr<model::Session> owned;
    text::ThinkMode think = o.nothink ? text::ThinkMode::kNone : o.think_max ? text::ThinkMode::kMax
                                                                               : text::ThinkMode::kHigh;
    const auto& sp = engine.tokenizer().specials();
    std::vector<int32_t> conversation;  // every token of the live session, incl. sampled ones
    std::fprintf(stderr, "ds4: interactive chat; /help for commands\n");
    for (;;) {
        g_interrupted.store(false);
        char* line = readline("> ");
        if (!line) {
            if (g_interrupted.exchange(false)) continue;  // Ctrl+C at the prompt: new prompt
            std::fputs("\n", stdout);
            break;
        }
        std::string input = line;
        std::free(line);
        if (input.empty()) continue;
        add_history(input.c_str());
        if (input[0] == '/') {
            std::istringstream cmd(input);
            std::string name, arg;
            cmd >> name;
            std::getline(cmd >> std::ws, arg);
            if (name == "/quit" || name == "/exit") break;
            if (name == "/help") { std::fputs(kHelp, stdout); continue; }
            if (name == "/think") { think = text::ThinkMode::kHigh; std::puts("thinking on"); continue; }
            if (name == "/nothink") { think = text::ThinkMode::kNone; std::puts("thinking off"); continue; }
            if (name == "/think-max") {
                think = text::ThinkMode::kMax;
                if (text::effective_think_mode(think, static_cast<uint32_t>(session->ctx())) != think)
                    std::printf("Think Max needs /ctx %u or more; using normal thinking until then\n",
                                text::kThinkMaxMinContext);
                else
                    std::puts("Think Max on");
                continue;
            }
            if (name == "/ctx") {
                long long n = std::atoll(arg.c_str());
                if (n <= 0) { std::puts("usage: /ctx N"); continue; }
                Config cfg = engine.config();
                model::SessionOptions so;
                so.ctx = static_cast<uint64_t>(n);
                so.prefill_chunk = static_cast<uint32_t>(cfg.prefill_chunk);
                so.numerics = model::parse_numerics(cfg.numerics);
                try {
                    owned = std::make_unique<model::Session>(engine.model(), so);
                    session = owned.get();
                    conversation.clear();
                    std::printf("new session with a context of %lld tokens\n", n);
                } catch (const std::exception& e) {
                    std::printf("cannot resize: %s\n", e.what());
                }
                continue;
            }
            if (name == "/read") {
                std::ifstream f(arg, std::ios::binary);
                if (!f) { std::printf("cannot read '%s'\n", arg.c_str()); continue; }
                std::ostringstream ss;
                ss << f.rdbuf();
                input = ss.str();
            } else {
                std::printf("unknown command %s (try /help)\n", name.c_str());
                continue;
            }
        }
        // First turn: BOS + system + user turn. Later turns extend the live session: the previous
        // answer (ended by EOS) stays, and only the new user turn is evaluated.
        std::vector<int32_t> prompt;
        text::ThinkMode eff = text::effective_think_mode(think, static_cast<uint32_t>(session->ctx()));
        if (conversation.empty()) {
            prompt = engine.render_user_turn(o.system, input, think).ids;
        } else {
            prompt = conversation;
            if (prompt.back() != sp.eos) prompt.push_back(sp.eos);
            prompt.push_back(sp.user);
            engine.tokenizer().encode_append(input, prompt);
            prompt.push_back(sp.assistant);
            prompt.push_back(eff == text::ThinkMode::kNone ? sp.think_close : sp.think_open);
        }
        GenerateOptions g = generate_options(o);
        g.thinking = eff != text::ThinkMode::kNone;
        try {
            auto r = generate_turn(engine, *session, prompt, g);
            conversation = prompt;
            conversation.insert(conversation.end(), r.tokens.begin(), r.tokens.end());
        } catch (const Error& e) {
            std::fprintf(stderr, "ds4: error: %s\n", e.what());
            conversation.clear();
            session->reset();
        }
    }
    return 0;
}

}  // namespace ds4::cli
