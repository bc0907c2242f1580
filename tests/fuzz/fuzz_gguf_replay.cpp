// Plain (non-libFuzzer) driver for LLVMFuzzerTestOneInput, registered with ctest:
//   fuzz_gguf_replay <corpus-dir> [--mutations N] [--seed S]
// runs every corpus file, then N deterministic mutations of them (bit flips, byte sets,
// "interesting" integers over 4/8-byte fields, truncation, chunk insert/erase/duplicate).
//   fuzz_gguf_replay --write-seeds <dir>
// regenerates the committed seed corpus with the Writer.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "ds4/types.h"
#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::vector<uint8_t>& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// ---- seeds ------------------------------------------------------------------------------

std::vector<uint8_t> pattern(size_t n, uint8_t s) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(s + 13 * i);
    return v;
}

void write_seeds(const fs::path& dir) {
    using ds4::gguf::Writer;
    fs::create_directories(dir);
    {  // A miniature DS4-shaped model: typical keys and one tensor of every type.
        Writer w;
        w.add_string("general.architecture", "deepseek4");
        w.add_string("general.name", "tiny");
        w.add_u32("general.alignment", 32);
        w.add_u32("deepseek4.block_count", 2);
        w.add_u64("deepseek4.context_length", 1024);
        w.add_f32("deepseek4.rope.freq_base", 10000.f);
        w.add_f64("deepseek4.attention.layer_norm_rms_epsilon", 1e-6);
        w.add_bool("deepseek4.expert_weights_norm", true);
        w.add_array("deepseek4.attention.compress_ratios", std::vector<uint32_t>{0, 4});
        w.add_array("deepseek4.swiglu_clamp_exp", std::vector<float>{10.f, 10.f});
        w.add_string_array("tokenizer.ggml.tokens", std::vector<std::string>{"<｜begin▁of▁sentence｜>", "a", "\xC4\xA0the", "<think>"});
        w.add_string_array("tokenizer.ggml.merges", std::vector<std::string>{"a b", "\xC4\xA0 t"});
        const uint32_t types[] = {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_Q8_0, DS4_TYPE_Q2_K,
                                  DS4_TYPE_Q4_K, DS4_TYPE_Q8_K, DS4_TYPE_IQ2_XXS, DS4_TYPE_I32};
        uint8_t s = 1;
        for (uint32_t t : types) {
            const int64_t be = ds4_type_block_elems(t);
            w.add_tensor(std::string("blk.0.") + ds4_type_name(t) + ".weight", t, {be, 2},
                         pattern(static_cast<size_t>(2 * ds4_type_block_bytes(t)), s++));
        }
        write_file(dir / "seed_tiny_model", w.write_to_memory());
    }
    {  // Every scalar value type, no tensors.
        Writer w;
        w.add_u8("u8", 1); w.add_i8("i8", -1); w.add_u16("u16", 2); w.add_i16("i16", -2);
        w.add_u32("u32", 3); w.add_i32("i32", -3); w.add_u64("u64", 4); w.add_i64("i64", -4);
        w.add_f32("f32", 0.5f); w.add_f64("f64", 0.25); w.add_bool("bool", false); w.add_string("str", "ok");
        w.add_array("arr_i16", std::vector<int16_t>{1, -1});
        w.add_array("arr_u64", std::vector<uint64_t>{7});
        write_file(dir / "seed_all_value_types", w.write_to_memory());
    }
    {  // Large alignment, multi-dim tensors, directory order != size order.
        Writer w;
        w.add_u32("general.alignment", 256);
        w.add_tensor("a", DS4_TYPE_F32, {2, 3, 4, 1}, pattern(96, 9));
        w.add_tensor("b", DS4_TYPE_Q8_0, {32}, pattern(34, 7));
        write_file(dir / "seed_align256", w.write_to_memory());
    }
    write_file(dir / "seed_empty", ds4::gguf::Writer().write_to_memory());
}

// ---- mutations --------------------------------------------------------------------------

void mutate(std::vector<uint8_t>& b, std::mt19937_64& rng) {
    static const uint64_t kInteresting[] = {0, 1, 2, 3, 4, 7, 8, 9, 31, 32, 33, 255, 256, 0x7FFFFFFF, 0x80000000,
                                            0xFFFFFFFF, 0x100000000ull, 0x7FFFFFFFFFFFFFFFull,
                                            0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull};
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
        if (b.empty()) b.push_back(static_cast<uint8_t>(rng()));
        const size_t at = rng() % b.size();
        switch (rng() % 8) {
        case 0: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: b[at] = static_cast<uint8_t>(rng()); break;
        case 2: case 3: {  // an interesting integer over a 4- or 8-byte field
            const uint64_t v = kInteresting[rng() % std::size(kInteresting)];
            const size_t w = (rng() & 1) ? 8 : 4;
            if (at + w <= b.size()) std::memcpy(&b[at], &v, w);
            break;
        }
        case 4: b.resize(at); break;  // truncate
        case 5: b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                        b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + 1 + rng() % 16)));
            break;
        case 6: b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), 1 + rng() % 16, static_cast<uint8_t>(rng())); break;
        default: {  // duplicate a chunk somewhere else
            const size_t len = std::min<size_t>(b.size() - at, 1 + rng() % 32);
            std::vector<uint8_t> chunk(b.begin() + static_cast<std::ptrdiff_t>(at),
                                       b.begin() + static_cast<std::ptrdiff_t>(at + len));
            const size_t to = rng() % (b.size() + 1);
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(to), chunk.begin(), chunk.end());
            break;
        }
        }
    }
}

int usage() {
    std::fprintf(stderr, "usage: fuzz_gguf_replay <corpus-dir> [--mutations N] [--seed S]\n"
                         "       fuzz_gguf_replay --write-seeds <dir>\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) {
        write_seeds(argv[2]);
        return 0;
    }
    if (argc < 2) return usage();
    const fs::path dir = argv[1];
    uint64_t mutations = 20000, seed = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--mutations") == 0) mutations = std::strtoull(argv[i + 1], nullptr, 10);
        else if (std::strcmp(argv[i], "--seed") == 0) seed = std::strtoull(argv[i + 1], nullptr, 10);
        else return usage();
    }

    std::vector<std::vector<uint8_t>> corpus;
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file()) files.push_back(e.path());
    if (ec || files.empty()) {
        std::fprintf(stderr, "fuzz_gguf_replay: no corpus files in %s\n", dir.c_str());
        return 1;
    }
    std::sort(files.begin(), files.end());  // deterministic order
    for (const auto& p : files) {
        corpus.push_back(read_file(p));
        // Exact-size heap copy so ASan builds catch reads past the end.
        LLVMFuzzerTestOneInput(corpus.back().data(), corpus.back().size());
    }

    std::mt19937_64 rng(seed);
    for (uint64_t i = 0; i < mutations; ++i) {
        std::vector<uint8_t> b = corpus[rng() % corpus.size()];
        mutate(b, rng);
        std::vector<uint8_t> exact(b);  // shrink_to_fit equivalent: capacity == size
        LLVMFuzzerTestOneInput(exact.data(), exact.size());
    }
    std::printf("fuzz_gguf_replay: %zu corpus files, %llu mutations, no crash\n", corpus.size(),
                static_cast<unsigned long long>(mutations));
    return 0;
}
