// ds4::decompose — Tier-1 fused DS4 ops rewritten as Tier-0 graphs (api/ds4/ops.def).
//
// Every Tier-1 op (HC_PRE, HC_POST, HC_HEAD, COMPRESSOR, INDEXER_TOPK, ATTENTION, MOE_ROUTER,
// MOE_FFN) has a decomposition: a sequence of Tier-0 nodes appended to a host::Graph that
// computes the same outputs as the fused op (backend.h documents the semantics). A backend
// that does not claim a Tier-1 op still runs the model: core lowers the node with
// lower_unclaimed() before plan_create.
//
// Decomposed graphs are built PER STEP. Some Tier-1 ops have data-dependent structure (the
// compressor emits a row only when (p+1) % ratio == 0; raw-window and compressed-row
// visibility depend on positions; hash routing reads the token id), so a decomposition reads
// the host-side values of the node's small I32 inputs (positions, token ids) through
// StepValues::read_i32 at build time and bakes them into the graph (as views, constant index
// tensors and constant masks). Such a graph is valid only for those values: rebuild it when
// positions or token ids change. Tensors produced on the device (the indexer's selection, the
// router's ids) are never read at build time.
//
// Constants: decompositions create small constant tensors in the graph's scratch arena
// (Graph::constant). After Graph::bind_scratch the caller must upload them
// (Graph::upload_constants) before submitting the plan.
//
// Differences from the fused ops are float reduction order/fusion only (documented per op in
// docs/numerics.md, "Fused ops and their decompositions"); expect <= 1e-5 relative. Input
// restrictions of the decompositions (beyond the fused contract):
//   * ATTENTION with `selected`: the entries must be distinct and visible (c < n_c of their
//     token) or -1 (what INDEXER_TOPK produces); the fused op ignores invisible entries.
//   * MOE_ROUTER hash mode: each tid2eid row holds distinct expert ids (no -1).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "ds4/backend.h"
#include "host/graph.h"

namespace ds4::host {
class Device;
}

namespace ds4::decompose {

// Build-time access to host-side input values.
struct StepValues {
    // Values of a small I32 tensor (positions, token ids), ne0*ne1*ne2*ne3 entries in
    // row-major element order, exactly as they will be in the buffer when the plan is
    // submitted. Throw ds4::Error when unknown.
    std::function<std::vector<int32_t>(const ds4_tensor& t)> read_i32;
};

// True for the ops decompose_node handles (all Tier-1 ops of ops.def).
bool has_decomposition(uint32_t op);

// Appends to `graph` the Tier-0 nodes computing `node` (a Tier-1 node; its tensors may live
// in `graph` or elsewhere and must outlive the graph). Validates what it needs (operand
// counts, shapes, params) and throws ds4::Error naming the op and the problem.
void decompose_node(host::Graph& graph, const ds4_node& node, const StepValues& values);

// Rewrites `graph` in place: every Tier-1 node for which claims(node) is false is replaced
// by its decomposition (same position in the node order); other nodes are kept as they are.
// Returns the number of nodes lowered. Scratch grows: bind_scratch afterwards.
size_t lower_unclaimed(host::Graph& graph, const std::function<bool(const ds4_node&)>& claims,
                       const StepValues& values);

// Same with claims(node) = device.node_supported(node).
size_t lower_for_device(host::Graph& graph, const host::Device& device, const StepValues& values);

}  // namespace ds4::decompose
