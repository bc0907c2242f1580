// Fake DeepSeek V4 checkpoints for the converter tests: a tiny model in the official
// naming (FP8 + block scales, packed FP4 experts, BF16, I64 tid2eid) or the transformers
// naming (F32, fused gate_up_proj), with the values every GGUF tensor must end up holding.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "convert.h"
#include "st_writer.h"

namespace ds4::convert::testing {

// 4 layers (ratios 0,0,4,8; 2 hash layers), d 256, 2 heads x 128, 2 experts x 256, vocab 300.
model::ModelConfig tiny_config();

std::string official_config_json(const model::ModelConfig& c);
// transformers' save_pretrained dialect; keys equal to DeepseekV4Config defaults are left out
// (as save_pretrained does), YaRN through rope_parameters.compress.
std::string transformers_config_json(const model::ModelConfig& c);

struct FakeCheckpoint {
    std::vector<FakeTensor> tensors;                     // in checkpoint naming
    std::map<std::string, std::vector<float>> expected;  // GGUF name → values, GGUF row order
    std::map<std::string, std::vector<int32_t>> expected_i32;
};

// Builds every tensor of model_tensors(c) (with exp_probs_b on non-hash layers).
FakeCheckpoint make_checkpoint(const model::ModelConfig& c, Naming naming, uint64_t seed);

// Writes config.json (dialect of the naming) and the tensors into `shards` files.
void write_checkpoint(const std::string& dir, const model::ModelConfig& c, Naming naming, const FakeCheckpoint& ck,
                      int shards = 1);

FakeTensor* find(FakeCheckpoint& ck, const std::string& name);

}  // namespace ds4::convert::testing
