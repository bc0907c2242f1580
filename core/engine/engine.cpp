// The engine facade: backend + model + tokenizer + the generation loop (api/ds4/engine.h).
#include "ds4/engine.h"

#include <chrono>
#include <string>

#include "host/status.h"

namespace ds4 {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::unique_ptr<text::Tokenizer> tokenizer_from_gguf(const gguf::File& file) {
    if (!file.has("tokenizer.ggml.tokens"))
        throw Error(file.name() + ": no tokenizer.ggml.tokens: this GGUF has no vocabulary");
    std::vector<std::string> tokens, merges;
    const auto& tok = file.get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
    tokens.reserve(tok.size());
    for (size_t i = 0; i < tok.size(); ++i) tokens.emplace_back(tok.string(i));
    if (file.has("tokenizer.ggml.merges")) {
        const auto& m = file.get_array("tokenizer.ggml.merges", gguf::ValueType::STRING);
        merges.reserve(m.size());
        for (size_t i = 0; i < m.size(); ++i) merges.emplace_back(m.string(i));
    }
    try {
        return std::make_unique<text::Tokenizer>(std::move(tokens), std::move(merges));
    } catch (const std::exception& e) {
        throw Error(file.name() + ": bad vocabulary: " + e.what());
    }
}

std::unique_ptr<Engine> Engine::open(const Config& cfg, const ProgressFn& progress) {
    cfg.validate();
    if (cfg.model.empty()) throw Error("no model given: use -m FILE.gguf (or model.path in the config)");
    std::unique_ptr<Engine> e(new Engine());
    e->cfg_ = cfg;
    auto dirs = host::PluginLoader::search_dirs(cfg.plugin_dir);
    e->plugin_ = host::PluginLoader::load(cfg.backend, dirs);
    std::vector<std::pair<std::string, std::string>> options(cfg.backend_options.begin(),
                                                             cfg.backend_options.end());
    if (cfg.threads > 0 && !cfg.backend_options.count("threads") && e->plugin_->name() == "cpu-ref")
        options.push_back({"threads", std::to_string(cfg.threads)});
    e->device_ = std::make_unique<host::Device>(*e->plugin_, static_cast<uint32_t>(cfg.device), options);
    model::LoadProgress load_progress;
    if (progress)
        load_progress = [&](const model::LoadProgressInfo& info) {
            if (info.bytes_total < (256ull << 20)) return;  // small models load in a blink
            progress("loading weights", info.bytes_total ? double(info.bytes_done) / double(info.bytes_total) : 1.0);
        };
    e->model_ = model::Model::open(cfg.model, *e->device_, load_progress);
    try {
        e->tokenizer_ = tokenizer_from_gguf(e->model_->file());
    } catch (const Error& err) {
        e->tokenizer_error_ = err.what();
    }
    return e;
}

const text::Tokenizer& Engine::tokenizer() const {
    if (!tokenizer_) throw Error(tokenizer_error_);
    return *tokenizer_;
}

Engine::~Engine() {
    // Destruction order matters: model buffers before the device, the device before the plugin.
    model_.reset();
    device_.reset();
    plugin_.reset();
}

std::string Engine::backend_name() const { return plugin_->name(); }

std::unique_ptr<model::Session> Engine::new_session(int64_t prefill_chunk) const {
    model::SessionOptions o;
    o.ctx = static_cast<uint64_t>(cfg_.context);
    o.prefill_chunk = static_cast<uint32_t>(prefill_chunk > 0 ? prefill_chunk : cfg_.prefill_chunk);
    o.numerics = model::parse_numerics(cfg_.numerics);
    return std::make_unique<model::Session>(*model_, o);
}

text::RenderedPrompt Engine::render_user_turn(const std::string& system, const std::string& user,
                                              text::ThinkMode think) const {
    return text::render_single_turn(tokenizer(), system, user, think, static_cast<uint32_t>(cfg_.context));
}

GenerateResult Engine::generate(model::Session& session, const std::vector<int32_t>& prompt,
                                const GenerateOptions& opts,
                                const std::function<void(const output::Event&)>& on_event,
                                const std::function<bool()>& cancelled,
                                const model::EvalProgress& prefill_progress) const {
    GenerateResult r;
    if (prompt.empty()) throw Error("empty prompt");
    if (prompt.size() >= session.ctx())
        throw Error("prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " +
                    std::to_string(session.ctx()) + " tokens (raise --ctx)");

    // Reuse the longest common prefix; always re-evaluate at least the last prompt token so
    // fresh logits exist for it.
    const auto& have = session.tokens();
    size_t common = 0;
    while (common < have.size() && common < prompt.size() && have[common] == prompt[common]) ++common;
    if (common == prompt.size()) --common;
    session.rewind(common);
    r.reused_tokens = static_cast<int64_t>(common);
    r.prompt_tokens = static_cast<int64_t>(prompt.size() - common);

    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> rest(prompt.begin() + static_cast<long>(common), prompt.end());
    std::vector<float> logits = session.eval(rest, false, prefill_progress);
    r.prefill_seconds = seconds_since(t0);

    output::Options po;
    po.thinking = opts.thinking;
    po.tools = opts.tools;
    po.stop = opts.stop;
    output::Parser parser(po);
    sampler::Sampler sampler(opts.sampling, opts.seed);
    text::Utf8StreamDecoder utf8(&tokenizer());
    const int32_t eos = tokenizer().specials().eos;
    std::vector<output::Event> events;
    auto emit = [&] {
        for (auto& ev : events) on_event(ev);
        events.clear();
    };

    auto t1 = std::chrono::steady_clock::now();
    output::EndCause end = output::EndCause::Length;
    for (int64_t i = 0; i < opts.max_tokens; ++i) {
        if (cancelled && cancelled()) {
            end = output::EndCause::Error;
            break;
        }
        int32_t tok = sampler.sample(logits, parser.greedy_required());
        r.tokens.push_back(tok);
        if (tok == eos) {
            end = output::EndCause::Eos;
            break;
        }
        ++r.generated_tokens;
        parser.feed(utf8.push_token(tok), events);
        emit();
        if (parser.done()) {
            end = output::EndCause::Eos;
            break;
        }
        if (session.n_past() + 1 >= session.ctx()) {
            end = output::EndCause::Length;
            break;
        }
        logits = session.eval({tok});
    }
    parser.feed(utf8.flush(), events);
    parser.finish(end, events);
    for (auto& ev : events)
        if (ev.kind == output::EventKind::Finish) r.finish = ev.finish;
    emit();
    r.decode_seconds = seconds_since(t1);
    return r;
}

}  // namespace ds4
