// IQ2_XXS weight quantizer (format: MODEL.md §E.4).
//
// Each 8-weight sub-group is coded as |w| ≈ db·grid[k] (grid bytes 8/25/43, 256 entries)
// with 7 explicit sign bits; the 8th sign is implied by even parity. So per sub-group:
//   * signs come from the data; if the number of negative weights is odd, the sign of the
//     least important weight (smallest imp·w², i.e. smallest |w| without importance) is
//     flipped, and that weight's target becomes −|w| (the grid search then pays for it);
//   * the grid entry is chosen exhaustively (256 × 8) for the current scale.
// Per 32-group: the scale is searched over multiples of max|target|/43, each followed by a
// least-squares refit and a second grid choice. Per 256-block: the f16 d and the 4-bit
// group scales s (db = d·(2s+1)/8) are chosen by total-error search over a few d
// candidates and s ∈ {s0−1, s0, s0+1} per group. Cost ≈ 1 µs per weight on one core: fine
// for tests and small models; a 284B checkpoint needs many cores (or a pruned search).
#include <bit>
#include <cmath>
#include <memory>

#include "internal.h"
#include "quant/quant.h"
#include "quantize_impl.h"

namespace ds4::quant::detail {
namespace {

struct GridF {
    float v[256][8];
};

// The grid as floats, decoded once (thread-safe static init; immutable afterwards).
const GridF& grid_f() {
    static const GridF g = [] {
        GridF r{};
        for (int k = 0; k < 256; ++k)
            for (int j = 0; j < 8; ++j) r.v[k][j] = float(iq2xxs_grid_byte(kIq2xxsGrid[k], j));
        return r;
    }();
    return g;
}

// One 8-weight sub-group prepared for the search. The per-entry sums do not depend on the
// scale, so they are computed once: error(k, sc) = sc²·s2[k] − 2·sc·s1[k] + const_e.
struct SubGroup {
    float s1[256];   // Σ_j wt_j·t_j·g_kj
    float s2[256];   // Σ_j wt_j·g_kj²
    float const_e;   // Σ wt·t²
    uint32_t sign7;  // 7-bit sign index (bit j set = element j negative)
};

SubGroup prepare_subgroup(const float* x, const float* w) {
    SubGroup s{};
    int mask = 0;
    for (int j = 0; j < 8; ++j) mask |= (x[j] < 0.0f) << j;
    int flipped = -1;
    if (std::popcount(unsigned(mask)) & 1) {
        flipped = 0;  // flip the least important weight: smallest wt·x²
        for (int j = 1; j < 8; ++j)
            if (w[j] * x[j] * x[j] < w[flipped] * x[flipped] * x[flipped]) flipped = j;
        mask ^= 1 << flipped;
    }
    float wt_t[8];
    for (int j = 0; j < 8; ++j) {
        const float t = j == flipped ? -std::fabs(x[j]) : std::fabs(x[j]);
        wt_t[j] = w[j] * t;
        s.const_e += w[j] * t * t;
    }
    const GridF& g = grid_f();
    for (int k = 0; k < 256; ++k) {
        float s1 = 0.0f, s2 = 0.0f;
        for (int j = 0; j < 8; ++j) {
            s1 += wt_t[j] * g.v[k][j];
            s2 += w[j] * g.v[k][j] * g.v[k][j];
        }
        s.s1[k] = s1;
        s.s2[k] = s2;
    }
    s.sign7 = uint32_t(mask & 127);
    return s;
}

// argmin over grid entries of Σ wt·(t − sc·g)²; returns the entry, writes the error.
int best_grid(const SubGroup& s, float sc, float* err) {
    int best = 0;
    float best_e = INFINITY;
    for (int k = 0; k < 256; ++k) {
        const float e = sc * sc * s.s2[k] - 2.0f * sc * s.s1[k];
        if (e < best_e) {
            best_e = e;
            best = k;
        }
    }
    *err = best_e + s.const_e;
    return best;
}

// Total error of a 32-group at scale sc, with its best grid entries.
float group_error(const SubGroup* sg, float sc, int* grid) {
    float total = 0.0f;
    for (int l = 0; l < 4; ++l) {
        float e;
        grid[l] = best_grid(sg[l], sc, &e);
        total += e;
    }
    return total;
}

// Least-squares scale for fixed grid entries: Σ wt·t·g / Σ wt·g².
float refit_scale(const SubGroup* sg, const int* grid) {
    float num = 0.0f, den = 0.0f;
    for (int l = 0; l < 4; ++l) {
        num += sg[l].s1[grid[l]];
        den += sg[l].s2[grid[l]];
    }
    return den > 0.0f && num > 0.0f ? num / den : 0.0f;
}

// Best unconstrained scale of a 32-group.
float search_group_scale(const SubGroup* sg, float amax) {
    if (!(amax > 0.0f)) return 0.0f;
    float best_sc = amax / 43.0f, best_e = INFINITY;
    int grid[4];
    for (int step = 0; step < 9; ++step) {
        const float sc0 = amax / 43.0f * (0.45f + 0.1f * float(step));
        group_error(sg, sc0, grid);
        const float sc1 = refit_scale(sg, grid);
        if (!(sc1 > 0.0f)) continue;
        const float e = group_error(sg, sc1, grid);
        if (e < best_e) {
            best_e = e;
            best_sc = sc1;
        }
    }
    return best_sc;
}

// The float group scale of 4-bit code s, exactly as the decoder computes it.
float group_scale(float d, int s) { return d * (0.5f + float(s)) * 0.25f; }

struct GroupCode {
    int s;
    int grid[4];
};

// Best 4-bit scale code near the ideal one for d; returns its error.
float code_group(const SubGroup* sg, float d, float ideal_sc, GroupCode* out) {
    int s0 = round_half_even((ideal_sc * 8.0f / d - 1.0f) * 0.5f);
    s0 = s0 < 0 ? 0 : (s0 > 15 ? 15 : s0);  // saturated groups still try 14 and 15
    float best_e = INFINITY;
    for (int s = s0 - 1; s <= s0 + 1; ++s) {
        if (s < 0 || s > 15) continue;
        int grid[4];
        const float e = group_error(sg, group_scale(d, s), grid);
        if (e < best_e) {
            best_e = e;
            out->s = s;
            for (int l = 0; l < 4; ++l) out->grid[l] = grid[l];
        }
    }
    return best_e;
}

// sg: scratch for 32 sub-groups.
void quantize_block(const float* x, const float* w, uint8_t* dst, SubGroup* sg) {
    float ideal[8], max_sc = 0.0f;
    for (int ib = 0; ib < 8; ++ib) {
        float amax = 0.0f;
        for (int l = 0; l < 4; ++l) {
            sg[4 * ib + l] = prepare_subgroup(x + 32 * ib + 8 * l, w + 32 * ib + 8 * l);
            for (int j = 0; j < 8; ++j) amax = std::fabs(x[32 * ib + 8 * l + j]) > amax ? std::fabs(x[32 * ib + 8 * l + j]) : amax;
        }
        ideal[ib] = search_group_scale(sg + 4 * ib, amax);
        max_sc = ideal[ib] > max_sc ? ideal[ib] : max_sc;
    }
    std::memset(dst, 0, 66);
    if (!(max_sc > 0.0f)) return;  // all-zero block: d = 0 decodes to zeros

    // d candidates: the largest group scale exactly representable (s = 15), and a few
    // smaller ones that trade saturation of the largest group for finer steps elsewhere.
    static constexpr float kDFactors[] = {1.0f, 0.92f, 0.85f, 0.78f};
    float best_total = INFINITY;
    uint16_t best_dh = 0;
    GroupCode best_codes[8]{};
    for (float f : kDFactors) {
        uint16_t dh = f32_to_f16(max_sc * 8.0f / 31.0f * f);
        if ((dh & 0x7fffu) >= 0x7c00u) dh = 0x7bffu;
        const float d = f16_to_f32(dh);
        if (!(d > 0.0f)) continue;
        GroupCode codes[8];
        float total = 0.0f;
        for (int ib = 0; ib < 8; ++ib) total += code_group(sg + 4 * ib, d, ideal[ib], &codes[ib]);
        if (total < best_total) {
            best_total = total;
            best_dh = dh;
            for (int ib = 0; ib < 8; ++ib) best_codes[ib] = codes[ib];
        }
    }
    store_u16(dst, best_dh);
    for (int ib = 0; ib < 8; ++ib) {
        uint32_t A = 0, B = uint32_t(best_codes[ib].s) << 28;
        for (int l = 0; l < 4; ++l) {
            A |= uint32_t(best_codes[ib].grid[l]) << (8 * l);
            B |= sg[4 * ib + l].sign7 << (7 * l);
        }
        store_u32(dst + 2 + 8 * ib, A);
        store_u32(dst + 2 + 8 * ib + 4, B);
    }
}

}  // namespace

void quantize_blocks_iq2_xxs(const float* x, uint8_t* dst, int64_t nb, const float* imp) {
    float ones[256];
    for (float& o : ones) o = 1.0f;
    // 32 sub-groups × 2 KiB of per-entry sums: on the heap, not the caller's stack.
    const auto sg = std::make_unique<SubGroup[]>(32);
    for (int64_t b = 0; b < nb; ++b, x += 256, dst += 66, imp = imp ? imp + 256 : nullptr)
        quantize_block(x, imp ? imp : ones, dst, sg.get());
}

}  // namespace ds4::quant::detail
