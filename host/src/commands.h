// The `act` subcommands. Each takes the arguments after its name and returns the process
// exit code (0 ok, 1 runtime failure, 2 usage error). Each prints its own --help.
#pragma once

#include <string>
#include <vector>

namespace act::host {

int run_inspect(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_plugins(const std::vector<std::string>& args);
int run_compress(const std::vector<std::string>& args);
int run_analyze(const std::vector<std::string>& args);

}  // namespace act::host
