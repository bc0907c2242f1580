#include "host/plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <set>

#include "host/status.h"

namespace ds4::host {
namespace {

struct OpInfo {
    uint32_t id;
    const char* name;
    int tier;
};

// Lower-case names generated from ops.def.
const std::vector<OpInfo>& op_table() {
    static const std::vector<OpInfo> table = [] {
        std::vector<OpInfo> t;
#define DS4_OP(ID, NAME, TIER, PARAMS) t.push_back({ID, #NAME, TIER});
#include "ds4/ops.def"
#undef DS4_OP
        static std::vector<std::string> lower;
        lower.reserve(t.size());
        for (auto& op : t) {
            std::string s = op.name;
            for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            lower.push_back(s);
        }
        for (size_t i = 0; i < t.size(); ++i) t[i].name = lower[i].c_str();
        return t;
    }();
    return table;
}

const std::string kPrefix = "libds4-backend-";
const std::string kSuffix = ".so";

std::string exe_dir() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return {};
    std::string p(buf, static_cast<size_t>(n));
    auto slash = p.rfind('/');
    return slash == std::string::npos ? std::string() : p.substr(0, slash);
}

std::string backend_name_from_file(const std::string& file) {
    if (file.size() <= kPrefix.size() + kSuffix.size()) return {};
    if (file.compare(0, kPrefix.size(), kPrefix) != 0) return {};
    if (file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) return {};
    return file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
}

std::string version_str(uint32_t major, uint32_t minor) {
    return std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace

const char* op_name(uint32_t op) {
    for (auto& o : op_table())
        if (o.id == op) return o.name;
    static thread_local std::string unknown;
    unknown = "op#" + std::to_string(op);
    return unknown.c_str();
}

int op_tier(uint32_t op) {
    for (auto& o : op_table())
        if (o.id == op) return o.tier;
    return -1;
}

std::vector<uint32_t> ops_of_tier(int tier) {
    std::vector<uint32_t> ids;
    for (auto& o : op_table())
        if (o.tier == tier) ids.push_back(o.id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

Plugin::~Plugin() {
    if (table_.struct_size >= offsetof(ds4_plugin, shutdown) + sizeof(table_.shutdown) &&
        table_.shutdown)
        table_.shutdown(table_.self);
    if (handle_) dlclose(handle_);
}

bool Plugin::claims(uint32_t op) const {
    for (uint32_t i = 0; i < table_.n_claimed_ops; ++i)
        if (table_.claimed_ops[i] == op) return true;
    return false;
}

std::vector<std::string> PluginLoader::search_dirs(const std::string& configured_dir) {
    std::vector<std::string> dirs;
    if (!configured_dir.empty()) dirs.push_back(configured_dir);
    if (const char* env = std::getenv("DS4_PLUGIN_PATH")) {
        std::string s = env;
        size_t start = 0;
        while (start <= s.size()) {
            size_t colon = s.find(':', start);
            std::string d = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            if (!d.empty()) dirs.push_back(d);
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }
    std::string exe = exe_dir();
    if (!exe.empty()) dirs.push_back(exe + "/../lib/ds4");
    return dirs;
}

std::vector<PluginCandidate> PluginLoader::scan(const std::vector<std::string>& dirs) {
    std::vector<PluginCandidate> out;
    std::set<std::string> seen;
    for (const auto& dir : dirs) {
        DIR* d = opendir(dir.c_str());
        if (!d) continue;
        std::vector<std::string> files;
        while (dirent* e = readdir(d)) files.push_back(e->d_name);
        closedir(d);
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            std::string name = backend_name_from_file(f);
            if (name.empty() || !seen.insert(name).second) continue;
            PluginCandidate c;
            c.path = dir + "/" + f;
            c.name = name;
            out.push_back(c);
        }
    }
    return out;
}

std::unique_ptr<Plugin> PluginLoader::load_file(const std::string& path) {
    std::unique_ptr<Plugin> p(new Plugin());
    p->path_ = path;
    p->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!p->handle_) {
        const char* err = dlerror();
        throw Error(path + ": cannot load plugin: " + (err ? err : "dlopen failed"));
    }
    auto score_fn = reinterpret_cast<ds4_plugin_score_fn>(dlsym(p->handle_, DS4_PLUGIN_SCORE_SYMBOL));
    auto init_fn = reinterpret_cast<ds4_plugin_init_fn>(dlsym(p->handle_, DS4_PLUGIN_INIT_SYMBOL));
    if (!score_fn || !init_fn)
        throw Error(path + ": not a ds4 plugin (missing " +
                    std::string(!score_fn ? DS4_PLUGIN_SCORE_SYMBOL : DS4_PLUGIN_INIT_SYMBOL) + ")");
    p->score_ = score_fn();

    p->table_.struct_size = sizeof(ds4_plugin);
    ds4_status* st = init_fn(host_api(), &p->table_);
    const std::string versions = "plugin ABI " + version_str(p->table_.abi_major, p->table_.abi_minor) +
                                 ", host ABI " + version_str(DS4_ABI_MAJOR, DS4_ABI_MINOR);
    if (p->table_.abi_major != DS4_ABI_MAJOR) {
        status_free(st);
        p->table_ = ds4_plugin{};  // do not call into a table of another layout
        throw Error(path + ": refused: ABI major mismatch (" + versions + ")", DS4_ERR_ABI_MISMATCH);
    }
    if (st) {
        std::string msg = st->message;
        status_free(st);
        p->table_.shutdown = nullptr;
        throw Error(path + ": refused: init failed: " + msg + " (" + versions + ")");
    }
    if (p->table_.struct_size < offsetof(ds4_plugin, synchronize) + sizeof(p->table_.synchronize))
        throw Error(path + ": refused: function table too small (" + std::to_string(p->table_.struct_size) +
                    " bytes, " + versions + ")");
    for (auto fn : {(void*)p->table_.device_count, (void*)p->table_.device_info, (void*)p->table_.device_open,
                    (void*)p->table_.device_close, (void*)p->table_.node_supported,
                    (void*)p->table_.buffer_alloc, (void*)p->table_.buffer_free, (void*)p->table_.buffer_write,
                    (void*)p->table_.buffer_read, (void*)p->table_.plan_create, (void*)p->table_.plan_submit,
                    (void*)p->table_.plan_destroy, (void*)p->table_.synchronize})
        if (!fn) throw Error(path + ": refused: a mandatory function of the plugin table is NULL (" + versions + ")");
    for (uint32_t op : ops_of_tier(0))
        if (!p->claims(op))
            throw Error(path + ": refused: missing Tier-0 op '" + std::string(op_name(op)) + "' (" + versions + ")",
                        DS4_ERR_UNSUPPORTED);
    p->name_ = p->table_.name ? p->table_.name : "";
    return p;
}

std::unique_ptr<Plugin> PluginLoader::load(const std::string& name, const std::vector<std::string>& dirs) {
    auto candidates = scan(dirs);
    if (name == "auto") {
        std::unique_ptr<Plugin> best;
        std::vector<std::string> refused;
        for (auto& c : candidates) {
            try {
                auto p = load_file(c.path);
                if (p->score() > 0 && (!best || p->score() > best->score())) best = std::move(p);
            } catch (const Error& e) {
                refused.push_back(e.what());
            }
        }
        if (best) return best;
        std::string msg = "no usable backend plugin found (searched:";
        for (auto& d : dirs) msg += " " + d;
        msg += ")";
        if (!refused.empty()) msg += "; first refusal: " + refused.front();
        throw Error(msg);
    }
    for (auto& c : candidates) {
        if (c.name != name) continue;
        auto p = load_file(c.path);
        if (p->score() <= 0)
            throw Error(c.path + ": backend '" + name + "' cannot run on this machine (score 0)", DS4_ERR_UNSUPPORTED);
        return p;
    }
    std::string msg = "backend '" + name + "' not found: no libds4-backend-" + name + ".so in";
    for (auto& d : dirs) msg += " " + d;
    if (!candidates.empty()) {
        msg += " (available:";
        for (auto& c : candidates) msg += " " + c.name;
        msg += ")";
    }
    throw Error(msg);
}

}  // namespace ds4::host
