// Debug aid shared by the plugins (header-only, not part of the ABI): with DS4_DUMP_NODES=DIR
// a plugin writes the first output of every node of one submit to DIR/n<node>_<op>.bin, the
// elements packed in index order (i0 fastest), so the same graph run on two backends can be
// compared node by node (tests/gpu/compare_dumps.py finds the first node that differs).
// DS4_DUMP_SUBMIT=K picks the K-th submit of the process (0-based, default 0). The plugin
// reads the tensor's bytes into host memory (`span`, starting at the tensor's offset) and calls
// dump_node; everything else here is plain host code.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ds4/backend.h"

namespace ds4::plugin_debug {

class NodeDump {
public:
    // Call once per submit, before its nodes: true when this submit's nodes are to be dumped.
    bool begin_submit() {
        const char* dir = std::getenv("DS4_DUMP_NODES");
        if (!dir || !*dir) return false;
        const char* k = std::getenv("DS4_DUMP_SUBMIT");
        const long want = k && *k ? std::strtol(k, nullptr, 10) : 0;
        dir_ = dir;
        return submits_++ == want;
    }
    // Bytes [t->offset, t->offset + span_bytes(t)) of the tensor's buffer hold its elements.
    static uint64_t span_bytes(const ds4_tensor* t) {
        uint64_t end = ds4_type_block_bytes(t->type);
        for (int i = 0; i < DS4_MAX_DIMS; ++i)
            end += static_cast<uint64_t>(t->ne[i] / (i == 0 ? ds4_type_block_elems(t->type) : 1) - 1) *
                   static_cast<uint64_t>(t->nb[i]);
        return end;
    }
    void dump_node(uint32_t index, const char* op, const ds4_tensor* t, const uint8_t* span) const {
        const int64_t be = ds4_type_block_elems(t->type), bb = ds4_type_block_bytes(t->type);
        std::vector<uint8_t> packed;
        for (int64_t i3 = 0; i3 < t->ne[3]; ++i3)
            for (int64_t i2 = 0; i2 < t->ne[2]; ++i2)
                for (int64_t i1 = 0; i1 < t->ne[1]; ++i1)
                    for (int64_t b = 0; b < t->ne[0] / be; ++b) {
                        const uint8_t* p = span + i3 * t->nb[3] + i2 * t->nb[2] + i1 * t->nb[1] + b * t->nb[0];
                        packed.insert(packed.end(), p, p + bb);
                    }
        char name[64];
        std::snprintf(name, sizeof name, "/n%04u_%s.bin", index, op);
        if (FILE* f = std::fopen((dir_ + name).c_str(), "wb")) {
            std::fwrite(packed.data(), 1, packed.size(), f);
            std::fclose(f);
        }
    }

private:
    std::string dir_;
    long submits_ = 0;
};

}  // namespace ds4::plugin_debug
