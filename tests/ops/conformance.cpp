#include "conformance.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "host/graph.h"
#include "host/status.h"
#include "quant/quant.h"

namespace ds4::conformance {
namespace {

constexpr uint64_t kGuardBytes = 256;
constexpr uint8_t kGuardByte = 0xA5;
constexpr uint8_t kUnwrittenByte = 0xCD;

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

std::vector<std::pair<std::string, std::string>> parse_options(const std::string& s) {
    std::vector<std::pair<std::string, std::string>> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        auto eq = item.find('=');
        out.push_back({item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1)});
    }
    return out;
}

std::vector<int64_t> contiguous_strides(ds4_type type, const std::vector<int64_t>& ne) {
    std::vector<int64_t> nb(ne.size());
    nb[0] = ds4_type_block_bytes(type);
    for (size_t i = 1; i < ne.size(); ++i)
        nb[i] = i == 1 ? ne[0] / ds4_type_block_elems(type) * nb[0] : nb[i - 1] * ne[i - 1];
    return nb;
}

uint64_t contiguous_bytes(ds4_type type, const std::vector<int64_t>& ne) {
    int64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
    return static_cast<uint64_t>(ds4_type_row_bytes(type, ne[0]) * rows);
}

// Support-matrix rows of this process: (op, variant) → (status, detail).
std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>>& matrix() {
    static std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> m;
    return m;
}

}  // namespace

// ---- expectations ------------------------------------------------------------------------------

Expected exact(std::vector<double> v) {
    Expected e;
    e.tol.assign(v.size(), 0.0);
    e.value = std::move(v);
    return e;
}

Expected within(std::vector<double> v, double abs, double rel) {
    Expected e;
    e.tol.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) e.tol[i] = abs + rel * std::fabs(v[i]);
    e.value = std::move(v);
    return e;
}

Expected within_magnitude(std::vector<double> v, const std::vector<double>& mag, double rel, double abs) {
    Expected e;
    e.tol.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) e.tol[i] = abs + rel * mag[i];
    e.value = std::move(v);
    return e;
}

// ---- builders --------------------------------------------------------------------------------

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
    std::mt19937_64 rng(seed);
    std::vector<float> v(n);
    // Own mapping (not std::uniform_real_distribution) so the data is identical on every
    // standard library.
    for (auto& x : v) x = lo + (hi - lo) * static_cast<float>((rng() >> 40) * (1.0 / 16777216.0));
    return v;
}

std::vector<int32_t> random_ints(size_t n, uint64_t seed, int32_t lo, int32_t hi) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> v(n);
    const uint64_t span = static_cast<uint64_t>(int64_t(hi) - lo + 1);
    for (auto& x : v) x = static_cast<int32_t>(lo + static_cast<int64_t>(rng() % span));
    return v;
}

int64_t n_elems(const std::vector<int64_t>& ne) {
    int64_t n = 1;
    for (auto e : ne) n *= e;
    return n;
}

Input f32_input(std::vector<int64_t> ne, const std::vector<float>& data) {
    Input in;
    in.type = DS4_TYPE_F32;
    in.ne = std::move(ne);
    in.storage.resize(data.size() * 4);
    std::memcpy(in.storage.data(), data.data(), in.storage.size());
    return in;
}

Input i32_input(std::vector<int64_t> ne, const std::vector<int32_t>& data) {
    Input in;
    in.type = DS4_TYPE_I32;
    in.ne = std::move(ne);
    in.storage.resize(data.size() * 4);
    std::memcpy(in.storage.data(), data.data(), in.storage.size());
    return in;
}

Input weight_input(ds4_type type, std::vector<int64_t> ne, const std::vector<float>& values) {
    Input in;
    in.type = type;
    in.ne = std::move(ne);
    const int64_t cols = in.ne[0], rows = n_elems(in.ne) / cols;
    const int64_t rb = ds4_type_row_bytes(type, cols);
    in.storage.resize(static_cast<size_t>(rb * rows));
    for (int64_t r = 0; r < rows; ++r)
        if (!quant::quantize_row(type, values.data() + r * cols, in.storage.data() + r * rb, cols))
            throw Error(std::string("weight_input: cannot encode ") + ds4_type_name(type));
    return in;
}

Input random_weight_input(ds4_type type, std::vector<int64_t> ne, uint64_t seed) {
    const int64_t cols = ne[0], rows = n_elems(ne) / cols;
    if (type == DS4_TYPE_F32 || type == DS4_TYPE_F16 || type == DS4_TYPE_BF16)
        return weight_input(type, ne, random_floats(static_cast<size_t>(rows * cols), seed));
    Input in;
    in.type = type;
    in.ne = std::move(ne);
    const int64_t bb = ds4_type_block_bytes(type), nblocks = rows * cols / ds4_type_block_elems(type);
    in.storage.resize(static_cast<size_t>(nblocks * bb));
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < in.storage.size(); i += 8) {
        uint64_t r = rng();
        std::memcpy(in.storage.data() + i, &r, std::min<size_t>(8, in.storage.size() - i));
    }
    // Scale fields (MODEL.md §E) get finite positive halves of a typical magnitude.
    auto put_half = [&](uint8_t* p, float lo, float hi) {
        float v = lo + (hi - lo) * static_cast<float>((rng() >> 40) * (1.0 / 16777216.0));
        uint16_t h = quant::f32_to_f16(v);
        std::memcpy(p, &h, 2);
    };
    for (int64_t b = 0; b < nblocks; ++b) {
        uint8_t* blk = in.storage.data() + b * bb;
        switch (type) {
        case DS4_TYPE_Q8_0: put_half(blk, 0.001f, 0.01f); break;
        case DS4_TYPE_Q2_K: put_half(blk + 80, 0.001f, 0.01f); put_half(blk + 82, 0.0005f, 0.005f); break;
        case DS4_TYPE_Q4_K: put_half(blk, 0.001f, 0.01f); put_half(blk + 2, 0.0005f, 0.005f); break;
        case DS4_TYPE_IQ2_XXS: put_half(blk, 0.001f, 0.01f); break;
        default: break;
        }
    }
    return in;
}

Input f32_view(std::vector<int64_t> ne, std::vector<int64_t> nb, uint64_t offset, const std::vector<float>& logical,
               float fill) {
    Input in;
    in.type = DS4_TYPE_F32;
    in.ne = ne;
    in.nb = nb;
    in.offset = offset;
    uint64_t end = offset + 4;
    for (size_t i = 0; i < ne.size(); ++i) end += static_cast<uint64_t>((ne[i] - 1) * nb[i]);
    std::vector<float> st((end + 3) / 4, fill);
    in.storage.resize(st.size() * 4);
    std::memcpy(in.storage.data(), st.data(), in.storage.size());
    std::vector<int64_t> idx(ne.size(), 0);
    for (int64_t flat = 0; flat < n_elems(ne); ++flat) {
        int64_t rem = flat;
        uint64_t off = offset;
        for (size_t d = 0; d < ne.size(); ++d) {
            off += static_cast<uint64_t>((rem % ne[d]) * nb[d]);
            rem /= ne[d];
        }
        std::memcpy(in.storage.data() + off, &logical[flat], 4);
    }
    return in;
}

std::vector<float> logical_floats(const Input& in) {
    std::vector<int64_t> nb = in.nb.empty() ? contiguous_strides(in.type, in.ne) : in.nb;
    std::vector<float> out(static_cast<size_t>(n_elems(in.ne)));
    for (int64_t flat = 0; flat < n_elems(in.ne); ++flat) {
        int64_t rem = flat;
        uint64_t off = in.offset;
        for (size_t d = 0; d < in.ne.size(); ++d) {
            off += static_cast<uint64_t>((rem % in.ne[d]) * nb[d]);
            rem /= in.ne[d];
        }
        const uint8_t* p = in.storage.data() + off;
        uint16_t h;
        switch (in.type) {
        case DS4_TYPE_F16: std::memcpy(&h, p, 2); out[flat] = quant::f16_to_f32(h); break;
        case DS4_TYPE_BF16: std::memcpy(&h, p, 2); out[flat] = quant::bf16_to_f32(h); break;
        default: std::memcpy(&out[flat], p, 4); break;
        }
    }
    return out;
}

std::vector<float> dequantized(const Input& in) {
    if (in.type == DS4_TYPE_F32 || in.type == DS4_TYPE_F16 || in.type == DS4_TYPE_BF16) return logical_floats(in);
    const int64_t cols = in.ne[0], rows = n_elems(in.ne) / cols, rb = ds4_type_row_bytes(in.type, cols);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        quant::dequantize_row(in.type, in.storage.data() + in.offset + r * rb, out.data() + r * cols, cols);
    return out;
}

// ---- comparison ------------------------------------------------------------------------------

std::vector<double> as_doubles(ds4_type type, const std::vector<uint8_t>& bytes) {
    std::vector<double> out;
    const size_t es = static_cast<size_t>(ds4_type_block_bytes(type));
    out.reserve(bytes.size() / es);
    for (size_t i = 0; i + es <= bytes.size(); i += es) {
        uint16_t h;
        int32_t iv;
        float f;
        switch (type) {
        case DS4_TYPE_F16: std::memcpy(&h, &bytes[i], 2); out.push_back(quant::f16_to_f32(h)); break;
        case DS4_TYPE_BF16: std::memcpy(&h, &bytes[i], 2); out.push_back(quant::bf16_to_f32(h)); break;
        case DS4_TYPE_I32: std::memcpy(&iv, &bytes[i], 4); out.push_back(iv); break;
        default: std::memcpy(&f, &bytes[i], 4); out.push_back(f); break;
        }
    }
    return out;
}

std::string compare(ds4_type type, const std::vector<uint8_t>& actual_bytes, const Expected& e) {
    std::vector<double> a = as_doubles(type, actual_bytes);
    if (a.size() != e.value.size())
        return "output has " + std::to_string(a.size()) + " elements, expected " + std::to_string(e.value.size());
    std::ostringstream os;
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const double x = a[i], want = e.value[i];
        bool ok;
        if (std::isnan(want)) ok = std::isnan(x);
        else if (std::isinf(want)) ok = x == want;
        else ok = !std::isnan(x) && std::fabs(x - want) <= e.tol[i];
        if (ok) continue;
        if (!std::isnan(x) && !std::isnan(want)) worst = std::max(worst, std::fabs(x - want));
        if (bad < 5) os << " [" << i << "] got " << x << " want " << want << " (tol " << e.tol[i] << ");";
        ++bad;
    }
    if (!bad) return "";
    return std::to_string(bad) + " of " + std::to_string(a.size()) + " elements differ (max |diff| " +
           std::to_string(worst) + "):" + os.str();
}

// ---- running ---------------------------------------------------------------------------------

RunResult run_case(const host::Device& dev, const Case& c) {
    RunResult r;
    host::Graph g;
    // Every buffer: [guard][payload][guard], guards filled with kGuardByte.
    struct Region {
        host::Buffer buf;
        const std::vector<uint8_t>* payload;  // what was written between the guards
        std::string what;
        bool payload_may_change;
        std::vector<uint8_t> final_payload;  // read back after the run (outputs only)
    };
    std::vector<Region> regions;
    std::deque<std::vector<uint8_t>> owned_payloads;
    const std::vector<uint8_t> guard(kGuardBytes, kGuardByte);
    auto make_region = [&](const std::vector<uint8_t>& payload, const std::string& what, bool may_change) {
        Region reg;
        reg.payload = &payload;
        reg.buf = dev.alloc(payload.size() + 2 * kGuardBytes, DS4_BUFFER_SCRATCH);
        reg.buf.write(0, guard.data(), kGuardBytes);
        if (!payload.empty()) reg.buf.write(kGuardBytes, payload.data(), payload.size());
        reg.buf.write(kGuardBytes + payload.size(), guard.data(), kGuardBytes);
        reg.what = what;
        reg.payload_may_change = may_change;
        regions.push_back(std::move(reg));
        return regions.size() - 1;
    };
    try {
        std::vector<const ds4_tensor*> srcs, dsts;
        std::vector<size_t> dst_region;
        for (size_t i = 0; i < c.srcs.size(); ++i) {
            if (!c.srcs[i]) {
                srcs.push_back(nullptr);
                continue;
            }
            const Input& in = *c.srcs[i];
            size_t ri = make_region(in.storage, "src" + std::to_string(i), static_cast<int>(i) == c.inplace_src);
            ds4_tensor* base = g.tensor(in.type, in.ne, regions[ri].buf.get(), kGuardBytes);
            if (!in.nb.empty() || in.offset) {
                std::vector<int64_t> nb = in.nb.empty() ? contiguous_strides(in.type, in.ne) : in.nb;
                base = g.view(base, in.ne, nb, in.offset);
            }
            srcs.push_back(base);
            if (static_cast<int>(i) == c.inplace_src) {
                dsts.push_back(base);
                dst_region.push_back(ri);
            }
        }
        for (size_t i = dsts.size(); i < c.dsts.size(); ++i) {
            const Output& out = c.dsts[i];
            owned_payloads.push_back(out.init);
            if (owned_payloads.back().empty()) owned_payloads.back().assign(contiguous_bytes(out.type, out.ne), kUnwrittenByte);
            size_t ri = make_region(owned_payloads.back(), "dst" + std::to_string(i), true);
            dsts.push_back(g.tensor(out.type, out.ne, regions[ri].buf.get(), kGuardBytes));
            dst_region.push_back(ri);
        }
        g.add_raw(c.op, {}, {}, nullptr, 0);  // placeholder replaced below (initializer_list needs fixed size)
        ds4_node& node = const_cast<ds4_node&>(g.node(0));
        node.n_src = static_cast<uint32_t>(srcs.size());
        node.n_dst = static_cast<uint32_t>(dsts.size());
        for (size_t i = 0; i < srcs.size(); ++i) node.src[i] = srcs[i];
        for (size_t i = 0; i < dsts.size(); ++i) node.dst[i] = dsts[i];
        node.params = c.params.empty() ? nullptr : c.params.data();
        node.params_size = static_cast<uint32_t>(c.params.size());
        if (!dev.node_supported(node)) {
            r.supported = false;
            return r;
        }
        ds4_graph cg = g.c_graph();
        host::Plan plan = dev.create_plan(cg);
        plan.submit();
        dev.synchronize();
        for (auto& reg : regions) {
            const size_t n = reg.payload->size();
            std::vector<uint8_t> before(kGuardBytes), after(kGuardBytes);
            reg.buf.read(0, before.data(), kGuardBytes);
            reg.buf.read(kGuardBytes + n, after.data(), kGuardBytes);
            if (before != guard) r.guard_violations.push_back(reg.what + " guard before the tensor was overwritten");
            if (after != guard) r.guard_violations.push_back(reg.what + " guard after the tensor was overwritten");
            reg.final_payload.resize(n);
            if (n) reg.buf.read(kGuardBytes, reg.final_payload.data(), n);
            if (!reg.payload_may_change && reg.final_payload != *reg.payload)
                r.guard_violations.push_back(reg.what + " (an input) was modified");
            if (!reg.payload_may_change) std::vector<uint8_t>().swap(reg.final_payload);
        }
        for (size_t i = 0; i < c.dsts.size(); ++i) r.outputs.push_back(std::move(regions[dst_region[i]].final_payload));
    } catch (const std::exception& e) {
        r.error = e.what();
    }
    return r;
}

double time_case(const host::Device& dev, const Case& c, int reps, int submits) {
    host::Graph g;
    std::vector<host::Buffer> bufs;
    std::vector<const ds4_tensor*> srcs, dsts;
    for (const auto& in : c.srcs) {
        if (!in) {
            srcs.push_back(nullptr);
            continue;
        }
        bufs.push_back(dev.alloc(in->storage.size(), DS4_BUFFER_WEIGHTS));
        bufs.back().write(0, in->storage.data(), in->storage.size());
        ds4_tensor* t = g.tensor(in->type, in->ne, bufs.back().get(), 0);
        if (!in->nb.empty() || in->offset)
            t = g.view(t, in->ne, in->nb.empty() ? contiguous_strides(in->type, in->ne) : in->nb, in->offset);
        srcs.push_back(t);
    }
    for (const auto& out : c.dsts) {
        // An output with a start value is carried state (e.g. COMPRESSOR's); the rest scratch.
        bufs.push_back(dev.alloc(contiguous_bytes(out.type, out.ne), out.init.empty() ? DS4_BUFFER_SCRATCH : DS4_BUFFER_STATE));
        if (!out.init.empty()) bufs.back().write(0, out.init.data(), out.init.size());
        dsts.push_back(g.tensor(out.type, out.ne, bufs.back().get(), 0));
    }
    for (int r = 0; r < reps; ++r) {
        g.add_raw(c.op, {}, {}, c.params.data(), static_cast<uint32_t>(c.params.size()));
        ds4_node& node = const_cast<ds4_node&>(g.node(g.size() - 1));
        node.n_src = static_cast<uint32_t>(srcs.size());
        node.n_dst = static_cast<uint32_t>(dsts.size());
        for (size_t i = 0; i < srcs.size(); ++i) node.src[i] = srcs[i];
        for (size_t i = 0; i < dsts.size(); ++i) node.dst[i] = dsts[i];
    }
    host::Plan plan = dev.create_plan(g.c_graph());
    plan.submit();
    dev.synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < submits; ++i) plan.submit();
    dev.synchronize();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / submits;
}

// ---- harness ---------------------------------------------------------------------------------

Harness::Harness() {
    const std::string default_plugin = std::string(DS4_PLUGIN_DIR) + "/libds4-backend-cpu-ref.so";
    plugin_path_ = env_or("DS4_CONFORMANCE_PLUGIN", default_plugin);
    options_ = parse_options(env_or("DS4_CONFORMANCE_OPTIONS", ""));
    plugin_ = host::PluginLoader::load_file(plugin_path_);
    device_ = std::make_unique<host::Device>(*plugin_, 0, options_);
    if (!is_reference()) {
        ref_plugin_ = host::PluginLoader::load_file(env_or("DS4_CONFORMANCE_REFERENCE", default_plugin));
        ref_device_ = std::make_unique<host::Device>(*ref_plugin_, 0);
    }
}

Harness& Harness::get() {
    static Harness h;
    return h;
}

std::unique_ptr<host::Device> Harness::open(const std::vector<std::pair<std::string, std::string>>& extra) const {
    auto opts = options_;
    opts.insert(opts.end(), extra.begin(), extra.end());
    return std::make_unique<host::Device>(*plugin_, 0, opts);
}

// ---- checking ------------------------------------------------------------------------------------

void record(const std::string& op, const std::string& variant, const std::string& status, const std::string& detail) {
    auto& slot = matrix()[{op, variant}];
    // A failure of any case of (op, variant) wins over passes.
    if (slot.first.empty() || status == "failed" || (status == "unsupported" && slot.first == "passed")) slot = {status, detail};
}

static bool bitwise_requested() {
    const char* v = std::getenv("DS4_CONFORMANCE_BITWISE");
    return v && std::string(v) == "1";
}

// "" when two F32 outputs are equal bit for bit (any NaN equals any NaN), else the first
// differing element with both values and how many differ.
static std::string bitwise_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, const std::string& what) {
    if (a.size() != b.size()) return what + ": output sizes differ";
    size_t n = a.size() / 4, diff = 0, first = 0;
    float fa = 0, fb = 0;
    for (size_t i = 0; i < n; ++i) {
        float x, y;
        std::memcpy(&x, a.data() + 4 * i, 4);
        std::memcpy(&y, b.data() + 4 * i, 4);
        if (std::memcmp(&x, &y, 4) == 0 || (std::isnan(x) && std::isnan(y))) continue;
        if (diff++ == 0) first = i, fa = x, fb = y;
    }
    if (!diff) return "";
    char buf[200];
    std::snprintf(buf, sizeof buf, ": %zu of %zu elements differ from cpu-ref in their bits (first [%zu]: %.9g vs %.9g)",
                  diff, n, first, double(fa), double(fb));
    return what + buf;
}

Outputs check_case(const Case& c, const std::vector<Expected>& expected) {
    Harness& h = Harness::get();
    const std::string op = host::op_name(c.op);
    const bool mandatory = host::op_tier(c.op) == 0;
    if (!h.plugin().claims(c.op)) {
        record(op, c.variant, "not claimed");
        if (mandatory) ADD_FAILURE() << c.name << ": Tier-0 op not claimed by " << h.plugin().name();
        return {};
    }
    RunResult r = run_case(h.device(), c);
    if (!r.supported) {
        record(op, c.variant, "unsupported");
        if (mandatory) ADD_FAILURE() << c.name << ": node_supported() refused a documented Tier-0 case";
        return {};
    }
    std::string failure;
    if (!r.error.empty()) failure = "run failed: " + r.error;
    for (auto& v : r.guard_violations) failure += (failure.empty() ? "" : "; ") + std::string("sentinel: ") + v;
    for (size_t i = 0; failure.empty() && i < expected.size() && i < r.outputs.size(); ++i) {
        std::string d = compare(c.dsts[i].type, r.outputs[i], expected[i]);
        if (!d.empty()) failure = "dst" + std::to_string(i) + ": " + d;
    }
    if (failure.empty() && c.check_determinism) {
        RunResult again = run_case(h.device(), c);
        if (again.outputs != r.outputs) failure = "two runs of the same plan inputs gave different bits";
    }
    if (failure.empty() && h.reference_device()) {
        RunResult ref = run_case(*h.reference_device(), c);
        for (size_t i = 0; failure.empty() && i < ref.outputs.size() && i < expected.size(); ++i) {
            Expected vs_ref{as_doubles(c.dsts[i].type, ref.outputs[i]), expected[i].tol};
            std::string d = compare(c.dsts[i].type, r.outputs[i], vs_ref);
            if (!d.empty()) failure = "dst" + std::to_string(i) + " vs cpu-ref: " + d;
            if (failure.empty() && bitwise_requested() && c.dsts[i].type == DS4_TYPE_F32)
                failure = bitwise_difference(r.outputs[i], ref.outputs[i], "dst" + std::to_string(i));
        }
    }
    std::string detail = c.name;
    for (auto& ch : detail)
        if (ch == ',' || ch == '|') ch = ';';
    record(op, c.variant, failure.empty() ? "passed" : "failed", failure.empty() ? "" : detail);
    if (!failure.empty()) ADD_FAILURE() << c.name << ": " << failure;
    return r.outputs;
}

// ---- support matrix ------------------------------------------------------------------------------

void write_support_matrix(const std::string& path) {
    // Several test processes (ctest runs each test alone) merge into one file under a lock.
    std::string lock_path = path + ".lock";
    int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
    if (fd >= 0) flock(fd, LOCK_EX);
    const bool md = path.size() > 3 && path.compare(path.size() - 3, 3, ".md") == 0;
    auto rows = matrix();
    {
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) {
            std::vector<std::string> f;
            std::string cell;
            std::stringstream ss(line);
            char sep = md ? '|' : ',';
            while (std::getline(ss, cell, sep)) {
                size_t a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
                f.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
            }
            if (md && !f.empty()) f.erase(f.begin());  // text before the first '|'
            if (f.size() < 3 || f[0] == "op" || f[0].rfind("---", 0) == 0) continue;
            auto key = std::make_pair(f[0], f[1]);
            if (!rows.count(key)) rows[key] = {f[2], f.size() > 3 ? f[3] : ""};
        }
    }
    std::ofstream out(path, std::ios::trunc);
    if (md) {
        out << "| op | variant | status | detail |\n|---|---|---|---|\n";
        for (auto& [k, v] : rows) out << "| " << k.first << " | " << k.second << " | " << v.first << " | " << v.second << " |\n";
    } else {
        out << "op,variant,status,detail\n";
        for (auto& [k, v] : rows) out << k.first << "," << k.second << "," << v.first << "," << v.second << "\n";
    }
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        ::close(fd);
    }
}

}  // namespace ds4::conformance
