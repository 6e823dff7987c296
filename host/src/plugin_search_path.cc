#include <boost/dll/runtime_symbol_info.hpp>
#include <string>

#include "act/host/plugin_manager.h"

namespace act::host {

std::filesystem::path installed_plugin_dir() {
  boost::dll::fs::error_code ec;
  const std::filesystem::path program = boost::dll::program_location(ec).string();
  // Without its own location the program can still run with explicit folders.
  if (ec || program.empty()) return {};
  return (program.parent_path() / ACT_PLUGIN_DIR_FROM_BIN).lexically_normal();
}

std::vector<PluginFolder> plugin_search_path(const std::vector<std::string>& plugin_dirs,
                                             const char* env_plugin_path) {
  std::vector<PluginFolder> folders;
  folders.reserve(plugin_dirs.size() + 1);
  for (const auto& dir : plugin_dirs) folders.push_back({dir, "--plugin-dir", true});
  if (env_plugin_path != nullptr) {
    const std::string value(env_plugin_path);
    std::size_t begin = 0;
    while (begin <= value.size()) {
      std::size_t end = value.find(':', begin);
      if (end == std::string::npos) end = value.size();
      if (end > begin)
        folders.push_back({value.substr(begin, end - begin), "ACT_PLUGIN_PATH", true});
      begin = end + 1;
    }
  }
  const std::filesystem::path installed = installed_plugin_dir();
  if (!installed.empty()) folders.push_back({installed, "install", false});
  return folders;
}

}  // namespace act::host
