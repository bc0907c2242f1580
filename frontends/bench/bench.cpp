// The benchmark loop (bench.h). Timing rules:
//   * plans are compiled outside the timed regions: one untimed prefill chunk (then a reset)
//     before the first frontier, and one untimed decode step at each frontier (it also takes
//     the session checkpoint the rewind to the frontier restores, so no state copy is timed);
//   * prefill t/s = tokens of the interval / seconds of the eval of that interval;
//   * decode t/s = gen_tokens / seconds of gen_tokens one-token evals (greedy argmax between
//     them on the host, as a generation loop does).
#include "bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "host/status.h"
#include "terminal.h"  // frontends/cli

namespace ds4::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int32_t argmax(const std::vector<float>& v) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
        if (v[i] > v[best]) best = i;
    return static_cast<int32_t>(best);
}

std::string mib(uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
    return buf;
}

void print_traffic(const WeightTraffic& w, const model::ModelConfig& cfg) {
    std::printf("weights read per decoded token: %s\n", mib(w.per_token()).c_str());
    std::printf("  dense layer weights (attention, HC, norms, router, compressor, indexer): %s\n", mib(w.dense).c_str());
    std::printf("  routed experts, %u of %u per layer: %s (of %s stored)\n", cfg.n_expert_used, cfg.n_expert,
                mib(w.routed_active).c_str(), mib(w.routed_total).c_str());
    std::printf("  shared experts: %s\n", mib(w.shared).c_str());
    std::printf("  LM head + output norm + HC head: %s\n", mib(w.head).c_str());
    std::printf("  token embedding row + tid2eid rows: %.1f KiB\n", (w.embedding_row + w.tid2eid_rows) / 1024.0);
}

}  // namespace

void BenchOptions::validate() const {
    auto need = [](bool ok, const std::string& msg) {
        if (!ok) throw Error(msg);
    };
    need(ctx_start >= 1, "--ctx-start must be at least 1 (got " + std::to_string(ctx_start) + ")");
    need(ctx_max >= ctx_start, "--ctx-max (" + std::to_string(ctx_max) + ") must be at least --ctx-start (" +
                                   std::to_string(ctx_start) + ")");
    need(ctx_max < (1ll << 30), "--ctx-max " + std::to_string(ctx_max) + " is too large");
    need(step_incr >= 0, "--step-incr must be at least 1 (got " + std::to_string(step_incr) + ")");
    need(gen_tokens >= 1, "--gen-tokens must be at least 1 (got " + std::to_string(gen_tokens) + ")");
    need(bw_mib >= 0, "--bw-mib must be 0 (skip) or a size in MiB (got " + std::to_string(bw_mib) + ")");
    need(max_seconds >= 0, "--max-seconds must be 0 (no limit) or positive");
    need(peak_gbs >= 0 && peak_gbs < 1e6, "--peak-gbs must be 0 (measure with a COPY) or a bandwidth in GB/s");
}

std::vector<int64_t> BenchOptions::frontiers() const {
    const int64_t step = step_incr > 0 ? step_incr : ctx_start;
    std::vector<int64_t> f;
    for (int64_t x = ctx_start; x <= ctx_max; x += step) f.push_back(x);
    return f;
}

int run(const BenchOptions& o) {
    const auto start = std::chrono::steady_clock::now();
    o.validate();
    const std::vector<int64_t> frontiers = o.frontiers();
    Config cfg = o.engine.engine_config();
    if (cfg.model.empty()) throw Error("no model given: use -m FILE.gguf (or model.path in the config)");
    // Room for the last frontier, the untimed decode step and the timed ones.
    cfg.context = frontiers.back() + o.gen_tokens + 1;

    cli::Terminal& term = cli::Terminal::err();
    auto engine = Engine::open(cfg, [&](const std::string& phase, double f) { term.progress(phase, f); });
    term.progress_done();
    const model::Model& model = engine->model();
    const model::ModelConfig& mc = model.config();
    ds4_device_info dinfo = engine->device().info();

    RunInfo info;
    info.model_summary = std::filesystem::path(cfg.model).filename().string() + ": " + mc.summary();
    info.backend = engine->backend_name();
    info.device = dinfo.name ? dinfo.name : "";
    std::printf("model: %s\n", model.summary().c_str());
    std::printf("backend: %s%s, %s numerics, prefill chunk %lld\n", info.backend.c_str(),
                info.device.empty() ? "" : (" (" + info.device + ")").c_str(), cfg.numerics.c_str(),
                static_cast<long long>(cfg.prefill_chunk));

    WeightTraffic traffic = weight_traffic(model);
    info.bytes_per_token = traffic.per_token();
    print_traffic(traffic, mc);

    if (o.peak_gbs > 0) {
        // A backend's COPY kernel may be far from the memory's peak (docs/benchmarks.md): the
        // user can give the device's nominal bandwidth instead.
        info.bandwidth = o.peak_gbs * 1e9;
        std::printf("memory bandwidth (--peak-gbs): %.1f GB/s -> weight roofline %.2f decode t/s\n", info.bandwidth / 1e9,
                    info.roofline_tps());
    } else if (o.bw_mib > 0) {
        uint64_t bytes = static_cast<uint64_t>(o.bw_mib) << 20;
        if (dinfo.memory_free) bytes = std::min<uint64_t>(bytes, dinfo.memory_free / 4);
        info.bandwidth = measure_bandwidth(engine->device(), bytes);
        std::printf("memory bandwidth (COPY of 2 x %s, best of 5): %.1f GB/s -> weight roofline %.2f decode t/s\n",
                    mib(bytes).c_str(), info.bandwidth / 1e9, info.roofline_tps());
    }

    auto session = engine->new_session();
    std::printf("session: %s\n", session->memory().describe().c_str());
    const std::vector<int32_t> prompt =
        prompt_tokens(engine->tokenizer(), o.prompt_file, static_cast<uint64_t>(frontiers.back()));

    // Compile the prefill plan outside the timings.
    const int64_t warm = std::min<int64_t>(frontiers.front(), cfg.prefill_chunk);
    session->eval(std::vector<int32_t>(prompt.begin(), prompt.begin() + warm));
    session->reset();

    model::SessionOptions mem_opts;
    mem_opts.prefill_chunk = static_cast<uint32_t>(cfg.prefill_chunk);
    std::vector<FrontierResult> rows;
    int64_t prev = 0;
    for (int64_t f : frontiers) {
        if (o.max_seconds > 0 && !rows.empty()) {
            // The next interval costs about what the last one did (its attention grows a little).
            const FrontierResult& last = rows.back();
            double guess = 1.25 * (last.prefill_seconds * double(f - prev) / double(last.prefill_tokens) +
                                   last.decode_seconds);
            if (seconds_since(start) + guess > o.max_seconds) {
                std::printf("stopping before frontier %lld: --max-seconds %.0f would be exceeded (%.0f s elapsed)\n",
                            static_cast<long long>(f), o.max_seconds, seconds_since(start));
                break;
            }
        }
        FrontierResult r;
        r.frontier = f;
        r.prefill_tokens = f - prev;
        const std::vector<int32_t> interval(prompt.begin() + prev, prompt.begin() + f);
        auto t0 = std::chrono::steady_clock::now();
        std::vector<float> logits = session->eval(interval);
        r.prefill_seconds = seconds_since(t0);

        logits = session->eval({argmax(logits)});  // untimed (see top)
        auto t1 = std::chrono::steady_clock::now();
        for (int64_t i = 0; i < o.gen_tokens; ++i) logits = session->eval({argmax(logits)});
        r.decode_seconds = seconds_since(t1);
        r.decode_tokens = o.gen_tokens;
        session->rewind(static_cast<uint64_t>(f));

        r.prefill_tps = r.prefill_seconds > 0 ? r.prefill_tokens / r.prefill_seconds : 0;
        r.decode_tps = r.decode_seconds > 0 ? r.decode_tokens / r.decode_seconds : 0;
        mem_opts.ctx = static_cast<uint64_t>(f);
        r.kv_bytes = model::Session::memory(mc, mem_opts).total();
        std::printf("frontier %7lld: prefill %6lld tok %8.3f s %10.2f t/s | decode %4lld tok %8.3f s %9.2f t/s",
                    static_cast<long long>(f), static_cast<long long>(r.prefill_tokens), r.prefill_seconds,
                    r.prefill_tps, static_cast<long long>(r.decode_tokens), r.decode_seconds, r.decode_tps);
        if (info.roofline_tps() > 0) std::printf(" (%5.1f%% of roofline)", 100.0 * r.decode_tps / info.roofline_tps());
        std::printf(" | KV %s\n", mib(r.kv_bytes).c_str());
        std::fflush(stdout);
        rows.push_back(r);
        prev = f;
        if (!o.csv_path.empty()) write_csv(o.csv_path, rows);
        if (!o.svg_path.empty()) write_svg(o.svg_path, rows, info);
    }

    if (!o.csv_path.empty()) std::printf("wrote %s\n", o.csv_path.c_str());
    if (!o.svg_path.empty()) std::printf("wrote %s\n", o.svg_path.c_str());
    std::printf("total %.1f s\n", seconds_since(start));
    return 0;
}

}  // namespace ds4::bench
