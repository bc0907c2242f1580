// Human summary of a GGUF file for inspection frontends.
#include <cstdio>

#include "ds4/types.h"
#include "gguf/gguf.h"
#include "utf8.h"

namespace ds4::gguf {

std::string shape_string(const TensorInfo& t) {
    std::string s = "[";
    for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
    return s + "]";
}

std::string describe(const File& f) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %u, data at %llu, file size %llu\n",
                  f.name().c_str(), f.version(), f.metadata().size(), f.tensors().size(), f.alignment(),
                  static_cast<unsigned long long>(f.data_offset()), static_cast<unsigned long long>(f.file_size()));
    out += line;

    out += "metadata:\n";
    for (const KeyValue& kv : f.metadata()) {
        std::string type = value_type_name(kv.value.type());
        if (kv.value.is_array()) type = "ARRAY of " + value_type_name(kv.value.array().type());
        // Keys come from the file: quote() keeps hostile bytes from breaking the layout.
        std::snprintf(line, sizeof line, "  %-48s %-18s ", detail::quote(kv.key, 64).c_str(), type.c_str());
        out += line;
        out += kv.value.preview(80);
        out += '\n';
    }

    out += "tensors:\n";
    uint64_t total = 0;
    for (const TensorInfo& t : f.tensors()) {
        std::snprintf(line, sizeof line, "  %-48s %-8s %-24s %14llu bytes @ %llu\n", detail::quote(t.name, 64).c_str(),
                      ds4_type_name(t.type), shape_string(t).c_str(), static_cast<unsigned long long>(t.size),
                      static_cast<unsigned long long>(t.offset));
        out += line;
        total += t.size;
    }
    std::snprintf(line, sizeof line, "tensor data: %llu bytes\n", static_cast<unsigned long long>(total));
    out += line;
    return out;
}

}  // namespace ds4::gguf
