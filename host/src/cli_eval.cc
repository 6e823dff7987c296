#include "commands.h"

#include "act/kernel/error.h"

namespace act::host {

// Placeholder until the eval command lands; fails loudly rather than pretending.
int run_eval(const std::vector<std::string>& /*args*/) { fail("'act eval' is not implemented yet"); }

}  // namespace act::host
