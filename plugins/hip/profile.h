// Per-node GPU timing for finding where a forward pass spends its time (option profile=1 or
// DS4_GPU_PROFILE=1). Profiled plans run eagerly (no graph) with an event after every node,
// so a node's time includes its launch gaps; the report groups nodes by op and shape and is
// printed to stderr when the device closes. Level 2 (profile=2) also puts an event after every
// kernel launch that reports through launch_status(what) and adds a table by (op, what).
// Off by default: it costs a host wait per submit and turns graph replay off.
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
    explicit Profile(int level) : level_(level) {}
    // Records the start event, or the event after node i.
    void mark_start(gpuStream_t s);
    void mark_node(size_t i, gpuStream_t s);
    // Level 2: the event after one kernel launch of the running node, labelled `what`.
    void mark_kernel(const char* what);
    // The profile and stream launch_status() marks on this thread (set while a plan enqueues).
    static void set_current(Profile* p, gpuStream_t s, uint32_t op);
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
        std::map<std::string, Stat> by_kernel;  // level 2
    };
    bool grab(gpuEvent_t* e);
    int level_;
    std::vector<gpuEvent_t> events_;  // [0] start, [i + 1] after node i
    std::map<const void*, PlanStat> plans_;
    // Level 2: this submit's kernel marks (event, label) in launch order, the pool they use,
    // and where each node's marks begin (index into kmarks_) so they can be timed from the
    // previous mark of the same node.
    std::vector<std::pair<gpuEvent_t, std::string>> kmarks_;
    std::vector<size_t> node_first_kmark_;
    std::vector<gpuEvent_t> kpool_;
    size_t kpool_used_ = 0;

};

}  // namespace ds4::gpu
