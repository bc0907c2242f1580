// Per-node GPU timing (profile.h).
#include "profile.h"

#include <algorithm>
#include <cstdio>

#include "ops/registry.h"

namespace ds4::gpu {
namespace {

const char* type_name(uint32_t t) {
    const char* n = ds4_type_name(static_cast<ds4_type>(t));
    return n ? n : "?";
}

// "MATMUL Q8_0[4096x1024] n=1": the op, the first source's type and shape, and the number of
// rows of the first output (tokens, for most ops).
std::string node_key(const ds4_node& node) {
    std::string k = op_name(node.op);
    if (node.n_src > 0 && node.src[0]) {
        const ds4_tensor* s = node.src[0];
        k += std::string(" ") + type_name(s->type) + "[" + std::to_string(s->ne[0]) + "x" + std::to_string(s->ne[1]);
        if (s->ne[2] > 1) k += "x" + std::to_string(s->ne[2]);
        k += "]";
    }
    if (node.n_dst > 0 && node.dst[0]) {
        const ds4_tensor* d = node.dst[0];
        k += " n=" + std::to_string(d->ne[1] * d->ne[2] * d->ne[3]);
    }
    return k;
}

}  // namespace

Profile::~Profile() {
    for (gpuEvent_t e : events_) gpuEventDestroy(e);
}

bool Profile::prepare(size_t n_nodes) {
    while (events_.size() < n_nodes + 1) {
        gpuEvent_t e = nullptr;
        if (gpuEventCreate(&e) != gpuSuccess) {
            (void)gpuGetLastError();
            return false;
        }
        events_.push_back(e);
    }
    return true;
}

void Profile::mark_start(gpuStream_t s) { gpuEventRecord(events_[0], s); }
void Profile::mark_node(size_t i, gpuStream_t s) { gpuEventRecord(events_[i + 1], s); }

void Profile::collect(const void* plan, const std::vector<ds4_node>& nodes) {
    PlanStat& p = plans_[plan];
    p.nodes = nodes.size();
    ++p.submits;
    for (size_t i = 0; i < nodes.size(); ++i) {
        float ms = 0;
        if (gpuEventElapsedTime(&ms, events_[i], events_[i + 1]) != gpuSuccess) {
            (void)gpuGetLastError();
            continue;
        }
        Stat& s = p.by_key[node_key(nodes[i])];
        s.ms += ms;
        ++s.count;
        p.ms += ms;
    }
}

std::string Profile::report() const {
    std::string out;
    char line[512];
    for (const auto& [plan, p] : plans_) {
        std::snprintf(line, sizeof line, "gpu profile: plan of %zu nodes, %llu submits, %.3f ms per submit\n", p.nodes,
                      static_cast<unsigned long long>(p.submits), p.ms / double(p.submits));
        out += line;
        std::vector<std::pair<std::string, Stat>> rows(p.by_key.begin(), p.by_key.end());
        std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
        for (const auto& [key, s] : rows) {
            const double per_submit_us = 1000.0 * s.ms / double(p.submits);
            std::snprintf(line, sizeof line, "  %9.1f us/submit %5.1f%%  %6.1f us x %5.1f  %s\n", per_submit_us,
                          100.0 * s.ms / p.ms, 1000.0 * s.ms / double(s.count), double(s.count) / double(p.submits),
                          key.c_str());
            out += line;
        }
    }
    return out;
}

}  // namespace ds4::gpu
