// Finds, loads and negotiates backend plugins (libds4-backend-<name>.so).
//
// Search order: the configured directory (config `backend.plugin_dir`), then each entry of
// DS4_PLUGIN_PATH (colon-separated), then <dir of the executable>/../lib/ds4. The first file
// with a given backend name wins.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ds4/backend.h"

namespace ds4::host {

// A loaded, accepted plugin. Closing it (destructor) calls shutdown and dlclose.
class Plugin {
public:
    ~Plugin();
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    const std::string& path() const { return path_; }
    const std::string& name() const { return name_; }
    int32_t score() const { return score_; }
    const ds4_plugin& table() const { return table_; }
    bool claims(uint32_t op) const;

private:
    friend class PluginLoader;
    Plugin() = default;
    std::string path_, name_;
    int32_t score_ = 0;
    void* handle_ = nullptr;
    ds4_plugin table_{};
};

// One plugin file seen while scanning: accepted, or refused with a one-line reason.
struct PluginCandidate {
    std::string path;
    std::string name;      // from the file name: libds4-backend-<name>.so
    bool accepted = false;
    std::string reason;    // when refused: "<path>: <why>" — one line
};

class PluginLoader {
public:
    // Directories searched, in order (configured dir first if non-empty).
    static std::vector<std::string> search_dirs(const std::string& configured_dir);

    // Lists every libds4-backend-*.so in the search dirs (first of each name only).
    static std::vector<PluginCandidate> scan(const std::vector<std::string>& dirs);

    // Loads and negotiates one plugin file. Throws ds4::Error with a one-line reason naming the
    // file (and both ABI versions for a version mismatch, or the missing Tier-0 op).
    static std::unique_ptr<Plugin> load_file(const std::string& path);

    // Loads the backend `name` ("cpu-ref", "cuda", ..., or "auto" = highest positive score).
    static std::unique_ptr<Plugin> load(const std::string& name, const std::vector<std::string>& dirs);
};

// Name of an op id ("matmul"), or "op#<id>" if unknown. Tier of an op (0, 1) or -1.
const char* op_name(uint32_t op);
int op_tier(uint32_t op);
// All op ids of a tier, ascending.
std::vector<uint32_t> ops_of_tier(int tier);

}  // namespace ds4::host
