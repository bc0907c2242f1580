// ds4-bench: prefill and decode throughput of one model at growing context frontiers
// (docs/benchmarks.md, section "ds4-bench").
//
// The model is loaded once. A fixed text is tokenized and repeated to ctx_max tokens. For each
// frontier f (ctx_start, ctx_start + step, … ≤ ctx_max) the bench prefills the new interval
// [previous frontier, f) and times it, then decodes greedily at f and times gen_tokens steps,
// then rewinds the session to f before the next interval.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ds4/engine.h"
#include "options.h"  // frontends/cli: engine flags shared with ds4

namespace ds4::bench {

struct BenchOptions {
    cli::Options engine;        // -m, --config, --backend, --set, --numerics, --threads, --prefill-chunk
    int64_t ctx_start = 2048;   // --ctx-start
    int64_t ctx_max = 32768;    // --ctx-max
    int64_t step_incr = 0;      // --step-incr (0: ctx_start)
    int64_t gen_tokens = 32;    // --gen-tokens
    std::string prompt_file;    // --prompt-file (empty: built-in text)
    std::string csv_path;       // --csv
    std::string svg_path;       // --svg
    int64_t bw_mib = 512;       // --bw-mib: size of each buffer of the bandwidth COPY (0: skip)
    double peak_gbs = 0;        // --peak-gbs: nominal bandwidth for the roofline instead of the COPY (0: measure)
    double max_seconds = 0;     // --max-seconds: start no frontier that would end past this (0: no limit)

    // Throws ds4::Error naming the flag when a value is out of range.
    void validate() const;
    // ctx_start, ctx_start + step, … ≤ ctx_max.
    std::vector<int64_t> frontiers() const;
};

// Weight bytes one decoded token reads (weight_traffic.cpp).
struct WeightTraffic {
    uint64_t dense = 0;          // attention, HC, norms, router, compressor, indexer of every layer
    uint64_t routed_active = 0;  // routed experts × n_expert_used / n_expert
    uint64_t routed_total = 0;   // all routed expert bytes (for the printout)
    uint64_t shared = 0;         // shared experts
    uint64_t head = 0;           // output.weight + output norm + HC head
    uint64_t embedding_row = 0;  // one row of token_embd
    uint64_t tid2eid_rows = 0;   // one tid2eid row per hash layer
    uint64_t per_token() const { return dense + routed_active + shared + head + embedding_row + tid2eid_rows; }
};
WeightTraffic weight_traffic(const model::Model& model);

// Device memory bandwidth from a COPY plan of two `bytes` F32 buffers, best of `iters`:
// (bytes read + bytes written) / seconds, in bytes/s (bandwidth.cpp).
double measure_bandwidth(const host::Device& dev, uint64_t bytes, int iters = 5);

// Token ids of the prompt text repeated to at least n tokens (prompt.cpp).
std::vector<int32_t> prompt_tokens(const text::Tokenizer& tok, const std::string& prompt_file, uint64_t n);

struct FrontierResult {
    int64_t frontier = 0;
    int64_t prefill_tokens = 0;
    double prefill_seconds = 0, prefill_tps = 0;
    int64_t decode_tokens = 0;
    double decode_seconds = 0, decode_tps = 0;
    uint64_t kv_bytes = 0;       // state bytes of a session holding `frontier` tokens
};

struct RunInfo {
    std::string model_summary, backend, device;
    uint64_t bytes_per_token = 0;
    double bandwidth = 0;        // bytes/s, 0 when not measured
    double roofline_tps() const { return bandwidth > 0 && bytes_per_token ? bandwidth / double(bytes_per_token) : 0; }
};

// CSV (frontier,prefill_tps,decode_tps,kv_bytes) and a self-contained SVG plot (report.cpp).
void write_csv(const std::string& path, const std::vector<FrontierResult>& rows);
void write_svg(const std::string& path, const std::vector<FrontierResult>& rows, const RunInfo& info);

// The whole benchmark; prints progress to stdout and rewrites the CSV/SVG after every
// frontier (a run cut short keeps what it measured). Returns the process exit code.
int run(const BenchOptions& o);

}  // namespace ds4::bench
