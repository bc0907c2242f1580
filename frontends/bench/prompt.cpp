// The bench prompt: a text tokenized once and its ids repeated to the needed length. Only the
// token count matters for speed; ordinary prose keeps the token mix realistic for real
// vocabularies (a byte-level synthetic vocabulary gives about one token per byte).
#include <fstream>
#include <sstream>

#include "bench.h"
#include "host/status.h"

namespace ds4::bench {
namespace {

const char* kBuiltinText =
    "The lighthouse keeper kept a notebook for the weather, and another for the ships. In the "
    "first he wrote the direction of the wind at dawn, the height of the swell against the lower "
    "rocks, and whether the gulls sat on the water or circled above it. In the second he wrote the "
    "names he could read through the glass, the colour of each hull, and the hour it rounded the "
    "point. Over forty winters the two books grew into a quiet argument: the sea was never the "
    "same twice, yet the ships came back on the same days of the month, loaded low in autumn and "
    "riding high in spring.\n\n"
    "When the harbour master asked him why he bothered, he said that a record is a promise to "
    "someone who has not arrived yet. A sailor caught in fog does not care what the keeper "
    "believes; he cares whether the light turns once every twelve seconds, as the chart says it "
    "does. So the keeper oiled the clockwork every evening, trimmed the wick, polished the lens "
    "with a soft cloth and vinegar, and checked the period against his pocket watch twice a night. "
    "If the light ran fast by even half a second he slowed the governor and noted the correction, "
    "the time, and the temperature in the lamp room.\n\n"
    "Years later an engineer came to replace the clockwork with an electric motor. She read both "
    "notebooks in one sitting, then asked to keep them. The motor, she explained, would never run "
    "fast, but it would also never notice a cracked pane or a ship that was late. She installed it "
    "anyway, because that was the work, and left a blank notebook on the desk with the date written "
    "on its first page.\n\n";

}  // namespace

std::vector<int32_t> prompt_tokens(const text::Tokenizer& tok, const std::string& prompt_file, uint64_t n) {
    std::string text = kBuiltinText;
    if (!prompt_file.empty()) {
        std::ifstream f(prompt_file, std::ios::binary);
        if (!f) throw Error(prompt_file + ": cannot read prompt file");
        std::ostringstream ss;
        ss << f.rdbuf();
        text = ss.str();
    }
    const std::vector<int32_t> once = tok.encode(text);
    if (once.empty()) throw Error((prompt_file.empty() ? std::string("built-in text") : prompt_file) + ": no tokens");
    std::vector<int32_t> ids;
    ids.reserve(n + once.size());
    while (ids.size() < n) ids.insert(ids.end(), once.begin(), once.end());
    ids.resize(n);
    return ids;
}

}  // namespace ds4::bench
