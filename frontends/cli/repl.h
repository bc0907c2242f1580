// Generation frontends of the CLI: one-shot (-p) and the interactive REPL.
#pragma once
#include <string>

#include "ds4/engine.h"
#include "options.h"

namespace ds4::cli {

GenerateOptions generate_options(const Options& o);
// Streams one answer for `prompt` (thinking shown apart), prints tokens/s to stderr.
int run_one_shot(Engine& engine, model::Session& session, const Options& o, const std::string& prompt);
// The REPL: /help /think /think-max /nothink /ctx N /read FILE /quit; Ctrl+C stops generation.
int run_repl(Engine& engine, model::Session& session, const Options& o);

}  // namespace ds4::cli
