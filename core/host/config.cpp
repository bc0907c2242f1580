#include "host/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <functional>
#include <sstream>

#include "host/status.h"

namespace ds4 {
namespace {

int64_t parse_int(const std::string& key, const std::string& value, const std::string& where) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.empty())
        throw Error(where + key + ": expected an integer, got '" + value + "'");
    return v;
}

struct KeyDef {
    const char* key;
    const char* help;
    std::function<void(Config&, const std::string& value, const std::string& where)> set;
    std::function<std::string(const Config&)> get;
};

#define DS4_STR_KEY(K, FIELD, HELP)                                                              \
    KeyDef{K, HELP, [](Config& c, const std::string& v, const std::string&) { c.FIELD = v; },    \
           [](const Config& c) { return c.FIELD; }}
#define DS4_INT_KEY(K, FIELD, HELP)                                                              \
    KeyDef{K, HELP,                                                                              \
           [](Config& c, const std::string& v, const std::string& w) { c.FIELD = parse_int(K, v, w); }, \
           [](const Config& c) { return std::to_string(c.FIELD); }}

const std::vector<KeyDef>& key_defs() {
    static const std::vector<KeyDef> defs = {
        DS4_STR_KEY("backend.name", backend, "backend plugin: cpu-ref, cuda, hip, metal or auto"),
        DS4_STR_KEY("backend.plugin_dir", plugin_dir, "directory searched first for libds4-backend-*.so"),
        DS4_INT_KEY("backend.device", device, "device index within the backend"),
        DS4_INT_KEY("backend.threads", threads, "CPU threads (0 = all)"),
        DS4_STR_KEY("model.path", model, "GGUF model file"),
        DS4_STR_KEY("model.mtp_path", mtp_model, "optional MTP GGUF file"),
        DS4_STR_KEY("numerics", numerics, "official (ds4/official API numerics) or exact (F32 throughout)"),
        DS4_INT_KEY("context", context, "tokens of KV state per session"),
        DS4_INT_KEY("prefill_chunk", prefill_chunk, "tokens per prefill graph"),
        DS4_STR_KEY("server.host", server_host, "address the server listens on"),
        DS4_INT_KEY("server.port", server_port, "port the server listens on"),
        DS4_STR_KEY("server.api_key", server_api_key, "required bearer key (empty: none)"),
        DS4_STR_KEY("kv_cache.dir", kv_cache_dir, "disk KV cache directory (empty: disabled)"),
        DS4_INT_KEY("kv_cache.budget_mb", kv_cache_budget_mb, "disk KV cache size limit in MiB"),
    };
    return defs;
}

const KeyDef* find_key(const std::string& key) {
    for (auto& d : key_defs())
        if (key == d.key) return &d;
    return nullptr;
}

std::string where_of(const std::string& name, const YAML::Node& node) {
    const YAML::Mark m = node.Mark();
    return name + ":" + std::to_string(m.line + 1) + ": ";
}

void walk(Config& cfg, const YAML::Node& node, const std::string& prefix, const std::string& name) {
    for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string k = it->first.as<std::string>();
        const std::string key = prefix.empty() ? k : prefix + "." + k;
        const YAML::Node& v = it->second;
        const std::string where = where_of(name, it->first);
        if (key == "backend.options") {
            if (!v.IsMap()) throw Error(where + "backend.options: expected a mapping of option: value");
            for (auto o = v.begin(); o != v.end(); ++o) {
                if (!o->second.IsScalar())
                    throw Error(where_of(name, o->first) + "backend.options." + o->first.as<std::string>() +
                                ": expected a scalar value");
                cfg.backend_options[o->first.as<std::string>()] = o->second.as<std::string>();
            }
            continue;
        }
        if (v.IsMap()) {
            bool is_section = false;
            for (auto& d : key_defs())
                if (std::string(d.key).rfind(key + ".", 0) == 0) is_section = true;
            if (!is_section) throw Error(where + "unknown key '" + key + "'");
            walk(cfg, v, key, name);
            continue;
        }
        const KeyDef* def = find_key(key);
        if (!def) throw Error(where + "unknown key '" + key + "'");
        if (!v.IsScalar()) throw Error(where + key + ": expected a single value");
        def->set(cfg, v.Scalar(), where);
    }
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& Config::keys() {
    static const std::vector<std::pair<std::string, std::string>> k = [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (auto& d : key_defs()) out.push_back({d.key, d.help});
        out.push_back({"backend.options.<key>", "option passed to the backend plugin"});
        return out;
    }();
    return k;
}

void Config::load_yaml_string(const std::string& text, const std::string& name) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw Error(name + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
    }
    if (root.IsNull()) return;  // empty file: nothing to change
    if (!root.IsMap()) throw Error(name + ": expected a mapping of key: value at the top level");
    try {
        walk(*this, root, "", name);
    } catch (const YAML::Exception& e) {
        throw Error(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
}

void Config::load_yaml_file(const std::string& path) {
    YAML::Node probe;
    std::string text;
    {
        FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) throw Error(path + ": cannot open config file");
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
        std::fclose(f);
    }
    load_yaml_string(text, path);
}

void Config::set(const std::string& key, const std::string& value, const std::string& where) {
    const std::string opt = "backend.options.";
    if (key.rfind(opt, 0) == 0 && key.size() > opt.size()) {
        backend_options[key.substr(opt.size())] = value;
        return;
    }
    const KeyDef* def = find_key(key);
    if (!def) throw Error(where + "unknown key '" + key + "'");
    def->set(*this, value, where);
}

void Config::set(const std::string& key_equals_value) {
    auto eq = key_equals_value.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("--set " + key_equals_value + ": expected key=value");
    set(key_equals_value.substr(0, eq), key_equals_value.substr(eq + 1), "--set ");
}

void Config::validate() const {
    if (numerics != "official" && numerics != "exact")
        throw Error("numerics: expected 'official' or 'exact', got '" + numerics + "'");
    if (context <= 0) throw Error("context: must be positive, got " + std::to_string(context));
    if (prefill_chunk <= 0) throw Error("prefill_chunk: must be positive, got " + std::to_string(prefill_chunk));
    if (threads < 0) throw Error("backend.threads: must be >= 0, got " + std::to_string(threads));
    if (device < 0) throw Error("backend.device: must be >= 0, got " + std::to_string(device));
    if (server_port <= 0 || server_port > 65535)
        throw Error("server.port: must be in 1..65535, got " + std::to_string(server_port));
}

std::string Config::to_yaml() const {
    std::ostringstream os;
    for (auto& d : key_defs()) os << d.key << ": \"" << d.get(*this) << "\"\n";
    for (auto& [k, v] : backend_options) os << "backend.options." << k << ": \"" << v << "\"\n";
    return os.str();
}

}  // namespace ds4
