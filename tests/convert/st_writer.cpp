#include "st_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ds4::convert::testing {

void write_safetensors(const std::string& path, const std::vector<FakeTensor>& tensors) {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    h["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (const auto& t : tensors) {
        h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
        off += t.bytes.size();
    }
    std::string hs = h.dump();
    while (hs.size() % 8) hs += ' ';
    std::ofstream out(path, std::ios::binary);
    uint64_t n = hs.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(hs.data(), static_cast<std::streamsize>(hs.size()));
    for (const auto& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
}

FakeTensor f32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
    FakeTensor t{name, "F32", std::move(shape), std::vector<uint8_t>(v.size() * 4)};
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

FakeTensor bf16_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
    FakeTensor t{name, "BF16", std::move(shape), std::vector<uint8_t>(v.size() * 2)};
    for (size_t i = 0; i < v.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &v[i], 4);
        uint16_t h = static_cast<uint16_t>(u >> 16);  // v is bf16-exact
        std::memcpy(t.bytes.data() + 2 * i, &h, 2);
    }
    return t;
}

FakeTensor i64_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v) {
    FakeTensor t{name, "I64", std::move(shape), std::vector<uint8_t>(v.size() * 8)};
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

FakeTensor u8_tensor(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                     std::vector<uint8_t> v) {
    return FakeTensor{name, dtype, std::move(shape), std::move(v)};
}

float e4m3_value(uint8_t code) {
    int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
    float v = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + m / 8.0f, e - 7);
    return s ? -v : v;
}

float e2m1_value(uint8_t nibble) {
    static const float mag[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    float v = mag[nibble & 7];
    return (nibble & 8) ? -v : v;
}

float ue8m0_value(uint8_t e) { return std::ldexp(1.0f, static_cast<int>(e) - 127); }

float bf16_round(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    u &= 0xFFFF0000u;
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

uint64_t mix(uint64_t seed, uint64_t i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float noise(uint64_t seed, uint64_t i) { return static_cast<float>((mix(seed, i) >> 40) * (1.0 / 8388608.0)) - 1.0f; }

std::string temp_dir(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string base = ::testing::TempDir() + "ds4_convert_" + std::to_string(::getpid()) + "_" +
                       (info ? std::string(info->test_suite_name()) + "." + info->name() : std::string("x")) + "_" + name;
    std::filesystem::remove_all(base);
    std::filesystem::create_directories(base);
    return base;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

}  // namespace ds4::convert::testing
