// ds4-bench: prefill/decode throughput at context frontiers, CSV + SVG (bench.h,
// docs/benchmarks.md). Errors are one line on stderr, exit status 1 (2 for bad flags).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "bench.h"

int main(int argc, char** argv) {
    ds4::bench::BenchOptions o;
    ds4::cli::Options& e = o.engine;
    CLI::App app{"ds4-bench — prefill and decode throughput of a ds4 model at growing context frontiers"};
    // The engine flags mean exactly what they mean for ds4 (frontends/cli/options.h).
    app.add_option("-m,--model", e.model, "GGUF model file");
    app.add_option("--config", e.config_path, "YAML engine configuration (configs/*.yaml)");
    app.add_option("--backend", e.backend, "backend plugin: cpu-ref, cuda, hip, metal, auto");
    app.add_option("--set", e.set_overrides, "override a config key: --set key=value (repeatable)");
    app.add_option("--numerics", e.numerics, "official (default) or exact");
    app.add_option("--threads", e.threads, "CPU threads (0 = all)");
    app.add_option("--prefill-chunk", e.prefill_chunk, "tokens per prefill graph");

    app.add_option("--ctx-start", o.ctx_start, "first context frontier (tokens)")->capture_default_str();
    app.add_option("--ctx-max", o.ctx_max, "last frontier is the largest ctx-start + k*step <= ctx-max")
        ->capture_default_str();
    app.add_option("--step-incr", o.step_incr, "tokens between frontiers (default: ctx-start)");
    app.add_option("--gen-tokens", o.gen_tokens, "greedy tokens decoded (and timed) at each frontier")
        ->capture_default_str();
    app.add_option("--prompt-file", o.prompt_file, "text to tokenize and repeat (default: a built-in text)");
    app.add_option("--csv", o.csv_path, "write frontier,prefill_tps,decode_tps,kv_bytes rows to this file");
    app.add_option("--svg", o.svg_path, "write an SVG plot of the rates to this file");
    app.add_option("--bw-mib", o.bw_mib, "MiB per buffer of the bandwidth COPY (0: skip the roofline)")
        ->capture_default_str();
    app.add_option("--peak-gbs", o.peak_gbs,
                   "nominal memory bandwidth in GB/s for the roofline instead of the COPY probe (e.g. 3350 for an "
                   "H100 SXM)");
    app.add_option("--max-seconds", o.max_seconds,
                   "start no frontier expected to end after this many seconds of the run (0: no limit)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& h) {
        return app.exit(h);
    } catch (const CLI::CallForAllHelp& h) {
        return app.exit(h);
    } catch (const CLI::ParseError& err) {
        std::fprintf(stderr, "ds4-bench: error: %s (see --help)\n", err.what());
        return 2;
    }
    try {
        return ds4::bench::run(o);
    } catch (const std::exception& ex) {
        std::fflush(stdout);
        std::fprintf(stderr, "ds4-bench: error: %s\n", ex.what());
        return 1;
    }
}
