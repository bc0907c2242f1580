// The op conformance framework: runs op cases on ANY backend plugin through core/host
// (PluginLoader, Device, Graph) and compares with references computed by the tests.
//
//   * The plugin under test comes from DS4_CONFORMANCE_PLUGIN (a .so path; default: the
//     built cpu-ref). Device options from DS4_CONFORMANCE_OPTIONS ("k=v,k=v").
//   * Every case runs with guard regions (sentinel bytes) around every buffer; touching them
//     fails the case. Outputs are pre-filled with a pattern so unwritten elements show up.
//   * Each case is compared with its reference (Expected: value + per-element tolerance; NaN
//     must match NaN, ±Inf must match exactly), run twice to check run-to-run determinism,
//     and, for a plugin other than cpu-ref, compared with cpu-ref's output as well. A backend
//     that reproduces cpu-ref's arithmetic step for step (the GPU plugin does) is checked with
//     DS4_CONFORMANCE_BITWISE=1: every F32 output must then equal cpu-ref's bit for bit (NaN
//     matches any NaN), not only within the tolerance.
//   * Results are recorded for the support matrix (op × variant → passed / failed /
//     unsupported), written when DS4_SUPPORT_MATRIX=<path> (.md → markdown, else CSV) or
//     --support-matrix=<path> is given.
//
// Tier-1 tests (another suite) reuse Input/Case/run_case and the input builders below.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ds4/backend.h"
#include "host/device.h"
#include "host/plugin_loader.h"

namespace ds4::conformance {

// ---- inputs and outputs ----------------------------------------------------------------------

// A source tensor: `storage` holds the bytes of the whole underlying region; the op sees the
// view (ne, nb, offset). nb empty = contiguous over ne.
struct Input {
    ds4_type type = DS4_TYPE_F32;
    std::vector<int64_t> ne;
    std::vector<int64_t> nb;
    uint64_t offset = 0;
    std::vector<uint8_t> storage;
};

// A destination tensor, contiguous. `init` (optional, contiguous bytes) is its content before
// the op (ops that update in place, e.g. SET_ROWS); otherwise it is filled with 0xCD bytes.
struct Output {
    ds4_type type = DS4_TYPE_F32;
    std::vector<int64_t> ne;
    std::vector<uint8_t> init;
};

struct Case {
    std::string name;     // unique, human readable: "matmul q8_0 act=ds4 4096x1024 n=1"
    std::string variant;  // support-matrix column: "q8_0/ds4", "f16->f32", ...
    uint32_t op = 0;
    std::vector<uint8_t> params;          // the op's params struct bytes (struct_size set)
    std::vector<std::optional<Input>> srcs;  // nullopt = optional source passed as NULL
    std::vector<Output> dsts;
    int inplace_src = -1;  // >= 0: dst0 is that source's view (same buffer), for in-place ops
    bool check_determinism = true;  // run twice, compare bits (off for the very large cases)
};

template <class P>
std::vector<uint8_t> params_bytes(P p) {
    p.struct_size = sizeof(P);
    const auto* b = reinterpret_cast<const uint8_t*>(&p);
    return std::vector<uint8_t>(b, b + sizeof(P));
}

// Expected values of one output (as doubles; I32 outputs compare exactly) with a per-element
// absolute tolerance.
struct Expected {
    std::vector<double> value;
    std::vector<double> tol;
};
// Exact comparison (tolerance 0; also right for integer outputs).
Expected exact(std::vector<double> v);
// |a − e| <= abs + rel·|e|.
Expected within(std::vector<double> v, double abs, double rel);
// |a − e| <= rel·mag[i] + abs: for dot products, mag = Σ|w·x| bounds the rounding error.
Expected within_magnitude(std::vector<double> v, const std::vector<double>& mag, double rel, double abs = 0.0);

// ---- input builders (deterministic: same seed, same data) -------------------------------------

// Uniform floats in [lo, hi).
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
std::vector<int32_t> random_ints(size_t n, uint64_t seed, int32_t lo, int32_t hi);  // [lo, hi]

Input f32_input(std::vector<int64_t> ne, const std::vector<float>& data);
Input i32_input(std::vector<int64_t> ne, const std::vector<int32_t>& data);
// Rows of f32 values (rows × cols, row-major) converted to `type` (F32, F16, BF16 or any
// weight type via ds4::quant::quantize_row). ne = {cols, rows[, extra dims]}.
Input weight_input(ds4_type type, std::vector<int64_t> ne, const std::vector<float>& values);
// Random but valid blocks of a weight type (F32/F16/BF16: uniform floats in [-1, 1)):
// random quant bytes with sane f16 scales. Fast, for the large real-shape cases where
// running the quantizer would dominate the test time.
Input random_weight_input(ds4_type type, std::vector<int64_t> ne, uint64_t seed);
// A strided F32 view: the data of `ne` with element (i0, i1, ...) stored at
// offset + Σ i·nb (bytes) of a storage of `storage_bytes` bytes filled with `fill`.
Input f32_view(std::vector<int64_t> ne, std::vector<int64_t> nb, uint64_t offset, const std::vector<float>& logical,
               float fill = 1234.5f);

// Element access in logical (contiguous, row-major over ne) order.
int64_t n_elems(const std::vector<int64_t>& ne);
std::vector<float> logical_floats(const Input& in);   // F32/F16/BF16 inputs
std::vector<float> dequantized(const Input& in);      // any weight type, row by row (ds4::quant)

// ---- running ---------------------------------------------------------------------------------

// Raw output bytes (contiguous) of one run.
using Outputs = std::vector<std::vector<uint8_t>>;

struct RunResult {
    bool supported = true;  // node_supported said yes
    std::string error;      // non-empty: the plan failed (message of ds4::Error)
    Outputs outputs;
    std::vector<std::string> guard_violations;  // "dst0 after +12"
};

// Runs one case on a device (allocates buffers with guards, builds a one-node graph).
RunResult run_case(const host::Device& dev, const Case& c);

// Microseconds per submit of a plan holding `reps` copies of the case's node: inputs uploaded
// once, no guards; the copies share their outputs (and any state they carry), so each copy
// does the same work. (t(reps) − t(1)) / (reps − 1) is then the time of one node. For the
// opt-in timing tests.
double time_case(const host::Device& dev, const Case& c, int reps, int submits);

// The plugin under test and, when it is not cpu-ref, cpu-ref for cross-checks.
class Harness {
public:
    static Harness& get();
    const host::Plugin& plugin() const { return *plugin_; }
    const host::Device& device() const { return *device_; }
    bool is_reference() const { return plugin_->name() == "cpu-ref"; }
    const host::Device* reference_device() const { return ref_device_.get(); }
    const std::vector<std::pair<std::string, std::string>>& options() const { return options_; }
    // Opens another device of the plugin under test with extra options (e.g. threads).
    std::unique_ptr<host::Device> open(const std::vector<std::pair<std::string, std::string>>& extra) const;
    std::string plugin_path() const { return plugin_path_; }

private:
    Harness();
    std::string plugin_path_;
    std::vector<std::pair<std::string, std::string>> options_;
    std::unique_ptr<host::Plugin> plugin_, ref_plugin_;
    std::unique_ptr<host::Device> device_, ref_device_;
};

// For Tier-1 tests (inside a TEST body, namespace ds4::conformance): skips the test when the
// plugin under test does not claim `op`, since core then decomposes the op into Tier-0 ops.
#define SKIP_UNLESS_CLAIMED(op)                                                                         \
    do {                                                                                                \
        if (!Harness::get().plugin().claims(op)) {                                                      \
            record(host::op_name(op), "all", "not claimed");                                            \
            GTEST_SKIP() << Harness::get().plugin().name() << " does not claim " << host::op_name(op)   \
                         << " (core decomposes it into Tier-0 ops)";                                    \
        }                                                                                               \
    } while (0)

// Runs a case on the plugin under test and checks it: node_supported, guards, Expected per
// output, determinism, cpu-ref agreement. Reports gtest failures; records the support matrix.
// Returns the outputs (empty if the case could not run).
Outputs check_case(const Case& c, const std::vector<Expected>& expected);

// Compares outputs of type `type` with an expectation; returns "" or a failure description.
std::string compare(ds4_type type, const std::vector<uint8_t>& actual, const Expected& e);
// Outputs as doubles (F32, F16, BF16, I32).
std::vector<double> as_doubles(ds4_type type, const std::vector<uint8_t>& bytes);

// Support matrix rows of this process (op, variant, status, detail).
void record(const std::string& op, const std::string& variant, const std::string& status, const std::string& detail = "");
// Writes/merges the matrix into `path` (called at exit when requested).
void write_support_matrix(const std::string& path);

}  // namespace ds4::conformance
