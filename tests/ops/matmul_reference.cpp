#include "matmul_reference.h"

#include <cstring>

#include "quant/quant.h"

namespace ds4::conformance {

DotRef matmul_reference(const Input& w, int64_t first_row, int64_t out, const std::vector<float>& x, int64_t n_x,
                        uint32_t act_quant) {
    const int64_t in = w.ne[0];
    const int64_t rb = ds4_type_row_bytes(w.type, in);
    const auto fmt = quant::act_format_for(w.type, act_quant == DS4_ACT_DS4 ? quant::ActQuant::Ds4 : quant::ActQuant::None);
    DotRef ref;
    ref.value.assign(static_cast<size_t>(n_x * out), 0.0);
    ref.mag.assign(ref.value.size(), 0.0);
    std::vector<float> wrow(static_cast<size_t>(in)), xq(static_cast<size_t>(in));
    std::vector<uint8_t> act(static_cast<size_t>(quant::act_row_bytes(fmt, in)));
    const bool weights_plain = w.type == DS4_TYPE_F32 || w.type == DS4_TYPE_F16 || w.type == DS4_TYPE_BF16;
    // Weight row pointers (contiguous storage, rows of rb bytes; float types may be views).
    std::vector<float> wplain;
    if (weights_plain) wplain = logical_floats(w);
    for (int64_t t = 0; t < n_x; ++t) {
        const float* xr = x.data() + t * in;
        quant::quantize_act(fmt, xr, act.data(), in);
        if (fmt == quant::ActFormat::Q8_K) quant::dequantize_row(DS4_TYPE_Q8_K, act.data(), xq.data(), in);
        for (int64_t o = 0; o < out; ++o) {
            const int64_t row = first_row + o;
            double sum = 0, mag = 0;
            if (fmt == quant::ActFormat::Q8_0Act) {
                // Exact integer dot per 32-block; block_q8_0_act = {f32 d, int8 q[32]}.
                const uint8_t* wr = w.storage.data() + w.offset + row * rb;
                for (int64_t b = 0; b < in / 32; ++b) {
                    uint16_t dh;
                    float dx;
                    std::memcpy(&dh, wr + 34 * b, 2);
                    std::memcpy(&dx, act.data() + 36 * b, 4);
                    const auto* qw = reinterpret_cast<const int8_t*>(wr + 34 * b + 2);
                    const auto* qx = reinterpret_cast<const int8_t*>(act.data() + 36 * b + 4);
                    int64_t isum = 0, iabs = 0;
                    for (int i = 0; i < 32; ++i) {
                        isum += int64_t(qw[i]) * qx[i];
                        iabs += std::abs(int64_t(qw[i]) * qx[i]);
                    }
                    const double scale = double(quant::f16_to_f32(dh)) * double(dx);
                    sum += scale * double(isum);
                    mag += std::fabs(scale) * double(iabs);
                }
            } else {
                const float* wr;
                if (weights_plain) {
                    wr = wplain.data() + row * in;
                } else {
                    quant::dequantize_row(w.type, w.storage.data() + w.offset + row * rb, wrow.data(), in);
                    wr = wrow.data();
                }
                const float* xv = fmt == quant::ActFormat::Q8_K ? xq.data() : xr;
                for (int64_t i = 0; i < in; ++i) {
                    const double term = double(wr[i]) * double(xv[i]);
                    sum += term;
                    mag += std::fabs(term);
                }
            }
            ref.value[t * out + o] = sum;
            ref.mag[t * out + o] = mag;
        }
    }
    return ref;
}

}  // namespace ds4::conformance
