// Host-side checks of COMPRESSOR, INDEXER_TOPK and ATTENTION: cpu-ref's rules and messages
// (plugins/cpu-ref/ops/{compressor,indexer,attention}.cpp), so a node valid for one backend is
// valid for the other, plus this plugin's limits (tier1_attention.h), reported as UNSUPPORTED
// so core lowers such a node to Tier-0 ops instead. No side effects.
#include <initializer_list>
#include <string>

#include "../kernel.h"
#include "check_util.h"
#include "ops.h"
#include "rope_freq.h"
#include "tier1_attention.h"

namespace ds4::gpu {
using namespace check_util;
namespace {

constexpr uint32_t kNoSim = UINT32_MAX;

KernelStatus check_rope_params(const ds4_rope_params& r, int64_t hd, const char* what) {
    if (r.n_rot == 0 || r.n_rot % 2 != 0 || r.n_rot > hd)
        return KernelStatus::invalid(msg(what, ": rope n_rot ", r.n_rot, " must be even and in [2, ", hd, "]"));
    if (!(r.freq_base > 0.0f)) return KernelStatus::invalid(msg(what, ": rope freq_base must be > 0"));
    if (r.yarn_factor > 1.0f && r.yarn_orig_ctx == 0)
        return KernelStatus::invalid(msg(what, ": rope yarn_orig_ctx must be > 0 with yarn"));
    if (r.n_rot > kMaxRot) return KernelStatus::unsupported(msg(what, ": rope n_rot ", r.n_rot, " > ", kMaxRot));
    return {};
}

KernelStatus check_weight(const ds4_tensor* w, const char* what, int64_t in, int64_t out) {
    if (!is_weight_type(w->type))
        return KernelStatus::unsupported(msg(what, " type ", ds4_type_name(w->type), " is not a weight type"));
    if (w->ne[0] != in || w->ne[1] != out || w->ne[2] != 1 || w->ne[3] != 1)
        return KernelStatus::invalid(msg(what, " shape ", shape_str(w), " should be [", in, ", ", out, "]"));
    if (auto s = check_rows_contiguous(w, what); !s.ok()) return s;
    return check_whole_blocks(w, what);
}

KernelStatus check_positions(const ds4_tensor* pos, int64_t n) {
    if (auto s = check_type(pos, "src5 positions", {DS4_TYPE_I32}); !s.ok()) return s;
    if (pos->ne[0] != n || n_elems(pos) != n)
        return KernelStatus::invalid(msg("src5 positions shape ", shape_str(pos), " should be [", n, "]"));
    return {};
}

}  // namespace

KernelStatus check_compressor(const ds4_node& node) {
    TRY(check_operands(node, 6, 6, 3));
    ds4_params_compressor p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_compressor");
    if (p.ratio < 1) return KernelStatus::invalid("ratio must be >= 1");
    if (p.head_dim == 0) return KernelStatus::invalid("head_dim must be > 0");
    if (p.row_sim != kNoSim && p.row_sim != DS4_SIM_FP8_KV && p.row_sim != DS4_SIM_INDEXER_QAT)
        return KernelStatus::invalid(msg("row_sim ", p.row_sim, " not supported (FP8_KV, INDEXER_QAT or none)"));
    if (p.row_sim == DS4_SIM_INDEXER_QAT && p.head_dim != 128)
        return KernelStatus::invalid(msg("INDEXER_QAT needs head_dim 128, got ", p.head_dim));
    if (p.row_sim == DS4_SIM_FP8_KV && p.n_nope > p.head_dim)
        return KernelStatus::invalid(msg("n_nope ", p.n_nope, " > head_dim ", p.head_dim));
    TRY(check_rope_params(p.rope, p.head_dim, "compressor"));
    const int64_t n = node.src[0]->ne[1], d = node.src[0]->ne[0], D = p.head_dim, ratio = p.ratio;
    const int64_t coff = ratio == 4 ? 2 : 1, W = coff * D, cap = node.dst[2]->ne[1];
    TRY(check_f32_shape(node.src[0], "src0 a", {d, n}));
    TRY(check_weight(node.src[1], "src1 wkv", d, W));
    TRY(check_weight(node.src[2], "src2 wgate", d, W));
    TRY(check_type(node.src[3], "src3 ape", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}));
    const ds4_tensor* ape = node.src[3];
    if (ape->ne[0] != W || ape->ne[1] != ratio || ape->ne[2] != 1 || ape->ne[3] != 1)
        return KernelStatus::invalid(msg("src3 ape shape ", shape_str(ape), " should be [", W, ", ", ratio, "]"));
    TRY(check_f32_shape(node.src[4], "src4 norm", {D}));
    TRY(check_positions(node.src[5], n));
    TRY(check_f32_shape(node.dst[0], "dst0 state_kv", {W, coff * ratio}));
    TRY(check_f32_shape(node.dst[1], "dst1 state_score", {W, coff * ratio}));
    TRY(check_f32_shape(node.dst[2], "dst2 rows", {D, cap}));
    if (D > kCompMaxHeadDim) return KernelStatus::unsupported(msg("head_dim ", D, " > ", kCompMaxHeadDim));
    if (n > kMaxTokens) return KernelStatus::unsupported(msg(n, " tokens > ", kMaxTokens));
    return {};
}

KernelStatus check_indexer_topk(const ds4_node& node) {
    TRY(check_operands(node, 6, 6, 1));
    ds4_params_indexer p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_indexer");
    if (p.n_heads == 0 || p.head_dim == 0 || p.top_k == 0 || p.ratio == 0)
        return KernelStatus::invalid("n_heads, head_dim, top_k and ratio must be > 0");
    if (p.qat && p.head_dim != 128) return KernelStatus::invalid(msg("qat needs head_dim 128, got ", p.head_dim));
    TRY(check_rope_params(p.rope, p.head_dim, "indexer"));
    const ds4_tensor *qr = node.src[0], *a = node.src[1];
    const int64_t n = qr->ne[1], q_rank = qr->ne[0], d = a->ne[0], H = p.n_heads, hd = p.head_dim;
    TRY(check_f32_shape(qr, "src0 qr_n", {q_rank, n}));
    TRY(check_f32_shape(a, "src1 a", {d, n}));
    TRY(check_weight(node.src[2], "src2 wq_b", q_rank, H * hd));
    TRY(check_weight(node.src[3], "src3 wproj", d, H));
    TRY(check_f32_shape(node.src[4], "src4 index_rows", {hd, node.src[4]->ne[1]}));
    TRY(check_positions(node.src[5], n));
    const ds4_tensor* dst = node.dst[0];
    if (dst->type != DS4_TYPE_I32 || dst->ne[0] != p.top_k || dst->ne[1] != n || dst->ne[2] != 1 || dst->ne[3] != 1)
        return KernelStatus::invalid(msg("dst0 selected must be i32 [", p.top_k, ", ", n, "], got ", shape_str(dst)));
    if (hd > kIdxMaxHeadDim) return KernelStatus::unsupported(msg("head_dim ", hd, " > ", kIdxMaxHeadDim));
    if (H > kIdxMaxHeads) return KernelStatus::unsupported(msg("n_heads ", H, " > ", kIdxMaxHeads));
    if (n > kMaxTokens) return KernelStatus::unsupported(msg(n, " tokens > ", kMaxTokens));
    return {};
}

KernelStatus check_attention(const ds4_node& node) {
    if (node.n_src != 6) return KernelStatus::invalid(msg("expects 6 sources, got ", node.n_src));
    if (!node.src[0] || !node.src[1] || !node.src[4] || !node.src[5])
        return KernelStatus::invalid("src0 q, src1 raw, src4 sinks and src5 positions are required");
    if (node.n_dst != 1 || !node.dst[0]) return KernelStatus::invalid("expects 1 destination");
    ds4_params_attention p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_attention");
    const ds4_tensor *q = node.src[0], *raw = node.src[1];
    const int64_t hd = q->ne[0], H = q->ne[1], n = q->ne[2];
    TRY(check_f32_shape(q, "src0 q", {hd, H, n}));
    TRY(check_f32_shape(raw, "src1 raw", {hd, raw->ne[1]}));
    TRY(check_rows_contiguous(raw, "src1 raw"));
    if (p.window == 0) return KernelStatus::invalid("window must be > 0");
    if (raw->ne[1] != p.raw_cap)
        return KernelStatus::invalid(msg("src1 raw has ", raw->ne[1], " rows, params.raw_cap ", p.raw_cap));
    if (static_cast<int64_t>(p.raw_cap) < static_cast<int64_t>(p.window) + n - 1)
        return KernelStatus::invalid(msg("raw_cap ", p.raw_cap, " < window + n - 1 = ", p.window + n - 1));
    if (const ds4_tensor* comp = node.src[2]) {
        TRY(check_f32_shape(comp, "src2 compressed", {hd, comp->ne[1]}));
        TRY(check_rows_contiguous(comp, "src2 compressed"));
    }
    if (const ds4_tensor* sel = node.src[3]) {
        if (!node.src[2]) return KernelStatus::invalid("src3 selected given without src2 compressed rows");
        if (sel->type != DS4_TYPE_I32 || sel->ne[1] != n || sel->ne[2] != 1 || sel->ne[3] != 1)
            return KernelStatus::invalid(msg("src3 selected must be i32 [k, ", n, "], got ", shape_str(sel)));
        if (sel->ne[0] > kAttnMaxSelected)
            return KernelStatus::unsupported(msg("src3 selected has ", sel->ne[0], " entries per token > ", kAttnMaxSelected));
    }
    TRY(check_f32_shape(node.src[4], "src4 sinks", {H}));
    TRY(check_positions(node.src[5], n));
    TRY(check_f32_shape(node.dst[0], "dst0 o", {hd, H, n}));
    if (hd > kAttnMaxHeadDim) return KernelStatus::unsupported(msg("head_dim ", hd, " > ", kAttnMaxHeadDim));
    if (n * H > (int64_t(1) << 30)) return KernelStatus::unsupported("too many tokens × heads");
    return {};
}

uint64_t tier1_attention_scratch_bytes(const ds4_node& node) {
    switch (node.op) {
    case DS4_OP_COMPRESSOR: return compressor_scratch_bytes(node);
    case DS4_OP_INDEXER_TOPK: return indexer_topk_scratch_bytes(node);
    case DS4_OP_ATTENTION: return attention_scratch_bytes(node);
    default: return 0;
    }
}

}  // namespace ds4::gpu
