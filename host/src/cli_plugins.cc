// `act plugins [--plugin-dir DIR]... [--json]`: which plugins act finds, and which it skips.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "act/host/plugin_manager.h"
#include "commands.h"
#include "json_text.h"

namespace act::host {

namespace po = boost::program_options;

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out;
}

bool folder_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

void print_text(const std::vector<PluginFolder>& folders, const PluginManager& manager) {
  std::printf("search path (first match wins):\n");
  for (const auto& folder : folders) {
    std::printf("  %s (%s%s)\n", folder.path.c_str(), folder.origin.c_str(),
                folder_exists(folder.path) ? "" : ", not found");
  }
  std::printf("\nplugins (%zu):\n", manager.plugins().size());
  if (manager.plugins().empty()) std::printf("  (none)\n");
  for (const auto& p : manager.plugins()) {
    std::printf("  %s %s (plugin ABI %u)\n    sections: %s\n    path: %s\n", p.name.c_str(),
                p.version.c_str(), p.abi_version, join(p.sections).c_str(), p.path.c_str());
  }
  if (!manager.skipped().empty()) {
    std::printf("\nskipped (%zu):\n", manager.skipped().size());
    for (const auto& s : manager.skipped()) {
      std::printf("  %s\n    %s\n", s.path.c_str(), s.reason.c_str());
    }
  }
}

void print_json(const std::vector<PluginFolder>& folders, const PluginManager& manager) {
  std::ostringstream o;
  o << "{\n  \"search_path\": [";
  for (std::size_t i = 0; i < folders.size(); ++i) {
    o << (i ? "," : "") << "\n    {\"path\": " << json_quote(folders[i].path.string())
      << ", \"origin\": " << json_quote(folders[i].origin)
      << ", \"exists\": " << (folder_exists(folders[i].path) ? "true" : "false") << "}";
  }
  o << "\n  ],\n  \"plugins\": [";
  for (std::size_t i = 0; i < manager.plugins().size(); ++i) {
    const auto& p = manager.plugins()[i];
    o << (i ? "," : "") << "\n    {\"name\": " << json_quote(p.name)
      << ", \"version\": " << json_quote(p.version) << ", \"abi_version\": " << p.abi_version
      << ", \"sections\": [";
    for (std::size_t k = 0; k < p.sections.size(); ++k) {
      o << (k ? ", " : "") << json_quote(p.sections[k]);
    }
    o << "], \"path\": " << json_quote(p.path.string()) << "}";
  }
  o << "\n  ],\n  \"skipped\": [";
  for (std::size_t i = 0; i < manager.skipped().size(); ++i) {
    const auto& s = manager.skipped()[i];
    o << (i ? "," : "") << "\n    {\"path\": " << json_quote(s.path.string())
      << ", \"reason\": " << json_quote(s.reason) << "}";
  }
  o << "\n  ]\n}\n";
  std::fputs(o.str().c_str(), stdout);
}

}  // namespace

int run_plugins(const std::vector<std::string>& args) {
  po::options_description visible("options");
  visible.add_options()("help,h", "show this help")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(),
      "search DIR first (repeatable; searched in the order given)")("json",
                                                                    "print JSON instead of text");

  auto usage = [&](std::FILE* out) {
    std::ostringstream o;
    o << visible;
    std::fprintf(out,
                 "usage: act plugins [--plugin-dir DIR]... [--json]\n\n"
                 "Lists the plugins act finds (name, version, plugin ABI version, the config\n"
                 "sections each handles, its file) and the files it skipped, with the reason.\n"
                 "Folders searched, first match wins: each --plugin-dir, each folder of\n"
                 "ACT_PLUGIN_PATH (colon-separated), then the install's plugin folder\n"
                 "(%s). Exits 0 even when some plugins are broken.\n\n%s",
                 installed_plugin_dir().c_str(), o.str().c_str());
  };

  const po::positional_options_description no_positionals;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(visible).positional(no_positionals).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "act plugins: %s\n\n", e.what());
    usage(stderr);
    return 2;
  }
  if (vm.count("help")) {
    usage(stdout);
    return 0;
  }
  const auto dirs = vm.count("plugin-dir") ? vm["plugin-dir"].as<std::vector<std::string>>()
                                           : std::vector<std::string>{};
  const auto folders = plugin_search_path(dirs, std::getenv("ACT_PLUGIN_PATH"));
  PluginManager manager;
  manager.load(folders);
  if (vm.count("json")) {
    print_json(folders, manager);
  } else {
    print_text(folders, manager);
  }
  return 0;
}

}  // namespace act::host
