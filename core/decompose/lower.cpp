// decompose_node dispatch and the lower_unclaimed graph pass.
#include "decompose/internal.h"
#include "host/device.h"
#include "host/plugin_loader.h"

namespace ds4::decompose {

namespace detail {

std::vector<int32_t> read_i32(const StepValues& values, const ds4_tensor* t, uint32_t op, const char* what) {
    require(t->type == DS4_TYPE_I32, op, std::string(what) + " must be i32");
    require(static_cast<bool>(values.read_i32), op, std::string("needs the host values of ") + what +
                                                        " (StepValues::read_i32 is not set)");
    std::vector<int32_t> v = values.read_i32(*t);
    const int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    require(static_cast<int64_t>(v.size()) == n, op,
            std::string(what) + ": read_i32 returned " + std::to_string(v.size()) + " values, expected " + std::to_string(n));
    return v;
}

}  // namespace detail

bool has_decomposition(uint32_t op) {
    switch (op) {
    case DS4_OP_HC_PRE: case DS4_OP_HC_POST: case DS4_OP_HC_HEAD: case DS4_OP_COMPRESSOR:
    case DS4_OP_INDEXER_TOPK: case DS4_OP_ATTENTION: case DS4_OP_MOE_ROUTER: case DS4_OP_MOE_FFN:
        return true;
    default:
        return false;
    }
}

void decompose_node(host::Graph& graph, const ds4_node& node, const StepValues& values) {
    using namespace detail;
    switch (node.op) {
    case DS4_OP_HC_PRE: decompose_hc_pre(graph, node); return;
    case DS4_OP_HC_POST: decompose_hc_post(graph, node); return;
    case DS4_OP_HC_HEAD: decompose_hc_head(graph, node); return;
    case DS4_OP_COMPRESSOR: decompose_compressor(graph, node, values); return;
    case DS4_OP_INDEXER_TOPK: decompose_indexer_topk(graph, node, values); return;
    case DS4_OP_ATTENTION: decompose_attention(graph, node, values); return;
    case DS4_OP_MOE_ROUTER: decompose_moe_router(graph, node, values); return;
    case DS4_OP_MOE_FFN: decompose_moe_ffn(graph, node); return;
    default: fail(node.op, "no decomposition for this op");
    }
}

size_t lower_unclaimed(host::Graph& graph, const std::function<bool(const ds4_node&)>& claims,
                       const StepValues& values) {
    // The old nodes' params point into the graph's params storage, which outlives take_nodes.
    std::vector<ds4_node> old = graph.take_nodes();
    size_t lowered = 0;
    try {
        for (const ds4_node& node : old) {
            if (has_decomposition(node.op) && !claims(node)) {
                decompose_node(graph, node, values);
                ++lowered;
            } else {
                graph.add_node(node);
            }
        }
    } catch (...) {
        // Leave the graph as it was (nodes appended so far are dropped; scratch may have grown).
        graph.take_nodes();
        for (const ds4_node& node : old) graph.add_node(node);
        throw;
    }
    return lowered;
}

size_t lower_for_device(host::Graph& graph, const host::Device& device, const StepValues& values) {
    return lower_unclaimed(graph, [&](const ds4_node& n) { return device.node_supported(n); }, values);
}

}  // namespace ds4::decompose
