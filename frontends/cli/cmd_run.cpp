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
#include "gguf/utf8.h"
#include "output/text_scan.h"
#include "host/status.h"
#include "repl.h"
#include "sampler/logprobs.h"
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

// JSON string body of a token's bytes (PROTOCOL §F.1): valid UTF-8 is JSON-escaped as the
// output parser does; a token that is not valid UTF-8 has each byte >= 0x80 written as \u00XX
// (`bytes` stays authoritative).
std::string json_token_text(const std::string& b) {
    std::string out;
    if (gguf::detail::is_valid_utf8(b)) {
        output::detail::append_json_escaped(b, out);
        return out;
    }
    for (char ch : b) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            output::detail::append_json_escaped(std::string_view(&ch, 1), out);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
        }
    }
    return out;
}

std::string json_token(const text::Tokenizer& tok, int32_t id) {
    std::string b = tok.token_bytes(id);
    std::string s = "{\"id\":" + std::to_string(id) + ",\"text\":\"" + json_token_text(b) + "\",\"bytes\":[";
    for (size_t i = 0; i < b.size(); ++i) s += (i ? "," : "") + std::to_string(static_cast<unsigned char>(b[i]));
    return s + "]}";
}

std::string g9(double v) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    return buf;
}

// --dump-logprobs: greedy steps over the CLI's chat rendering, in PROTOCOL §F.1's exact layout.
int dump_logprobs(const Options& o, Engine& engine) {
    if (o.logprobs_top_k < 1 || o.logprobs_top_k > 128)
        throw Error("--logprobs-top-k " + std::to_string(o.logprobs_top_k) + " is outside 1..128");
    if (o.prompt.empty() && o.prompt_file.empty()) throw Error("--dump-logprobs needs -p or --prompt-file");
    const text::Tokenizer& tok = engine.tokenizer();
    auto prompt = engine.render_user_turn(o.system, prompt_text(o), think_mode(o));
    auto session = engine.new_session(o.prefill_chunk);
    std::vector<float> logits = session->eval(prompt.ids);
    const int k = static_cast<int>(o.logprobs_top_k);
    const int32_t eos = tok.specials().eos;
    const int64_t steps = o.n_predict > 0 ? o.n_predict : 1;

    std::string out = "{\n  \"source\":\"ds4\",\n  \"prompt_tokens\":" + std::to_string(prompt.ids.size()) +
                      ",\n  \"ctx\":" + std::to_string(engine.config().context) + ",\n  \"top_k\":" +
                      std::to_string(k) + ",\n  \"steps\":[\n";
    std::vector<sampler::TokenLogprob> top;
    for (int64_t step = 0; step < steps; ++step) {
        sampler::top_logprobs(logits, k, top);
        if (top.empty()) throw Error("--dump-logprobs: step " + std::to_string(step) + " has no finite logits");
        const int32_t selected = top.front().id;  // greedy: highest logit, ties to the lower id
        out += std::string(step ? ",\n" : "") + "    {\"step\":" + std::to_string(step) +
               ",\"selected\":" + json_token(tok, selected) + ",\"top_logprobs\":[";
        for (size_t i = 0; i < top.size(); ++i)
            out += std::string(i ? "," : "") + "{\"token\":" + json_token(tok, top[i].id) +
                   ",\"logit\":" + g9(top[i].logit) + ",\"logprob\":" + g9(top[i].logprob) + "}";
        out += "]}";
        if (selected == eos || step + 1 == steps) break;
        if (session->n_past() >= static_cast<uint64_t>(engine.config().context)) break;
        logits = session->eval({selected});
    }
    out += "\n  ]\n}\n";
    FILE* f = std::fopen(o.dump_logprobs.c_str(), "wb");
    if (!f) throw Error(o.dump_logprobs + ": cannot write: " + std::strerror(errno));
    bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
    ok = std::fclose(f) == 0 && ok;
    if (!ok) throw Error(o.dump_logprobs + ": write failed");
    std::fprintf(stderr, "ds4: wrote logprobs of %lld prompt tokens' continuation to %s\n",
                 static_cast<long long>(prompt.ids.size()), o.dump_logprobs.c_str());
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
    if (!o.dump_logprobs.empty()) return dump_logprobs(o, *engine);
    if (!o.tokens.empty()) throw Error("--tokens needs --dump-logits");
    auto session = engine->new_session();
    // What the device holds for this run: the weights line came with the model summary.
    std::fprintf(stderr, "ds4: session state %s\n", session->memory().describe().c_str());
    if (!o.prompt.empty() || !o.prompt_file.empty()) return run_one_shot(*engine, *session, o, prompt_text(o));
    return run_repl(*engine, *session, o);
}

}  // namespace ds4::cli
