// tokenizer.ggml.* vocabularies (vocab.h).
#include "vocab.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "gguf/gguf.h"
#include "host/status.h"
#include "model/synthetic.h"

namespace ds4::convert {
namespace {

constexpr int32_t kNormal = 1, kControl = 3, kUnused = 5;

// The seven strings ds4 looks up, at their DeepSeek V4 ids (PROTOCOL.md §A.2).
struct Special {
    const char* text;
    uint32_t id;
};
const Special kSpecials[] = {
    {"<｜begin▁of▁sentence｜>", 0}, {"<｜end▁of▁sentence｜>", 1}, {"<｜User｜>", 128803},
    {"<｜Assistant｜>", 128804},    {"<think>", 128821},            {"</think>", 128822},
    {"｜DSML｜", 128825},
};

// core/model's generated vocabulary merges. TODO(lead): model/synthetic.h does not expose
// them (kMerges in synthetic.cpp); keep these eight in sync or expose a synthetic_merges().
const char* const kGeneratedMerges[] = {"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "r e"};

std::string pad_token(uint32_t id) { return "<｜pad_" + std::to_string(id) + "｜>"; }

}  // namespace

Vocabulary load_tokenizer_json(const std::string& path, uint32_t vocab_size) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open tokenizer.json");
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(ss.str());
    } catch (const std::exception& e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object() || !j["model"].contains("vocab") ||
        !j["model"]["vocab"].is_object())
        throw Error(path + ": expected a Hugging Face tokenizer.json with model.vocab");
    const auto& m = j["model"];
    if (m.contains("type") && m["type"].is_string() && m["type"] != "BPE")
        throw Error(path + ": model.type " + m["type"].dump() + ", expected \"BPE\"");

    std::unordered_map<uint32_t, std::pair<std::string, int32_t>> by_id;
    uint32_t max_id = 0;
    auto put = [&](const std::string& tok, const nlohmann::json& idv, int32_t type) {
        if (!idv.is_number_unsigned() || idv.get<uint64_t>() >= (1u << 24))
            throw Error(path + ": token '" + tok + "' has id " + idv.dump() + ", expected 0..16777215");
        uint32_t id = idv.get<uint32_t>();
        auto [it, fresh] = by_id.emplace(id, std::make_pair(tok, type));
        if (!fresh && it->second.first != tok)
            throw Error(path + ": id " + std::to_string(id) + " is both '" + it->second.first + "' and '" + tok + "'");
        if (!fresh && type == kControl) it->second.second = kControl;
        max_id = std::max(max_id, id);
    };
    for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) put(it.key(), it.value(), kNormal);
    if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
        for (const auto& a : j["added_tokens"]) {
            if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id"))
                throw Error(path + ": added_tokens entry without content/id: " + a.dump().substr(0, 80));
            put(a["content"].get<std::string>(), a["id"], a.value("special", false) ? kControl : kNormal);
        }
    }
    // The seven strings ds4 needs, at their ids (only where the vocabulary reaches them).
    for (const Special& s : kSpecials) {
        auto it = by_id.find(s.id);
        if (it != by_id.end()) {
            if (it->second.first != s.text)
                throw Error(path + ": id " + std::to_string(s.id) + " is '" + it->second.first + "', but ds4 expects '" +
                            s.text + "' there (PROTOCOL.md A.2)");
            it->second.second = kControl;
        } else if (vocab_size == 0 || s.id < vocab_size) {
            // Without an explicit size the vocabulary grows to hold every V4 special (the V3
            // tokenizer.json ends before them).
            by_id.emplace(s.id, std::make_pair(std::string(s.text), kControl));
            max_id = std::max(max_id, s.id);
        }
    }
    const uint32_t n = vocab_size ? vocab_size : max_id + 1;
    if (max_id >= n)
        throw Error(path + ": token id " + std::to_string(max_id) + " does not fit the model's vocab_size " +
                    std::to_string(n));
    Vocabulary v;
    v.tokens.resize(n);
    v.token_type.assign(n, kUnused);
    for (uint32_t id = 0; id < n; ++id) {
        auto it = by_id.find(id);
        if (it == by_id.end()) {
            v.tokens[id] = pad_token(id);
        } else {
            v.tokens[id] = it->second.first;
            v.token_type[id] = it->second.second;
        }
    }
    if (m.contains("merges") && m["merges"].is_array()) {
        v.merges.reserve(m["merges"].size());
        for (const auto& mg : m["merges"]) {
            if (mg.is_string()) {
                v.merges.push_back(mg.get<std::string>());
            } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
                v.merges.push_back(mg[0].get<std::string>() + " " + mg[1].get<std::string>());
            } else {
                throw Error(path + ": model.merges entry " + mg.dump().substr(0, 80) + " is neither \"a b\" nor [\"a\", \"b\"]");
            }
        }
    }
    v.source = "tokenizer.json (" + std::to_string(by_id.size()) + " tokens, " + std::to_string(v.merges.size()) +
               " merges)";
    return v;
}

Vocabulary generated_vocabulary(uint32_t vocab_size) {
    Vocabulary v;
    v.source = "generated";
    std::vector<std::string> full;
    try {
        full = model::synthetic_vocab(vocab_size);
    } catch (const Error&) {
        full.clear();  // too small: the compact fallback below
    }
    if (!full.empty()) {
        v.tokens = std::move(full);
        v.token_type.assign(v.tokens.size(), kNormal);
        for (size_t i = 0; i < v.tokens.size(); ++i) {
            const std::string& t = v.tokens[i];
            bool special = i < 2 || (t.size() > 3 && ((t[0] == '<' && t.back() == '>') || t.rfind("｜", 0) == 0));
            if (t.rfind("<｜pad_", 0) == 0) v.token_type[i] = kUnused;
            else if (special) v.token_type[i] = kControl;
        }
        for (const char* m : kGeneratedMerges) v.merges.push_back(m);
        return v;
    }
    // Tiny vocabularies (test models): the specials first, then byte symbols, then padding.
    if (vocab_size < std::size(kSpecials))
        throw Error("vocab_size " + std::to_string(vocab_size) + " is too small for ds4's seven special tokens");
    for (const Special& s : kSpecials) {
        v.tokens.push_back(s.text);
        v.token_type.push_back(kControl);
    }
    std::vector<std::string> bytes = model::synthetic_vocab(400);  // ids 2..257 = byte symbols
    for (int b = 0; b < 256 && v.tokens.size() < vocab_size; ++b) {
        v.tokens.push_back(bytes[2 + b]);
        v.token_type.push_back(kNormal);
    }
    while (v.tokens.size() < vocab_size) {
        v.tokens.push_back(pad_token(static_cast<uint32_t>(v.tokens.size())));
        v.token_type.push_back(kUnused);
    }
    v.source = "generated (compact: vocab_size below the byte-level vocabulary)";
    return v;
}

void write_tokenizer_metadata(gguf::Writer& w, const Vocabulary& v) {
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "joyai-llm");
    w.add_string_array("tokenizer.ggml.tokens", v.tokens);
    w.add_string_array("tokenizer.ggml.merges", v.merges);
    w.add_array<int32_t>("tokenizer.ggml.token_type", v.token_type);
    w.add_u32("tokenizer.ggml.bos_token_id", v.bos);
    w.add_u32("tokenizer.ggml.eos_token_id", v.eos);
}

}  // namespace ds4::convert
