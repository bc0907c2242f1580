// Plans: plan_create validates every node (generic tensor checks, then the op's check) and
// copies nodes, tensors and params; plan_submit runs the nodes on the device stream.
//
// The first submit captures the whole kernel sequence (error-word reset, every node's
// launches, the copy of the error word to pinned host memory) into a graph; later submits
// replay it with one launch. Launchers take only shapes and addresses (fixed for a plan) as
// launch parameters; data the host rewrites between submits (positions, token ids) is read by
// the kernels from device memory. When capture is off (option graphs=0, DS4_GPU_GRAPHS=0) or
// fails, the plan launches its kernels one by one instead, with the same results.
// plan_submit then waits once and checks the error word, so data errors (an index out of range)
// fail the submit itself as the ABI asks, and asynchronous faults surface as DEVICE_LOST.
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "device.h"
#include "objects.h"
#include "ops/registry.h"

namespace ds4::gpu {
namespace {

constexpr uint32_t kMaxParamsBytes = 4096;

template <class... A>
std::string cat(const A&... parts) {
    std::string s;
    ((s += [](const auto& p) {
         if constexpr (std::is_arithmetic_v<std::decay_t<decltype(p)>>) return std::to_string(p);
         else return std::string(p);
     }(parts)),
     ...);
    return s;
}

std::string node_prefix(uint32_t index, uint32_t op) { return cat("node ", index, " (", op_name(op), "): "); }

KernelStatus check_tensor(const ds4_tensor* t, const std::string& what, bool bound) {
    if (t->struct_size < sizeof(ds4_tensor))
        return KernelStatus::invalid(cat(what, " struct_size ", t->struct_size, " < ", sizeof(ds4_tensor)));
    int64_t be = ds4_type_block_elems(t->type), bb = ds4_type_block_bytes(t->type);
    if (be <= 0) return KernelStatus::unsupported(cat(what, " has unknown type id ", t->type));
    for (int i = 0; i < DS4_MAX_DIMS; ++i) {
        if (t->ne[i] < 1 || t->ne[i] > (int64_t(1) << 48))
            return KernelStatus::invalid(cat(what, " ne", i, " ", t->ne[i], " out of range"));
        if (t->nb[i] < 0 || t->nb[i] > (int64_t(1) << 52))
            return KernelStatus::invalid(cat(what, " nb", i, " ", t->nb[i], " out of range"));
    }
    if (t->ne[0] % be != 0)
        return KernelStatus::invalid(cat(what, " ne0 ", t->ne[0], " is not a multiple of the ", ds4_type_name(t->type),
                                         " block size ", be));
    if (!bound) return {};
    if (!t->buffer) return KernelStatus::invalid(cat(what, " has no buffer"));
    unsigned __int128 end = t->offset;
    end += static_cast<unsigned __int128>(t->ne[0] / be - 1) * static_cast<uint64_t>(t->nb[0]);
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        end += static_cast<unsigned __int128>(t->ne[i] - 1) * static_cast<uint64_t>(t->nb[i]);
    end += static_cast<uint64_t>(bb);
    if (end > t->buffer->size)
        return KernelStatus::invalid(cat(what, " at offset ", t->offset, " extends past its buffer (",
                                         static_cast<uint64_t>(end), " > ", t->buffer->size, " bytes)"));
    return {};
}

KernelStatus validate_node(const ds4_node* node, bool bound, const OpEntry** entry) {
    if (node->struct_size < sizeof(ds4_node))
        return KernelStatus::invalid(cat("node struct_size ", node->struct_size, " < ", sizeof(ds4_node)));
    *entry = find_op(node->op);
    if (!*entry) return KernelStatus::unsupported(cat("op not implemented by the ", DS4_GPU_BACKEND_NAME, " backend"));
    if (node->n_src > DS4_MAX_SRC || node->n_dst > DS4_MAX_DST)
        return KernelStatus::invalid(cat("too many operands (", node->n_src, " src, ", node->n_dst, " dst)"));
    if (node->params_size > kMaxParamsBytes) return KernelStatus::invalid(cat("params_size ", node->params_size, " too large"));
    if (node->params_size && !node->params) return KernelStatus::invalid("params is NULL");
    for (uint32_t i = 0; i < node->n_src; ++i)
        if (node->src[i])
            if (auto st = check_tensor(node->src[i], cat("src", i), bound); !st.ok()) return st;
    for (uint32_t i = 0; i < node->n_dst; ++i)
        if (node->dst[i])
            if (auto st = check_tensor(node->dst[i], cat("dst", i), bound); !st.ok()) return st;
    return (*entry)->check(*node);
}

std::string device_error_message(const DeviceError& e) {
    switch (e.code) {
    case kErrRowIndex: return cat("row index ", e.value, " at position ", e.position, " is out of range");
    case kErrExpertId: return cat("expert id ", e.value, " at position ", e.position, " is out of range");
    case kErrColumnIndex: return cat("column index ", e.value, " at position ", e.position, " is out of range");
    case kErrSetRowIndex: return cat("row index ", e.value, " at position ", e.position, " maps out of range");
    default: return cat("device error code ", e.code);
    }
}

}  // namespace

DTensor dtensor(const ds4_tensor* t) {
    DTensor d{};
    d.data = t->buffer ? t->buffer->data + t->offset : nullptr;
    for (int i = 0; i < 4; ++i) {
        d.ne[i] = t->ne[i];
        d.nb[i] = t->nb[i];
    }
    d.type = t->type;
    return d;
}

void profile_mark_kernel(const char* what);  // profile.cpp

KernelStatus launch_status(const char* what) {
    profile_mark_kernel(what);
    gpuError_t e = gpuGetLastError();
    if (e == gpuSuccess) return {};
    return {DS4_ERR_INTERNAL, cat(what, ": kernel launch failed: ", gpuGetErrorString(e))};
}

int64_t kernel_env_int(const char* name, int64_t fallback) {
    const char* env = std::getenv(name);
    if (!env || !*env) return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(env, &end, 10);
    return *end == '\0' && v >= 0 ? static_cast<int64_t>(v) : fallback;
}

int node_supported(ds4_device* dev, const ds4_node* node) {
    if (!dev || !node) return 0;
    const OpEntry* entry = nullptr;
    try {
        return validate_node(node, /*bound=*/false, &entry).ok() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

ds4_status* plan_create(ds4_device* dev, const ds4_graph* graph, ds4_plan** out) {
    if (!out) return make_status(DS4_ERR_INVALID_ARGUMENT, "plan_create: out is NULL");
    *out = nullptr;
    if (!dev || !graph) return make_status(DS4_ERR_INVALID_ARGUMENT, "plan_create: device or graph is NULL");
    if (ds4_status* st = device_lost_check(dev, "plan_create")) return st;
    if (graph->struct_size < sizeof(ds4_graph))
        return make_status(DS4_ERR_INVALID_ARGUMENT, "plan_create: graph struct_size too small");
    if (graph->n_nodes && !graph->nodes) return make_status(DS4_ERR_INVALID_ARGUMENT, "plan_create: nodes is NULL");
    try {
        auto plan = std::make_unique<ds4_plan>();
        plan->dev = dev;
        std::map<const ds4_tensor*, const ds4_tensor*> copied;
        auto copy_tensor = [&](const ds4_tensor* t) -> const ds4_tensor* {
            if (!t) return nullptr;
            auto it = copied.find(t);
            if (it != copied.end()) return it->second;
            plan->tensors.push_back(*t);
            plan->tensors.back().struct_size = sizeof(ds4_tensor);
            return copied[t] = &plan->tensors.back();
        };
        uint64_t scratch = 0;
        for (uint32_t i = 0; i < graph->n_nodes; ++i) {
            const ds4_node& src = graph->nodes[i];
            const OpEntry* entry = nullptr;
            KernelStatus st = validate_node(&src, /*bound=*/true, &entry);
            if (!st.ok()) return make_status(st.code, node_prefix(i, src.op) + st.message);
            ds4_node node = src;
            node.struct_size = sizeof(ds4_node);
            for (uint32_t s = 0; s < DS4_MAX_SRC; ++s) node.src[s] = s < src.n_src ? copy_tensor(src.src[s]) : nullptr;
            for (uint32_t d = 0; d < DS4_MAX_DST; ++d) node.dst[d] = d < src.n_dst ? copy_tensor(src.dst[d]) : nullptr;
            if (src.params_size) {
                auto p = static_cast<const uint8_t*>(src.params);
                plan->params.emplace_back(p, p + src.params_size);
                node.params = plan->params.back().data();
            } else {
                node.params = nullptr;
            }
            uint64_t need = scratch_bytes_for(node);
            if (need > scratch) scratch = need;
            plan->nodes.push_back(node);
            plan->ops.push_back(entry);
        }
        if (scratch) {
            gpuSetDevice(dev->index);
            if (gpuError_t e = gpuMalloc(reinterpret_cast<void**>(&plan->scratch), scratch); e != gpuSuccess) {
                (void)gpuGetLastError();
                return make_status(DS4_ERR_OUT_OF_MEMORY,
                                   cat("plan_create: cannot allocate ", scratch, " bytes of scratch: ", gpuGetErrorString(e)));
            }
            plan->scratch_bytes = scratch;
        }
        *out = plan.release();
        return nullptr;
    } catch (const std::bad_alloc&) {
        return make_status(DS4_ERR_OUT_OF_MEMORY, "plan_create: out of memory");
    } catch (const std::exception& e) {
        return make_status(DS4_ERR_INTERNAL, std::string("plan_create: ") + e.what());
    }
}

namespace {

// A failed enqueue: either a launcher's own status (bad shape at run time, a plugin bug) or a
// runtime error while enqueuing (the device is then lost).
struct EnqueueError {
    ds4_status* status = nullptr;
    gpuError_t runtime = gpuSuccess;
};

// Enqueues one whole submit on the device stream: reset the error word, every node, copy the
// error word back to pinned host memory. Also what a capture records.
EnqueueError enqueue_plan(ds4_plan* plan) {
    ds4_device* dev = plan->dev;
    KernelContext ctx{dev->stream, dev->err, 0, plan->scratch, plan->scratch_bytes, dev->iq2_grid, dev->iq2_signs};
    if (gpuError_t e = gpuMemsetAsync(dev->err, 0, sizeof(DeviceError), dev->stream); e != gpuSuccess)
        return {nullptr, e};
    Profile* profile = dev->profile && dev->profile->prepare(plan->nodes.size()) ? dev->profile.get() : nullptr;
    if (profile) profile->mark_start(dev->stream);
    for (size_t i = 0; i < plan->nodes.size(); ++i) {
        const ds4_node& node = plan->nodes[i];
        ctx.node = static_cast<int32_t>(i);
        if (profile) Profile::set_current(profile, dev->stream, node.op);
        try {
            KernelStatus st = plan->ops[i]->run(node, ctx);
            if (!st.ok()) return {make_status(st.code, node_prefix(static_cast<uint32_t>(i), node.op) + st.message)};
        } catch (const std::bad_alloc&) {
            return {make_status(DS4_ERR_OUT_OF_MEMORY, node_prefix(static_cast<uint32_t>(i), node.op) + "out of memory")};
        } catch (const std::exception& e) {
            return {make_status(DS4_ERR_INTERNAL, node_prefix(static_cast<uint32_t>(i), node.op) + e.what())};
        }
        if (profile) profile->mark_node(i, dev->stream);
    }
    Profile::set_current(nullptr, nullptr, 0);
    if (gpuError_t e = gpuMemcpyAsync(dev->err_host, dev->err, sizeof(DeviceError), gpuMemcpyDeviceToHost, dev->stream);
        e != gpuSuccess)
        return {nullptr, e};
    return {};
}

// Records the plan into an executable graph. False (and the plan stays eager) when the
// runtime refuses: a launcher used a call that cannot be captured, or graphs are unsupported.
// A launcher's own error is returned in *error and ends the capture cleanly.
bool capture_plan(ds4_plan* plan, ds4_status** error) {
    ds4_device* dev = plan->dev;
    *error = nullptr;
    if (gpuStreamBeginCapture(dev->stream, gpuStreamCaptureModeThreadLocal) != gpuSuccess) {
        (void)gpuGetLastError();
        return false;
    }
    EnqueueError enq = enqueue_plan(plan);
    gpuGraph_t graph = nullptr;
    gpuError_t e = gpuStreamEndCapture(dev->stream, &graph);
    if (enq.status || enq.runtime != gpuSuccess || e != gpuSuccess || !graph) {
        if (graph) gpuGraphDestroy(graph);
        (void)gpuGetLastError();
        *error = enq.status;
        return false;
    }
    e = gpuGraphInstantiate(&plan->exec, graph);
    gpuGraphDestroy(graph);
    if (e != gpuSuccess) {
        plan->exec = nullptr;
        (void)gpuGetLastError();
        return false;
    }
    return true;
}

// DS4_DUMP_NODES: the nodes one by one, each output copied back and written after its node.
ds4_status* submit_dumping(ds4_plan* plan) {
    ds4_device* dev = plan->dev;
    KernelContext ctx{dev->stream, dev->err, 0, plan->scratch, plan->scratch_bytes, dev->iq2_grid, dev->iq2_signs};
    std::vector<uint8_t> host;
    for (size_t i = 0; i < plan->nodes.size(); ++i) {
        const ds4_node& node = plan->nodes[i];
        ctx.node = static_cast<int32_t>(i);
        KernelStatus st = plan->ops[i]->run(node, ctx);
        if (!st.ok()) return make_status(st.code, node_prefix(static_cast<uint32_t>(i), node.op) + st.message);
        if (node.n_dst == 0 || !node.dst[0]) continue;
        const ds4_tensor* t = node.dst[0];
        host.resize(plugin_debug::NodeDump::span_bytes(t));
        gpuError_t e = gpuMemcpyAsync(host.data(), t->buffer->data + t->offset, host.size(), gpuMemcpyDeviceToHost, dev->stream);
        if (e == gpuSuccess) e = gpuStreamSynchronize(dev->stream);
        if (e != gpuSuccess) return mark_lost(dev, "plan_submit", e);
        dev->dump.dump_node(static_cast<uint32_t>(i), op_name(node.op), t, host.data());
    }
    return nullptr;
}

}  // namespace

ds4_status* plan_submit(ds4_plan* plan) {
    if (!plan) return make_status(DS4_ERR_INVALID_ARGUMENT, "plan_submit: plan is NULL");
    ds4_device* dev = plan->dev;
    if (ds4_status* st = device_lost_check(dev, "plan_submit")) return st;
    const bool inject = fault_due(dev, FaultSite::Submit);
    gpuSetDevice(dev->index);
    if (dev->dump.begin_submit()) {
        if (gpuError_t e = gpuMemsetAsync(dev->err, 0, sizeof(DeviceError), dev->stream); e != gpuSuccess)
            return mark_lost(dev, "plan_submit", e);
        if (ds4_status* st = submit_dumping(plan)) return st;
        return wait_stream(dev, "plan_submit", inject);
    }
    if (plan->graph_state == GraphState::Untried) {
        ds4_status* error = nullptr;
        if (dev->graphs && capture_plan(plan, &error)) plan->graph_state = GraphState::Captured;
        else if (error) return error;  // the same launcher would fail eagerly too
        else plan->graph_state = GraphState::Eager;
    }
    if (plan->graph_state == GraphState::Captured) {
        if (gpuError_t e = gpuGraphLaunch(plan->exec, dev->stream); e != gpuSuccess) return mark_lost(dev, "plan_submit", e);
    } else {
        EnqueueError enq = enqueue_plan(plan);
        if (enq.runtime != gpuSuccess) return mark_lost(dev, "plan_submit", enq.runtime);
        if (enq.status) return enq.status;
    }
    if (ds4_status* st = wait_stream(dev, "plan_submit", inject)) return st;
    if (dev->profile && plan->graph_state == GraphState::Eager) dev->profile->collect(plan, plan->nodes);
    const DeviceError err = *dev->err_host;
    if (err.code != kErrNone) {
        uint32_t n = static_cast<uint32_t>(err.node);
        uint32_t op = n < plan->nodes.size() ? plan->nodes[n].op : 0;
        return make_status(DS4_ERR_INVALID_ARGUMENT, node_prefix(n, op) + device_error_message(err));
    }
    return nullptr;
}

void plan_destroy(ds4_plan* plan) {
    if (!plan) return;
    gpuSetDevice(plan->dev->index);
    // Queued work may still use the scratch (and the graph).
    gpuStreamSynchronize(plan->dev->stream);
    if (plan->exec) gpuGraphExecDestroy(plan->exec);
    if (plan->scratch) gpuFree(plan->scratch);
    (void)gpuGetLastError();
    delete plan;
}

}  // namespace ds4::gpu
