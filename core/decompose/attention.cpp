// Decomposition of ATTENTION (MODEL.md §C.3.7), in groups of kGroup tokens to bound the
// scratch: per group the union of the raw windows is gathered from the ring (GET_ROWS with
// host-known ring rows), scores = MATMUL_F32(q, K) for the raw part and the compressed part
// (all visible rows, or the token's `selected` rows gathered per token), a mask (host-known
// for raw rows and unselected compressed rows; derived from `selected` on the device for -1
// padding) and the sinks go into one SOFTMAX, and o = P_raw·V_raw + P_comp·V_comp.
// Differences from the fused op: the two partial sums are added at the end (the fused op
// sums all rows in one accumulator), and P = e/den is formed before the weighted sum.
#include <algorithm>
#include <limits>

#include "decompose/internal.h"

namespace ds4::decompose::detail {
namespace {
constexpr int64_t kGroup = 16;
}

void decompose_attention(Graph& g, const ds4_node& node, const StepValues& values) {
    Builder b(g);
    const auto p = read_params<ds4_params_attention>(node);
    const uint32_t op = node.op;
    const T *q = src(node, 0), *raw = src(node, 1), *sinks = src(node, 4), *pos_t = src(node, 5);
    const T *comp = opt_src(node, 2), *sel = opt_src(node, 3), *out = dst(node, 0);
    const int64_t hd = q->ne[0], H = q->ne[1], n = q->ne[2];
    require(p.window > 0 && raw->ne[1] == p.raw_cap, op, "window must be > 0 and raw rows == raw_cap");
    require(static_cast<int64_t>(p.raw_cap) >= static_cast<int64_t>(p.window) + n - 1, op, "raw_cap < window + n - 1");
    const bool use_comp = comp != nullptr && p.ratio > 0;
    const std::vector<int32_t> pos = read_i32(values, pos_t, op, "positions");
    const float neg_inf = -std::numeric_limits<float>::infinity();
    const T* ones = nullptr;  // [cap][1] of 1.0: GET_ROWS turns `selected` into 1 (row) / 0 (-1)

    for (int64_t t0 = 0; t0 < n; t0 += kGroup) {
        const int64_t gn = std::min(kGroup, n - t0);
        int64_t pmin = pos[t0], pmax = pos[t0];
        for (int64_t t = t0; t < t0 + gn; ++t) {
            require(pos[t] >= 0, op, "negative position");
            pmin = std::min<int64_t>(pmin, pos[t]);
            pmax = std::max<int64_t>(pmax, pos[t]);
        }
        const int64_t lo = std::max<int64_t>(0, pmin - p.window + 1), n_raw = pmax - lo + 1;
        require(n_raw <= p.raw_cap, op, "group positions span more than the raw ring");
        std::vector<int32_t> ring(n_raw);
        for (int64_t j = 0; j < n_raw; ++j) ring[j] = static_cast<int32_t>((lo + j) % p.raw_cap);
        const T* Kraw = b.get_rows(raw, b.const_i32({n_raw}, ring));  // {hd, n_raw}
        const T* qg = b.view(q, {hd, H, gn}, {q->nb[0], q->nb[1], q->nb[2]}, static_cast<uint64_t>(t0 * q->nb[2]));
        T* Sraw = b.matmul_f32(qg, Kraw);  // {n_raw, H, gn}
        std::vector<float> mraw(gn * n_raw);
        for (int64_t t = 0; t < gn; ++t)
            for (int64_t j = 0; j < n_raw; ++j) {
                const int64_t pp = lo + j, pt = pos[t0 + t];
                mraw[t * n_raw + j] = (pp <= pt && pp > pt - static_cast<int64_t>(p.window)) ? 0.0f : neg_inf;
            }
        const T* Mraw = b.const_f32({n_raw, 1, gn}, mraw);

        // Compressed part.
        int64_t n_comp = 0;
        const T *Sc = nullptr, *Mc = nullptr, *Vc = nullptr;  // Vc: V_compᵀ view for P·V
        if (use_comp) {
            std::vector<int64_t> n_c(gn);
            int64_t ncmax = 0;
            for (int64_t t = 0; t < gn; ++t) {
                n_c[t] = (pos[t0 + t] + 1) / p.ratio;
                require(n_c[t] <= comp->ne[1], op, "position sees more compressed rows than the capacity");
                ncmax = std::max(ncmax, n_c[t]);
            }
            if (!sel && ncmax > 0) {
                n_comp = ncmax;
                const T* Kc = b.view(comp, {hd, ncmax}, {comp->nb[0], comp->nb[1]});
                Sc = b.matmul_f32(qg, Kc);
                std::vector<float> mc(gn * ncmax);
                for (int64_t t = 0; t < gn; ++t)
                    for (int64_t c = 0; c < ncmax; ++c) mc[t * ncmax + c] = c < n_c[t] ? 0.0f : neg_inf;
                Mc = b.const_f32({ncmax, 1, gn}, mc);
                Vc = b.view(Kc, {ncmax, hd, 1}, {comp->nb[1], comp->nb[0], comp->nb[1] * ncmax});
            } else if (sel) {
                const int64_t k = sel->ne[0];
                n_comp = k;
                const T* selg = b.view(sel, {k, gn}, {sel->nb[0], sel->nb[1]}, static_cast<uint64_t>(t0 * sel->nb[1]));
                T* Ksel = b.get_rows(comp, selg);  // {hd, k, gn}
                Sc = b.matmul_f32(qg, Ksel);       // {k, H, gn}
                if (!ones) ones = b.const_f32({1, comp->ne[1]}, std::vector<float>(comp->ne[1], 1.0f));
                T* valid = b.get_rows(ones, selg);  // {1, k, gn}: 1 listed, 0 for -1
                T* m = b.scale(b.unary(b.unary(valid, DS4_UNARY_RECIP), DS4_UNARY_NEG), 1.0f, 1.0f);  // 0 / -inf
                Mc = b.g.reshape(m, {k, 1, gn});
                Vc = b.view(Ksel, {k, hd, gn}, {4 * hd, 4, 4 * hd * k});
            }
        }

        const int64_t nk = n_raw + n_comp;
        const T *S = Sraw, *M = Mraw;
        if (n_comp) {
            T* Sall = b.f32({nk, H, gn});
            T* Mall = b.f32({nk, 1, gn});
            b.copy(Sraw, b.view(Sall, {n_raw, H, gn}, {4, 4 * nk, 4 * nk * H}));
            b.copy(Sc, b.view(Sall, {n_comp, H, gn}, {4, 4 * nk, 4 * nk * H}, static_cast<uint64_t>(4 * n_raw)));
            b.copy(Mraw, b.view(Mall, {n_raw, 1, gn}, {4, 4 * nk, 4 * nk}));
            b.copy(Mc, b.view(Mall, {n_comp, 1, gn}, {4, 4 * nk, 4 * nk}, static_cast<uint64_t>(4 * n_raw)));
            S = Sall;
            M = Mall;
        }
        T* P = b.softmax(S, M, sinks, p.scale);
        const T* og = b.view(out, {hd, H, gn}, {out->nb[0], out->nb[1], out->nb[2]}, static_cast<uint64_t>(t0 * out->nb[2]));
        const T* Praw = b.view(P, {n_raw, H, gn}, {4, 4 * nk, 4 * nk * H});
        const T* VrawT = b.view(Kraw, {n_raw, hd, 1}, {4 * hd, 4, 4 * hd * n_raw});
        if (!n_comp) {
            b.matmul_f32_into(Praw, VrawT, og);
            continue;
        }
        T* o_raw = b.matmul_f32(Praw, VrawT);
        const T* Pc = b.view(P, {n_comp, H, gn}, {4, 4 * nk, 4 * nk * H}, static_cast<uint64_t>(4 * n_raw));
        T* o_c = b.matmul_f32(Pc, Vc);
        b.binary_into(DS4_OP_ADD, o_raw, o_c, og);
    }
}

}  // namespace ds4::decompose::detail
