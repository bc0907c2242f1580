#include "model_fixture.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include <unistd.h>

#include "host/status.h"

namespace ds4::model::test {

const host::Device* cpu_device(std::string* why) {
    static std::unique_ptr<host::Plugin> plugin;
    static std::unique_ptr<host::Device> dev;
    static std::string reason;
    static bool tried = false;
    if (!tried) {
        tried = true;
        try {
            // DS4_TEST_PLUGIN=<.so> runs the same checks on another backend (the GPU run).
            const char* other = std::getenv("DS4_TEST_PLUGIN");
            plugin = other && *other ? host::PluginLoader::load_file(other)
                                     : host::PluginLoader::load("cpu-ref", {DS4_PLUGIN_DIR});
            std::vector<std::pair<std::string, std::string>> options;
            if (plugin->name() == "cpu-ref") options.push_back({"threads", "2"});
            dev = std::make_unique<host::Device>(*plugin, 0, options);
            for (uint32_t op : host::ops_of_tier(1))
                if (!plugin->claims(op)) {
                    reason = std::string("cpu-ref does not claim tier-1 op '") + host::op_name(op) +
                             "' and the model does not lower tier-1 ops yet";
                    dev.reset();
                    break;
                }
        } catch (const std::exception& e) {
            reason = std::string("cpu-ref plugin unavailable: ") + e.what();
            dev.reset();
        }
    }
    if (!dev && why) *why = reason;
    return dev.get();
}

// ctest runs every test in its own process, possibly in parallel: each process writes its own
// copies (name with the pid) and removes them when it exits.
struct WrittenFiles {
    std::vector<std::string> paths;
    ~WrittenFiles() {
        for (auto& p : paths) std::filesystem::remove(p);
    }
};

std::string tiny_model_path(Recipe r) {
    static std::mutex mu;
    static WrittenFiles written;
    static std::map<Recipe, std::string> by_recipe;
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_recipe.find(r);
    if (it != by_recipe.end()) return it->second;
    std::string path = std::string(DS4_MODEL_TEST_DIR) + "/tiny-" + recipe_name(r) + "-" +
                       std::to_string(static_cast<long>(::getpid())) + ".gguf";
    SyntheticSpec spec = SyntheticSpec::tiny();
    spec.recipe = r;
    spec.seed = 1234;
    write_synthetic(path, spec);
    written.paths.push_back(path);
    by_recipe[r] = path;
    return path;
}

const Model& tiny_model(Recipe r) {
    static std::map<Recipe, std::unique_ptr<Model>> models;
    auto& m = models[r];
    if (!m) m = Model::open(tiny_model_path(r), *cpu_device(nullptr));
    return *m;
}

std::vector<int32_t> test_tokens(size_t n, uint32_t seed) {
    std::vector<int32_t> t;
    t.push_back(0);  // BOS
    uint64_t s = seed;
    while (t.size() < n) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t.push_back(static_cast<int32_t>((s >> 33) % 384));
    }
    return t;
}

std::vector<float> decode_each(Session& s, const std::vector<int32_t>& tokens) {
    std::vector<float> out;
    for (int32_t t : tokens) {
        std::vector<float> l = s.eval({t});
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

double kl_divergence(const float* ref, const float* test, size_t n) {
    auto logsumexp = [n](const float* v) {
        double m = -INFINITY;
        for (size_t i = 0; i < n; ++i) m = std::max(m, double(v[i]));
        double s = 0;
        for (size_t i = 0; i < n; ++i) s += std::exp(double(v[i]) - m);
        return m + std::log(s);
    };
    double lr = logsumexp(ref), lt = logsumexp(test), kl = 0;
    for (size_t i = 0; i < n; ++i) {
        double lp = ref[i] - lr, lq = test[i] - lt;
        kl += std::exp(lp) * (lp - lq);
    }
    return kl;
}

size_t argmax(const float* v, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; ++i)
        if (v[i] > v[b]) b = i;
    return b;
}

SessionOptions opts(Numerics num, uint32_t chunk, uint64_t ctx) {
    SessionOptions o;
    o.ctx = ctx;
    o.prefill_chunk = chunk;
    o.numerics = num;
    return o;
}

}  // namespace ds4::model::test
