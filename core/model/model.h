// ds4::model::Model — an opened DeepSeek V4 GGUF bound to a backend device.
//
//   auto plugin = ds4::host::PluginLoader::load("cpu-ref", dirs);
//   ds4::host::Device dev(*plugin, 0);
//   auto model = ds4::model::Model::open("m.gguf", dev);          // validates + binds weights
//   ds4::model::Session s(*model, {.ctx = 4096, .prefill_chunk = 256,
//                                  .numerics = ds4::model::Numerics::Official});
//   std::vector<float> logits = s.eval({0, 17, 42});               // last token's logits
//   std::vector<float> all = s.eval({5, 6}, /*all_logits=*/true);  // [2][vocab]
//
// The Model keeps the GGUF mapped for its whole life (weights may be zero-copy views of it).
// It must outlive its sessions; the Device must outlive the Model.
#pragma once
#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "host/device.h"
#include "model/config.h"
#include "model/numerics.h"
#include "model/weights.h"

namespace ds4::model {

class Model {
public:
    // Opens, validates (config + layout) and binds. Throws ds4::Error naming the file and the
    // first bad key or tensor. progress: per-tensor upload progress (may be empty).
    static std::unique_ptr<Model> open(const std::string& path, const host::Device& dev,
                                       const LoadProgress& progress = {});
    // Same from an already opened file (moved in).
    static std::unique_ptr<Model> from_file(gguf::File file, const host::Device& dev,
                                            const LoadProgress& progress = {});

    const ModelConfig& config() const { return cfg_; }
    const gguf::File& file() const { return file_; }
    const ModelWeights& weights() const { return *weights_; }
    const host::Device& device() const { return dev_; }
    // Opens, validates and binds the separate MTP GGUF (MODEL.md §B.5, only mtp.0.* tensors;
    // ds4 checks no metadata there). The speculative-decoding forward pass is not written yet.
    void attach_mtp(const std::string& path, const LoadProgress& progress = {});
    const MtpWeights* mtp() const { return mtp_.get(); }
    // "m.gguf: deepseek4 6 layers, ..., weights 12.3 MiB (wrapped)".
    std::string summary() const;

private:
    Model(gguf::File file, const host::Device& dev);
    gguf::File file_;
    const host::Device& dev_;
    ModelConfig cfg_;
    std::unique_ptr<ModelWeights> weights_;
    std::unique_ptr<gguf::File> mtp_file_;
    std::unique_ptr<MtpWeights> mtp_;
};

}  // namespace ds4::model
