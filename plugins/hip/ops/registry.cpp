#include "registry.h"

#include <cctype>
#include <string>

#include "ops.h"

namespace ds4::gpu {
namespace {

// Every Tier-0 op plus the Tier-1 fused ops implemented so far (core decomposes the others).
const OpEntry kOps[] = {
    {DS4_OP_COPY, "copy", check_copy, run_copy},
    {DS4_OP_GET_ROWS, "get_rows", check_get_rows, run_get_rows},
    {DS4_OP_SET_ROWS, "set_rows", check_set_rows, run_set_rows},
    {DS4_OP_MATMUL, "matmul", check_matmul, run_matmul},
    {DS4_OP_MATMUL_ID, "matmul_id", check_matmul_id, run_matmul_id},
    {DS4_OP_MATMUL_F32, "matmul_f32", check_matmul_f32, run_matmul_f32},
    {DS4_OP_ADD, "add", check_add, run_add},
    {DS4_OP_MUL, "mul", check_mul, run_mul},
    {DS4_OP_DIV, "div", check_div, run_div},
    {DS4_OP_SCALE, "scale", check_scale, run_scale},
    {DS4_OP_UNARY, "unary", check_unary, run_unary},
    {DS4_OP_CLAMP, "clamp", check_clamp, run_clamp},
    {DS4_OP_RMS_NORM, "rms_norm", check_rms_norm, run_rms_norm},
    {DS4_OP_SUM_ROWS, "sum_rows", check_sum_rows, run_sum_rows},
    {DS4_OP_SOFTMAX, "softmax", check_softmax, run_softmax},
    {DS4_OP_TOPK, "topk", check_topk, run_topk},
    {DS4_OP_GATHER_COLS, "gather_cols", check_gather_cols, run_gather_cols},
    {DS4_OP_ROPE_TAIL, "rope_tail", check_rope_tail, run_rope_tail},
    {DS4_OP_QUANT_SIM, "quant_sim", check_quant_sim, run_quant_sim},
    {DS4_OP_HC_PRE, "hc_pre", check_hc_pre, run_hc_pre},
    {DS4_OP_HC_POST, "hc_post", check_hc_post, run_hc_post},
    {DS4_OP_HC_HEAD, "hc_head", check_hc_head, run_hc_head},
    {DS4_OP_MOE_ROUTER, "moe_router", check_moe_router, run_moe_router},
    {DS4_OP_MOE_FFN, "moe_ffn", check_moe_ffn, run_moe_ffn},
    {DS4_OP_COMPRESSOR, "compressor", check_compressor, run_compressor},
    {DS4_OP_INDEXER_TOPK, "indexer_topk", check_indexer_topk, run_indexer_topk},
    {DS4_OP_ATTENTION, "attention", check_attention, run_attention},
};
constexpr uint32_t kNumOps = sizeof(kOps) / sizeof(kOps[0]);

struct ClaimedIds {
    uint32_t ids[kNumOps];
    ClaimedIds() {
        for (uint32_t i = 0; i < kNumOps; ++i) ids[i] = kOps[i].op;
    }
};

}  // namespace

const OpEntry* find_op(uint32_t op) {
    for (const auto& e : kOps)
        if (e.op == op) return &e;
    return nullptr;
}

const uint32_t* claimed_ops(uint32_t* count) {
    static const ClaimedIds claimed;
    *count = kNumOps;
    return claimed.ids;
}

const char* op_name(uint32_t op) {
    struct Names {
        std::string by_id[DS4_OP_ID_LIMIT];
        Names() {
#define DS4_OP(ID, NAME, TIER, PARAMS) by_id[ID] = lower(#NAME);
#include "ds4/ops.def"
#undef DS4_OP
        }
        static std::string lower(const char* s) {
            std::string r = s;
            for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return r;
        }
    };
    static const Names names;
    if (op < DS4_OP_ID_LIMIT && !names.by_id[op].empty()) return names.by_id[op].c_str();
    return "unknown op";
}

}  // namespace ds4::gpu
