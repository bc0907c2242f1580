// Writer -> file -> reader gives back identical metadata and tensor bytes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "ds4/types.h"
#include "gguf/gguf.h"

using namespace ds4::gguf;
namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) {
    fs::path dir = fs::temp_directory_path() / ("ds4-gguf-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 8));
    return v;
}

TEST(GgufRoundTrip, EveryValueType) {
    Writer w;
    w.add_u8("t.u8", 250);
    w.add_i8("t.i8", -120);
    w.add_u16("t.u16", 65000);
    w.add_i16("t.i16", -32000);
    w.add_u32("t.u32", 4000000000u);
    w.add_i32("t.i32", -2000000000);
    w.add_u64("t.u64", 18000000000000000000ull);
    w.add_i64("t.i64", -9000000000000000000ll);
    w.add_f32("t.f32", 1.5e-6f);
    w.add_f64("t.f64", 3.141592653589793);
    w.add_bool("t.bool", true);
    w.add_bool("t.bool0", false);
    w.add_string("t.str", "h\xC3\xA9llo \xEF\xBD\x9C");  // héllo ｜
    w.add_string("t.empty", "");
    w.add_array("t.arr_u32", std::vector<uint32_t>{0, 0, 4, 128, 4});
    w.add_array("t.arr_i32", std::vector<int32_t>{-1, 2, -3});
    w.add_array("t.arr_f32", std::vector<float>{10.f, 10.f});
    w.add_array("t.arr_f64", std::vector<double>{0.25, -8});
    w.add_array("t.arr_u8", std::vector<uint8_t>{1, 2, 255});
    w.add_array("t.arr_i8", std::vector<int8_t>{-128, 127});
    w.add_array("t.arr_u16", std::vector<uint16_t>{1, 65535});
    w.add_array("t.arr_i16", std::vector<int16_t>{-32768, 5});
    w.add_array("t.arr_u64", std::vector<uint64_t>{1ull << 40});
    w.add_array("t.arr_i64", std::vector<int64_t>{-(1ll << 40)});
    const bool bools[] = {true, false, true};
    w.add_array<bool>("t.arr_bool2", std::span<const bool>(bools));
    w.add_array("t.arr_bool3", std::vector<bool>{false, true});
    w.add_array("t.arr_empty", std::vector<float>{});
    w.add_string_array("t.tokens", std::vector<std::string>{"<｜begin▁of▁sentence｜>", "", "a b", "\xC4\xA0the"});

    const fs::path p = temp_path("values.gguf");
    w.write(p.string());
    File f = File::open(p.string());

    EXPECT_EQ(f.version(), 3u);
    ASSERT_EQ(f.metadata().size(), w.n_kv());
    EXPECT_EQ(f.metadata()[0].key, "t.u8");  // file order kept
    EXPECT_EQ(f.metadata().back().key, "t.tokens");
    EXPECT_EQ(f.value("t.u8").get<uint8_t>(), 250);
    EXPECT_EQ(f.value("t.i8").get<int8_t>(), -120);
    EXPECT_EQ(f.value("t.u16").get<uint16_t>(), 65000);
    EXPECT_EQ(f.value("t.i16").get<int16_t>(), -32000);
    EXPECT_EQ(f.get_u32("t.u32"), 4000000000u);
    EXPECT_EQ(f.get_i32("t.i32"), -2000000000);
    EXPECT_EQ(f.get_u64("t.u64"), 18000000000000000000ull);
    EXPECT_EQ(f.value("t.i64").get<int64_t>(), -9000000000000000000ll);
    EXPECT_EQ(f.get_f32("t.f32"), 1.5e-6f);
    EXPECT_EQ(f.value("t.f64").get<double>(), 3.141592653589793);
    EXPECT_TRUE(f.get_bool("t.bool"));
    EXPECT_FALSE(f.get_bool("t.bool0"));
    EXPECT_EQ(f.get_string("t.str"), "h\xC3\xA9llo \xEF\xBD\x9C");
    EXPECT_EQ(f.get_string("t.empty"), "");

    EXPECT_EQ(f.get_array("t.arr_u32", ValueType::UINT32).to_vector<uint32_t>(), (std::vector<uint32_t>{0, 0, 4, 128, 4}));
    EXPECT_EQ(f.get_array("t.arr_i32").to_vector<int32_t>(), (std::vector<int32_t>{-1, 2, -3}));
    EXPECT_EQ(f.get_array("t.arr_f32").get<float>(1), 10.f);
    EXPECT_EQ(f.get_array("t.arr_f64").as_double(1), -8.0);
    EXPECT_EQ(f.get_array("t.arr_u8").get<uint8_t>(2), 255);
    EXPECT_EQ(f.get_array("t.arr_i8").as_int(0), -128);
    EXPECT_EQ(f.get_array("t.arr_u16").as_int(1), 65535);
    EXPECT_EQ(f.get_array("t.arr_i16").get<int16_t>(0), -32768);
    EXPECT_EQ(f.get_array("t.arr_u64").get<uint64_t>(0), 1ull << 40);
    EXPECT_EQ(f.get_array("t.arr_i64").get<int64_t>(0), -(1ll << 40));
    EXPECT_EQ(f.get_array("t.arr_bool2").to_vector<bool>(), (std::vector<bool>{true, false, true}));
    EXPECT_EQ(f.get_array("t.arr_bool3", ValueType::BOOL).to_vector<bool>(), (std::vector<bool>{false, true}));
    EXPECT_TRUE(f.get_array("t.arr_empty").empty());
    EXPECT_EQ(f.get_array("t.arr_empty").type(), ValueType::FLOAT32);

    const Array& tok = f.get_array("t.tokens", ValueType::STRING);
    ASSERT_EQ(tok.size(), 4u);
    EXPECT_EQ(tok.string(0), "<｜begin▁of▁sentence｜>");
    EXPECT_EQ(tok.string(1), "");
    EXPECT_EQ(tok.strings()[2], "a b");
    // Views point into the mapping, not into copies.
    EXPECT_GE(reinterpret_cast<const uint8_t*>(tok.string(3).data()), f.base());
    EXPECT_LT(reinterpret_cast<const uint8_t*>(tok.string(3).data()), f.base() + f.file_size());
    fs::remove_all(p.parent_path());
}

TEST(GgufRoundTrip, EveryTensorTypeAndAlignment) {
    const uint32_t types[] = {DS4_TYPE_F32, DS4_TYPE_F16, DS4_TYPE_BF16, DS4_TYPE_Q8_0, DS4_TYPE_Q2_K,
                              DS4_TYPE_Q4_K, DS4_TYPE_Q8_K, DS4_TYPE_IQ2_XXS, DS4_TYPE_I32};
    for (uint32_t align : {32u, 64u, 4096u}) {
        Writer w;
        w.add_string("general.architecture", "deepseek4");
        w.add_u32("general.alignment", align);
        std::vector<std::vector<uint8_t>> expect;
        uint8_t seed = 1;
        for (uint32_t t : types) {
            const int64_t be = ds4_type_block_elems(t);
            const std::vector<int64_t> ne = {be * 2, 3};
            expect.push_back(pattern(static_cast<size_t>(2 * 3 * ds4_type_block_bytes(t)), seed++));
            w.add_tensor(std::string("blk.0.") + ds4_type_name(t) + ".weight", t, ne, expect.back());
        }
        w.add_tensor("four.d", DS4_TYPE_F32, {2, 3, 4, 5}, pattern(2 * 3 * 4 * 5 * 4, 99));
        const std::vector<uint8_t> bytes = w.write_to_memory();
        EXPECT_EQ(bytes.size(), w.total_size());

        File f = File::open_memory(bytes.data(), bytes.size(), "mem.gguf");
        EXPECT_EQ(f.alignment(), align);
        EXPECT_EQ(f.data_offset() % align, 0u);
        ASSERT_EQ(f.tensors().size(), std::size(types) + 1);
        for (size_t i = 0; i < std::size(types); ++i) {
            const TensorInfo& ti = f.tensors()[i];
            SCOPED_TRACE(ti.name);
            EXPECT_EQ(ti.type, types[i]);
            EXPECT_EQ(ti.n_dims, 2u);
            EXPECT_EQ(ti.ne[0], ds4_type_block_elems(types[i]) * 2);
            EXPECT_EQ(ti.ne[1], 3);
            EXPECT_EQ(ti.ne[2], 1);
            EXPECT_EQ(ti.offset % align, 0u);
            EXPECT_EQ(ti.row_bytes(), static_cast<uint64_t>(2 * ds4_type_block_bytes(types[i])));
            EXPECT_EQ(std::vector<uint8_t>(ti.bytes().begin(), ti.bytes().end()), expect[i]);
            EXPECT_EQ(f.find_tensor(ti.name), &ti);
        }
        const TensorInfo& four = f.tensor("four.d");
        EXPECT_EQ(four.n_dims, 4u);
        EXPECT_EQ(four.n_elements, 120);
        EXPECT_EQ(shape_string(four), "[2, 3, 4, 5]");
        EXPECT_EQ(four.size, 480u);
    }
}

TEST(GgufRoundTrip, GettersFollowTheDs4LenientRules) {
    Writer w;
    w.add_u32("a.u32", 7);
    w.add_i32("a.i32", -3);
    w.add_f64("a.f64", 0.5);
    w.add_u64("a.u64", 1ull << 40);
    w.add_string("a.s", "x");
    w.add_array("a.ratios", std::vector<int32_t>{0, 4, 128});
    const auto bytes = w.write_to_memory();
    File f = File::open_memory(bytes.data(), bytes.size(), "m.gguf");

    EXPECT_EQ(f.get_u64("a.u32"), 7u);  // u64 keys accept UINT32
    EXPECT_EQ(f.get_u64("a.u64"), 1ull << 40);
    EXPECT_EQ(f.get_f32("a.u32"), 7.f);  // float keys accept UINT32, INT32, FLOAT64
    EXPECT_EQ(f.get_f32("a.i32"), -3.f);
    EXPECT_EQ(f.get_f32("a.f64"), 0.5f);
    EXPECT_EQ(f.get_array("a.ratios").as_int(2), 128);
    EXPECT_EQ(f.get_u32_or("missing", 5), 5u);
    EXPECT_EQ(f.get_string_or("missing", "d"), "d");

    auto message = [&](auto fn) {
        try { fn(); } catch (const Error& e) { return std::string(e.what()); }
        return std::string("no error");
    };
    EXPECT_EQ(message([&] { f.get_u32("a.i32"); }), "m.gguf: key 'a.i32': expected UINT32, found INT32");
    EXPECT_EQ(message([&] { f.get_u64("a.i32"); }), "m.gguf: key 'a.i32': expected UINT64 or UINT32, found INT32");
    EXPECT_EQ(message([&] { f.get_f32("a.s"); }), "m.gguf: key 'a.s': expected FLOAT32, FLOAT64, UINT32 or INT32, found STRING");
    EXPECT_EQ(message([&] { f.get_u32("nope"); }), "m.gguf: missing required key 'nope'");
    EXPECT_EQ(message([&] { f.get_u32_or("a.s", 1); }), "m.gguf: key 'a.s': expected UINT32, found STRING");
    EXPECT_EQ(message([&] { f.get_array("a.ratios", ValueType::UINT32); }),
              "m.gguf: key 'a.ratios': expected ARRAY of UINT32, found ARRAY of INT32");
    EXPECT_EQ(message([&] { f.tensor("w"); }), "m.gguf: missing tensor 'w'");
    EXPECT_NE(message([&] { f.get_array("a.ratios").get<uint32_t>(0); }).find("not UINT32"), std::string::npos);
    EXPECT_NE(message([&] { f.get_array("a.ratios").get<int32_t>(3); }).find("index 3 out of range (size 3)"), std::string::npos);
    EXPECT_NE(message([&] { f.get_array("a.ratios").string(0); }).find("not STRING"), std::string::npos);
}

TEST(GgufRoundTrip, LargeStringArrayStaysViews) {
    // tokenizer.ggml.tokens has 129280 entries; check scale and that nothing is copied.
    std::vector<std::string> toks(129280);
    for (size_t i = 0; i < toks.size(); ++i) toks[i] = "tok" + std::to_string(i);
    Writer w;
    w.add_string_array("tokenizer.ggml.tokens", toks);
    const auto bytes = w.write_to_memory();
    File f = File::open_memory(bytes.data(), bytes.size(), "tok.gguf");
    const Array& a = f.get_array("tokenizer.ggml.tokens", ValueType::STRING);
    ASSERT_EQ(a.size(), 129280u);
    EXPECT_EQ(a.string(129279), "tok129279");
    EXPECT_EQ(a.string(0).data(), reinterpret_cast<const char*>(bytes.data()) + 24 + 8 + 21 + 4 + 4 + 8 + 8);
}

TEST(GgufRoundTrip, CopyKvAndDescribe) {
    Writer w;
    w.add_string("general.name", "tiny");
    w.add_u32("general.alignment", 64);
    w.add_array("deepseek4.swiglu_clamp_exp", std::vector<float>{10.f, 10.f, 10.f});
    w.add_string_array("tokenizer.ggml.merges", std::vector<std::string>{"a b", "\xC4\xA0 t"});
    w.add_tensor("output_norm.weight", DS4_TYPE_F32, {8}, pattern(32, 3));
    const auto bytes = w.write_to_memory();
    File f = File::open_memory(bytes.data(), bytes.size(), "src.gguf");

    Writer copy;
    for (const KeyValue& kv : f.metadata()) copy.copy_kv(kv);
    for (const TensorInfo& t : f.tensors())
        copy.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), t.bytes());
    EXPECT_EQ(copy.alignment(), 64u);
    EXPECT_EQ(copy.write_to_memory(), bytes);  // byte-identical

    const std::string d = describe(f);
    EXPECT_NE(d.find("GGUF v3, 4 metadata keys, 1 tensors, alignment 64"), std::string::npos) << d;
    EXPECT_NE(d.find("'general.name'"), std::string::npos) << d;
    EXPECT_NE(d.find("'tiny'"), std::string::npos) << d;
    EXPECT_NE(d.find("[FLOAT32 x 3: 10, 10, 10]"), std::string::npos) << d;
    EXPECT_NE(d.find("ARRAY of STRING"), std::string::npos) << d;
    EXPECT_NE(d.find("'output_norm.weight'"), std::string::npos) << d;
    EXPECT_NE(d.find("f32"), std::string::npos) << d;
    EXPECT_NE(d.find("[8]"), std::string::npos) << d;
}

TEST(GgufRoundTrip, MappedFileSurvivesMovesAndIsAligned) {
    Writer w;
    w.add_string("general.name", "moved");
    w.add_tensor("a", DS4_TYPE_Q8_0, {64}, pattern(68, 5));
    w.add_tensor("b", DS4_TYPE_F16, {3}, pattern(6, 6));
    const fs::path p = temp_path("moved.gguf");
    w.write(p.string());

    File f = File::open(p.string());
    const std::string_view name_before = f.get_string("general.name");
    File g = std::move(f);
    File h = File::open(p.string());
    h = std::move(g);  // releases h's own mapping, takes g's
    EXPECT_EQ(h.get_string("general.name").data(), name_before.data());
    EXPECT_EQ(h.get_string("general.name"), "moved");
    EXPECT_EQ(h.name(), p.string());
    for (const TensorInfo& t : h.tensors()) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u) << t.name;  // mmap base is page aligned
        EXPECT_EQ(h.find_tensor(t.name), &t);
    }
    EXPECT_EQ(h.tensor("b").data[5], pattern(6, 6)[5]);
    fs::remove_all(p.parent_path());
}

}  // namespace
