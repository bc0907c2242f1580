// ROPE_TAIL: interleaved RoPE (+YaRN) of the last n_rot dims of every row.
#include "rope.h"

#include <cmath>
#include <vector>

#include "common.h"
#include "ops.h"

namespace ds4::cpuref {

bool rope_frequencies(const ds4_rope_params& p, float* freq) {
    if (p.n_rot == 0 || p.n_rot % 2 != 0 || !(p.freq_base > 1.0f)) return false;
    const double n = p.n_rot, base = p.freq_base;
    const bool yarn = p.yarn_factor > 1.0f;
    double low = 0, high = 0;
    if (yarn) {
        const double pi = 3.14159265358979323846;
        auto corr = [&](double beta) { return n * std::log(double(p.yarn_orig_ctx) / (2.0 * pi * beta)) / (2.0 * std::log(base)); };
        low = std::max(0.0, std::floor(corr(p.yarn_beta_fast)));
        high = std::min(n - 1.0, std::ceil(corr(p.yarn_beta_slow)));
    }
    for (uint32_t k = 0; k < p.n_rot / 2; ++k) {
        double f = std::pow(base, -2.0 * k / n);
        if (yarn) {
            double ramp = (k - low) / std::max(0.001, high - low);
            ramp = std::min(1.0, std::max(0.0, ramp));
            f *= (1.0 - ramp) + ramp / double(p.yarn_factor);
        }
        freq[k] = static_cast<float>(f);
    }
    return true;
}

void rope_rotate(float* t, uint32_t n_rot, int32_t pos, const float* freq, bool inverse) {
    const float fpos = static_cast<float>(pos);
    for (uint32_t k = 0; k < n_rot / 2; ++k) {
        const float theta = fpos * freq[k];
        const float c = cos_f32(theta);
        const float s = inverse ? -sin_f32(theta) : sin_f32(theta);
        const float a = t[2 * k], b = t[2 * k + 1];
        t[2 * k] = a * c - b * s;
        t[2 * k + 1] = a * s + b * c;
    }
}

KernelStatus check_rope_tail(const ds4_node& node) {
    if (auto st = check_operands(node, 2, 2, 1); !st.ok()) return st;
    ds4_params_rope p;
    if (!read_params(node, &p)) return KernelStatus::invalid("missing ds4_params_rope");
    const ds4_tensor *x = node.src[0], *pos = node.src[1], *d = node.dst[0];
    if (auto st = check_type(x, "src0", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_type(pos, "src1", {DS4_TYPE_I32}); !st.ok()) return st;
    if (auto st = check_type(d, "dst", {DS4_TYPE_F32}); !st.ok()) return st;
    if (auto st = check_same_shape(x, "src0", d, "dst"); !st.ok()) return st;
    if (p.pos_dim != 1 && p.pos_dim != 2) return KernelStatus::invalid(msg("pos_dim ", p.pos_dim, " must be 1 or 2"));
    if (p.rope.n_rot == 0 || p.rope.n_rot % 2 || p.rope.n_rot > x->ne[0])
        return KernelStatus::invalid(msg("n_rot ", p.rope.n_rot, " must be even, > 0 and <= row length ", x->ne[0]));
    if (!(p.rope.freq_base > 1.0f)) return KernelStatus::invalid(msg("freq_base ", p.rope.freq_base, " must be > 1"));
    if (p.rope.yarn_factor > 1.0f && (p.rope.yarn_orig_ctx == 0 || !(p.rope.yarn_beta_fast > 0) || !(p.rope.yarn_beta_slow > 0)))
        return KernelStatus::invalid("YaRN needs yarn_orig_ctx, yarn_beta_fast and yarn_beta_slow > 0");
    if (n_elems(pos) != x->ne[p.pos_dim])
        return KernelStatus::invalid(msg("src1 has ", n_elems(pos), " positions, src0 ne", p.pos_dim, " is ", x->ne[p.pos_dim]));
    return {};
}

KernelStatus run_rope_tail(const ds4_node& node, KernelContext& ctx) {
    ds4_params_rope p;
    read_params(node, &p);
    const ds4_tensor *x = node.src[0], *pos = node.src[1], *d = node.dst[0];
    const uint32_t n_rot = p.rope.n_rot;
    std::vector<float> freq(n_rot / 2);
    rope_frequencies(p.rope, freq.data());
    const int64_t n = x->ne[0];
    const int64_t ne_pos = pos->ne[0];
    ctx.pool.parallel_for(n_rows(x), 8, [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1; ++r) {
            RowIndex ix = split_row(x, r);
            const int64_t pi = p.pos_dim == 1 ? ix.i1 : ix.i2;
            const int32_t position = *reinterpret_cast<const int32_t*>(row_elem(pos, pi / ne_pos, pi % ne_pos));
            load_f32_row(x, r, row.data());
            rope_rotate(row.data() + (n - n_rot), n_rot, position, freq.data(), p.inverse != 0);
            store_f32_row(d, r, row.data());
        }
    });
    return {};
}

}  // namespace ds4::cpuref
