// Commands that evaluate a model: --dump-logits, one-shot generation, the REPL.
#include <cstdio>

#include "commands.h"
#include "host/status.h"

namespace ds4::cli {

int cmd_run(const Options& o) {
    Config cfg = o.engine_config();
    if (cfg.model.empty())
        throw Error("no model given: use -m FILE.gguf (or model.path in the config); "
                    "try --list-backends or --inspect FILE.gguf");
    throw Error("model evaluation is not available in this build yet");
}

}  // namespace ds4::cli
