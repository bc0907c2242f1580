// libFuzzer entry point for the GGUF reader. Any input must either open or throw
// ds4::gguf::Error; everything else (a crash, an ASan report, another exception escaping,
// a huge allocation) is a finding. Also linked into fuzz_gguf_replay for plain builds.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf.h"

namespace {

// Reads everything a consumer would read, so a view that points outside the buffer shows up.
void consume(const ds4::gguf::File& f) {
    volatile size_t sink = ds4::gguf::describe(f).size();
    for (const auto& kv : f.metadata()) {
        const auto& v = kv.value;
        sink = sink + kv.key.size() + kv.encoded.size() + v.preview(200).size();
        if (!v.is_array()) continue;
        const auto& a = v.array();
        if (a.type() == ds4::gguf::ValueType::STRING) {
            for (std::string_view s : a.strings()) sink = sink + (s.empty() ? 0 : static_cast<uint8_t>(s.back()));
        } else {
            for (uint8_t b : a.raw()) sink = sink + b;
        }
    }
    for (const auto& t : f.tensors()) {
        if (f.find_tensor(t.name) != &t) __builtin_trap();  // the index must agree with the list
        if (t.size > 0) sink = sink + t.data[0] + t.data[t.size - 1];
    }
    (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        ds4::gguf::File f = ds4::gguf::File::open_memory(data, size, "fuzz.gguf");
        consume(f);
    } catch (const ds4::gguf::Error&) {
        // Clean rejection: the expected outcome for most inputs.
    }
    return 0;
}
