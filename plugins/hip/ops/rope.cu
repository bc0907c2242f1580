// ROPE_TAIL: interleaved RoPE (+YaRN) on the last n_rot dims of every row. Frequencies come
// from the host (ops/rope_freq.h, the same values as cpu-ref); θ = float(pos)·f_k and
// cos/sin in float. One thread per (row, unit), a unit being one untouched head element or
// one rotated pair, so an in-place rotation (dst aliasing src0) never races.
#include "common.cuh"
#include "ops.h"
#include "rope_freq.h"
#include "tier1_common.cuh"

namespace ds4::gpu {
namespace {

// copy_head: whether the untouched head elements are copied (not when dst is src0 itself:
// an in-place rotation touches only the n_rot tail, 1/8 of a 512-wide row).
__global__ void rope_kernel(DTensor x, DTensor pos, DTensor d, int64_t rows, int n_rot, int pos_dim, bool inverse,
                            bool copy_head, RopeFreqs freq) {
    const int64_t n = x.ne[0], head = n - n_rot, head_units = copy_head ? head : 0;
    const int64_t units = head_units + n_rot / 2, total = rows * units;
    for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = e / units, u = e % units;
        if (u < head_units) {
            const float v = *reinterpret_cast<const float*>(d_row_elem(x, r, u));
            *reinterpret_cast<float*>(d_row_elem(d, r, u)) = v;
            continue;
        }
        const int64_t k = u - head_units;
        const int64_t i1 = r % x.ne[1], i2 = (r / x.ne[1]) % x.ne[2];
        const int64_t pi = pos_dim == 1 ? i1 : i2;
        const int32_t p = *reinterpret_cast<const int32_t*>(d_row_elem(pos, pi / pos.ne[0], pi % pos.ne[0]));
        const float theta = __fmul_rn(static_cast<float>(p), freq.f[k]);
        const float c = d_cos_cr(theta);
        const float s = inverse ? -d_sin_cr(theta) : d_sin_cr(theta);
        const float a = *reinterpret_cast<const float*>(d_row_elem(x, r, head + 2 * k));
        const float b = *reinterpret_cast<const float*>(d_row_elem(x, r, head + 2 * k + 1));
        *reinterpret_cast<float*>(d_row_elem(d, r, head + 2 * k)) = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
        *reinterpret_cast<float*>(d_row_elem(d, r, head + 2 * k + 1)) = __fadd_rn(__fmul_rn(a, s), __fmul_rn(b, c));
    }
}

}  // namespace

KernelStatus run_rope_tail(const ds4_node& node, KernelContext& ctx) {
    ds4_params_rope p;
    read_params(node, &p);
    RopeFreqs freq{};
    rope_frequencies(p.rope, &freq);
    const ds4_tensor* x = node.src[0];
    const DTensor xs = dtensor(x), ds = dtensor(node.dst[0]);
    bool in_place = xs.data == ds.data;
    for (int i = 0; i < 4; ++i) in_place = in_place && xs.ne[i] == ds.ne[i] && xs.nb[i] == ds.nb[i];
    const int64_t rows = n_rows(x), units = (in_place ? 0 : x->ne[0] - p.rope.n_rot) + p.rope.n_rot / 2;
    rope_kernel<<<blocks_for(rows * units), kThreads, 0, ctx.stream>>>(xs, dtensor(node.src[1]), ds, rows,
                                                                       static_cast<int>(p.rope.n_rot),
                                                                       static_cast<int>(p.pos_dim), p.inverse != 0,
                                                                       !in_place, freq);
    return launch_status("rope_tail");
}

}  // namespace ds4::gpu
