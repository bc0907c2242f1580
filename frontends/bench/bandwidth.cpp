// Memory bandwidth of the device measured through the plugin ABI itself: one COPY node
// between two large F32 buffers, so the number is what the backend's own kernels reach,
// not a datasheet value.
#include <algorithm>
#include <chrono>

#include "bench.h"
#include "host/graph.h"

namespace ds4::bench {

double measure_bandwidth(const host::Device& dev, uint64_t bytes, int iters) {
    constexpr int64_t kRow = 4096;  // 2-D so no backend sees a single dimension of 2^27 elements
    const int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(bytes / (kRow * 4)));
    const uint64_t size = static_cast<uint64_t>(rows) * kRow * 4;
    host::Buffer a = dev.alloc(size, DS4_BUFFER_SCRATCH);
    host::Buffer b = dev.alloc(size, DS4_BUFFER_SCRATCH);
    host::Graph g;
    const ds4_tensor* src = g.tensor(DS4_TYPE_F32, {kRow, rows}, a.get(), 0);
    const ds4_tensor* dst = g.tensor(DS4_TYPE_F32, {kRow, rows}, b.get(), 0);
    g.add(DS4_OP_COPY, {src}, {dst});
    host::Plan plan = dev.create_plan(g.c_graph());
    // The first run pays for page faults / lazy allocation and is not counted.
    plan.submit();
    dev.synchronize();
    double best = 0;
    for (int i = 0; i < iters; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        plan.submit();
        dev.synchronize();
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (i == 0 || s < best) best = s;
    }
    return best > 0 ? 2.0 * double(size) / best : 0;
}

}  // namespace ds4::bench
