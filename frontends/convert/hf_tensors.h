// Where each GGUF tensor's values come from in a Hugging Face checkpoint, and how to read
// them row by row (GGUF row order: ne[0] contiguous, rows = product of the other dims).
//
//   auto src = ds4::convert::open_source(ckpt, Naming::Official, spec, cfg);  // checks names/shapes/dtypes
//   std::vector<float> rows(n * spec.ne[0]);
//   src->read_rows(first_row, n, rows.data());
//
// Decoding per naming (MODEL.md §B "HF name", §E.8):
//   * plain tensors: F32/F16/BF16/F64 as is; PyTorch shape must be the reverse of ne.
//   * FP8 weights (official): F8_E4M3 [out, in] + "<name minus .weight>.scale" F8_E8M0
//     [ceil(out/128), ceil(in/128)]: w = e4m3(q) · 2^(s−127).
//   * FP4 experts (official): I8/U8 [out, in/2] (low nibble = even column) + ".scale"
//     F8_E8M0 [out, ceil(in/32)]: w = e2m1(code) · 2^(s−127).
//   * official / save_pretrained experts: one tensor per expert "[model.]layers.L.ffn.experts.E.w{1,3,2}.weight",
//     stacked along the outermost GGUF dim (expert-major).
//   * transformers module experts: "model.layers.L.mlp.experts.gate_up_proj" [E, 2I, H] → gate =
//     rows [0, I) of each expert, up = rows [I, 2I) (transformers splits with chunk(2) and
//     clamps/activates the first half); "down_proj" [E, H, I] as is.
//   * tid2eid: I64/I32 [vocab, k] → I32; every id must be in [0, n_expert).
// Errors name the checkpoint file and tensor: "DIR/model-00002.safetensors: tensor
// 'layers.3.attn.wkv.weight': shape [512, 4000], expected [512, 4096]".
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convert.h"
#include "safetensors.h"

namespace ds4::convert {

// Detects the naming from layer 0's attention norm ("layers.0.attn_norm.weight" official,
// "model.layers.0.attn_norm.weight" saved, "model.layers.0.input_layernorm.weight" module).
// Throws ds4::Error when none or several are present.
Naming detect_naming(const Checkpoint& ckpt);

// The checkpoint names a layout tensor's source may have in `naming`, preferred first
// (transformers' save_pretrained writes kv_norm as "attn.norm"; older spellings follow).
// Official names are the layout table's hf_name; the others are derived by rule. For
// per-expert tensors the name contains "{E}"; the module naming names the stacked
// parameter ("...mlp.experts.gate_up_proj").
std::vector<std::string> source_names(Naming naming, const model::TensorSpec& spec);
inline std::string source_name(Naming naming, const model::TensorSpec& spec) { return source_names(naming, spec).front(); }

class RowSource {
public:
    virtual ~RowSource() = default;
    // Decodes rows [first, first + n) into out (n · row_len floats).
    virtual void read_rows(int64_t first, int64_t n, float* out) const = 0;
    // I32 tensors (tid2eid): rows as int32. Default throws.
    virtual void read_rows_i32(int64_t first, int64_t n, int32_t* out) const;
    int64_t row_len = 0;
    int64_t n_rows = 0;
    // Every checkpoint tensor this source reads (names), for the "ignored tensors" report.
    std::vector<std::string> used;
};

// Resolves and validates the source of one layout tensor. Returns nullptr for an optional
// tensor (exp_probs_b) absent from the checkpoint. Throws ds4::Error on any mismatch.
std::unique_ptr<RowSource> open_source(const Checkpoint& ckpt, Naming naming, const model::TensorSpec& spec,
                                       const model::ModelConfig& cfg);

}  // namespace ds4::convert
