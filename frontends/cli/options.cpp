#include "options.h"

namespace ds4::cli {

Config Options::engine_config() const {
    Config cfg;
    if (!config_path.empty()) cfg.load_yaml_file(config_path);
    for (auto& kv : set_overrides) cfg.set(kv);
    if (!backend.empty()) cfg.backend = backend;
    if (!model.empty()) cfg.model = model;
    if (!numerics.empty()) cfg.numerics = numerics;
    if (ctx > 0) cfg.context = ctx;
    if (threads >= 0) cfg.threads = threads;
    if (prefill_chunk > 0) cfg.prefill_chunk = prefill_chunk;
    cfg.validate();
    return cfg;
}

}  // namespace ds4::cli
