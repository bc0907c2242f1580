// Commands that need a model: --dump-tokens, --dump-logits, one-shot generation (-p) and the
// interactive REPL.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "ds4/engine.h"
#include "gguf/gguf.h"
#include "host/status.h"
#include "repl.h"
#include "terminal.h"

namespace ds4::cli {
namespace {

std::vector<int32_t> parse_token_list(const std::string& s) {
    std::vector<int32_t> ids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        char* end = nullptr;
        errno = 0;
        long v = std::strtol(item.c_str(), &end, 10);
        if (errno || *end || v < 0 || v > INT32_MAX) throw Error("--tokens: '" + item + "' is not a token id");
        ids.push_back(static_cast<int32_t>(v));
    }
    if (ids.empty()) throw Error("--tokens: no token ids given");
    return ids;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot read prompt file");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string prompt_text(const Options& o) {
    if (!o.prompt_file.empty()) return read_file(o.prompt_file);
    return o.prompt;
}

text::ThinkMode think_mode(const Options& o) {
    if (o.nothink) return text::ThinkMode::kNone;
    if (o.think_max) return text::ThinkMode::kMax;
    return text::ThinkMode::kHigh;
}

// Token text with control characters escaped, for --dump-tokens.
std::string escape(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02x", c);
            out += buf;
        } else out += static_cast<char>(c);
    }
    return out;
}

int dump_tokens(const Options& o, const Config& cfg) {
    auto file = gguf::File::open(cfg.model);
    auto tok = tokenizer_from_gguf(file);
    std::string text = prompt_text(o);
    std::vector<int32_t> ids;
    if (o.chat)
        ids = text::render_single_turn(*tok, o.system, text, think_mode(o), static_cast<uint32_t>(cfg.context)).ids;
    else
        ids = o.no_specials ? tok->encode(text) : tok->encode_with_specials(text);
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? " " : "", ids[i]);
    std::printf("\n");
    for (int32_t id : ids) std::printf("%d\t%s\n", id, escape(tok->token_bytes(id)).c_str());
    return 0;
}

int dump_logits(const Options& o, Engine& engine) {
    std::vector<int32_t> ids = parse_token_list(o.tokens);
    auto session = engine.new_session(o.prefill_chunk);
    std::vector<float> logits = session->eval(ids, /*all_logits=*/true);
    FILE* f = std::fopen(o.dump_logits.c_str(), "wb");
    if (!f) throw Error(o.dump_logits + ": cannot write: " + std::strerror(errno));
    size_t n = std::fwrite(logits.data(), sizeof(float), logits.size(), f);
    bool ok = n == logits.size() && std::fclose(f) == 0;
    if (!ok) throw Error(o.dump_logits + ": write failed");
    std::fprintf(stderr, "ds4: wrote %zu x %u logits to %s\n", ids.size(), engine.model().config().vocab,
                 o.dump_logits.c_str());
    return 0;
}

}  // namespace

GenerateOptions generate_options(const Options& o) {
    GenerateOptions g;
    // Defaults follow PROTOCOL §F: greedy unless a temperature is given.
    g.sampling.temperature = o.temp >= 0 ? static_cast<float>(o.temp) : 0.0f;
    if (o.top_p >= 0) g.sampling.top_p = static_cast<float>(o.top_p);
    if (o.min_p >= 0) g.sampling.min_p = static_cast<float>(o.min_p);
    if (o.top_k >= 0) g.sampling.top_k = static_cast<int>(o.top_k);
    std::string bad = sampler::validate(g.sampling);
    if (!bad.empty()) throw Error(bad);
    g.seed = o.seed_set ? o.seed : 42;
    g.max_tokens = o.n_predict;
    g.thinking = !o.nothink;
    return g;
}

std::unique_ptr<Engine> open_engine(const Config& cfg) {
    Terminal& term = Terminal::err();
    auto engine = Engine::open(cfg, [&](const std::string& phase, double f) { term.progress(phase, f); });
    term.progress_done();
    std::fprintf(stderr, "ds4: %s on %s (%s numerics, ctx %lld)\n", engine->model().summary().c_str(),
                 engine->backend_name().c_str(), cfg.numerics.c_str(), static_cast<long long>(cfg.context));
    return engine;
}

int cmd_run(const Options& o) {
    Config cfg = o.engine_config();
    if (cfg.model.empty())
        throw Error("no model given: use -m FILE.gguf (or model.path in the config); "
                    "try --list-backends or --inspect FILE.gguf");
    if (o.dump_tokens) return dump_tokens(o, cfg);
    auto engine = open_engine(cfg);
    if (!o.dump_logits.empty()) return dump_logits(o, *engine);
    if (!o.tokens.empty()) throw Error("--tokens needs --dump-logits");
    if (!o.prompt.empty() || !o.prompt_file.empty()) {
        auto session = engine->new_session();
        return run_one_shot(*engine, *session, o, prompt_text(o));
    }
    auto session = engine->new_session();
    return run_repl(*engine, *session, o);
}

}  // namespace ds4::cli
