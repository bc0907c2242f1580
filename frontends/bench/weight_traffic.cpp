// Weight bytes one decoded token reads, from the tensors actually in the file (their types
// and sizes), classified by core/model's layout table.
//
// A decode step of one token reads every dense weight once. It reads only n_expert_used of
// the n_expert routed experts of a layer, so routed experts count with that fraction (the
// expected traffic over tokens; each expert is a contiguous slice). Embeddings and tid2eid
// are gathered by token id: one row each. The LM head is read in full.
#include <string>

#include "bench.h"
#include "gguf/gguf.h"
#include "model/layout.h"

namespace ds4::bench {

WeightTraffic weight_traffic(const model::Model& m) {
    const model::ModelConfig& cfg = m.config();
    WeightTraffic w;
    for (const model::TensorSpec& t : model::model_tensors(cfg)) {
        const gguf::TensorInfo* ti = m.file().find_tensor(t.name);
        if (!ti) continue;  // optional tensors (exp_probs_b) the file does not carry
        const uint64_t rows = ti->ne[1] > 0 ? static_cast<uint64_t>(ti->ne[1]) : 1;
        switch (t.cls) {
        case model::TensorClass::ExpertGateUp:
        case model::TensorClass::ExpertDown:
            w.routed_total += ti->size;
            w.routed_active += cfg.n_expert ? ti->size * cfg.n_expert_used / cfg.n_expert : 0;
            break;
        case model::TensorClass::SharedExpert: w.shared += ti->size; break;
        case model::TensorClass::Embedding: w.embedding_row += ti->size / rows; break;
        case model::TensorClass::Tid2Eid: w.tid2eid_rows += ti->size / rows; break;
        case model::TensorClass::Output: w.head += ti->size; break;
        default:
            if (t.layer < 0)
                w.head += ti->size;  // output_norm, hc_head_*: read once per token after the last layer
            else
                w.dense += ti->size;
        }
    }
    return w;
}

}  // namespace ds4::bench
