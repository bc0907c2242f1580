// Plans: plan_create validates every node (generic tensor checks, then the op's check_*) and
// copies nodes, tensors and params; plan_submit runs the nodes in order on the device's pool.
#include <map>
#include <new>
#include <string>

#include "device.h"
#include "objects.h"
#include "ops/common.h"
#include "ops/registry.h"

namespace ds4::cpuref {
namespace {

constexpr uint32_t kMaxParamsBytes = 4096;  // every params struct is a few dozen bytes

std::string node_prefix(uint32_t index, uint32_t op) {
    return "node " + std::to_string(index) + " (" + op_name(op) + "): ";
}

// Checks a tensor's own description. With `bound`, also that it lies inside its buffer.
KernelStatus check_tensor(const ds4_tensor* t, const std::string& what, bool bound) {
    if (t->struct_size < sizeof(ds4_tensor))
        return KernelStatus::invalid(msg(what, " struct_size ", t->struct_size, " < ", sizeof(ds4_tensor)));
    int64_t be = ds4_type_block_elems(t->type), bb = ds4_type_block_bytes(t->type);
    if (be <= 0) return KernelStatus::unsupported(msg(what, " has unknown type id ", t->type));
    for (int i = 0; i < DS4_MAX_DIMS; ++i) {
        if (t->ne[i] < 1 || t->ne[i] > (int64_t(1) << 48))
            return KernelStatus::invalid(msg(what, " ne", i, " ", t->ne[i], " out of range"));
        if (t->nb[i] < 0 || t->nb[i] > (int64_t(1) << 52))
            return KernelStatus::invalid(msg(what, " nb", i, " ", t->nb[i], " out of range"));
    }
    if (t->ne[0] % be != 0)
        return KernelStatus::invalid(msg(what, " ne0 ", t->ne[0], " is not a multiple of the ", ds4_type_name(t->type),
                                         " block size ", be));
    if (!bound) return {};
    if (!t->buffer) return KernelStatus::invalid(msg(what, " has no buffer"));
    // Last byte touched: every index at its maximum, plus one block. 128-bit: no overflow.
    unsigned __int128 end = t->offset;
    end += static_cast<unsigned __int128>(t->ne[0] / be - 1) * static_cast<uint64_t>(t->nb[0]);
    for (int i = 1; i < DS4_MAX_DIMS; ++i)
        end += static_cast<unsigned __int128>(t->ne[i] - 1) * static_cast<uint64_t>(t->nb[i]);
    end += static_cast<uint64_t>(bb);
    if (end > t->buffer->size)
        return KernelStatus::invalid(msg(what, " ", shape_str(t), " at offset ", t->offset, " extends past its buffer (",
                                         static_cast<uint64_t>(end), " > ", t->buffer->size, " bytes)"));
    return {};
}

// Generic node checks (operand table, tensors), then the op's own check.
KernelStatus validate_node(const ds4_node* node, bool bound, const OpEntry** entry) {
    if (node->struct_size < sizeof(ds4_node))
        return KernelStatus::invalid(msg("node struct_size ", node->struct_size, " < ", sizeof(ds4_node)));
    *entry = find_op(node->op);
    if (!*entry) return KernelStatus::unsupported("op not implemented by cpu-ref");
    if (node->n_src > DS4_MAX_SRC || node->n_dst > DS4_MAX_DST)
        return KernelStatus::invalid(msg("too many operands (", node->n_src, " src, ", node->n_dst, " dst)"));
    if (node->params_size > kMaxParamsBytes)
        return KernelStatus::invalid(msg("params_size ", node->params_size, " too large"));
    if (node->params_size && !node->params) return KernelStatus::invalid("params is NULL");
    for (uint32_t i = 0; i < node->n_src; ++i)
        if (node->src[i])
            if (auto st = check_tensor(node->src[i], "src" + std::to_string(i), bound); !st.ok()) return st;
    for (uint32_t i = 0; i < node->n_dst; ++i)
        if (node->dst[i])
            if (auto st = check_tensor(node->dst[i], "dst" + std::to_string(i), bound); !st.ok()) return st;
    return (*entry)->check(*node);
}

}  // namespace

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
        std::map<const ds4_tensor*, const ds4_tensor*> copied;  // original → plan-owned copy
        auto copy_tensor = [&](const ds4_tensor* t) -> const ds4_tensor* {
            if (!t) return nullptr;
            auto it = copied.find(t);
            if (it != copied.end()) return it->second;
            plan->tensors.push_back(*t);
            plan->tensors.back().struct_size = sizeof(ds4_tensor);
            return copied[t] = &plan->tensors.back();
        };
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
            plan->nodes.push_back(node);
            plan->ops.push_back(entry);
        }
        *out = plan.release();
        return nullptr;
    } catch (const std::bad_alloc&) {
        return make_status(DS4_ERR_OUT_OF_MEMORY, "plan_create: out of memory");
    } catch (const std::exception& e) {
        return make_status(DS4_ERR_INTERNAL, std::string("plan_create: ") + e.what());
    }
}

ds4_status* plan_submit(ds4_plan* plan) {
    if (!plan) return make_status(DS4_ERR_INVALID_ARGUMENT, "plan_submit: plan is NULL");
    if (ds4_status* st = fault_on(plan->dev, FaultSite::Submit, "plan_submit")) return st;
    KernelContext ctx{*plan->dev->pool};
    const bool dump = plan->dev->dump.begin_submit();
    for (size_t i = 0; i < plan->nodes.size(); ++i) {
        const ds4_node& node = plan->nodes[i];
        try {
            KernelStatus st = plan->ops[i]->run(node, ctx);
            if (!st.ok()) return make_status(st.code, node_prefix(static_cast<uint32_t>(i), node.op) + st.message);
            if (dump && node.n_dst > 0 && node.dst[0])
                plan->dev->dump.dump_node(static_cast<uint32_t>(i), op_name(node.op), node.dst[0],
                                          node.dst[0]->buffer->data + node.dst[0]->offset);
        } catch (const std::bad_alloc&) {
            return make_status(DS4_ERR_OUT_OF_MEMORY, node_prefix(static_cast<uint32_t>(i), node.op) + "out of memory");
        } catch (const std::exception& e) {
            return make_status(DS4_ERR_INTERNAL, node_prefix(static_cast<uint32_t>(i), node.op) + e.what());
        }
    }
    return nullptr;
}

void plan_destroy(ds4_plan* plan) { delete plan; }

}  // namespace ds4::cpuref
