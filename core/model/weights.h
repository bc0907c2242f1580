// ds4::model weights — binds the tensors of a mapped GGUF by their exact ds4 names (layout.h),
// validates them, and makes them visible to a backend device once.
//
// Upload policy: when the plugin can wrap host memory (buffer_wrap_host), the whole tensor
// data section of the mmap is wrapped as ONE buffer and nothing is copied; otherwise every
// bound tensor is uploaded into its own WEIGHTS buffer. The progress callback reports each
// tensor and whether it was wrapped or copied.
//
// Unknown tensors are refused, naming the first one, except MTP tensors ("mtp.*"), which a
// combined file may carry and which are ignored by the main model.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ds4/backend.h"
#include "host/device.h"
#include "model/config.h"
#include "model/layout.h"

namespace ds4::gguf {
class File;
}

namespace ds4::model {

// (tensor name, tensors done, tensors total, bytes done, bytes total, copied?)
struct LoadProgressInfo {
    std::string_view tensor;
    uint64_t done = 0, total = 0;
    uint64_t bytes_done = 0, bytes_total = 0;
    bool copied = false;
};
using LoadProgress = std::function<void(const LoadProgressInfo&)>;

// Weights of one layer. Pointers are ds4_tensor descriptors owned by ModelWeights (device
// buffer + offset, GGUF ne/type, contiguous strides). Absent optional tensors are nullptr.
struct LayerWeights {
    const ds4_tensor *hc_attn_fn = nullptr, *hc_attn_scale = nullptr, *hc_attn_base = nullptr;
    const ds4_tensor *attn_norm = nullptr;
    const ds4_tensor *q_a = nullptr, *q_a_norm = nullptr, *q_b = nullptr;
    const ds4_tensor *kv = nullptr, *kv_norm = nullptr;
    const ds4_tensor *sinks = nullptr;
    const ds4_tensor *out_a = nullptr, *out_b = nullptr;
    const ds4_tensor *hc_ffn_fn = nullptr, *hc_ffn_scale = nullptr, *hc_ffn_base = nullptr;
    const ds4_tensor *ffn_norm = nullptr;
    const ds4_tensor *router = nullptr, *router_bias = nullptr, *tid2eid = nullptr;
    const ds4_tensor *gate_exps = nullptr, *up_exps = nullptr, *down_exps = nullptr;
    const ds4_tensor *gate_sh = nullptr, *up_sh = nullptr, *down_sh = nullptr;
    // compressed layers
    const ds4_tensor *comp_ape = nullptr, *comp_kv = nullptr, *comp_gate = nullptr, *comp_norm = nullptr;
    // CSA layers
    const ds4_tensor *idx_q_b = nullptr, *idx_proj = nullptr;
    const ds4_tensor *idx_comp_ape = nullptr, *idx_comp_kv = nullptr, *idx_comp_gate = nullptr,
                     *idx_comp_norm = nullptr;
};

struct GlobalWeights {
    const ds4_tensor *token_embd = nullptr, *output = nullptr, *output_norm = nullptr;
    const ds4_tensor *hc_head_fn = nullptr, *hc_head_scale = nullptr, *hc_head_base = nullptr;
};

class ModelWeights {
public:
    // Validates the layout (layout.h validate_layout) and binds + uploads every tensor.
    // Throws ds4::Error naming the first bad tensor.
    ModelWeights(const gguf::File& file, const ModelConfig& cfg, const host::Device& dev,
                 const LoadProgress& progress = {});
    ModelWeights(const ModelWeights&) = delete;
    ModelWeights& operator=(const ModelWeights&) = delete;

    const GlobalWeights& global() const { return global_; }
    const LayerWeights& layer(uint32_t il) const { return layers_[il]; }
    const std::vector<LayerWeights>& layers() const { return layers_; }
    bool wrapped() const { return wrapped_; }        // true: zero-copy view of the mmap
    uint64_t bytes() const { return bytes_; }        // bytes of all bound tensors
    // Descriptor of any bound tensor by GGUF name, nullptr if not bound.
    const ds4_tensor* find(std::string_view name) const;

private:
    std::vector<host::Buffer> buffers_;
    std::vector<std::pair<std::string, ds4_tensor>> tensors_;  // stable after construction
    GlobalWeights global_;
    std::vector<LayerWeights> layers_;
    bool wrapped_ = false;
    uint64_t bytes_ = 0;
};

// The MTP block (MODEL.md §B.5, §F), bound from its own GGUF. Validated now; the forward pass
// for speculative drafting is not implemented yet.
class MtpWeights {
public:
    MtpWeights(const gguf::File& file, const ModelConfig& main_cfg, const host::Device& dev,
               const LoadProgress& progress = {});
    const ds4_tensor* find(std::string_view name) const;
    uint64_t bytes() const { return bytes_; }

private:
    std::vector<host::Buffer> buffers_;
    std::vector<std::pair<std::string, ds4_tensor>> tensors_;
    uint64_t bytes_ = 0;
};

}  // namespace ds4::model
