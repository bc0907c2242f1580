// Test helpers: a minimal safetensors writer and independent decoders of the official
// checkpoint number formats (written from MODEL.md §E.7/§E.8, not shared with the converter).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ds4::convert::testing {

struct FakeTensor {
    std::string name;
    std::string dtype;            // "F32", "BF16", "F8_E4M3", "F8_E8M0", "I8", "I64", ...
    std::vector<int64_t> shape;   // PyTorch order
    std::vector<uint8_t> bytes;
};

// Writes a .safetensors file (header JSON + data, 8-byte aligned header like the reference
// implementation pads it).
void write_safetensors(const std::string& path, const std::vector<FakeTensor>& tensors);

FakeTensor f32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);
FakeTensor bf16_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);  // v must be bf16-exact
FakeTensor i64_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v);
FakeTensor u8_tensor(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                     std::vector<uint8_t> v);

float e4m3_value(uint8_t code);    // (1+m/8)·2^(e−7), subnormal m·2^−9
float e2m1_value(uint8_t nibble);  // {0,.5,1,1.5,2,3,4,6}, bit 3 = sign
float ue8m0_value(uint8_t e);      // 2^(e−127)
float bf16_round(float x);         // nearest bf16 (ties to even)

// Deterministic values in [-1, 1) (splitmix64 of seed and index).
float noise(uint64_t seed, uint64_t i);
uint64_t mix(uint64_t seed, uint64_t i);

// A fresh empty directory under the test temp dir.
std::string temp_dir(const std::string& name);
void write_text(const std::string& path, const std::string& text);

}  // namespace ds4::convert::testing
