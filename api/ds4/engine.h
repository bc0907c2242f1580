// ds4 engine API: the narrow C++ surface the frontends (CLI, server, bench) use.
//
//   ds4::Config cfg;  cfg.model = "m.gguf";                 // or load configs/*.yaml
//   auto engine = ds4::Engine::open(cfg, progress);         // backend + model + tokenizer
//   auto session = engine->new_session();                   // KV state for cfg.context tokens
//   auto prompt = engine->render_user_turn("", "Hello", ds4::text::ThinkMode::kHigh);
//   engine->generate(*session, prompt.ids, gen_options, on_token);
//
// One thread owns an Engine and its sessions at a time (the backend threading contract);
// the server serializes requests onto one worker thread.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "host/config.h"
#include "host/device.h"
#include "model/model.h"
#include "model/session.h"
#include "output/output_parser.h"
#include "sampler/sampler.h"
#include "text/chat.h"
#include "text/tokenizer.h"

namespace ds4 {

// Load progress: a phase name ("loading weights") and a fraction in [0, 1].
using ProgressFn = std::function<void(const std::string& phase, double fraction)>;

struct GenerateOptions {
    sampler::SamplingParams sampling;       // temperature <= 0: greedy
    uint64_t seed = 0;
    int64_t max_tokens = 4096;
    bool thinking = true;                   // the prompt ended in <think>
    bool tools = false;
    std::vector<std::string> stop;
};

// Why a generation ended, and its counters.
struct GenerateResult {
    output::FinishReason finish = output::FinishReason::None;
    int64_t prompt_tokens = 0;              // newly evaluated prompt tokens (after prefix reuse)
    int64_t reused_tokens = 0;              // prompt tokens already in the session
    int64_t generated_tokens = 0;
    std::vector<int32_t> tokens;            // every sampled id, including a final EOS
    double prefill_seconds = 0, decode_seconds = 0;
};

class Engine {
public:
    // Loads the backend named by cfg (plugin search: cfg.plugin_dir, DS4_PLUGIN_PATH,
    // <exe>/../lib/ds4), opens cfg.model on it and builds the tokenizer from the GGUF vocabulary.
    // Throws ds4::Error with one clear line.
    static std::unique_ptr<Engine> open(const Config& cfg, const ProgressFn& progress = {});
    ~Engine();

    const Config& config() const { return cfg_; }
    const model::Model& model() const { return *model_; }
    // The tokenizer built from the GGUF vocabulary. A model without a usable vocabulary still
    // opens (logit dumps need no tokenizer); this then throws the reason.
    const text::Tokenizer& tokenizer() const;
    const host::Device& device() const { return *device_; }
    std::string backend_name() const;

    // A session with cfg.context tokens of state (memory checked first).
    std::unique_ptr<model::Session> new_session(int64_t prefill_chunk = 0) const;

    // Renders one user turn (plus optional system prompt) exactly as generation sees it.
    text::RenderedPrompt render_user_turn(const std::string& system, const std::string& user,
                                          text::ThinkMode think) const;

    // Makes the session hold exactly `prompt` (reusing the longest common prefix already in it),
    // then samples up to max_tokens. on_text receives parser events as they are produced;
    // returning false from should_stop (checked every token) ends with FinishReason::Error
    // semantics "cancelled". Throws ds4::Error on backend failure.
    GenerateResult generate(model::Session& session, const std::vector<int32_t>& prompt,
                            const GenerateOptions& opts,
                            const std::function<void(const output::Event&)>& on_event,
                            const std::function<bool()>& cancelled = {},
                            const model::EvalProgress& prefill_progress = {}) const;

private:
    Engine() = default;
    Config cfg_;
    std::unique_ptr<host::Plugin> plugin_;
    std::unique_ptr<host::Device> device_;
    std::unique_ptr<model::Model> model_;
    std::unique_ptr<text::Tokenizer> tokenizer_;
    std::string tokenizer_error_;
};

// Builds a tokenizer from a GGUF's tokenizer.ggml.tokens / tokenizer.ggml.merges.
std::unique_ptr<text::Tokenizer> tokenizer_from_gguf(const gguf::File& file);

}  // namespace ds4
