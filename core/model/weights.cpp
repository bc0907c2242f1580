#include "model/weights.h"

#include <cstring>
#include <functional>
#include <unordered_map>

#include "gguf/gguf.h"
#include "host/status.h"

namespace ds4::model {
namespace {

// Descriptor of a GGUF tensor inside `buf` at `offset` (contiguous GGUF strides).
ds4_tensor describe(const gguf::TensorInfo& ti, ds4_buffer* buf, uint64_t offset) {
    ds4_tensor t{};
    t.struct_size = sizeof(ds4_tensor);
    t.type = ti.type;
    for (int i = 0; i < DS4_MAX_DIMS; ++i) t.ne[i] = ti.ne[i];
    int64_t be = ds4_type_block_elems(ti.type), bb = ds4_type_block_bytes(ti.type);
    t.nb[0] = bb;
    t.nb[1] = (t.ne[0] / be) * bb;
    for (int i = 2; i < DS4_MAX_DIMS; ++i) t.nb[i] = t.nb[i - 1] * t.ne[i - 1];
    t.buffer = buf;
    t.offset = offset;
    return t;
}

// Binds `specs` present in the file: wraps the whole data section once when the plugin can,
// else uploads each tensor into its own buffer.
void bind_all(const gguf::File& f, const std::vector<TensorSpec>& specs, const host::Device& dev,
              const LoadProgress& progress, std::vector<host::Buffer>& buffers,
              std::vector<std::pair<std::string, ds4_tensor>>& tensors, bool& wrapped, uint64_t& bytes) {
    std::vector<const gguf::TensorInfo*> present;
    uint64_t total = 0;
    for (const TensorSpec& s : specs)
        if (const gguf::TensorInfo* ti = f.find_tensor(s.name)) {
            present.push_back(ti);
            total += ti->size;
        }
    bytes = total;
    tensors.reserve(present.size());
    wrapped = false;
    const ds4_plugin& tab = dev.table();
    uint64_t data_size = f.file_size() - f.data_offset();
    if (tab.buffer_wrap_host && data_size > 0) {
        ds4_buffer* buf = nullptr;
        void* base = const_cast<uint8_t*>(f.base() + f.data_offset());  // read-only WEIGHTS use
        ds4_status* st = tab.buffer_wrap_host(dev.get(), base, data_size, DS4_BUFFER_WEIGHTS, &buf);
        if (!st) {
            buffers.emplace_back(&dev, buf, data_size);
            wrapped = true;
        } else {
            host::status_free(st);
        }
    }
    if (!wrapped) {
        // Refuse before the first allocation, with the numbers, rather than failing halfway
        // through a multi-GiB upload.
        ds4_device_info info = dev.info();
        if (info.memory_free && total > info.memory_free)
            throw Error(f.name() + ": the weights need " + std::to_string(total >> 20) + " MiB but " +
                            std::string(info.name ? info.name : "the device") + " has " +
                            std::to_string(info.memory_free >> 20) + " MiB free",
                        DS4_ERR_OUT_OF_MEMORY);
    }
    uint64_t done_bytes = 0, i = 0;
    for (const gguf::TensorInfo* ti : present) {
        if (wrapped) {
            tensors.emplace_back(std::string(ti->name), describe(*ti, buffers[0].get(), ti->offset - f.data_offset()));
        } else {
            host::Buffer b = dev.alloc(ti->size, DS4_BUFFER_WEIGHTS);
            b.write(0, ti->data, ti->size);
            tensors.emplace_back(std::string(ti->name), describe(*ti, b.get(), 0));
            buffers.push_back(std::move(b));
        }
        done_bytes += ti->size;
        ++i;
        if (progress) progress({ti->name, i, present.size(), done_bytes, total, !wrapped});
    }
}

const ds4_tensor* lookup(const std::vector<std::pair<std::string, ds4_tensor>>& ts, std::string_view name) {
    for (auto& [n, t] : ts)
        if (n == name) return &t;
    return nullptr;
}

// Hash routing indexes experts with these ids: every id must name an expert and a token's ids
// must be distinct (MODEL.md §C.4). Checked once at load so bad files fail with a clear line.
void validate_tid2eid(const gguf::File& f, const ModelConfig& cfg) {
    for (uint32_t il = 0; il < cfg.n_hash_layer; ++il) {
        std::string name = "blk." + std::to_string(il) + ".ffn_gate_tid2eid.weight";
        const gguf::TensorInfo* ti = f.find_tensor(name);
        if (!ti) continue;  // validate_layout reports it
        const int64_t k = ti->ne[0], rows = ti->ne[1];
        const uint8_t* p = ti->data;
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = 0; j < k; ++j) {
                int32_t e;
                std::memcpy(&e, p + (r * k + j) * 4, 4);
                if (e < 0 || static_cast<uint32_t>(e) >= cfg.n_expert)
                    throw Error(f.name() + ": tensor '" + name + "': token " + std::to_string(r) + " has expert id " +
                                std::to_string(e) + ", expected 0.." + std::to_string(cfg.n_expert - 1));
                for (int64_t q = 0; q < j; ++q) {
                    int32_t o;
                    std::memcpy(&o, p + (r * k + q) * 4, 4);
                    if (o == e)
                        throw Error(f.name() + ": tensor '" + name + "': token " + std::to_string(r) +
                                    " lists expert " + std::to_string(e) + " twice");
                }
            }
        }
    }
}

}  // namespace

namespace detail {

void assign_weight_fields(const std::function<const ds4_tensor*(const std::string&)>& get, uint32_t n_layer,
                          GlobalWeights& global_, std::vector<LayerWeights>& layers_) {
    global_.token_embd = get("token_embd.weight");
    global_.output = get("output.weight");
    global_.output_norm = get("output_norm.weight");
    global_.hc_head_fn = get("output_hc_fn.weight");
    global_.hc_head_scale = get("output_hc_scale.weight");
    global_.hc_head_base = get("output_hc_base.weight");
    layers_.resize(n_layer);
    for (uint32_t il = 0; il < n_layer; ++il) {
        std::string p = "blk." + std::to_string(il) + ".";
        LayerWeights& L = layers_[il];
        L.hc_attn_fn = get(p + "hc_attn_fn.weight");
        L.hc_attn_scale = get(p + "hc_attn_scale.weight");
        L.hc_attn_base = get(p + "hc_attn_base.weight");
        L.attn_norm = get(p + "attn_norm.weight");
        L.q_a = get(p + "attn_q_a.weight");
        L.q_a_norm = get(p + "attn_q_a_norm.weight");
        L.q_b = get(p + "attn_q_b.weight");
        L.kv = get(p + "attn_kv.weight");
        L.kv_norm = get(p + "attn_kv_a_norm.weight");
        L.sinks = get(p + "attn_sinks.weight");
        L.out_a = get(p + "attn_output_a.weight");
        L.out_b = get(p + "attn_output_b.weight");
        L.hc_ffn_fn = get(p + "hc_ffn_fn.weight");
        L.hc_ffn_scale = get(p + "hc_ffn_scale.weight");
        L.hc_ffn_base = get(p + "hc_ffn_base.weight");
        L.ffn_norm = get(p + "ffn_norm.weight");
        L.router = get(p + "ffn_gate_inp.weight");
        L.router_bias = get(p + "exp_probs_b.bias");
        L.tid2eid = get(p + "ffn_gate_tid2eid.weight");
        L.gate_exps = get(p + "ffn_gate_exps.weight");
        L.up_exps = get(p + "ffn_up_exps.weight");
        L.down_exps = get(p + "ffn_down_exps.weight");
        L.gate_sh = get(p + "ffn_gate_shexp.weight");
        L.up_sh = get(p + "ffn_up_shexp.weight");
        L.down_sh = get(p + "ffn_down_shexp.weight");
        L.comp_ape = get(p + "attn_compressor_ape.weight");
        L.comp_kv = get(p + "attn_compressor_kv.weight");
        L.comp_gate = get(p + "attn_compressor_gate.weight");
        L.comp_norm = get(p + "attn_compressor_norm.weight");
        L.idx_q_b = get(p + "indexer.attn_q_b.weight");
        L.idx_proj = get(p + "indexer.proj.weight");
        L.idx_comp_ape = get(p + "indexer_compressor_ape.weight");
        L.idx_comp_kv = get(p + "indexer_compressor_kv.weight");
        L.idx_comp_gate = get(p + "indexer_compressor_gate.weight");
        L.idx_comp_norm = get(p + "indexer_compressor_norm.weight");
    }
}

}  // namespace detail

ModelWeights::ModelWeights(const gguf::File& f, const ModelConfig& cfg, const host::Device& dev,
                           const LoadProgress& progress) {
    std::vector<TensorSpec> specs = model_tensors(cfg);
    validate_layout(f, specs);
    validate_tid2eid(f, cfg);
    bind_all(f, specs, dev, progress, buffers_, tensors_, wrapped_, bytes_);

    std::unordered_map<std::string_view, const ds4_tensor*> by_name;
    for (auto& [n, t] : tensors_) by_name.emplace(n, &t);
    detail::assign_weight_fields(
        [&](const std::string& name) -> const ds4_tensor* {
            auto it = by_name.find(name);
            return it == by_name.end() ? nullptr : it->second;
        },
        cfg.n_layer, global_, layers_);
}

const ds4_tensor* ModelWeights::find(std::string_view name) const { return lookup(tensors_, name); }

MtpWeights::MtpWeights(const gguf::File& f, const ModelConfig& cfg, const host::Device& dev,
                       const LoadProgress& progress) {
    std::vector<TensorSpec> specs = mtp_tensors(cfg);
    // An MTP file holds only mtp.* tensors: anything else is unknown there.
    validate_layout(f, specs);
    for (const gguf::TensorInfo& ti : f.tensors())
        if (!is_mtp_name(ti.name))
            throw Error(f.name() + ": unknown tensor '" + std::string(ti.name) + "' in an MTP file");
    bool wrapped = false;
    bind_all(f, specs, dev, progress, buffers_, tensors_, wrapped, bytes_);
}

const ds4_tensor* MtpWeights::find(std::string_view name) const { return lookup(tensors_, name); }

}  // namespace ds4::model
