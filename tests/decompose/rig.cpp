#include "rig.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ds4::test {

host::Device& cpu_device() {
    static std::unique_ptr<host::Plugin> plugin =
        host::PluginLoader::load_file(DS4_PLUGIN_DIR "/libds4-backend-cpu-ref.so");
    static host::Device device(*plugin, 0, {{"threads", "2"}});
    return device;
}

host::Device& cpu_device_1thread() {
    static host::Device device(cpu_device().plugin(), 0, {{"threads", "1"}});
    return device;
}

std::vector<float> randn(size_t n, std::mt19937& rng, float sigma) {
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

Spec f32_spec(const std::vector<int64_t>& ne, const std::vector<float>& v) {
    Spec s{DS4_TYPE_F32, ne, as_bytes(v)};
    return s;
}

Spec i32_spec(const std::vector<int64_t>& ne, const std::vector<int32_t>& v) {
    Spec s{DS4_TYPE_I32, ne, as_bytes(v)};
    return s;
}

Spec weight_spec(ds4_type type, const std::vector<int64_t>& ne, std::mt19937& rng, float sigma) {
    int64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
    const int64_t row_bytes = ds4_type_row_bytes(type, ne[0]);
    Spec s{type, ne, std::vector<uint8_t>(static_cast<size_t>(rows * row_bytes))};
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> v = randn(static_cast<size_t>(ne[0]), rng, sigma);
        if (!quant::quantize_row(type, v.data(), s.bytes.data() + r * row_bytes, ne[0]))
            throw Error("weight_spec: cannot quantize to " + std::string(ds4_type_name(type)));
    }
    return s;
}

Spec random_blocks_spec(ds4_type type, const std::vector<int64_t>& ne, std::mt19937& rng) {
    int64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
    const int64_t row_bytes = ds4_type_row_bytes(type, ne[0]);
    Spec s{type, ne, std::vector<uint8_t>(static_cast<size_t>(rows * row_bytes))};
    for (auto& b : s.bytes) b = static_cast<uint8_t>(rng());
    const int64_t bb = ds4_type_block_bytes(type), n_blocks = static_cast<int64_t>(s.bytes.size()) / bb;
    const uint16_t d = quant::f32_to_f16(type == DS4_TYPE_Q2_K ? 0.002f : 0.0005f);
    const uint16_t dmin = quant::f32_to_f16(0.001f);
    for (int64_t i = 0; i < n_blocks; ++i) {
        uint8_t* blk = s.bytes.data() + i * bb;
        if (type == DS4_TYPE_Q2_K) {
            std::memcpy(blk + 80, &d, 2);
            std::memcpy(blk + 82, &dmin, 2);
        } else if (type == DS4_TYPE_IQ2_XXS) {
            std::memcpy(blk, &d, 2);
        } else {
            throw Error("random_blocks_spec: only q2_k and iq2_xxs");
        }
    }
    return s;
}

Rig::Rig(const std::vector<Spec>& specs, host::Device* dev) : dev_(dev ? dev : &cpu_device()), specs_(specs) {
    uint64_t off = 0;
    for (const auto& s : specs_) {
        off = (off + 255) / 256 * 256;
        offsets_.push_back(off);
        off += std::max<uint64_t>(s.bytes.size(), 4);
    }
    buf_ = dev_->alloc(std::max<uint64_t>(off, 256), DS4_BUFFER_STATE);
    for (size_t i = 0; i < specs_.size(); ++i)
        if (!specs_[i].bytes.empty()) buf_.write(offsets_[i], specs_[i].bytes.data(), specs_[i].bytes.size());
}

void Rig::write(size_t i, const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(bytes.size(), specs_[i].bytes.size());
    specs_[i].bytes = bytes;
    buf_.write(offsets_[i], bytes.data(), bytes.size());
}

std::vector<uint8_t> Rig::read(size_t i) const {
    std::vector<uint8_t> b(specs_[i].bytes.size());
    buf_.read(offsets_[i], b.data(), b.size());
    return b;
}

std::vector<float> Rig::read_f32(size_t i) const {
    std::vector<uint8_t> b = read(i);
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
}

std::vector<int32_t> Rig::read_i32(size_t i) const {
    std::vector<uint8_t> b = read(i);
    std::vector<int32_t> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), b.size());
    return v;
}

void Rig::run(uint32_t op, const void* params, uint32_t params_size, const std::vector<int>& srcs,
              const std::vector<int>& dsts, bool decomposed) {
    host::Graph g;
    std::map<const ds4_tensor*, size_t> index_of;
    auto tensor = [&](int i) -> const ds4_tensor* {
        if (i < 0) return nullptr;
        ds4_tensor* t = g.tensor(specs_[i].type, specs_[i].ne, buf_.get(), offsets_[i]);
        index_of[t] = static_cast<size_t>(i);
        return t;
    };
    ds4_node node{};
    node.struct_size = sizeof(ds4_node);
    node.op = op;
    node.n_src = static_cast<uint32_t>(srcs.size());
    node.n_dst = static_cast<uint32_t>(dsts.size());
    for (size_t i = 0; i < srcs.size(); ++i) node.src[i] = tensor(srcs[i]);
    for (size_t i = 0; i < dsts.size(); ++i) node.dst[i] = tensor(dsts[i]);
    node.params = params;
    node.params_size = params_size;
    g.add_node(node);
    if (decomposed) {
        decompose::StepValues values;
        values.read_i32 = [&](const ds4_tensor& t) {
            auto it = index_of.find(&t);
            if (it == index_of.end()) throw Error("read_i32: unknown tensor");
            const auto& b = specs_[it->second].bytes;
            std::vector<int32_t> v(b.size() / 4);
            std::memcpy(v.data(), b.data(), b.size());
            return v;
        };
        size_t n = decompose::lower_unclaimed(g, [](const ds4_node&) { return false; }, values);
        ASSERT_EQ(n, 1u);
    }
    last_ops_.clear();
    for (size_t i = 0; i < g.size(); ++i) last_ops_.push_back(g.node(i).op);
    host::Buffer scratch = dev_->alloc(std::max<uint64_t>(g.scratch_bytes(), 256), DS4_BUFFER_SCRATCH);
    g.bind_scratch(scratch.get());
    g.upload_constants([&](uint64_t off, const void* data, uint64_t size) { scratch.write(off, data, size); });
    host::Plan plan = dev_->create_plan(g.c_graph());
    plan.submit();
    dev_->synchronize();
}

double expect_close(const std::vector<float>& a, const std::vector<float>& b, const std::string& what, double rel_tol) {
    EXPECT_EQ(a.size(), b.size()) << what;
    if (a.size() != b.size()) return 1e30;
    double ss = 0.0;
    size_t finite = 0;
    for (float v : b)
        if (std::isfinite(v)) {
            ss += double(v) * v;
            ++finite;
        }
    const double rms = finite ? std::sqrt(ss / finite) : 0.0;
    double worst = 0.0;
    size_t worst_i = 0, bad = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] == b[i]) continue;  // includes equal infinities
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
            ++bad;
            worst = 1e30;
            worst_i = i;
            continue;
        }
        const double tol = rel_tol * (std::fabs(double(b[i])) + rms) + 1e-30;
        const double r = std::fabs(double(a[i]) - b[i]) / tol;
        if (r > worst) {
            worst = r;
            worst_i = i;
        }
        if (r > 1.0) ++bad;
    }
    if (std::getenv("DS4_PRINT_WORST")) std::printf("worst %-12s %.3g x tol (%s)\n", what.c_str(), worst, ::testing::UnitTest::GetInstance()->current_test_info()->name());
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << a.size() << " entries differ beyond tolerance; worst at " << worst_i
                       << ": fused " << a[worst_i] << " vs decomposed " << b[worst_i] << " (" << worst << " × tolerance)";
    return worst;
}

ds4_rope_params rope_params(uint32_t n_rot, bool yarn) {
    ds4_rope_params r{};
    r.struct_size = sizeof(r);
    r.n_rot = n_rot;
    r.freq_base = yarn ? 160000.0f : 10000.0f;
    r.yarn_factor = yarn ? 16.0f : 1.0f;
    r.yarn_beta_fast = 32.0f;
    r.yarn_beta_slow = 1.0f;
    r.yarn_orig_ctx = 65536;
    return r;
}

}  // namespace ds4::test
