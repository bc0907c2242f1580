// ds4-convert: Hugging Face safetensors → ds4 GGUF, or a synthetic model from a seed.
//
//   ds4-convert --hf DIR --out FILE.gguf --recipe f32|f16|q8|q2|q4 [--tokenizer tokenizer.json]
//   ds4-convert --synthetic --preset tiny|full [--layers N] --recipe q2 --seed S
//               [--tokenizer tokenizer.json] [--fast-experts | --no-fast-experts] --out FILE.gguf
//
// Errors are one line on stderr, exit status 1. docs/convert.md describes everything.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "convert.h"
#include "host/status.h"

namespace {

// One progress line on stderr, redrawn at most a few times per second.
class ProgressLine {
public:
    explicit ProgressLine(bool enabled) : enabled_(enabled) {}
    void update(const std::string& tensor, uint64_t done, uint64_t total, uint64_t bytes, uint64_t bytes_total) {
        // Small files finish before a progress line would help.
        if (!enabled_ || bytes_total < (64ull << 20)) return;
        auto now = std::chrono::steady_clock::now();
        if (done != total && now - last_ < std::chrono::milliseconds(200)) return;
        last_ = now;
        std::fprintf(stderr, "\r[%llu/%llu] %.2f / %.2f GiB  %-48.48s", (unsigned long long)done,
                     (unsigned long long)total, bytes / 1073741824.0, bytes_total / 1073741824.0, tensor.c_str());
        drawn_ = done != total;
        if (done == total) std::fputc('\n', stderr);
        std::fflush(stderr);
    }
    // Ends a half-drawn line (before an error message).
    void finish() {
        if (drawn_) std::fputc('\n', stderr);
        drawn_ = false;
    }

private:
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ds4-convert: Hugging Face safetensors (official FP8/FP4 or transformers) -> ds4 GGUF"};
    std::string hf, out, recipe = "q2", tokenizer, preset = "tiny", name;
    bool synthetic = false, quiet = false;
    int fast_experts = -1;
    uint32_t layers = 0;
    uint64_t seed = 1;
    unsigned threads = 0;
    app.add_option("--hf", hf, "checkpoint directory (config.json + *.safetensors)");
    app.add_option("--out,-o", out, "output GGUF file")->required();
    app.add_option("--recipe", recipe, "tensor types: f32, f16, q8, q2 or q4")->capture_default_str();
    app.add_option("--tokenizer", tokenizer, "tokenizer.json (default: DIR/tokenizer.json, else generated)");
    app.add_option("--name", name, "general.name (default: the checkpoint directory name)");
    app.add_option("--threads", threads, "quantization threads (0 = all cores; max 16 for --hf)");
    app.add_flag("--synthetic", synthetic, "write a synthetic model from a seed instead of converting");
    app.add_option("--preset", preset, "synthetic preset: tiny or full")->capture_default_str();
    app.add_option("--layers", layers, "synthetic layer count (default: preset's)");
    app.add_option("--seed", seed, "synthetic seed")->capture_default_str();
    app.add_flag_function(
        "--fast-experts,!--no-fast-experts", [&](int64_t n) { fast_experts = n > 0 ? 1 : 0; },
        "synthetic routed experts from random block payloads (default: on for --preset full only)");
    app.add_flag("--quiet,-q", quiet, "no progress line");
    CLI11_PARSE(app, argc, argv);

    ProgressLine line(!quiet);
    try {
        const ds4::model::Recipe r = ds4::model::parse_recipe(recipe);
        if (synthetic) {
            if (!hf.empty()) throw ds4::Error("ds4-convert: --synthetic and --hf are exclusive");
            ds4::convert::SyntheticOptions o;
            o.preset = preset;
            o.layers = layers;
            o.recipe = r;
            o.seed = seed;
            o.tokenizer_json = tokenizer;
            o.out_path = out;
            o.fast_experts = fast_experts;
            o.threads = threads;
            o.progress = [&](const std::string& t, uint64_t d, uint64_t n, uint64_t b, uint64_t bt) { line.update(t, d, n, b, bt); };
            auto cfg = ds4::convert::write_synthetic_model(o);
            std::fprintf(stderr, "%s: synthetic %s (%s, seed %llu)\n", out.c_str(), cfg.summary().c_str(),
                         ds4::model::recipe_name(r), (unsigned long long)seed);
            return 0;
        }
        if (hf.empty()) throw ds4::Error("ds4-convert: give --hf DIR (or --synthetic)");
        ds4::convert::ConvertOptions o;
        o.hf_dir = hf;
        o.out_path = out;
        o.recipe = r;
        o.tokenizer_json = tokenizer;
        o.name = name;
        o.threads = threads;
        o.progress = [&](const std::string& t, uint64_t d, uint64_t n, uint64_t b, uint64_t bt) { line.update(t, d, n, b, bt); };
        o.on_ignored = [](const std::string& t) { std::fprintf(stderr, "note: checkpoint tensor '%s' is not used\n", t.c_str()); };
        auto res = ds4::convert::convert_hf(o);
        std::fprintf(stderr, "%s: %s, %llu tensors, %.2f GiB, recipe %s, %s naming, vocabulary %s\n", out.c_str(),
                     res.cfg.summary().c_str(), (unsigned long long)res.n_tensors, res.bytes / 1073741824.0,
                     ds4::model::recipe_name(r), ds4::convert::naming_name(res.naming), res.vocabulary.c_str());
        return 0;
    } catch (const std::exception& e) {
        const std::string msg = e.what();
        line.finish();
        std::fprintf(stderr, "%s%s\n", msg.rfind("ds4-convert:", 0) == 0 ? "" : "ds4-convert: ", msg.c_str());
        return 1;
    }
}
