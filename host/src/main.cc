// `act`: git-style subcommands. Exit codes: 0 success, 1 runtime failure (bad model or data),
// 2 usage error (unknown subcommand or flag).
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "act/host/version.h"
#include "act/kernel/error.h"
#include "commands.h"

namespace {

struct Command {
  int (*run)(const std::vector<std::string>&);
  const char* summary;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"inspect",
       {act::host::run_inspect, "print a model's inputs, outputs, ops, parameters and FLOPs"}},
      {"eval", {act::host::run_eval, "run a model over a dataset: accuracy and throughput"}},
      {"compress",
       {act::host::run_compress,
        "compress a model as a YAML config says (quant, prune, distill...)"}},
      {"plugins", {act::host::run_plugins, "list the plugins act finds and the ones it skips"}},
      {"analyze",
       {act::host::run_analyze,
        "per-layer quantization sensitivity and the layers to keep in float"}},
  };
  return table;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: act <command> [options]\n\ncommands:\n");
  for (const auto& [name, cmd] : commands())
    std::fprintf(out, "  %-10s %s\n", name.c_str(), cmd.summary);
  std::fprintf(out, "  %-10s %s\n", "version", "print version and build information");
  std::fprintf(out, "\n'act <command> --help' describes a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "version" || name == "--version") {
    std::fputs(act::host::build_info().c_str(), stdout);
    return 0;
  }
  auto it = commands().find(name);
  if (it == commands().end()) {
    std::fprintf(stderr, "act: unknown command '%s'\n\n", name.c_str());
    print_usage(stderr);
    return 2;
  }
  try {
    return it->second.run(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const act::Error& e) {
    std::fprintf(stderr, "act %s: error: %s\n", name.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "act %s: internal error: %s\n", name.c_str(), e.what());
    return 1;
  }
}
