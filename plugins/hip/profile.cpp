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
    for (gpuEvent_t e : kpool_) gpuEventDestroy(e);
}

namespace {
// Appends a new event to `pool`; false (error cleared) if the runtime refuses.
bool add_event(std::vector<gpuEvent_t>& pool) {
    gpuEvent_t e = nullptr;
    if (gpuEventCreate(&e) != gpuSuccess) {
        (void)gpuGetLastError();
        return false;
    }
    pool.push_back(e);
    return true;
}
}  // namespace

bool Profile::prepare(size_t n_nodes) {
    while (events_.size() < n_nodes + 1)
        if (!add_event(events_)) return false;
    return true;
}

namespace {
thread_local Profile* t_profile = nullptr;
thread_local gpuStream_t t_stream = nullptr;
thread_local uint32_t t_op = 0;
}  // namespace

void Profile::set_current(Profile* p, gpuStream_t s, uint32_t op) {
    t_profile = p;
    t_stream = s;
    t_op = op;
}

bool Profile::grab(gpuEvent_t* e) {
    if (kpool_used_ == kpool_.size() && !add_event(kpool_)) return false;
    *e = kpool_[kpool_used_++];
    return true;
}

void Profile::mark_start(gpuStream_t s) {
    gpuEventRecord(events_[0], s);
    kmarks_.clear();
    node_first_kmark_.clear();
    kpool_used_ = 0;
    if (level_ >= 2) node_first_kmark_.push_back(0);
}
void Profile::mark_node(size_t i, gpuStream_t s) {
    gpuEventRecord(events_[i + 1], s);
    if (level_ >= 2) node_first_kmark_.push_back(kmarks_.size());
}

void Profile::mark_kernel(const char* what) {
    gpuEvent_t e = nullptr;
    if (level_ < 2 || !grab(&e)) return;
    gpuEventRecord(e, t_stream);
    kmarks_.emplace_back(e, std::string(op_name(t_op)) + ": " + what);
}

// Called by launch_status() after every kernel launch of an op.
void profile_mark_kernel(const char* what) {
    if (t_profile) t_profile->mark_kernel(what);
}

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
    // Kernel marks: each timed from the previous mark of its node (or the node's start).
    if (level_ >= 2 && node_first_kmark_.size() == nodes.size() + 1) {
        for (size_t i = 0; i < nodes.size(); ++i) {
            gpuEvent_t prev = events_[i];
            for (size_t m = node_first_kmark_[i]; m < node_first_kmark_[i + 1]; ++m) {
                float ms = 0;
                if (gpuEventElapsedTime(&ms, prev, kmarks_[m].first) == gpuSuccess) {
                    Stat& s = p.by_kernel[kmarks_[m].second];
                    s.ms += ms;
                    ++s.count;
                } else {
                    (void)gpuGetLastError();
                }
                prev = kmarks_[m].first;
            }
        }
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
        if (p.by_kernel.empty()) continue;
        out += "  kernels (each timed from the previous launch of its node):\n";
        std::vector<std::pair<std::string, Stat>> krows(p.by_kernel.begin(), p.by_kernel.end());
        std::sort(krows.begin(), krows.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
        for (const auto& [key, s] : krows) {
            std::snprintf(line, sizeof line, "  %9.1f us/submit  %6.1f us x %5.1f  %s\n", 1000.0 * s.ms / double(p.submits),
                          1000.0 * s.ms / double(s.count), double(s.count) / double(p.submits), key.c_str());
            out += line;
        }
    }
    return out;
}

}  // namespace ds4::gpu
