#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "gguf/gguf.h"
#include "host/status.h"

namespace ds4::model {
namespace {

const char* kArch = "deepseek4";
std::string key(const char* k) { return std::string(kArch) + "." + k; }

std::string fmt_float(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

// Reads one metadata key through the gguf getters, turning their errors into ds4::Error.
template <class F>
auto read_key(F&& f) {
    try {
        return f();
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
}

[[noreturn]] void bad(const std::string& where, const std::string& k, const std::string& got,
                      const std::string& expected) {
    throw Error(where + ": " + k + " = " + got + ", expected " + expected);
}

// A numeric array of at least n entries as uint32 (ratios) or float (clamps), with the
// element types ds4 accepts.
std::vector<uint32_t> read_ratios(const gguf::File& f, const std::string& k, uint32_t n) {
    const gguf::Array& a = read_key([&]() -> const gguf::Array& { return f.get_array(k); });
    if (a.type() != gguf::ValueType::UINT32 && a.type() != gguf::ValueType::INT32)
        throw Error(f.name() + ": " + k + ": array of " + gguf::value_type_name(a.type()) +
                    ", expected an array of UINT32 or INT32");
    if (a.size() < n)
        throw Error(f.name() + ": " + k + ": " + std::to_string(a.size()) + " entries, expected at least " +
                    std::to_string(n) + " (block_count)");
    std::vector<uint32_t> out(n);
    for (uint32_t i = 0; i < n; ++i) {
        int64_t v = a.as_int(i);
        if (v < 0) bad(f.name(), k + "[" + std::to_string(i) + "]", std::to_string(v), "a ratio >= 0");
        if (v > (1 << 20)) bad(f.name(), k + "[" + std::to_string(i) + "]", std::to_string(v), "a ratio <= 2^20");
        out[i] = static_cast<uint32_t>(v);
    }
    return out;
}

std::vector<float> read_clamps(const gguf::File& f, const std::string& k, uint32_t n) {
    const gguf::Array& a = read_key([&]() -> const gguf::Array& { return f.get_array(k); });
    if (a.type() != gguf::ValueType::FLOAT32 && a.type() != gguf::ValueType::FLOAT64)
        throw Error(f.name() + ": " + k + ": array of " + gguf::value_type_name(a.type()) +
                    ", expected an array of FLOAT32 or FLOAT64");
    if (a.size() < n)
        throw Error(f.name() + ": " + k + ": " + std::to_string(a.size()) + " entries, expected at least " +
                    std::to_string(n) + " (block_count)");
    std::vector<float> out(n);
    for (uint32_t i = 0; i < n; ++i) out[i] = static_cast<float>(a.as_double(i));
    return out;
}

bool close_rel(double a, double b) { return std::fabs(a - b) <= 1e-6 * std::max(std::fabs(a), std::fabs(b)); }

}  // namespace

const char* attn_kind_name(AttnKind k) {
    switch (k) {
    case AttnKind::Sliding: return "sliding";
    case AttnKind::CSA: return "csa";
    case AttnKind::HCA: return "hca";
    }
    return "?";
}

AttnKind ModelConfig::kind(uint32_t layer) const {
    uint32_t r = compress_ratios[layer];
    if (r == 0) return AttnKind::Sliding;
    return r == 4 ? AttnKind::CSA : AttnKind::HCA;
}

ModelConfig ModelConfig::from_gguf(const gguf::File& f) {
    ModelConfig c;
    const std::string& fn = f.name();
    auto u32 = [&](const char* k) { return read_key([&] { return f.get_u32(key(k)); }); };
    auto num = [&](const char* k) { return read_key([&] { return f.get_f32(key(k)); }); };
    c.architecture = std::string(read_key([&] { return f.get_string_or("general.architecture", ""); }));
    c.name = std::string(read_key([&] { return f.get_string_or("general.name", ""); }));
    if (!c.architecture.empty() && c.architecture != kArch)
        throw Error(fn + ": general.architecture = '" + c.architecture + "', expected 'deepseek4'");
    c.context_length = read_key([&] { return f.get_u64_or(key("context_length"), 0); });
    c.n_layer = u32("block_count");
    c.d = u32("embedding_length");
    c.vocab = u32("vocab_size");
    c.n_head = u32("attention.head_count");
    c.n_head_kv = u32("attention.head_count_kv");
    c.head_dim = u32("attention.key_length");
    uint32_t value_len = u32("attention.value_length");
    if (value_len != c.head_dim)
        bad(fn, key("attention.value_length"), std::to_string(value_len),
            std::to_string(c.head_dim) + " (= key_length: K and V are the same vector)");
    c.n_rot = u32("rope.dimension_count");
    c.q_rank = u32("attention.q_lora_rank");
    c.o_rank = u32("attention.output_lora_rank");
    c.o_groups = u32("attention.output_group_count");
    c.n_expert = u32("expert_count");
    c.n_expert_used = u32("expert_used_count");
    c.expert_ff = u32("expert_feed_forward_length");
    c.n_expert_shared = u32("expert_shared_count");
    c.n_hash_layer = u32("hash_layer_count");
    c.expert_group_count = read_key([&] { return f.get_u32_or(key("expert_group_count"), 0); });
    c.expert_group_used = read_key([&] { return f.get_u32_or(key("expert_group_used_count"), 0); });
    c.window = u32("attention.sliding_window");
    c.idx_heads = u32("attention.indexer.head_count");
    c.idx_head_dim = u32("attention.indexer.key_length");
    c.idx_top_k = u32("attention.indexer.top_k");
    c.n_hc = u32("hyper_connection.count");
    c.sinkhorn_iters = u32("hyper_connection.sinkhorn_iterations");
    if (c.n_layer == 0 || c.n_layer > 1024) bad(fn, key("block_count"), std::to_string(c.n_layer), "1..1024");
    c.compress_ratios = read_ratios(f, key("attention.compress_ratios"), c.n_layer);
    c.swiglu_clamp = read_clamps(f, key("swiglu_clamp_exp"), c.n_layer);
    c.rope_orig_ctx = read_key([&] { return f.get_u64(key("rope.scaling.original_context_length")); });
    c.rope_freq_base = num("rope.freq_base");
    c.rope_scale_factor = num("rope.scaling.factor");
    c.yarn_beta_fast = num("rope.scaling.yarn_beta_fast");
    c.yarn_beta_slow = num("rope.scaling.yarn_beta_slow");
    c.compress_rope_freq_base = num("attention.compress_rope_freq_base");
    c.expert_weights_scale = num("expert_weights_scale");
    c.rms_eps = num("attention.layer_norm_rms_epsilon");
    c.hc_eps = num("hyper_connection.epsilon");
    c.expert_weights_norm = read_key([&] { return f.get_bool(key("expert_weights_norm")); });
    c.validate(fn);

    // CSA layers (ratio 4) carry the indexer; no other layer may (docs/model.md).
    for (uint32_t il = 0; il < c.n_layer; ++il) {
        std::string t = "blk." + std::to_string(il) + ".indexer.attn_q_b.weight";
        bool has = f.find_tensor(t) != nullptr;
        bool want = c.kind(il) == AttnKind::CSA;
        if (has != want)
            throw Error(fn + ": tensor '" + t + "' " + (has ? "present" : "missing") + ": layer " + std::to_string(il) +
                        " has compress ratio " + std::to_string(c.ratio(il)) + " (" +
                        (want ? "ratio-4 layers are CSA and need the lightning indexer"
                              : "only ratio-4 (CSA) layers have an indexer") + ")");
    }
    return c;
}

void ModelConfig::validate(const std::string& w) const {
    auto pos = [&](const char* k, uint64_t v, uint64_t limit = (1ull << 31)) {
        if (v == 0 || v > limit) bad(w, key(k), std::to_string(v), "1.." + std::to_string(limit));
    };
    pos("block_count", n_layer, 1024);
    pos("embedding_length", d, 1 << 16);
    pos("vocab_size", vocab, 1 << 24);
    pos("attention.head_count", n_head, 4096);
    if (n_head_kv != 1) bad(w, key("attention.head_count_kv"), std::to_string(n_head_kv), "1");
    pos("attention.key_length", head_dim, 1 << 14);
    if (n_rot == 0 || n_rot % 2 != 0 || n_rot >= head_dim)
        bad(w, key("rope.dimension_count"), std::to_string(n_rot),
            "an even number below key_length " + std::to_string(head_dim));
    pos("attention.q_lora_rank", q_rank, 1 << 16);
    pos("attention.output_lora_rank", o_rank, 1 << 16);
    pos("attention.output_group_count", o_groups, n_head);
    if (n_head % o_groups != 0)
        bad(w, key("attention.output_group_count"), std::to_string(o_groups),
            "a divisor of head_count " + std::to_string(n_head));
    pos("expert_count", n_expert, 1 << 16);
    if (n_expert_used == 0 || n_expert_used > n_expert)
        bad(w, key("expert_used_count"), std::to_string(n_expert_used), "1.." + std::to_string(n_expert));
    pos("expert_feed_forward_length", expert_ff, 1 << 20);
    if (n_expert_shared != 1) bad(w, key("expert_shared_count"), std::to_string(n_expert_shared), "1");
    if (n_hash_layer > n_layer)
        bad(w, key("hash_layer_count"), std::to_string(n_hash_layer), "at most block_count " + std::to_string(n_layer));
    if (expert_group_count != 0) bad(w, key("expert_group_count"), std::to_string(expert_group_count), "0");
    if (expert_group_used != 0) bad(w, key("expert_group_used_count"), std::to_string(expert_group_used), "0");
    pos("attention.sliding_window", window, 1 << 20);
    pos("attention.indexer.head_count", idx_heads, 4096);
    // The real model's indexer is 128 wide (its QAT simulation is a Hadamard-128); small test
    // models may use narrower indexers, which the official numerics then refuse (session.cpp).
    pos("attention.indexer.key_length", idx_head_dim, 1 << 16);
    if (n_rot > idx_head_dim)
        bad(w, key("rope.dimension_count"), std::to_string(n_rot),
            "at most the indexer key_length " + std::to_string(idx_head_dim));
    pos("attention.indexer.top_k", idx_top_k, 1 << 20);
    pos("hyper_connection.count", n_hc, 64);
    pos("hyper_connection.sinkhorn_iterations", sinkhorn_iters, 1000);
    if (compress_ratios.size() != n_layer || swiglu_clamp.size() != n_layer)
        throw Error(w + ": per-layer arrays must have block_count entries");
    for (uint32_t il = 0; il < n_layer; ++il) {
        if (compress_ratios[il] == 1)
            bad(w, key("attention.compress_ratios") + "[" + std::to_string(il) + "]", "1", "0 or a ratio >= 2");
        if (!(swiglu_clamp[il] > 0) || !std::isfinite(swiglu_clamp[il]))
            bad(w, key("swiglu_clamp_exp") + "[" + std::to_string(il) + "]", fmt_float(swiglu_clamp[il]),
                "a positive finite clamp");
    }
    auto posf = [&](const char* k, float v) {
        if (!(v > 0) || !std::isfinite(v)) bad(w, key(k), fmt_float(v), "a positive finite number");
    };
    posf("rope.freq_base", rope_freq_base);
    posf("attention.compress_rope_freq_base", compress_rope_freq_base);
    if (!(rope_scale_factor >= 1) || !std::isfinite(rope_scale_factor))
        bad(w, key("rope.scaling.factor"), fmt_float(rope_scale_factor), ">= 1");
    posf("rope.scaling.yarn_beta_fast", yarn_beta_fast);
    posf("rope.scaling.yarn_beta_slow", yarn_beta_slow);
    if (rope_orig_ctx == 0 || rope_orig_ctx > 0xffffffffull)
        bad(w, key("rope.scaling.original_context_length"), std::to_string(rope_orig_ctx), "1..2^32-1");
    posf("expert_weights_scale", expert_weights_scale);
    posf("attention.layer_norm_rms_epsilon", rms_eps);
    posf("hyper_connection.epsilon", hc_eps);
    if (!expert_weights_norm) bad(w, key("expert_weights_norm"), "false", "true");

    if (!claims_real_architecture()) return;
    // A file claiming the real 43 × 4096 model must match ds4's fixed shape exactly.
    const ModelConfig r = flash();
    auto eq = [&](const char* k, uint64_t v, uint64_t want) {
        if (v != want) bad(w, key(k), std::to_string(v), std::to_string(want) + " (DeepSeek V4 Flash, 43 x 4096)");
    };
    eq("vocab_size", vocab, r.vocab);
    eq("attention.head_count", n_head, r.n_head);
    eq("attention.key_length", head_dim, r.head_dim);
    eq("rope.dimension_count", n_rot, r.n_rot);
    eq("attention.q_lora_rank", q_rank, r.q_rank);
    eq("attention.output_lora_rank", o_rank, r.o_rank);
    eq("attention.output_group_count", o_groups, r.o_groups);
    eq("expert_count", n_expert, r.n_expert);
    eq("expert_used_count", n_expert_used, r.n_expert_used);
    eq("expert_feed_forward_length", expert_ff, r.expert_ff);
    eq("hash_layer_count", n_hash_layer, r.n_hash_layer);
    eq("attention.sliding_window", window, r.window);
    eq("attention.indexer.head_count", idx_heads, r.idx_heads);
    eq("attention.indexer.top_k", idx_top_k, r.idx_top_k);
    eq("hyper_connection.count", n_hc, r.n_hc);
    eq("hyper_connection.sinkhorn_iterations", sinkhorn_iters, r.sinkhorn_iters);
    eq("rope.scaling.original_context_length", rope_orig_ctx, r.rope_orig_ctx);
    for (uint32_t il = 0; il < n_layer; ++il) {
        if (compress_ratios[il] != r.compress_ratios[il])
            bad(w, key("attention.compress_ratios") + "[" + std::to_string(il) + "]", std::to_string(compress_ratios[il]),
                std::to_string(r.compress_ratios[il]) + " (DeepSeek V4 Flash)");
        if (!close_rel(swiglu_clamp[il], r.swiglu_clamp[il]))
            bad(w, key("swiglu_clamp_exp") + "[" + std::to_string(il) + "]", fmt_float(swiglu_clamp[il]), "10");
    }
    auto feq = [&](const char* k, float v, float want) {
        if (!close_rel(v, want)) bad(w, key(k), fmt_float(v), fmt_float(want) + " (DeepSeek V4 Flash)");
    };
    feq("rope.freq_base", rope_freq_base, r.rope_freq_base);
    feq("rope.scaling.factor", rope_scale_factor, r.rope_scale_factor);
    feq("rope.scaling.yarn_beta_fast", yarn_beta_fast, r.yarn_beta_fast);
    feq("rope.scaling.yarn_beta_slow", yarn_beta_slow, r.yarn_beta_slow);
    feq("attention.compress_rope_freq_base", compress_rope_freq_base, r.compress_rope_freq_base);
    feq("expert_weights_scale", expert_weights_scale, r.expert_weights_scale);
    feq("attention.layer_norm_rms_epsilon", rms_eps, r.rms_eps);
    feq("hyper_connection.epsilon", hc_eps, r.hc_eps);
}

ModelConfig ModelConfig::flash() {
    ModelConfig c;
    c.name = "DeepSeek-V4-Flash";
    c.architecture = kArch;
    c.context_length = 1048576;
    c.n_layer = 43;
    c.d = 4096;
    c.vocab = 129280;
    c.n_head = 64;
    c.n_head_kv = 1;
    c.head_dim = 512;
    c.n_rot = 64;
    c.q_rank = 1024;
    c.o_rank = 1024;
    c.o_groups = 8;
    c.n_expert = 256;
    c.n_expert_used = 6;
    c.expert_ff = 2048;
    c.n_expert_shared = 1;
    c.n_hash_layer = 3;
    c.window = 128;
    c.idx_heads = 64;
    c.idx_head_dim = 128;
    c.idx_top_k = 512;
    c.n_hc = 4;
    c.sinkhorn_iters = 20;
    for (uint32_t il = 0; il < 43; ++il) {
        c.compress_ratios.push_back(il < 2 ? 0 : (il % 2 == 0 ? 4 : 128));
        c.swiglu_clamp.push_back(10.0f);
    }
    c.rope_freq_base = 10000.0f;
    c.compress_rope_freq_base = 160000.0f;
    c.rope_scale_factor = 16.0f;
    c.yarn_beta_fast = 32.0f;
    c.yarn_beta_slow = 1.0f;
    c.rope_orig_ctx = 65536;
    c.expert_weights_scale = 1.5f;
    c.rms_eps = 1e-6f;
    c.hc_eps = 1e-6f;
    c.expert_weights_norm = true;
    return c;
}

void ModelConfig::write_metadata(gguf::Writer& w) const {
    w.add_string("general.architecture", kArch);
    if (!name.empty()) w.add_string("general.name", name);
    w.add_u64(key("context_length"), context_length ? context_length : 1048576);
    w.add_u32(key("block_count"), n_layer);
    w.add_u32(key("embedding_length"), d);
    w.add_u32(key("vocab_size"), vocab);
    w.add_u32(key("attention.head_count"), n_head);
    w.add_u32(key("attention.head_count_kv"), n_head_kv);
    w.add_u32(key("attention.key_length"), head_dim);
    w.add_u32(key("attention.value_length"), head_dim);
    w.add_u32(key("rope.dimension_count"), n_rot);
    w.add_u32(key("attention.q_lora_rank"), q_rank);
    w.add_u32(key("attention.output_lora_rank"), o_rank);
    w.add_u32(key("attention.output_group_count"), o_groups);
    w.add_u32(key("expert_count"), n_expert);
    w.add_u32(key("expert_used_count"), n_expert_used);
    w.add_u32(key("expert_feed_forward_length"), expert_ff);
    w.add_u32(key("expert_shared_count"), n_expert_shared);
    w.add_u32(key("hash_layer_count"), n_hash_layer);
    w.add_u32(key("expert_group_count"), expert_group_count);
    w.add_u32(key("expert_group_used_count"), expert_group_used);
    w.add_u32(key("attention.sliding_window"), window);
    w.add_u32(key("attention.indexer.head_count"), idx_heads);
    w.add_u32(key("attention.indexer.key_length"), idx_head_dim);
    w.add_u32(key("attention.indexer.top_k"), idx_top_k);
    w.add_u32(key("hyper_connection.count"), n_hc);
    w.add_u32(key("hyper_connection.sinkhorn_iterations"), sinkhorn_iters);
    w.add_array<uint32_t>(key("attention.compress_ratios"), compress_ratios);
    w.add_array<float>(key("swiglu_clamp_exp"), swiglu_clamp);
    w.add_u64(key("rope.scaling.original_context_length"), rope_orig_ctx);
    w.add_f32(key("rope.freq_base"), rope_freq_base);
    w.add_f32(key("rope.scaling.factor"), rope_scale_factor);
    w.add_f32(key("rope.scaling.yarn_beta_fast"), yarn_beta_fast);
    w.add_f32(key("rope.scaling.yarn_beta_slow"), yarn_beta_slow);
    w.add_f32(key("attention.compress_rope_freq_base"), compress_rope_freq_base);
    w.add_f32(key("expert_weights_scale"), expert_weights_scale);
    w.add_f32(key("attention.layer_norm_rms_epsilon"), rms_eps);
    w.add_f32(key("hyper_connection.epsilon"), hc_eps);
    w.add_bool(key("expert_weights_norm"), expert_weights_norm);
}

std::string ModelConfig::summary() const {
    std::ostringstream o;
    uint32_t n_csa = 0, n_hca = 0;
    for (uint32_t il = 0; il < n_layer; ++il) {
        if (kind(il) == AttnKind::CSA) ++n_csa;
        if (kind(il) == AttnKind::HCA) ++n_hca;
    }
    o << (architecture.empty() ? kArch : architecture) << " " << n_layer << " layers (" << n_csa << " csa, " << n_hca
      << " hca, " << n_hash_layer << " hash), d " << d << ", " << n_head << " heads x " << head_dim << ", "
      << n_expert << " experts (" << n_expert_used << " used) x " << expert_ff << ", vocab " << vocab << ", window "
      << window;
    return o.str();
}

namespace {
std::string mib(uint64_t b) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
    return buf;
}
}  // namespace

std::string ContextMemory::describe() const {
    return "ctx " + std::to_string(ctx) + ": raw ring " + mib(raw_bytes) + " (" + std::to_string(raw_cap) +
           " rows/layer), compressed rows " + mib(comp_bytes) + ", indexer rows " + mib(index_bytes) +
           ", compressor state " + mib(compressor_bytes) + ", total " + mib(total());
}

ContextMemory context_memory(const ModelConfig& cfg, uint64_t ctx, uint32_t max_chunk) {
    ContextMemory m;
    m.ctx = ctx;
    uint64_t chunk = std::max<uint64_t>(1, std::min<uint64_t>(max_chunk, std::max<uint64_t>(ctx, 1)));
    m.raw_cap = static_cast<uint32_t>(cfg.window + chunk - 1);
    m.raw_bytes = uint64_t(cfg.n_layer) * m.raw_cap * cfg.head_dim * 4;
    for (uint32_t il = 0; il < cfg.n_layer; ++il) {
        uint32_t r = cfg.ratio(il);
        if (r == 0) continue;
        uint64_t rows = comp_rows_for(ctx, r);
        uint64_t coff = cfg.coff(il);
        m.comp_bytes += rows * cfg.head_dim * 4;
        m.compressor_bytes += 2 * (coff * r) * (coff * cfg.head_dim) * 4;
        if (cfg.kind(il) == AttnKind::CSA) {
            m.index_bytes += rows * cfg.idx_head_dim * 4;
            m.compressor_bytes += 2 * (coff * r) * (coff * cfg.idx_head_dim) * 4;
        }
    }
    return m;
}

}  // namespace ds4::model
