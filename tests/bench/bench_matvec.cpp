// ds4-bench-matvec: matvec throughput of a backend plugin per weight type, in GB/s of weight
// bytes read, next to a plain streaming-read baseline (summing a large array) on the same
// machine, with 1 thread and with all threads. Matrices are >= 256 MiB so they do not fit in
// any cache: a matvec is bandwidth-bound, and the ratio to the streaming read tells how close
// a kernel gets to the memory limit. Not a test (not registered with ctest).
// DS4_QUANT_DOTS=portable measures the plain C++ kernels instead of the SIMD ones.
//
//   ds4-bench-matvec [--plugin PATH] [--mib N] [--iters N] [--threads N] [--types q8_0,f16,...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host/device.h"
#include "host/graph.h"
#include "host/plugin_loader.h"
#include "host/status.h"
#include "quant/internal.h"
#include "quant/quant.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Valid random blocks of `type` (random quant bits, sane f16 scales).
void fill_weights(ds4_type type, uint8_t* p, size_t bytes, int64_t in) {
    std::mt19937_64 rng(42);
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        uint64_t r = rng();
        std::memcpy(p + i, &r, 8);
    }
    const int64_t bb = ds4_type_block_bytes(type);
    const size_t nblocks = bytes / bb;
    auto half = [&](uint8_t* q) {
        uint16_t h = ds4::quant::f32_to_f16(0.001f + 0.01f * (rng() % 1000) / 1000.0f);
        std::memcpy(q, &h, 2);
    };
    for (size_t b = 0; b < nblocks; ++b) {
        uint8_t* blk = p + b * bb;
        switch (type) {
        case DS4_TYPE_F32: {
            float v = (rng() % 2000) / 1000.0f - 1.0f;
            std::memcpy(blk, &v, 4);
            break;
        }
        case DS4_TYPE_F16: half(blk); break;
        case DS4_TYPE_BF16: {
            uint16_t h = ds4::quant::f32_to_bf16((rng() % 2000) / 1000.0f - 1.0f);
            std::memcpy(blk, &h, 2);
            break;
        }
        case DS4_TYPE_Q8_0: case DS4_TYPE_IQ2_XXS: half(blk); break;
        case DS4_TYPE_Q2_K: half(blk + 80); half(blk + 82); break;
        case DS4_TYPE_Q4_K: half(blk); half(blk + 2); break;
        default: break;
        }
    }
    (void)in;
}

// GB/s of summing `n` floats with `threads` threads (each sums a contiguous slice).
double streaming_read(const std::vector<float>& data, int threads, int iters) {
    double best = 1e30;
    volatile float sink = 0;
    for (int it = 0; it < iters; ++it) {
        std::vector<float> partial(threads, 0.0f);
        auto t0 = Clock::now();
        std::vector<std::thread> pool;
        const size_t n = data.size();
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const size_t b = n * t / threads, e = n * (t + 1) / threads;
                const float* d = data.data();
                // 32 independent lanes: enough adds in flight that the loop is bound by memory,
                // not by the add latency (16 lanes were compute-bound on a fast core, so the
                // f32 matvec beat the "upper bound").
                float lanes[32] = {};
                size_t i = b;
                for (; i + 32 <= e; i += 32)
                    for (int k = 0; k < 32; ++k) lanes[k] += d[i + k];
                for (; i < e; ++i) lanes[0] += d[i];
                float s = 0;
                for (float l : lanes) s += l;
                partial[t] = s;
            });
        for (auto& th : pool) th.join();
        best = std::min(best, seconds_since(t0));
        for (float p : partial) sink = sink + p;
    }
    return data.size() * 4.0 / best / 1e9;
}

struct Result {
    double gbs;
    double ms;
};

Result bench_type(const ds4::host::Device& dev, ds4_type type, uint32_t act, uint64_t target_bytes, int iters) {
    using namespace ds4::host;
    const int64_t in = 4096;
    const int64_t row_bytes = ds4_type_row_bytes(type, in);
    const int64_t out = static_cast<int64_t>(target_bytes / row_bytes);
    const uint64_t wbytes = static_cast<uint64_t>(out * row_bytes);
    Buffer w = dev.alloc(wbytes, DS4_BUFFER_WEIGHTS);
    {
        std::vector<uint8_t> host(wbytes);
        fill_weights(type, host.data(), wbytes, in);
        w.write(0, host.data(), wbytes);
    }
    Buffer io = dev.alloc(static_cast<uint64_t>(in + out) * 4, DS4_BUFFER_SCRATCH);
    std::vector<float> x(in);
    for (int64_t i = 0; i < in; ++i) x[i] = std::sin(0.1f * i);
    io.write(0, x.data(), in * 4);
    Graph g;
    auto* tw = g.tensor(type, {in, out}, w.get(), 0);
    auto* tx = g.tensor(DS4_TYPE_F32, {in, 1}, io.get(), 0);
    auto* ty = g.tensor(DS4_TYPE_F32, {out, 1}, io.get(), in * 4);
    ds4_params_matmul p{};
    p.act_quant = act;
    g.add(DS4_OP_MATMUL, {tw, tx}, {ty}, p);
    Plan plan = dev.create_plan(g.c_graph());
    plan.submit();  // warm-up (page faults, caches)
    dev.synchronize();
    double best = 1e30;
    for (int it = 0; it < iters; ++it) {
        auto t0 = Clock::now();
        plan.submit();
        dev.synchronize();
        best = std::min(best, seconds_since(t0));
    }
    return {wbytes / best / 1e9, best * 1e3};
}

}  // namespace

int main(int argc, char** argv) {
    std::string plugin_path = std::string(DS4_PLUGIN_DIR) + "/libds4-backend-cpu-ref.so";
    uint64_t mib = 256;
    int iters = 5;
    std::string types;  // empty: all
    int all_threads = static_cast<int>(std::thread::hardware_concurrency());
    if (all_threads < 1) all_threads = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--plugin") plugin_path = next();
        else if (a == "--mib") mib = std::strtoull(next().c_str(), nullptr, 10);
        else if (a == "--iters") iters = std::atoi(next().c_str());
        else if (a == "--threads") all_threads = std::atoi(next().c_str());
        else if (a == "--types") types = "," + next() + ",";
        else {
            std::fprintf(stderr, "usage: ds4-bench-matvec [--plugin PATH] [--mib N] [--iters N] [--threads N] [--types q8_0,f16,...]\n");
            return 2;
        }
    }
    try {
        auto plugin = ds4::host::PluginLoader::load_file(plugin_path);
        const uint64_t bytes = mib << 20;
        std::vector<float> stream(bytes / 4, 1.0f);
        const double base1 = streaming_read(stream, 1, iters);
        const double baseN = streaming_read(stream, all_threads, iters);
        std::vector<float>().swap(stream);
        // The plugin carries its own copy of ds4_quant, which picks its kernel set by the same
        // rule (CPU features, DS4_QUANT_DOTS) as this process's copy.
        std::printf("plugin %s, weights %llu MiB per matrix (IN = 4096), best of %d, dot kernels %s\n",
                    plugin->name().c_str(), static_cast<unsigned long long>(mib), iters,
                    ds4::quant::detail::active_dots().name);
        std::printf("| kernel | act | 1 thread GB/s | %d threads GB/s | %% of stream (%d thr) |\n", all_threads, all_threads);
        std::printf("|---|---|---|---|---|\n");
        std::printf("| streaming read (sum) | - | %.2f | %.2f | 100%% |\n", base1, baseN);
        ds4::host::Device one(*plugin, 0, {{"threads", "1"}});
        ds4::host::Device many(*plugin, 0, {{"threads", std::to_string(all_threads)}});
        struct Kind {
            ds4_type type;
            uint32_t act;
        };
        const Kind kinds[] = {{DS4_TYPE_F32, DS4_ACT_F32},  {DS4_TYPE_F16, DS4_ACT_DS4},     {DS4_TYPE_BF16, DS4_ACT_DS4},
                              {DS4_TYPE_Q8_0, DS4_ACT_DS4}, {DS4_TYPE_Q2_K, DS4_ACT_DS4},    {DS4_TYPE_Q4_K, DS4_ACT_DS4},
                              {DS4_TYPE_IQ2_XXS, DS4_ACT_DS4}, {DS4_TYPE_Q8_0, DS4_ACT_F32},  {DS4_TYPE_Q2_K, DS4_ACT_F32},
                              {DS4_TYPE_Q4_K, DS4_ACT_F32},    {DS4_TYPE_IQ2_XXS, DS4_ACT_F32}};
        for (const Kind& k : kinds) {
            if (!types.empty() && types.find("," + std::string(ds4_type_name(k.type)) + ",") == std::string::npos) continue;
            Result r1 = bench_type(one, k.type, k.act, bytes, iters);
            Result rN = bench_type(many, k.type, k.act, bytes, iters);
            std::printf("| matvec %s | %s | %.2f | %.2f | %.0f%% |\n", ds4_type_name(k.type),
                        k.act == DS4_ACT_DS4 ? "ds4" : "f32", r1.gbs, rN.gbs, 100.0 * rN.gbs / baseN);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ds4-bench-matvec: %s\n", e.what());
        return 1;
    }
    return 0;
}
