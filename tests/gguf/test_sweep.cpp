// Robustness sweep: every prefix of a valid file and many random byte flips must either
// open cleanly or throw ds4::gguf::Error — never crash, hang or throw anything else.
#include <gtest/gtest.h>

#include <random>

#include "ds4/types.h"
#include "gguf/gguf.h"

using namespace ds4::gguf;

namespace {

std::vector<uint8_t> small_valid_file() {
    Writer w;
    w.add_string("general.architecture", "deepseek4");
    w.add_u32("general.alignment", 32);
    w.add_u32("deepseek4.block_count", 2);
    w.add_f32("deepseek4.rope.freq_base", 10000.f);
    w.add_bool("deepseek4.expert_weights_norm", true);
    w.add_array("deepseek4.attention.compress_ratios", std::vector<uint32_t>{0, 4});
    w.add_string_array("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "\xC4\xA0the", "<think>"});
    std::vector<uint8_t> q8(34 * 2, 0x11), f32(4 * 8, 0x22), iq2(66, 0x33);
    w.add_tensor("blk.0.attn_kv.weight", DS4_TYPE_Q8_0, {32, 2}, q8);
    w.add_tensor("output_norm.weight", DS4_TYPE_F32, {8}, f32);
    w.add_tensor("blk.0.ffn_gate_exps.weight", DS4_TYPE_IQ2_XXS, {256}, iq2);
    return w.write_to_memory();
}

// Touches everything a consumer would touch, so a bad view would show up under ASan.
size_t consume(const File& f) {
    size_t h = describe(f).size();
    for (const KeyValue& kv : f.metadata()) {
        h += kv.key.size() + kv.encoded.size();
        if (kv.value.is_array() && kv.value.array().type() == ValueType::STRING)
            for (std::string_view s : kv.value.array().strings()) h += s.size();
    }
    for (const TensorInfo& t : f.tensors())
        for (uint64_t i = 0; i < t.size; i += 7) h += t.data[i];
    return h;
}

enum class Outcome { Opened, Rejected };

Outcome try_open(const std::vector<uint8_t>& b) {
    try {
        File f = File::open_memory(b.data(), b.size(), "sweep.gguf");
        consume(f);
        return Outcome::Opened;
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("sweep.gguf: ", 0), 0u) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        return Outcome::Rejected;
    }
}

TEST(GgufSweep, EveryPrefixIsRejectedExceptTheWholeFile) {
    const std::vector<uint8_t> full = small_valid_file();
    for (size_t n = 0; n < full.size(); ++n) {
        // Heap copy of exactly n bytes: ASan then catches any read past the prefix.
        std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_EQ(try_open(prefix), Outcome::Rejected) << "prefix of " << n << " bytes opened";
    }
    EXPECT_EQ(try_open(full), Outcome::Opened);
}

TEST(GgufSweep, RandomByteFlipsFailCleanlyOrOpenConsistently) {
    const std::vector<uint8_t> full = small_valid_file();
    std::mt19937_64 rng(0x5eed'd54'6767ull);  // fixed seed: the sweep is reproducible
    int opened = 0, rejected = 0;
    for (int iter = 0; iter < 4000; ++iter) {
        std::vector<uint8_t> b = full;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % b.size();
            switch (rng() % 3) {
            case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
            case 1: b[at] = static_cast<uint8_t>(rng()); break;
            default: b[at] = (rng() & 1) ? 0xFF : 0x00; break;
            }
        }
        const Outcome first = try_open(b);
        EXPECT_EQ(try_open(b), first) << "iteration " << iter;  // same bytes, same verdict
        (first == Outcome::Opened ? opened : rejected)++;
    }
    // Flips in tensor data leave a valid file; flips in the structure are rejected.
    EXPECT_GT(opened, 0);
    EXPECT_GT(rejected, 0);
}

}  // namespace
