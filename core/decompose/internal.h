// Per-op decomposition entry points of core/decompose (see decompose.h for the contract).
#pragma once
#include "decompose/builder.h"
#include "decompose/decompose.h"

namespace ds4::decompose::detail {

void decompose_hc_pre(Graph& g, const ds4_node& node);
void decompose_hc_post(Graph& g, const ds4_node& node);
void decompose_hc_head(Graph& g, const ds4_node& node);
void decompose_compressor(Graph& g, const ds4_node& node, const StepValues& values);
void decompose_indexer_topk(Graph& g, const ds4_node& node, const StepValues& values);
void decompose_attention(Graph& g, const ds4_node& node, const StepValues& values);
void decompose_moe_router(Graph& g, const ds4_node& node, const StepValues& values);
void decompose_moe_ffn(Graph& g, const ds4_node& node);

// Host values of an I32 input through values.read_i32, checked to have n_elems entries.
std::vector<int32_t> read_i32(const StepValues& values, const ds4_tensor* t, uint32_t op, const char* what);

}  // namespace ds4::decompose::detail
