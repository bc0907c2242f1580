// Engine configuration: defaults < YAML file (configs/*.yaml) < command-line overrides.
//
// Keys are dotted paths ("backend.name"). Unknown keys are errors naming the key and the
// file line; values are type-checked ("configs/x.yaml:3: backend.threads: expected an
// integer, got 'many'").
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ds4 {

struct Config {
    // backend
    std::string backend = "cpu-ref";      // backend.name: cpu-ref | cuda | hip | metal | auto
    std::string plugin_dir;               // backend.plugin_dir: searched before DS4_PLUGIN_PATH
    int64_t device = 0;                   // backend.device
    int64_t threads = 0;                  // backend.threads: 0 = all hardware threads
    std::map<std::string, std::string> backend_options;  // backend.options.<key>: passed to the plugin
    // model and numerics
    std::string model;                    // model.path
    std::string mtp_model;                // model.mtp_path (optional)
    std::string numerics = "official";    // numerics: official | exact
    int64_t context = 32768;              // context: tokens of KV state per session
    int64_t prefill_chunk = 2048;         // prefill_chunk: tokens per prefill graph
    // server
    std::string server_host = "127.0.0.1";  // server.host
    int64_t server_port = 8000;             // server.port
    std::string server_api_key;             // server.api_key (empty: no auth)
    // disk KV cache
    std::string kv_cache_dir;               // kv_cache.dir (empty: disabled)
    int64_t kv_cache_budget_mb = 0;         // kv_cache.budget_mb

    // Every known key with a one-line description, in documentation order.
    static const std::vector<std::pair<std::string, std::string>>& keys();

    // Loads a YAML file on top of this config. Throws ds4::Error naming file:line and key.
    void load_yaml_file(const std::string& path);
    void load_yaml_string(const std::string& text, const std::string& name = "<string>");
    // Applies one "key=value" override (CLI --set). Throws ds4::Error naming the key.
    void set(const std::string& key_equals_value);
    void set(const std::string& key, const std::string& value, const std::string& where);
    // Checks cross-field rules (numerics name, positive sizes). Throws ds4::Error.
    void validate() const;
    // The effective configuration as YAML (for --print-config).
    std::string to_yaml() const;
};

}  // namespace ds4
