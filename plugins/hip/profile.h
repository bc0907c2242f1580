// Per-node GPU timing for finding where a forward pass spends its time (option profile=1 or
// DS4_GPU_PROFILE=1). Profiled plans run eagerly (no graph) with an event after every node,
// so a node's time includes its launch gaps; the report groups nodes by op and shape and is
// printed to stderr when the device closes. Off by default: it costs a host wait per submit
// and turns graph replay off.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "portability.h"
#include "ds4/backend.h"

namespace ds4::gpu {

class Profile {
public:
    ~Profile();
    // Events for a submit of n nodes (reused between submits); false if the runtime refuses.
    bool prepare(size_t n_nodes);
    // Records the start event, or the event after node i.
    void mark_start(gpuStream_t s);
    void mark_node(size_t i, gpuStream_t s);
    // After the stream has finished: adds each node's time to its (plan, op and shape) entry.
    void collect(const void* plan, const std::vector<ds4_node>& nodes);
    // The report, most expensive first, per plan (identified by its node count).
    std::string report() const;

private:
    struct Stat {
        double ms = 0;
        uint64_t count = 0;
    };
    struct PlanStat {
        size_t nodes = 0;
        uint64_t submits = 0;
        double ms = 0;
        std::map<std::string, Stat> by_key;
    };
    std::vector<gpuEvent_t> events_;  // [0] start, [i + 1] after node i
    std::map<const void*, PlanStat> plans_;
};

}  // namespace ds4::gpu
