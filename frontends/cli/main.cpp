// ds4: one-shot and interactive chat, debug dumps, backend listing (PROTOCOL.md §F).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"
#include "host/status.h"
#include "options.h"

int main(int argc, char** argv) {
    ds4::cli::Options o;
    CLI::App app{"ds4 — DeepSeek V4 Flash inference engine"};
    app.set_version_flag("--version", "ds4 0.1.0");

    app.add_option("--config", o.config_path, "YAML engine configuration (configs/*.yaml)");
    app.add_option("--set", o.set_overrides, "override a config key: --set key=value (repeatable)");
    app.add_option("--backend", o.backend, "backend plugin: cpu-ref, cuda, hip, metal, auto");
    app.add_option("-m,--model", o.model, "GGUF model file");
    app.add_option("--numerics", o.numerics, "official (default) or exact");
    app.add_option("--ctx", o.ctx, "context size in tokens");
    app.add_option("--threads", o.threads, "CPU threads (0 = all)");
    app.add_option("--prefill-chunk", o.prefill_chunk, "tokens per prefill step (1 = decode path)");

    app.add_flag("--list-backends", o.list_backends, "list backend plugins and exit");
    app.add_option("--inspect", o.inspect, "print a GGUF file's metadata and tensors and exit");
    app.add_flag("--print-config", o.print_config, "print the effective configuration and exit");

    app.add_option("-p,--prompt", o.prompt, "one-shot prompt");
    app.add_option("--prompt-file", o.prompt_file, "read the prompt from a file");
    app.add_option("-s,--sys,--system", o.system, "system prompt");
    app.add_option("-n,--n-predict", o.n_predict, "maximum tokens to generate");
    app.add_option("--temp", o.temp, "sampling temperature (0 = greedy)");
    app.add_option("--top-p", o.top_p, "nucleus sampling threshold");
    app.add_option("--top-k", o.top_k, "top-k sampling (0 = off)");
    app.add_option("--min-p", o.min_p, "min-p sampling threshold");
    app.add_option("--seed", o.seed, "sampling seed")->each([&](const std::string&) { o.seed_set = true; });
    app.add_flag("--nothink", o.nothink, "non-thinking mode");
    app.add_flag("--think-max", o.think_max, "Think Max mode");

    app.add_option("--tokens", o.tokens, "comma-separated token ids to evaluate (with --dump-logits)");
    app.add_option("--dump-logits", o.dump_logits, "write float32 logits [n_tokens][vocab] to a file");
    app.add_flag("--dump-tokens", o.dump_tokens, "print the token ids of -p/--prompt-file and exit");
    app.add_flag("--no-specials", o.no_specials, "with --dump-tokens: do not recognize special tokens");
    app.add_flag("--chat", o.chat, "with --dump-tokens: render as a chat user turn first");
    app.add_option("--dump-logprobs", o.dump_logprobs, "write top logprobs of a greedy generation as JSON");
    app.add_option("--logprobs-top-k", o.logprobs_top_k, "alternatives per position for --dump-logprobs");

    // ds4 spells the system-prompt flag "-sys"; CLI11 only allows one-letter short flags.
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i) args.push_back(std::string(argv[i]) == "-sys" ? "--sys" : argv[i]);
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    try {
        if (o.list_backends) return ds4::cli::cmd_list_backends(o);
        if (!o.inspect.empty()) return ds4::cli::cmd_inspect(o);
        if (o.print_config) {
            std::fputs(o.engine_config().to_yaml().c_str(), stdout);
            return 0;
        }
        return ds4::cli::cmd_run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ds4: error: %s\n", e.what());
        return 1;
    }
}
