// --list-backends and --inspect: the commands that need no model session.
#include <cstdio>

#include "commands.h"
#include "gguf/gguf.h"
#include "host/device.h"

namespace ds4::cli {

int cmd_list_backends(const Options& o) {
    Config cfg = o.engine_config();
    auto dirs = host::PluginLoader::search_dirs(cfg.plugin_dir);
    std::fputs(host::describe_backends(dirs).c_str(), stdout);
    return 0;
}

int cmd_inspect(const Options& o) {
    auto file = gguf::File::open(o.inspect);
    std::fputs(gguf::describe(file).c_str(), stdout);
    return 0;
}

}  // namespace ds4::cli
