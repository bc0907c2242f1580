#include "model/model.h"

#include <cstdio>

#include "host/status.h"

namespace ds4::model {

Model::Model(gguf::File file, const host::Device& dev) : file_(std::move(file)), dev_(dev) {}

std::unique_ptr<Model> Model::open(const std::string& path, const host::Device& dev, const LoadProgress& progress) {
    try {
        return from_file(gguf::File::open(path), dev, progress);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
}

std::unique_ptr<Model> Model::from_file(gguf::File file, const host::Device& dev, const LoadProgress& progress) {
    std::unique_ptr<Model> m(new Model(std::move(file), dev));
    m->cfg_ = ModelConfig::from_gguf(m->file_);
    m->weights_ = std::make_unique<ModelWeights>(m->file_, m->cfg_, dev, progress);
    return m;
}

void Model::attach_mtp(const std::string& path, const LoadProgress& progress) {
    try {
        auto f = std::make_unique<gguf::File>(gguf::File::open(path));
        auto w = std::make_unique<MtpWeights>(*f, cfg_, dev_, progress);
        mtp_file_ = std::move(f);
        mtp_ = std::move(w);
    } catch (const gguf::Error& e) {
        throw Error(e.what());
    }
}

std::string Model::summary() const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f MiB", weights_->bytes() / 1048576.0);
    return file_.name() + ": " + cfg_.summary() + ", weights " + buf + (weights_->wrapped() ? " (wrapped)" : " (copied)");
}

}  // namespace ds4::model
