// convert_hf: checkpoint → GGUF (convert.h). The writer streams each tensor through a
// callback: rows are decoded in batches from the mmapped checkpoint, quantized in parallel
// (each row independently, so the bytes do not depend on the thread count) and written
// in order.
#include "convert.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "gguf/gguf.h"
#include "hf_tensors.h"
#include "host/status.h"
#include "quant/quant.h"
#include "vocab.h"

namespace ds4::convert {
namespace {

bool file_exists(const std::string& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string basename_of(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    size_t s = dir.find_last_of('/');
    return s == std::string::npos ? dir : dir.substr(s + 1);
}

unsigned pick_threads(unsigned t) {
    if (t) return t;
    unsigned hc = std::thread::hardware_concurrency();
    return std::clamp(hc, 1u, 16u);
}

// Rows per batch: ~4 MiB of f32 per batch, at least one row.
int64_t batch_rows(int64_t row_len) { return std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(1, row_len)); }

void stream_float_tensor(gguf::ByteSink& sink, const RowSource& src, ds4_type type, unsigned threads,
                         const std::string& name) {
    const int64_t rl = src.row_len;
    const int64_t row_bytes = ds4_type_row_bytes(type, rl);
    const int64_t per = std::min(batch_rows(rl), src.n_rows);
    std::vector<float> f(static_cast<size_t>(per * rl));
    std::vector<uint8_t> q(type == DS4_TYPE_F32 ? 0 : static_cast<size_t>(per * row_bytes));
    for (int64_t first = 0; first < src.n_rows; first += per) {
        const int64_t n = std::min(per, src.n_rows - first);
        src.read_rows(first, n, f.data());
        if (type == DS4_TYPE_F32) {
            sink.write(f.data(), static_cast<size_t>(n * rl) * 4);
            continue;
        }
        // Row r goes to worker r % T: fixed work split, each row quantized on its own.
        const unsigned T = static_cast<unsigned>(std::min<int64_t>(threads, n));
        std::vector<char> ok(T, 1);
        auto work = [&](unsigned w) {
            for (int64_t r = w; r < n; r += T)
                if (!quant::quantize_row(type, f.data() + r * rl, q.data() + r * row_bytes, rl)) ok[w] = 0;
        };
        if (T <= 1 || type == DS4_TYPE_F16 || type == DS4_TYPE_BF16) {
            for (unsigned w = 0; w < T; ++w) work(w);
        } else {
            std::vector<std::thread> pool;
            for (unsigned w = 1; w < T; ++w) pool.emplace_back(work, w);
            work(0);
            for (auto& th : pool) th.join();
        }
        for (char c : ok)
            if (!c) throw Error("cannot encode tensor '" + name + "' as " + ds4_type_name(type));
        sink.write(q.data(), static_cast<size_t>(n * row_bytes));
    }
}

void stream_i32_tensor(gguf::ByteSink& sink, const RowSource& src) {
    const int64_t per = std::min(batch_rows(src.row_len), src.n_rows);
    std::vector<int32_t> v(static_cast<size_t>(per * src.row_len));
    for (int64_t first = 0; first < src.n_rows; first += per) {
        const int64_t n = std::min(per, src.n_rows - first);
        src.read_rows_i32(first, n, v.data());
        sink.write(v.data(), static_cast<size_t>(n * src.row_len) * 4);
    }
}

// config.json "tie_word_embeddings" (absent = false, as in DeepSeek V4).
bool ties_embeddings(const std::string& dir) {
    std::ifstream in(dir + "/config.json", std::ios::binary);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    return j.is_object() && j.contains("tie_word_embeddings") && j["tie_word_embeddings"].is_boolean() &&
           j["tie_word_embeddings"].get<bool>();
}

bool head_present(const Checkpoint& ck, Naming naming, const model::TensorSpec& s) {
    for (const std::string& n : source_names(naming, s))
        if (ck.find(n)) return true;
    return false;
}

Vocabulary pick_vocabulary(const std::string& tokenizer_json, const std::string& hf_dir, uint32_t vocab) {
    if (!tokenizer_json.empty()) return load_tokenizer_json(tokenizer_json, vocab);
    if (!hf_dir.empty() && file_exists(hf_dir + "/tokenizer.json")) return load_tokenizer_json(hf_dir + "/tokenizer.json", vocab);
    return generated_vocabulary(vocab);
}

}  // namespace

ConvertResult convert_hf(const ConvertOptions& o) {
    if (o.hf_dir.empty()) throw Error("ds4-convert: no checkpoint directory given (--hf DIR)");
    if (o.out_path.empty()) throw Error("ds4-convert: no output file given (--out FILE.gguf)");
    ConvertResult res;
    res.cfg = read_hf_config(o.hf_dir);
    res.cfg.name = o.name.empty() ? basename_of(o.hf_dir) : o.name;
    const model::ModelConfig& cfg = res.cfg;

    Checkpoint ck(o.hf_dir);
    res.naming = detect_naming(ck);
    Vocabulary vocab = pick_vocabulary(o.tokenizer_json, o.hf_dir, cfg.vocab);
    res.vocabulary = vocab.source;

    // Resolve and validate every source before writing anything: a bad checkpoint fails fast.
    struct Item {
        const model::TensorSpec* spec;
        ds4_type type;
        std::unique_ptr<RowSource> src;
        uint64_t bytes;
    };
    const std::vector<model::TensorSpec> specs = model::model_tensors(cfg);
    std::vector<Item> items;
    std::set<std::string> used;
    uint64_t total_bytes = 0;
    const bool tied = ties_embeddings(o.hf_dir);
    for (const model::TensorSpec& s : specs) {
        std::unique_ptr<RowSource> src;
        if (s.cls == model::TensorClass::Output && tied && !head_present(ck, res.naming, s)) {
            // tie_word_embeddings: the LM head is the embedding matrix (same [vocab, d] shape).
            model::TensorSpec as_embd = s;
            as_embd.hf_name = "embed.weight";
            src = open_source(ck, res.naming, as_embd, cfg);
        } else {
            src = open_source(ck, res.naming, s, cfg);
        }
        if (!src) continue;  // optional and absent
        const ds4_type type = model::recipe_type(o.recipe, s.cls);
        const int64_t rb = ds4_type_row_bytes(type, s.ne[0]);
        if (rb < 0)
            throw Error("recipe " + std::string(model::recipe_name(o.recipe)) + ": tensor '" + s.name + "' rows of " +
                        std::to_string(s.ne[0]) + " elements are not a multiple of the " + ds4_type_name(type) +
                        " block (" + std::to_string(ds4_type_block_elems(type)) + "); use a float recipe (f32/f16)");
        for (auto& u : src->used) used.insert(u);
        const uint64_t bytes = static_cast<uint64_t>(rb) * static_cast<uint64_t>(src->n_rows);
        total_bytes += bytes;
        items.push_back({&s, type, std::move(src), bytes});
    }
    for (const auto& [name, t] : ck.all()) {
        if (used.count(name) || name.rfind("mtp.", 0) == 0) continue;
        res.ignored.push_back(name);
        if (o.on_ignored) o.on_ignored(name);
    }

    gguf::Writer w;
    const unsigned threads = pick_threads(o.threads);
    try {
        w.add_u32("general.alignment", 32);
        cfg.write_metadata(w);
        w.add_string("general.source", std::string("ds4-convert from ") + naming_name(res.naming) + " checkpoint");
        w.add_string("general.file_type", model::recipe_name(o.recipe));
        write_tokenizer_metadata(w, vocab);
        uint64_t done = 0, bytes_done = 0;
        const uint64_t n_total = items.size();
        for (Item& it : items) {
            Item* ip = &it;
            w.add_tensor(it.spec->name, it.type, it.spec->ne, [&, ip](gguf::ByteSink& sink) {
                if (ip->type == DS4_TYPE_I32) stream_i32_tensor(sink, *ip->src);
                else stream_float_tensor(sink, *ip->src, ip->type, threads, ip->spec->name);
                ++done;
                bytes_done += ip->bytes;
                if (o.progress) o.progress(ip->spec->name, done, n_total, bytes_done, total_bytes);
            });
        }
        res.n_tensors = w.n_tensors();
        res.bytes = w.total_size();
        w.write(o.out_path);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
    return res;
}

model::ModelConfig write_synthetic_model(const SyntheticOptions& o) {
    if (o.out_path.empty()) throw Error("ds4-convert: no output file given (--out FILE.gguf)");
    model::SyntheticSpec spec;
    if (o.preset == "tiny") {
        spec = model::SyntheticSpec::tiny();
        if (o.layers) {
            // Extend/shrink the tiny pattern: 2 sliding layers, then CSA (ratio 4) on even
            // layers and HCA alternating 8 / 16 on odd ones, as in [0,0,4,8,4,16].
            model::ModelConfig& c = spec.cfg;
            c.n_layer = o.layers;
            c.compress_ratios.resize(o.layers);
            for (uint32_t il = 0; il < o.layers; ++il)
                c.compress_ratios[il] = il < 2 ? 0 : il % 2 == 0 ? 4 : ((il / 2) % 2 ? 8 : 16);
            c.swiglu_clamp.assign(o.layers, 10.0f);
            c.n_hash_layer = std::min<uint32_t>(c.n_hash_layer, o.layers);
        }
    } else if (o.preset == "full") {
        spec = model::SyntheticSpec::full(o.layers ? o.layers : 43);
    } else {
        throw Error("ds4-convert: unknown preset '" + o.preset + "' (expected tiny or full)");
    }
    spec.recipe = o.recipe;
    spec.seed = o.seed;
    spec.fast_experts = o.fast_experts < 0 ? o.preset == "full" : o.fast_experts != 0;
    spec.threads = o.threads;
    if (!o.tokenizer_json.empty()) {
        // A small test vocabulary is padded to the preset's size; one that does not fit it
        // (the real DeepSeek vocabulary) is padded to the published vocab size (129280), so
        // token ids and the LM head have the shapes of the real model.
        constexpr uint32_t kPublishedVocab = 129280;
        Vocabulary v;
        try {
            v = load_tokenizer_json(o.tokenizer_json, spec.cfg.vocab);
        } catch (const Error&) {  // too large for the preset (a broken file fails again below)
            v = load_tokenizer_json(o.tokenizer_json, 0);
            if (v.tokens.size() < kPublishedVocab) v = load_tokenizer_json(o.tokenizer_json, kPublishedVocab);
        }
        spec.cfg.vocab = static_cast<uint32_t>(v.tokens.size());
        spec.tokens = std::move(v.tokens);
        spec.merges = std::move(v.merges);
    }
    model::write_synthetic(o.out_path, spec, o.progress);
    return spec.cfg;
}

}  // namespace ds4::convert
