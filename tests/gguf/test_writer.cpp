// Writer behaviour: streaming, progress, atomic replace, and refusing invalid input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ds4/types.h"
#include "gguf/gguf.h"

using namespace ds4::gguf;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
    fs::path dir = fs::temp_directory_path() / ("ds4-gguf-writer-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

std::string error_of(const std::function<void()>& fn) {
    try { fn(); } catch (const Error& e) { return e.what(); }
    return "no error";
}

TEST(GgufWriter, StreamsTensorsWithProgress) {
    // 4 MiB F32 tensor produced in 4 KiB pieces: nothing holds the whole tensor.
    const int64_t rows = 1024, cols = 1024;
    Writer w;
    w.add_u32("x", 1);
    w.add_tensor("big", DS4_TYPE_F32, {cols, rows}, [&](ByteSink& sink) {
        std::vector<float> row(cols);
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) row[c] = static_cast<float>(r * cols + c);
            sink.write(row.data(), row.size() * sizeof(float));
        }
    });
    w.add_tensor("small", DS4_TYPE_I32, {3}, std::vector<uint8_t>(12, 7));
    const fs::path p = temp_dir() / "stream.gguf";
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    w.write(p.string(), [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); });

    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back().first, w.total_size());
    EXPECT_EQ(calls.back().second, w.total_size());
    for (size_t i = 1; i < calls.size(); ++i) EXPECT_GT(calls[i].first, calls[i - 1].first);
    EXPECT_EQ(fs::file_size(p), w.total_size());
    EXPECT_FALSE(fs::exists(p.string() + ".tmp"));

    File f = File::open(p.string());
    const TensorInfo& big = f.tensor("big");
    const auto* v = reinterpret_cast<const float*>(big.data);
    EXPECT_EQ(v[0], 0.f);
    EXPECT_EQ(v[rows * cols - 1], static_cast<float>(rows * cols - 1));
    EXPECT_EQ(f.tensor("small").data[11], 7);
    fs::remove_all(p.parent_path());
}

TEST(GgufWriter, FailedWriteLeavesOldFileAndNoTemp) {
    const fs::path p = temp_dir() / "keep.gguf";
    { std::ofstream(p) << "old contents"; }
    Writer w;
    w.add_tensor("short", DS4_TYPE_F32, {16}, [](ByteSink& sink) {
        const float x[4] = {};
        sink.write(x, sizeof x);  // 16 of 64 bytes
    });
    EXPECT_EQ(error_of([&] { w.write(p.string()); }), "gguf writer: tensor 'short': stream produced 16 bytes, expected 64");
    Writer w2;
    w2.add_tensor("long", DS4_TYPE_F32, {1}, [](ByteSink& sink) {
        const float x[2] = {};
        sink.write(x, sizeof x);
    });
    EXPECT_EQ(error_of([&] { w2.write(p.string()); }),
              "gguf writer: tensor 'long': stream wrote more than the tensor's 4 bytes");
    Writer w3;
    w3.add_tensor("throws", DS4_TYPE_F32, {1}, [](ByteSink&) { throw std::runtime_error("source went away"); });
    EXPECT_THROW(w3.write(p.string()), std::runtime_error);

    std::ifstream in(p);
    std::string s;
    std::getline(in, s);
    EXPECT_EQ(s, "old contents");
    EXPECT_FALSE(fs::exists(p.string() + ".tmp"));

    EXPECT_NE(error_of([&] { Writer().write((temp_dir() / "no/such/dir/x.gguf").string()); }).find("cannot create"),
              std::string::npos);
    fs::remove_all(p.parent_path());
}

TEST(GgufWriter, RejectsWhatTheReaderWouldReject) {
    Writer w;
    w.add_u32("k", 1);
    EXPECT_EQ(error_of([&] { w.add_u32("k", 2); }), "gguf writer: key 'k': duplicate key");
    EXPECT_EQ(error_of([&] { w.add_u32("", 2); }), "gguf writer: empty key name");
    EXPECT_EQ(error_of([&] { w.add_u32("bad\xFF", 2); }), "gguf writer: key 'bad\\xFF': not valid UTF-8");
    EXPECT_EQ(error_of([&] { w.add_string("s", "\xC0\x80"); }), "gguf writer: key 's': string value is not valid UTF-8");
    EXPECT_EQ(error_of([&] { w.add_string_array("sa", std::vector<std::string>{"ok", "\xED\xA0\x80"}); }),
              "gguf writer: key 'sa': string element 1 is not valid UTF-8");
    EXPECT_EQ(error_of([&] { w.add_u32("general.alignment", 48); }),
              "gguf writer: key 'general.alignment': alignment 48 is not a power of two");
    EXPECT_EQ(error_of([&] { w.add_u64("general.alignment", 64); }),
              "gguf writer: key 'general.alignment': must be UINT32, not UINT64");
    EXPECT_NE(error_of([&] { w.add_array("a", ValueType::STRING, nullptr, 0); }).find("numeric or BOOL"), std::string::npos);

    const std::vector<uint8_t> b32(32 * 4);
    EXPECT_EQ(error_of([&] { w.add_tensor("t", 7, {32}, b32); }), "gguf writer: tensor 't': unsupported tensor type id 7");
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_Q8_0, {33}, b32); }),
              "gguf writer: tensor 't': ne[0] = 33 is not a multiple of the q8_0 block size 32");
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_F32, {}, b32); }), "gguf writer: tensor 't': n_dims = 0 (must be 1..4)");
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_F32, {1, 1, 1, 1, 1}, b32); }),
              "gguf writer: tensor 't': n_dims = 5 (must be 1..4)");
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_F32, {32, 0}, b32); }), "gguf writer: tensor 't': ne[1] = 0 (must be >= 1)");
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_F32, {31}, b32); }),
              "gguf writer: tensor 't': 128 bytes given, expected 124 for f32");
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_F32, {1ll << 40, 1ll << 40}, b32); }),
              "gguf writer: tensor 't': element count overflows");
    w.add_tensor("t", DS4_TYPE_F32, {32}, b32);
    EXPECT_EQ(error_of([&] { w.add_tensor("t", DS4_TYPE_F32, {32}, b32); }), "gguf writer: tensor 't': duplicate tensor");
}

TEST(GgufWriter, EmptyFileRoundTrips) {
    Writer w;
    const auto bytes = w.write_to_memory();
    EXPECT_EQ(bytes.size(), 24u);
    File f = File::open_memory(bytes.data(), bytes.size(), "empty.gguf");
    EXPECT_TRUE(f.metadata().empty());
    EXPECT_TRUE(f.tensors().empty());
}

}  // namespace
