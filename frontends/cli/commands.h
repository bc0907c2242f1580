// The actions of the `ds4` CLI, one function each (returning the process exit code).
#pragma once
#include "options.h"

namespace ds4::cli {

int cmd_list_backends(const Options& o);  // --list-backends
int cmd_inspect(const Options& o);        // --inspect FILE
int cmd_run(const Options& o);            // everything that needs a model

}  // namespace ds4::cli
