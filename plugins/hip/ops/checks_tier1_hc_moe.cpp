// Host-side checks of HC_PRE, HC_POST, HC_HEAD, MOE_ROUTER and MOE_FFN: the rules of cpu-ref's
// fused kernels (plugins/cpu-ref/ops/hc.cpp, moe.cpp), so a graph valid for one backend is
// valid for the other, plus this backend's limits (grid sizes, shared term arrays), which
// answer UNSUPPORTED so that core decomposes the node instead. Also the plan scratch layout.
#include <algorithm>
#include <initializer_list>
#include <string>

#include "check_util.h"
#include "ops.h"
#include "rowdot.h"
#include "tier1_hc_moe.h"

namespace ds4::gpu {
using namespace check_util;
namespace {

// Grid dimensions y/z of the kernels below hold tokens and selections.
constexpr int64_t kMaxGridYZ = 65535;

// A weight matrix (or stack of `mats`) with rows of `in` elements, `out` rows, contiguous
// blocks within a row.
KernelStatus check_weight(const ds4_tensor* w, const char* what, int64_t in, int64_t out, int64_t mats = 1) {
    if (!is_weight_type(w->type))
        return KernelStatus::unsupported(msg(what, " type ", ds4_type_name(w->type), " is not a weight type"));
    if (w->ne[0] != in || w->ne[1] != out || w->ne[2] != mats || w->ne[3] != 1)
        return KernelStatus::invalid(msg(what, " shape ", shape_str(w), " should be [", in, ", ", out,
                                         mats != 1 ? ", " + std::to_string(mats) : std::string(), "]"));
    if (w->nb[0] != ds4_type_block_bytes(w->type))
        return KernelStatus::unsupported(msg(what, " rows must be contiguous (nb0 ", w->nb[0], ")"));
    const int64_t be = ds4_type_block_elems(w->type);
    if (be <= 0 || in % be != 0)
        return KernelStatus::invalid(msg(what, " ne0 ", in, " is not a multiple of the ", ds4_type_name(w->type), " block size ", be));
    return {};
}

KernelStatus check_grid(int64_t n, const char* what) {
    if (n > kMaxGridYZ) return KernelStatus::unsupported(msg(what, " ", n, " > ", kMaxGridYZ, " (this backend's limit)"));
    return {};
}

KernelStatus read_hc(const ds4_node& node, ds4_params_hc* p) {
    if (!read_params(node, p)) return KernelStatus::invalid("missing ds4_params_hc");
    if (p->n_hc == 0 || p->n_hc > 64) return KernelStatus::invalid(msg("n_hc ", p->n_hc, " out of range"));
    return {};
}

KernelStatus check_fn(const ds4_tensor* fn, int64_t rows, int64_t cols) {
    TRY(check_type(fn, "src1 fn", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}));
    return check_weight(fn, "src1 fn", cols, rows);
}

}  // namespace

// ---- hc.cu ----------------------------------------------------------------------------------

KernelStatus check_hc_pre(const ds4_node& node) {
    TRY(check_operands(node, 4, 4, 3));
    ds4_params_hc p;
    TRY(read_hc(node, &p));
    if (p.sinkhorn_iters == 0) return KernelStatus::invalid("sinkhorn_iters must be >= 1");
    const ds4_tensor* X = node.src[0];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    TRY(check_f32_shape(X, "src0 X", {d, H, n}));
    TRY(check_fn(node.src[1], H * (2 + H), H * d));
    TRY(check_f32_shape(node.src[2], "src2 scale", {3}));
    TRY(check_f32_shape(node.src[3], "src3 base", {2 * H + H * H}));
    TRY(check_f32_shape(node.dst[0], "dst0 x_in", {d, n}));
    TRY(check_f32_shape(node.dst[1], "dst1 post", {H, n}));
    TRY(check_f32_shape(node.dst[2], "dst2 comb", {H, H, n}));
    return check_grid(n, "tokens");
}

KernelStatus check_hc_post(const ds4_node& node) {
    TRY(check_operands(node, 4, 4, 1));
    ds4_params_hc p;
    TRY(read_hc(node, &p));
    const ds4_tensor* y = node.src[0];
    const int64_t H = p.n_hc, d = y->ne[0], n = y->ne[1];
    TRY(check_f32_shape(y, "src0 y", {d, n}));
    TRY(check_f32_shape(node.src[1], "src1 X", {d, H, n}));
    TRY(check_f32_shape(node.src[2], "src2 post", {H, n}));
    TRY(check_f32_shape(node.src[3], "src3 comb", {H, H, n}));
    TRY(check_f32_shape(node.dst[0], "dst0 X_new", {d, H, n}));
    if (node.dst[0]->buffer == node.src[1]->buffer && node.dst[0]->offset == node.src[1]->offset)
        return KernelStatus::invalid("dst0 X_new must not alias src1 X");
    return {};
}

KernelStatus check_hc_head(const ds4_node& node) {
    TRY(check_operands(node, 4, 4, 1));
    ds4_params_hc p;
    TRY(read_hc(node, &p));
    const ds4_tensor* X = node.src[0];
    const int64_t H = p.n_hc, d = X->ne[0], n = X->ne[2];
    TRY(check_f32_shape(X, "src0 X", {d, H, n}));
    TRY(check_fn(node.src[1], H, H * d));
    TRY(check_f32_shape(node.src[2], "src2 scale", {1}));
    TRY(check_f32_shape(node.src[3], "src3 base", {H}));
    TRY(check_f32_shape(node.dst[0], "dst0 h", {d, n}));
    return check_grid(n, "tokens");
}

// ---- moe.cu ---------------------------------------------------------------------------------

KernelStatus check_moe_router(const ds4_node& node) {
    if (node.n_src != 5) return KernelStatus::invalid(msg("expects 5 sources, got ", node.n_src));
    if (!node.src[0] || !node.src[1] || !node.src[4])
        return KernelStatus::invalid("src0 z, src1 w_gate and src4 token ids are required");
    if (node.n_dst != 2 || !node.dst[0] || !node.dst[1]) return KernelStatus::invalid("expects 2 destinations");
    ds4_params_router p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_router");
    const ds4_tensor *z = node.src[0], *wg = node.src[1];
    const int64_t d = z->ne[0], n = z->ne[1], E = wg->ne[1], k = p.k;
    if (k == 0 || k > E) return KernelStatus::invalid(msg("k ", k, " must be in [1, E = ", E, "]"));
    TRY(check_f32_shape(z, "src0 z", {d, n}));
    TRY(check_type(wg, "src1 w_gate", {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16}));
    TRY(check_weight(wg, "src1 w_gate", d, E));
    if (node.src[2]) TRY(check_f32_shape(node.src[2], "src2 bias", {E}));
    if (const ds4_tensor* h = node.src[3]) {
        if (h->type != DS4_TYPE_I32 || h->ne[0] != k || h->ne[2] != 1 || h->ne[3] != 1)
            return KernelStatus::invalid(msg("src3 tid2eid must be i32 [vocab, ", k, "], got ", shape_str(h)));
    }
    const ds4_tensor* tok = node.src[4];
    if (tok->type != DS4_TYPE_I32 || tok->ne[0] != n || n_elems(tok) != n)
        return KernelStatus::invalid(msg("src4 token ids must be i32 [", n, "], got ", shape_str(tok)));
    const ds4_tensor *ids = node.dst[0], *w = node.dst[1];
    if (ids->type != DS4_TYPE_I32 || ids->ne[0] != k || ids->ne[1] != n || ids->ne[2] != 1 || ids->ne[3] != 1)
        return KernelStatus::invalid(msg("dst0 ids must be i32 [", k, ", ", n, "], got ", shape_str(ids)));
    TRY(check_f32_shape(w, "dst1 weights", {k, n}));
    return check_grid(n, "tokens");
}

KernelStatus check_moe_ffn(const ds4_node& node) {
    TRY(check_operands(node, 6, 6, 1));
    ds4_params_moe_ffn p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_moe_ffn");
    const ds4_tensor *z = node.src[0], *gate = node.src[1], *up = node.src[2], *down = node.src[3], *ids = node.src[4];
    const int64_t d = z->ne[0], n = z->ne[1], F = gate->ne[1], E = gate->ne[2], k = ids->ne[0];
    TRY(check_f32_shape(z, "src0 z", {d, n}));
    TRY(check_weight(gate, "src1 gate", d, F, E));
    TRY(check_weight(up, "src2 up", d, F, E));
    TRY(check_weight(down, "src3 down", F, d, E));
    if (ids->type != DS4_TYPE_I32 || ids->ne[1] != n || ids->ne[2] != 1 || ids->ne[3] != 1)
        return KernelStatus::invalid(msg("src4 ids must be i32 [k, ", n, "], got ", shape_str(ids)));
    TRY(check_f32_shape(node.src[5], "src5 weights", {k, n}));
    if (!(p.clamp > 0.0f)) return KernelStatus::invalid("clamp must be > 0");
    TRY(check_f32_shape(node.dst[0], "dst0 out", {d, n}));
    TRY(check_grid(n, "tokens"));
    return check_grid(k, "selections per token");
}

// ---- scratch --------------------------------------------------------------------------------

HcScratch hc_scratch(const ds4_node& node) {
    ds4_params_hc p;
    read_params(node, &p);
    HcScratch s;
    const int64_t H = p.n_hc, n = node.src[0]->ne[2];
    const int64_t n_mix = node.op == DS4_OP_HC_PRE ? H * (2 + H) : H;
    const int64_t N = H * node.src[0]->ne[0];
    s.mix = 0;
    s.xr = scratch_align(static_cast<uint64_t>(n * n_mix) * sizeof(float));
    s.total = s.xr + scratch_align(static_cast<uint64_t>(n * N) * sizeof(float));
    return s;
}

RouterScratch router_scratch(const ds4_node& node) {
    const int64_t d = node.src[0]->ne[0], n = node.src[0]->ne[1], E = node.src[1]->ne[1];
    RouterScratch s;
    s.z = 0;
    s.p = scratch_align(rowdot_act_bytes(node.src[1]->type, DS4_ACT_F32, n, d));
    s.total = s.p + scratch_align(static_cast<uint64_t>(n * E) * sizeof(float));
    return s;
}

MoeScratch moe_scratch(const ds4_node& node) {
    ds4_params_moe_ffn p;
    read_params(node, &p);
    const ds4_tensor *gate = node.src[1], *up = node.src[2], *down = node.src[3];
    const int64_t d = node.src[0]->ne[0], n = node.src[0]->ne[1], F = gate->ne[1], E = gate->ne[2];
    const int64_t k = node.src[4]->ne[0], nk = n * k;
    MoeScratch s;
    uint64_t mm = expert_matmul_scratch_bytes(gate->type, p.act_quant, n, d, E, nk);
    mm = std::max(mm, expert_matmul_scratch_bytes(up->type, p.act_quant, n, d, E, nk));
    mm = std::max(mm, expert_matmul_scratch_bytes(down->type, p.act_quant, nk, F, E, nk));
    s.mm = 0;
    s.g = scratch_align(mm);
    s.u = s.g + scratch_align(static_cast<uint64_t>(nk * F) * sizeof(float));
    s.y = s.u + scratch_align(static_cast<uint64_t>(nk * F) * sizeof(float));
    s.total = s.y + scratch_align(static_cast<uint64_t>(nk * d) * sizeof(float));
    return s;
}

uint64_t tier1_hc_moe_scratch_bytes(const ds4_node& node) {
    switch (node.op) {
    case DS4_OP_HC_PRE: case DS4_OP_HC_HEAD: return hc_scratch(node).total;
    case DS4_OP_MOE_ROUTER: return router_scratch(node).total;
    case DS4_OP_MOE_FFN: return moe_scratch(node).total;
    default: return 0;
    }
}

}  // namespace ds4::gpu
