// Command-line options of the `ds4` CLI (PROTOCOL.md §F.1–F.2), parsed with CLI11.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "host/config.h"

namespace ds4::cli {

struct Options {
    // engine configuration (YAML + overrides)
    std::string config_path;                 // --config
    std::vector<std::string> set_overrides;  // --set key=value
    std::string backend;                     // --backend (overrides backend.name)
    std::string model;                       // -m/--model (overrides model.path)
    std::string numerics;                    // --numerics
    int64_t ctx = 0;                         // --ctx (0: from config)
    int64_t threads = -1;                    // --threads
    int64_t prefill_chunk = 0;               // --prefill-chunk

    // actions
    bool list_backends = false;              // --list-backends
    std::string inspect;                     // --inspect FILE.gguf
    bool print_config = false;               // --print-config

    // generation
    std::string prompt;                      // -p
    std::string prompt_file;                 // --prompt-file
    std::string system;                      // -sys
    int64_t n_predict = 4096;                // -n
    double temp = -1, top_p = -1, min_p = -1;  // --temp --top-p --min-p (-1: defaults)
    int64_t top_k = -1;                      // --top-k
    uint64_t seed = 0;                       // --seed
    bool seed_set = false;
    bool nothink = false, think_max = false; // --nothink --think-max

    // debugging
    std::string tokens;                      // --tokens 0,17,42
    std::string dump_logits;                 // --dump-logits OUT.f32
    bool dump_tokens = false;                // --dump-tokens
    bool no_specials = false;                // --no-specials
    bool chat = false;                       // --chat
    std::string dump_logprobs;               // --dump-logprobs FILE
    int64_t logprobs_top_k = 20;             // --logprobs-top-k

    // Effective engine config: defaults < --config YAML < --set < dedicated flags.
    Config engine_config() const;
};

}  // namespace ds4::cli
