// Test support shared by the output-parser unit tests, the fuzz target and its replay
// driver: chunked feeding, event normalisation and the streaming invariant.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "output/output_parser.h"

namespace ds4::output::testing {

// Feeds `text` cut at the sorted byte offsets `cuts` (0 < cut < size), then finish(cause).
std::vector<Event> run_chunked(std::string_view text, const Options& options,
                               std::span<const size_t> cuts, EndCause cause = EndCause::Eos);

// Merges adjacent deltas of the same stream (kind and call index).
std::vector<Event> normalize(const std::vector<Event>& events);

ParseResult fold(const std::vector<Event>& events);

std::string describe(const std::vector<Event>& events);

bool is_valid_utf8(std::string_view s);

// Empty when feeding `text` cut at `cuts` gives the same normalised events as feeding it
// whole (and hence the same fold as parse_complete); otherwise a readable difference.
// Also checks per-event rules: no empty deltas, deltas of valid UTF-8 input are valid
// UTF-8, exactly one Finish and it comes last.
std::string check_chunking(std::string_view text, const Options& options,
                           std::span<const size_t> cuts, EndCause cause = EndCause::Eos);

// The option sets exercised by the invariant tests and the fuzzer (index < count()).
size_t option_set_count();
Options option_set(size_t index);

}  // namespace ds4::output::testing
