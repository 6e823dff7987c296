#include "commands.h"

#include "act/kernel/error.h"

namespace act::host {

// Placeholder until the inspect command lands; fails loudly rather than pretending.
int run_inspect(const std::vector<std::string>& /*args*/) { fail("'act inspect' is not implemented yet"); }

}  // namespace act::host
