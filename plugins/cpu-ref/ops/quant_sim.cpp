// QUANT_SIM: QAT simulations of MODEL.md §C.0 applied row by row (ds4::quant does the math).
#include <vector>

#include "common.h"
#include "ops.h"
#include "quant/quant.h"

namespace ds4::cpuref {

KernelStatus check_quant_sim(const ds4_node& node) {
    if (auto st = check_operands(node, 1, 1, 1); !st.ok()) return st;
    ds4_params_quant_sim p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_quant_sim");
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_same_shape(x, "src0", d, "dst"); !st.ok()) return st;
    switch (p.kind) {
    case DS4_SIM_FP8_KV:
        if (p.n_nope > x->ne[0])
            return KernelStatus::invalid(msg("n_nope ", p.n_nope, " > row length ", x->ne[0]));
        return {};
    case DS4_SIM_INDEXER_QAT:
        if (x->ne[0] % 128 != 0)
            return KernelStatus::invalid(msg("INDEXER_QAT needs rows of a multiple of 128, got ", x->ne[0]));
        return {};
    case DS4_SIM_F16_ROUND: return {};
    default: return KernelStatus::unsupported(msg("unknown quant_sim kind ", p.kind));
    }
}

KernelStatus run_quant_sim(const ds4_node& node, KernelContext& ctx) {
    ds4_params_quant_sim p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *d = node.dst[0];
    const int64_t n = x->ne[0];
    ctx.pool.parallel_for(n_rows(x), 4, [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1; ++r) {
            load_f32_row(x, r, row.data());
            switch (p.kind) {
            case DS4_SIM_FP8_KV: quant::fp8_kv_sim_row(row.data(), p.n_nope, 64); break;
            case DS4_SIM_INDEXER_QAT:
                // Each 128-wide chunk of the row is one indexer row.
                for (int64_t c = 0; c < n; c += 128) quant::indexer_qat_row(row.data() + c);
                break;
            default: quant::f16_round_trip_row(row.data(), n); break;
            }
            store_f32_row(d, r, row.data());
        }
    });
    return {};
}

}  // namespace ds4::cpuref
