#include "model/synthetic.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include "gguf/gguf.h"
#include "host/status.h"
#include "model/synthetic_fast.h"
#include "quant/quant.h"

namespace ds4::model {
namespace {

// splitmix64: tiny, seedable, identical on every platform (the same spec gives the same file).
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    float uniform() { return static_cast<float>((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }  // [-1, 1)
};

uint64_t hash_name(uint64_t seed, const std::string& s) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

bool contains(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

// How one tensor's values are drawn (see synthetic.h): returns (center, half-width) of a
// uniform distribution for each element.
struct Dist {
    float center, width;
};

Dist dist_for(const TensorSpec& t, const SyntheticSpec& spec) {
    const std::string& n = t.name;
    float fan_in = static_cast<float>(t.ne[0]);
    float unit = std::sqrt(3.0f / fan_in);  // U(-w, w) with w = sqrt(3/fan_in): unit-variance outputs
    switch (t.cls) {
    case TensorClass::Embedding: return {0.0f, std::sqrt(3.0f)};
    case TensorClass::HcFn: return {0.0f, unit * spec.hc_fn_scale};
    case TensorClass::SmallF32:
        if (contains(n, "norm")) return {1.0f, 0.1f};
        if (contains(n, "scale")) return {1.0f, 0.2f};
        if (contains(n, "base")) return {0.0f, 0.5f};
        if (contains(n, "sinks")) return {0.0f, 0.1f};
        if (contains(n, "exp_probs_b")) return {0.0f, 0.05f};
        return {0.0f, 0.1f};
    case TensorClass::Compressor:
        if (contains(n, "ape")) return {0.0f, 0.2f};
        return {0.0f, unit};
    default: return {0.0f, unit};
    }
}

// GPT-2 byte-level symbols: printable Latin-1 bytes map to themselves, the rest to U+0100.. .
std::string byte_symbol(int b) {
    auto printable = [](int c) { return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255); };
    int cp = b;
    if (!printable(b)) {
        int n = 0;
        for (int c = 0; c < b; ++c)
            if (!printable(c)) ++n;
        cp = 256 + n;
    }
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

const char* kSpecials[] = {"<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "｜DSML｜"};
// A few merges so a BPE tokenizer has something to merge; results are appended to the vocab.
const char* kMerges[][2] = {{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"Ġ", "a"}, {"e", "r"}, {"o", "n"}, {"r", "e"}};

// Streams one tensor row by row: draw f32, convert to the target type, write.
void stream_tensor(gguf::ByteSink& sink, const TensorSpec& t, ds4_type type, const SyntheticSpec& spec) {
    Rng rng{hash_name(spec.seed, t.name)};
    int64_t row_len = t.ne[0];
    int64_t rows = t.n_elements() / row_len;
    if (type == DS4_TYPE_I32) {  // tid2eid: n_used distinct expert ids per token
        std::vector<int32_t> row(row_len);
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = 0; j < row_len; ++j) {
                int32_t e;
                bool dup;
                do {
                    e = static_cast<int32_t>(rng.next() % spec.cfg.n_expert);
                    dup = false;
                    for (int64_t k = 0; k < j; ++k) dup |= row[k] == e;
                } while (dup);
                row[j] = e;
            }
            sink.write(row.data(), row.size() * 4);
        }
        return;
    }
    // Rows are drawn in order from one RNG stream, then quantized in parallel (the quantizers
    // are slow for IQ2_XXS and rows are independent), then written in order: deterministic.
    Dist dd = dist_for(t, spec);
    const int64_t row_bytes = ds4_type_row_bytes(type, row_len);
    const int64_t block_rows = std::max<int64_t>(1, (1 << 20) / row_len);
    std::vector<float> f;
    std::vector<uint8_t> q;
    unsigned n_threads = spec.threads ? spec.threads : std::max(1u, std::thread::hardware_concurrency());
    for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
        int64_t nr = std::min(block_rows, rows - r0);
        f.resize(nr * row_len);
        q.resize(nr * row_bytes);
        for (float& v : f) v = dd.center + dd.width * rng.uniform();
        std::atomic<bool> ok{true};
        auto work = [&](unsigned ti) {
            for (int64_t r = ti; r < nr; r += n_threads)
                if (!quant::quantize_row(type, f.data() + r * row_len, q.data() + r * row_bytes, row_len)) ok = false;
        };
        if (nr < 4 * int64_t(n_threads)) {  // small tensors: not worth threads
            for (unsigned ti = 0; ti < n_threads; ++ti) work(ti);
        } else {
            std::vector<std::thread> pool;
            for (unsigned ti = 0; ti < n_threads; ++ti) pool.emplace_back(work, ti);
            for (auto& th : pool) th.join();
        }
        if (!ok) throw Error("synthetic: cannot encode tensor '" + t.name + "' as " + ds4_type_name(type));
        sink.write(q.data(), q.size());
    }
}

// Adds every tensor of `specs_in` (optional ones only when spec.router_bias) as a stream
// that is generated while the writer writes (spec and progress must outlive Writer::write).
void add_tensors(gguf::Writer& w, std::vector<TensorSpec> specs_in, const SyntheticSpec& spec,
                 const SyntheticProgress& progress) {
    auto specs = std::make_shared<std::vector<TensorSpec>>();
    for (TensorSpec& t : specs_in)
        if (!t.optional || spec.router_bias) specs->push_back(std::move(t));
    auto done = std::make_shared<std::pair<uint64_t, uint64_t>>(0, 0);  // tensors, bytes
    uint64_t total_bytes = 0;
    for (const TensorSpec& t : *specs) {
        ds4_type type = recipe_type(spec.recipe, t.cls);
        int64_t rb = ds4_type_row_bytes(type, t.ne[0]);
        if (rb < 0)
            throw Error("synthetic: tensor '" + t.name + "' row of " + std::to_string(t.ne[0]) +
                        " elements is not a multiple of the " + ds4_type_name(type) + " block (" +
                        std::to_string(ds4_type_block_elems(type)) + "); recipe " + recipe_name(spec.recipe));
        total_bytes += rb * (t.n_elements() / t.ne[0]);
    }
    const uint64_t n_total = specs->size();
    for (size_t i = 0; i < specs->size(); ++i) {
        const TensorSpec& t = (*specs)[i];
        ds4_type type = recipe_type(spec.recipe, t.cls);
        uint64_t nbytes = ds4_type_row_bytes(type, t.ne[0]) * (t.n_elements() / t.ne[0]);
        w.add_tensor(t.name, type, t.ne, [&spec, &progress, specs, done, i, type, nbytes, n_total,
                                          total_bytes](gguf::ByteSink& sink) {
            const TensorSpec& ts = (*specs)[i];
            const bool expert = ts.cls == TensorClass::ExpertGateUp || ts.cls == TensorClass::ExpertDown;
            if (spec.fast_experts && expert && detail::fast_tensor_type(type)) {
                uint64_t reported = 0;
                const float sigma = dist_for(ts, spec).width / std::sqrt(3.0f);
                detail::stream_fast_tensor(sink, type, ts.ne[0], ts.n_elements() / ts.ne[0], sigma,
                                           hash_name(spec.seed, ts.name), spec.threads, [&](uint64_t b) {
                                               reported += b;
                                               done->second += b;
                                               if (progress && reported < nbytes)
                                                   progress(ts.name, done->first, n_total, done->second, total_bytes);
                                           });
                done->second -= reported;
            } else {
                stream_tensor(sink, ts, type, spec);
            }
            done->first += 1;
            done->second += nbytes;
            if (progress) progress(ts.name, done->first, n_total, done->second, total_bytes);
        });
    }
}

}  // namespace

SyntheticSpec SyntheticSpec::tiny() {
    SyntheticSpec s;
    ModelConfig& c = s.cfg;
    c = ModelConfig::flash();
    c.name = "ds4-synthetic-tiny";
    c.context_length = 4096;
    c.n_layer = 6;
    c.d = 256;
    c.vocab = 384;
    c.n_head = 4;
    c.head_dim = 128;
    c.n_rot = 64;
    c.q_rank = 64;
    c.o_rank = 64;
    c.o_groups = 2;
    c.n_expert = 8;
    c.n_expert_used = 2;
    c.expert_ff = 256;
    c.n_hash_layer = 3;
    c.window = 16;
    c.idx_heads = 4;
    c.idx_head_dim = 128;
    c.idx_top_k = 8;
    c.compress_ratios = {0, 0, 4, 8, 4, 16};
    c.swiglu_clamp.assign(6, 10.0f);
    return s;
}

SyntheticSpec SyntheticSpec::full(uint32_t n_layer) {
    SyntheticSpec s;
    s.cfg = ModelConfig::flash();
    s.cfg.name = "ds4-synthetic-full";
    s.cfg.n_layer = n_layer;
    s.cfg.compress_ratios.resize(n_layer);
    s.cfg.swiglu_clamp.resize(n_layer);
    if (s.cfg.n_hash_layer > n_layer) s.cfg.n_hash_layer = n_layer;
    return s;
}

void write_synthetic_mtp(const std::string& path, const SyntheticSpec& spec, const SyntheticProgress& progress) {
    spec.cfg.validate("synthetic spec");
    gguf::Writer w;
    try {
        w.add_u32("general.alignment", 32);
        w.add_string("general.architecture", "deepseek4");
        w.add_string("general.name", spec.cfg.name + "-mtp");
        SyntheticSpec s = spec;
        s.router_bias = true;  // required in the MTP block
        add_tensors(w, mtp_tensors(spec.cfg), s, progress);
        w.write(path);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
}

std::vector<std::string> synthetic_vocab(uint32_t vocab) {
    std::vector<std::string> v = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"};
    for (int b = 0; b < 256; ++b) v.push_back(byte_symbol(b));
    for (const char* s : kSpecials) v.push_back(s);
    for (auto& m : kMerges) v.push_back(std::string(m[0]) + m[1]);
    if (v.size() > vocab)
        throw Error("synthetic: vocab_size " + std::to_string(vocab) + " is too small for the generated vocabulary (" +
                    std::to_string(v.size()) + " entries)");
    for (uint32_t i = static_cast<uint32_t>(v.size()); i < vocab; ++i) v.push_back("<｜pad_" + std::to_string(i) + "｜>");
    return v;
}

void write_synthetic(const std::string& path, const SyntheticSpec& spec, const SyntheticProgress& progress) {
    spec.cfg.validate("synthetic spec");
    gguf::Writer w;
    try {
        w.add_u32("general.alignment", 32);
        spec.cfg.write_metadata(w);
        std::vector<std::string> tokens = spec.tokens.empty() ? synthetic_vocab(spec.cfg.vocab) : spec.tokens;
        if (tokens.size() != spec.cfg.vocab)
            throw Error("synthetic: " + std::to_string(tokens.size()) + " tokens given, vocab_size is " +
                        std::to_string(spec.cfg.vocab));
        std::vector<std::string> merges = spec.merges;
        std::vector<int32_t> token_type(tokens.size(), 1);  // 1 normal, 3 control
        if (spec.tokens.empty()) {
            for (auto& m : kMerges) merges.push_back(std::string(m[0]) + " " + m[1]);
            token_type[0] = token_type[1] = 3;
            for (size_t i = 258; i < 258 + std::size(kSpecials); ++i) token_type[i] = 3;
            for (size_t i = 258 + std::size(kSpecials) + std::size(kMerges); i < tokens.size(); ++i) token_type[i] = 3;
        }
        w.add_string("tokenizer.ggml.model", "gpt2");
        w.add_string("tokenizer.ggml.pre", "joyai-llm");
        w.add_string_array("tokenizer.ggml.tokens", tokens);
        w.add_string_array("tokenizer.ggml.merges", merges);
        w.add_array<int32_t>("tokenizer.ggml.token_type", token_type);
        w.add_u32("tokenizer.ggml.bos_token_id", 0);
        w.add_u32("tokenizer.ggml.eos_token_id", 1);

        add_tensors(w, model_tensors(spec.cfg), spec, progress);
        w.write(path);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
}

}  // namespace ds4::model
