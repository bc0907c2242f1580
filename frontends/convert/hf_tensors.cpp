// Row sources: decode checkpoint tensors into GGUF rows (hf_tensors.h).
#include "hf_tensors.h"

#include <cstring>

#include "host/status.h"
#include "quant/quant.h"

namespace ds4::convert {
namespace {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s) {
    std::string o = "[";
    for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
    return o + "]";
}

Shape reversed(const Shape& ne) { return Shape(ne.rbegin(), ne.rend()); }

std::string where(const StTensor& t) { return t.file + ": tensor '" + t.name + "'"; }

bool is_float(StDtype d) {
    return d == StDtype::F32 || d == StDtype::F16 || d == StDtype::BF16 || d == StDtype::F64;
}

// One element of a float-like tensor (float dtypes, FP8 codes, UE8M0 scales) as f32.
inline float elem(const StTensor& t, int64_t i) {
    const uint8_t* p = t.data;
    switch (t.dtype) {
    case StDtype::F32: { float v; std::memcpy(&v, p + 4 * i, 4); return v; }
    case StDtype::F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return quant::f16_to_f32(h); }
    case StDtype::BF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return quant::bf16_to_f32(h); }
    case StDtype::F64: { double v; std::memcpy(&v, p + 8 * i, 8); return static_cast<float>(v); }
    case StDtype::F8_E4M3: return quant::e4m3fn_to_f32(p[i]);
    case StDtype::F8_E8M0: return quant::e8m0_to_f32(p[i]);
    default: return 0.0f;
    }
}

bool is_scale_dtype(StDtype d) { return d == StDtype::F8_E8M0 || is_float(d); }

// A 2-D matrix view [rows, cols] of one checkpoint tensor (a 3-D tensor is viewed as
// [E·rows, cols]) in one of three encodings.
struct Matrix {
    enum Kind { Float, Fp8, Fp4 } kind = Float;
    const StTensor* t = nullptr;
    const StTensor* scale = nullptr;
    int64_t rows = 0, cols = 0;
    int64_t scale_cols = 0;  // columns of the scale grid

    void read_row(int64_t r, float* out) const {
        switch (kind) {
        case Float: {
            const int64_t base = r * cols;
            if (t->dtype == StDtype::F32) {
                std::memcpy(out, t->data + 4 * base, static_cast<size_t>(cols) * 4);
            } else {
                for (int64_t c = 0; c < cols; ++c) out[c] = elem(*t, base + c);
            }
            break;
        }
        case Fp8: {  // 128x128 blocks: scale[r/128][c/128]
            const uint8_t* q = t->data + r * cols;
            const int64_t srow = (r / 128) * scale_cols;
            for (int64_t c = 0; c < cols; ++c) out[c] = quant::e4m3fn_to_f32(q[c]) * elem(*scale, srow + c / 128);
            break;
        }
        case Fp4: {  // two e2m1 codes per byte, low nibble = even column; scale per 32 columns
            const uint8_t* q = t->data + r * (cols / 2);
            const int64_t srow = r * scale_cols;
            for (int64_t c = 0; c < cols; ++c) {
                uint8_t b = q[c / 2];
                out[c] = quant::e2m1_to_f32(c % 2 ? (b >> 4) : (b & 15)) * elem(*scale, srow + c / 32);
            }
            break;
        }
        }
    }
};

const StTensor* find_scale(const Checkpoint& ck, const std::string& weight_name) {
    std::string base = weight_name;
    if (base.size() > 7 && base.compare(base.size() - 7, 7, ".weight") == 0) base.resize(base.size() - 7);
    for (const char* suffix : {".scale", ".weight_scale_inv", ".scale_inv"})
        if (const StTensor* s = ck.find(base + suffix)) return s;
    return nullptr;
}

// Opens `name` as a matrix whose logical PyTorch shape must be `want` (2-D [OUT, IN] or
// 3-D [E, OUT, IN]); picks the encoding from the dtype.
Matrix open_matrix(const Checkpoint& ck, const std::string& name, const Shape& want, const std::string& gguf_name) {
    const StTensor* t = ck.find(name);
    if (!t)
        throw Error(ck.dir() + ": checkpoint has no tensor '" + name + "' (needed for GGUF '" + gguf_name + "', shape " +
                    shape_str(want) + ")");
    Matrix m;
    m.t = t;
    m.cols = want.back();
    m.rows = 1;
    for (size_t i = 0; i + 1 < want.size(); ++i) m.rows *= want[i];
    auto bad_shape = [&](const Shape& expected) {
        throw Error(where(*t) + ": shape " + shape_str(t->shape) + ", expected " + shape_str(expected) + " (" +
                    dtype_name(t->dtype) + "; GGUF '" + gguf_name + "')");
    };
    if (is_float(t->dtype)) {
        bool ok = t->shape == want || (want == Shape{1} && t->shape.empty());  // a scalar for [1]
        if (!ok) bad_shape(want);
        m.kind = Matrix::Float;
        return m;
    }
    if (t->dtype == StDtype::F8_E4M3) {
        if (t->shape != want) bad_shape(want);
        if (want.size() != 2) throw Error(where(*t) + ": FP8 weights must be 2-D");
        const StTensor* s = find_scale(ck, name);
        if (!s) throw Error(where(*t) + ": F8_E4M3 weight without its block scale tensor ('.scale')");
        Shape ws{(want[0] + 127) / 128, (want[1] + 127) / 128};
        if (!is_scale_dtype(s->dtype) || s->shape != ws)
            throw Error(where(*s) + ": FP8 block scale " + dtype_name(s->dtype) + " " + shape_str(s->shape) +
                        ", expected F8_E8M0 " + shape_str(ws) + " (one per 128x128 block of '" + name + "')");
        m.kind = Matrix::Fp8;
        m.scale = s;
        m.scale_cols = ws[1];
        return m;
    }
    if (t->dtype == StDtype::I8 || t->dtype == StDtype::U8) {
        // FP4 e2m1 packed two per byte along the input dimension.
        if (want.size() != 2 || want[1] % 2 != 0) throw Error(where(*t) + ": packed FP4 needs a 2-D weight with even columns");
        Shape packed{want[0], want[1] / 2};
        if (t->shape != packed) bad_shape(packed);
        const StTensor* s = find_scale(ck, name);
        if (!s) throw Error(where(*t) + ": packed FP4 weight without its scale tensor ('.scale')");
        Shape ws{want[0], (want[1] + 31) / 32};
        if (!is_scale_dtype(s->dtype) || s->shape != ws)
            throw Error(where(*s) + ": FP4 scale " + dtype_name(s->dtype) + " " + shape_str(s->shape) + ", expected F8_E8M0 " +
                        shape_str(ws) + " (one per 32 weights of '" + name + "')");
        m.kind = Matrix::Fp4;
        m.scale = s;
        m.scale_cols = ws[1];
        return m;
    }
    throw Error(where(*t) + ": unsupported dtype " + dtype_name(t->dtype) + " for GGUF '" + gguf_name +
                "' (expected F32, F16, BF16, F8_E4M3 + scale, or packed FP4 I8 + scale)");
}

void add_used(std::vector<std::string>& used, const Matrix& m) {
    used.push_back(m.t->name);
    if (m.scale) used.push_back(m.scale->name);
}

// A single tensor, rows in order.
class DenseSource : public RowSource {
public:
    explicit DenseSource(Matrix m) : m_(m) { add_used(used, m_); }
    void read_rows(int64_t first, int64_t n, float* out) const override {
        for (int64_t i = 0; i < n; ++i) m_.read_row(first + i, out + i * row_len);
    }

private:
    Matrix m_;
};

// Official routed experts: one [OUT, IN] tensor per expert, stacked expert-major.
class PerExpertSource : public RowSource {
public:
    PerExpertSource(std::vector<Matrix> experts, int64_t out) : experts_(std::move(experts)), out_(out) {
        for (auto& m : experts_) add_used(used, m);
    }
    void read_rows(int64_t first, int64_t n, float* out) const override {
        for (int64_t i = 0; i < n; ++i) {
            int64_t r = first + i;
            experts_[static_cast<size_t>(r / out_)].read_row(r % out_, out + i * row_len);
        }
    }

private:
    std::vector<Matrix> experts_;
    int64_t out_;
};

// transformers gate_up_proj [E, 2I, H] viewed as [E·2I, H]: expert e's gate rows are
// [e·2I, e·2I + I), its up rows [e·2I + I, (e+1)·2I).
class FusedHalfSource : public RowSource {
public:
    FusedHalfSource(Matrix m, int64_t half, bool second) : m_(m), half_(half), second_(second) { add_used(used, m_); }
    void read_rows(int64_t first, int64_t n, float* out) const override {
        for (int64_t i = 0; i < n; ++i) {
            int64_t r = first + i;
            int64_t e = r / half_, j = r % half_;
            m_.read_row(e * 2 * half_ + (second_ ? half_ : 0) + j, out + i * row_len);
        }
    }

private:
    Matrix m_;
    int64_t half_;
    bool second_;
};

// tid2eid [vocab, k] integer table → I32 rows; ids are checked against n_expert.
class Tid2EidSource : public RowSource {
public:
    Tid2EidSource(const StTensor& t, uint32_t n_expert) : t_(t), n_expert_(n_expert) { used.push_back(t.name); }
    void read_rows(int64_t, int64_t, float*) const override {
        throw Error(where(t_) + ": internal: tid2eid is an integer table");
    }
    void read_rows_i32(int64_t first, int64_t n, int32_t* out) const override {
        for (int64_t i = 0; i < n * row_len; ++i) {
            int64_t idx = first * row_len + i, v = 0;
            if (t_.dtype == StDtype::I64) {
                std::memcpy(&v, t_.data + 8 * idx, 8);
            } else {
                int32_t v32;
                std::memcpy(&v32, t_.data + 4 * idx, 4);
                v = v32;
            }
            if (v < 0 || v >= n_expert_)
                throw Error(where(t_) + ": token " + std::to_string(idx / row_len) + " routes to expert " +
                            std::to_string(v) + ", expected 0.." + std::to_string(n_expert_ - 1));
            out[i] = static_cast<int32_t>(v);
        }
    }

private:
    const StTensor& t_;
    uint32_t n_expert_;
};

}  // namespace

void RowSource::read_rows_i32(int64_t, int64_t, int32_t*) const {
    throw Error("internal: read_rows_i32 on a float tensor source");
}

namespace {

// The first candidate name present in the checkpoint (per-expert names checked for expert
// 0), or the preferred one when none is, so the error names what was expected.
std::string resolve(const Checkpoint& ck, const std::vector<std::string>& names) {
    for (const std::string& n : names) {
        std::string probe = n;
        if (auto p = probe.find("{E}"); p != std::string::npos) probe.replace(p, 3, "0");
        if (ck.find(probe)) return n;
    }
    return names.front();
}

}  // namespace

std::unique_ptr<RowSource> open_source(const Checkpoint& ck, Naming naming, const model::TensorSpec& spec,
                                       const model::ModelConfig& cfg) {
    const std::string name = resolve(ck, source_names(naming, spec));
    const Shape want = reversed(spec.ne);  // PyTorch shape, outermost first
    std::unique_ptr<RowSource> src;
    const bool experts = spec.cls == model::TensorClass::ExpertGateUp || spec.cls == model::TensorClass::ExpertDown;

    if (spec.cls == model::TensorClass::Tid2Eid) {
        const StTensor* t = ck.find(name);
        if (!t) throw Error(ck.dir() + ": checkpoint has no tensor '" + name + "' (needed for GGUF '" + spec.name + "')");
        if (t->dtype != StDtype::I64 && t->dtype != StDtype::I32)
            throw Error(where(*t) + ": dtype " + dtype_name(t->dtype) + ", expected I64 or I32 (expert ids)");
        if (t->shape != want)
            throw Error(where(*t) + ": shape " + shape_str(t->shape) + ", expected " + shape_str(want) +
                        " ([vocab_size, num_experts_per_tok])");
        src = std::make_unique<Tid2EidSource>(*t, cfg.n_expert);
    } else if (experts && name.find("{E}") != std::string::npos) {
        // Official / saved: one [OUT, IN] tensor per expert; want = [E, OUT, IN].
        std::vector<Matrix> per;
        per.reserve(static_cast<size_t>(want[0]));
        for (int64_t e = 0; e < want[0]; ++e) {
            std::string n = name;
            n.replace(n.find("{E}"), 3, std::to_string(e));
            per.push_back(open_matrix(ck, n, {want[1], want[2]}, spec.name));
        }
        src = std::make_unique<PerExpertSource>(std::move(per), want[1]);
    } else if (experts && spec.cls == model::TensorClass::ExpertGateUp) {
        const Shape fused{want[0], 2 * want[1], want[2]};  // [E, 2I, H]
        Matrix m = open_matrix(ck, name, fused, spec.name);
        if (m.kind != Matrix::Float) throw Error(where(*m.t) + ": stacked experts must be F32, F16 or BF16");
        const bool up = spec.name.find("ffn_up_exps") != std::string::npos;
        src = std::make_unique<FusedHalfSource>(m, want[1], up);
    } else {
        if (!ck.find(name) && spec.optional) return nullptr;
        src = std::make_unique<DenseSource>(open_matrix(ck, name, want, spec.name));
    }
    src->row_len = spec.ne[0];
    src->n_rows = spec.n_elements() / spec.ne[0];
    return src;
}

}  // namespace ds4::convert
