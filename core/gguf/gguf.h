// ds4::gguf — GGUF v3 container reader/writer (MODEL.md §A.3, §B).
//
//   auto f = ds4::gguf::File::open("model.gguf");          // throws ds4::gguf::Error
//   uint32_t layers = f.get_u32("deepseek4.block_count");
//   const auto& vocab = f.get_array("tokenizer.ggml.tokens", ds4::gguf::ValueType::STRING);
//   const auto& w = f.tensor("blk.0.attn_kv.weight");       // w.type, w.ne, w.data, w.size
//
//   ds4::gguf::Writer w;  w.add_u32(...); w.add_tensor(...);  w.write("out.gguf");
//
// See docs/gguf.md for what is validated.
#pragma once

#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_value.h"
#include "gguf/gguf_writer.h"

namespace ds4::gguf {

// Multi-line human summary: version, counts, alignment, each key with a short value
// preview, each tensor with type, shape and size. For `ds4 --inspect`-style frontends.
std::string describe(const File& file);

// "[4096, 129280]" — the n_dims used dimensions of a tensor.
std::string shape_string(const TensorInfo& t);

}  // namespace ds4::gguf
