// ds4-bench-gpu-matvec: weight-matmul throughput of a GPU plugin on the DS4 shapes that
// dominate a decode step, in GB/s of weight bytes read, next to the device's own copy
// bandwidth (a large COPY plan: bytes read + written). Not a test (not registered with ctest).
//
// Each case is one plan of many nodes (replayed as one captured graph by plugins/hip), each
// node reading a different weight matrix, so the weights never sit in the GPU's L2 cache and
// the per-node time includes the gaps between kernels a real decode step has:
//   * LM head: MATMUL Q8_0 4096 → 129280 (562 MB, one matrix, 4 nodes);
//   * routed-expert matvecs: MATMUL IQ2_XXS / Q2_K 4096 → 2048 and Q4_K 2048 → 4096, distinct
//     matrices for ~0.5 GB per plan;
//   * MATMUL_ID: 256 experts × IQ2_XXS 4096 → 2048, one token, 6 experts (ids random);
//   * other weight types at 4096 → 4096;
//   * prefill: MATMUL Q8_0 4096 → 4096 and MATMUL_ID IQ2_XXS with n tokens (GMAC/s);
//   * submit overhead: a plan of 200 small matvecs with and without graph capture.
//
// GB/s are also given as a fraction of the nominal HBM bandwidth (--peak, default 3350 GB/s:
// H100 SXM 80GB HBM3); the COPY baseline uses the plugin's generic strided COPY kernel, so it
// is a floor rather than the limit.
//
//   ds4-bench-gpu-matvec [--plugin PATH] [--iters N] [--peak GB/s] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "host/device.h"
#include "host/graph.h"
#include "host/plugin_loader.h"
#include "host/status.h"
#include "quant/quant.h"

namespace {

using Clock = std::chrono::steady_clock;
using ds4::host::Buffer;
using ds4::host::Device;
using ds4::host::Graph;
using ds4::host::Plan;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int g_iters = 5;

// Valid random blocks of `type`: random code bits, small positive f16/bf16/f32 scales.
std::vector<uint8_t> random_weights(ds4_type type, int64_t in, int64_t rows, uint64_t seed) {
    const int64_t rb = ds4_type_row_bytes(type, in);
    std::vector<uint8_t> w(static_cast<size_t>(rb * rows));
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i + 8 <= w.size(); i += 8) {
        const uint64_t r = rng();
        std::memcpy(&w[i], &r, 8);
    }
    const int64_t bb = ds4_type_block_bytes(type);
    auto put_half = [&](uint8_t* p) {
        const uint16_t h = ds4::quant::f32_to_f16(0.001f + 0.01f * float(rng() % 1000) / 1000.0f);
        std::memcpy(p, &h, 2);
    };
    for (size_t b = 0; b < w.size() / bb; ++b) {
        uint8_t* p = &w[b * bb];
        switch (type) {
        case DS4_TYPE_F32: {
            const float v = float(rng() % 2000) / 1000.0f - 1.0f;
            std::memcpy(p, &v, 4);
            break;
        }
        case DS4_TYPE_F16: put_half(p); break;
        case DS4_TYPE_BF16: {
            const uint16_t h = ds4::quant::f32_to_bf16(float(rng() % 2000) / 1000.0f - 1.0f);
            std::memcpy(p, &h, 2);
            break;
        }
        case DS4_TYPE_Q8_0: case DS4_TYPE_IQ2_XXS: put_half(p); break;
        case DS4_TYPE_Q2_K: put_half(p + 80); put_half(p + 82); break;
        case DS4_TYPE_Q4_K: put_half(p); put_half(p + 2); break;
        default: break;
        }
    }
    return w;
}

// Times `plan` (best of g_iters submits, after one warm-up submit).
double time_plan(Plan& plan) {
    plan.submit();
    double best = 1e30;
    for (int i = 0; i < g_iters; ++i) {
        auto t0 = Clock::now();
        plan.submit();
        best = std::min(best, seconds_since(t0));
    }
    return best;
}

struct Row {
    std::string name;
    double bytes_per_node;
    double seconds_per_node;
};

double g_copy_gbs = 0.0;
double g_peak_gbs = 3350.0;

void print_row(const Row& r) {
    const double gbs = r.bytes_per_node / r.seconds_per_node / 1e9;
    std::printf("| %s | %.1f MB | %.1f us | %.0f GB/s | %.0f%% | %.0f%% |\n", r.name.c_str(), r.bytes_per_node / 1e6,
                r.seconds_per_node * 1e6, gbs, 100.0 * gbs / g_peak_gbs, 100.0 * gbs / g_copy_gbs);
    std::fflush(stdout);
}

void upload(Buffer& buf, const std::vector<float>& v) { buf.write(0, v.data(), v.size() * 4); }

std::vector<float> random_acts(int64_t n, uint64_t seed) {
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = u(rng);
    return v;
}

// Device copy bandwidth: COPY of `mib` MiB of f32 (read + write).
double copy_bandwidth(const Device& dev, uint64_t mib) {
    const int64_t n = static_cast<int64_t>((mib << 20) / 4);
    Buffer a = dev.alloc(n * 4, DS4_BUFFER_SCRATCH), b = dev.alloc(n * 4, DS4_BUFFER_SCRATCH);
    Graph g;
    auto* ta = g.tensor(DS4_TYPE_F32, {n}, a.get(), 0);
    auto* tb = g.tensor(DS4_TYPE_F32, {n}, b.get(), 0);
    for (int i = 0; i < 4; ++i) g.add(DS4_OP_COPY, {i % 2 ? tb : ta}, {i % 2 ? ta : tb});
    Plan plan = dev.create_plan(g.c_graph());
    const double s = time_plan(plan) / 4;
    return 2.0 * n * 4 / s / 1e9;
}

// `nodes` MATMUL nodes over `n_mats` distinct [out][in] matrices (node i uses matrix i % n_mats).
Row bench_matmul(const Device& dev, const char* label, ds4_type type, uint32_t act, int64_t in, int64_t out, int64_t n,
                 int n_mats, int nodes) {
    const int64_t rb = ds4_type_row_bytes(type, in);
    const std::vector<uint8_t> host = random_weights(type, in, out, 7);
    std::vector<Buffer> mats;
    for (int m = 0; m < n_mats; ++m) {
        mats.push_back(dev.alloc(rb * out, DS4_BUFFER_WEIGHTS));
        mats.back().write(0, host.data(), host.size());
    }
    Buffer io = dev.alloc((in + out) * n * 4, DS4_BUFFER_SCRATCH);
    upload(io, random_acts(in * n, 3));
    Graph g;
    auto* tx = g.tensor(DS4_TYPE_F32, {in, n}, io.get(), 0);
    auto* ty = g.tensor(DS4_TYPE_F32, {out, n}, io.get(), in * n * 4);
    ds4_params_matmul p{};
    p.act_quant = act;
    for (int i = 0; i < nodes; ++i) {
        auto* tw = g.tensor(type, {in, out}, mats[i % n_mats].get(), 0);
        g.add(DS4_OP_MATMUL, {tw, tx}, {ty}, p);
    }
    Plan plan = dev.create_plan(g.c_graph());
    const double s = time_plan(plan) / nodes;
    char name[160];
    std::snprintf(name, sizeof name, "%s %s %lldx%lld n=%lld act=%s", label, ds4_type_name(type), (long long)in,
                  (long long)out, (long long)n, act == DS4_ACT_DS4 ? "ds4" : "f32");
    return {name, double(rb * out), s};
}

// MATMUL_ID over [E][out][in], n tokens × k slots with random distinct ids per token.
Row bench_matmul_id(const Device& dev, ds4_type type, int64_t E, int64_t in, int64_t out, int64_t n, int64_t k, int nodes,
                    double* macs_per_node) {
    const int64_t rb = ds4_type_row_bytes(type, in);
    const std::vector<uint8_t> one = random_weights(type, in, out, 11);
    Buffer w = dev.alloc(rb * out * E, DS4_BUFFER_WEIGHTS);
    for (int64_t e = 0; e < E; ++e) w.write(e * rb * out, one.data(), one.size());
    Buffer io = dev.alloc((in + out * k) * n * 4, DS4_BUFFER_SCRATCH);
    upload(io, random_acts(in * n, 5));
    Buffer idb = dev.alloc(nodes * n * k * 4, DS4_BUFFER_SCRATCH);
    std::mt19937 rng(9);
    std::vector<int32_t> ids(static_cast<size_t>(nodes * n * k));
    std::vector<int32_t> perm(static_cast<size_t>(E));
    for (int64_t r = 0; r < nodes * n; ++r) {
        for (int64_t e = 0; e < E; ++e) perm[e] = static_cast<int32_t>(e);
        std::shuffle(perm.begin(), perm.end(), rng);
        for (int64_t j = 0; j < k; ++j) ids[r * k + j] = perm[j];
    }
    idb.write(0, ids.data(), ids.size() * 4);
    Graph g;
    auto* tw = g.tensor(type, {in, out, E}, w.get(), 0);
    auto* tx = g.tensor(DS4_TYPE_F32, {in, 1, n}, io.get(), 0);
    auto* ty = g.tensor(DS4_TYPE_F32, {out, k, n}, io.get(), in * n * 4);
    ds4_params_matmul p{};
    p.act_quant = DS4_ACT_DS4;
    for (int i = 0; i < nodes; ++i) {
        auto* tid = g.tensor(DS4_TYPE_I32, {k, n}, idb.get(), i * n * k * 4);
        g.add(DS4_OP_MATMUL_ID, {tw, tx, tid}, {ty}, p);
    }
    Plan plan = dev.create_plan(g.c_graph());
    const double s = time_plan(plan) / nodes;
    // Bytes: the distinct experts a node touches.
    double distinct = 0;
    for (int i = 0; i < nodes; ++i) {
        std::vector<int32_t> v(ids.begin() + i * n * k, ids.begin() + (i + 1) * n * k);
        std::sort(v.begin(), v.end());
        distinct += double(std::unique(v.begin(), v.end()) - v.begin());
    }
    distinct /= nodes;
    if (macs_per_node) *macs_per_node = double(n * k) * in * out;
    char name[160];
    std::snprintf(name, sizeof name, "matmul_id %s E=%lld %lldx%lld n=%lld k=%lld", ds4_type_name(type), (long long)E,
                  (long long)in, (long long)out, (long long)n, (long long)k);
    return {name, distinct * rb * out, s};
}

}  // namespace

int main(int argc, char** argv) {
    std::string plugin_path = std::string(DS4_PLUGIN_DIR) + "/libds4-backend-cuda.so";
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--plugin" && i + 1 < argc) plugin_path = argv[++i];
        else if (a == "--iters" && i + 1 < argc) g_iters = std::max(1, std::atoi(argv[++i]));
        else if (a == "--peak" && i + 1 < argc) g_peak_gbs = std::atof(argv[++i]);
        else if (a == "--quick") quick = true;
        else {
            std::fprintf(stderr, "usage: ds4-bench-gpu-matvec [--plugin PATH] [--iters N] [--peak GB/s] [--quick]\n");
            return 2;
        }
    }
    try {
        auto plugin = ds4::host::PluginLoader::load_file(plugin_path);
        if (plugin->score() <= 0) {
            std::fprintf(stderr, "ds4-bench-gpu-matvec: plugin %s cannot run on this machine (score 0)\n",
                         plugin->name().c_str());
            return 1;
        }
        Device dev(*plugin, 0);
        const ds4_device_info info = dev.info();
        g_copy_gbs = copy_bandwidth(dev, 1024);
        std::printf("plugin %s on %s; device copy bandwidth (COPY f32 1 GiB, read+write) %.0f GB/s; best of %d\n\n",
                    plugin->name().c_str(), info.name ? info.name : "?", g_copy_gbs, g_iters);
        std::printf("| case | weight bytes per node | time per node | GB/s | %% of %.0f GB/s | %% of copy |\n"
                    "|---|---|---|---|---|---|\n",
                    g_peak_gbs);
        const int mats = quick ? 16 : 200;
        print_row(bench_matmul(dev, "lm-head", DS4_TYPE_Q8_0, DS4_ACT_DS4, 4096, 129280, 1, 1, 4));
        print_row(bench_matmul(dev, "lm-head", DS4_TYPE_Q8_0, DS4_ACT_F32, 4096, 129280, 1, 1, 4));
        print_row(bench_matmul(dev, "expert", DS4_TYPE_IQ2_XXS, DS4_ACT_DS4, 4096, 2048, 1, mats, mats));
        print_row(bench_matmul(dev, "expert", DS4_TYPE_Q2_K, DS4_ACT_DS4, 4096, 2048, 1, mats, mats));
        print_row(bench_matmul(dev, "expert down", DS4_TYPE_Q4_K, DS4_ACT_DS4, 2048, 4096, 1, mats / 2, mats / 2));
        print_row(bench_matmul_id(dev, DS4_TYPE_IQ2_XXS, 256, 4096, 2048, 1, 6, 40, nullptr));
        print_row(bench_matmul_id(dev, DS4_TYPE_Q2_K, 256, 4096, 2048, 1, 6, 40, nullptr));
        for (ds4_type t : {DS4_TYPE_Q8_0, DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_F32, DS4_TYPE_Q4_K})
            print_row(bench_matmul(dev, "square", t, DS4_ACT_DS4, 4096, 4096, 1, quick ? 4 : 16, quick ? 4 : 16));
        print_row(bench_matmul(dev, "attn q_a", DS4_TYPE_Q8_0, DS4_ACT_DS4, 4096, 1024, 1, 64, 64));
        print_row(bench_matmul(dev, "decode n=4", DS4_TYPE_Q8_0, DS4_ACT_DS4, 4096, 4096, 4, 16, 16));

        std::printf("\n| prefill case | time per node | GMAC/s |\n|---|---|---|\n");
        for (int64_t n : {64, 512, 2048}) {
            if (quick && n > 512) continue;
            Row r = bench_matmul(dev, "prefill", DS4_TYPE_Q8_0, DS4_ACT_DS4, 4096, 4096, n, 2, 2);
            std::printf("| %s | %.2f ms | %.0f |\n", r.name.c_str(), r.seconds_per_node * 1e3,
                        double(n) * 4096 * 4096 / r.seconds_per_node / 1e9);
        }
        for (int64_t n : {64, 512}) {
            double macs = 0;
            Row r = bench_matmul_id(dev, DS4_TYPE_IQ2_XXS, 256, 4096, 2048, n, 6, 2, &macs);
            std::printf("| %s | %.2f ms | %.0f |\n", r.name.c_str(), r.seconds_per_node * 1e3, macs / r.seconds_per_node / 1e9);
        }

        // Submit overhead: 200 small matvecs (Q8_0 1024 → 256) with and without graphs.
        std::printf("\n| submit of 200 small matvecs (Q8_0 1024x256) | total |\n|---|---|\n");
        for (const char* graphs : {"1", "0"}) {
            Device d2(*plugin, 0, {{"graphs", graphs}});
            Row r = bench_matmul(d2, "small", DS4_TYPE_Q8_0, DS4_ACT_DS4, 1024, 256, 1, 200, 200);
            std::printf("| graphs=%s | %.1f us (%.2f us per node) |\n", graphs, r.seconds_per_node * 200 * 1e6,
                        r.seconds_per_node * 1e6);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ds4-bench-gpu-matvec: %s\n", e.what());
        return 1;
    }
    return 0;
}
