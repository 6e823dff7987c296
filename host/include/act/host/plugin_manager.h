// Plugin discovery and loading (Boost.DLL).
//
// Search path, first match wins: each --plugin-dir in the order given, then each folder of
// ACT_PLUGIN_PATH (colon-separated, empty parts ignored), then the install's plugin folder,
// <folder of the running program>/ACT_PLUGIN_DIR_FROM_BIN (<prefix>/lib/act/plugins for an
// installed `act`; the build tree has the same layout, so a fresh build finds its in-tree
// plugins). In each folder every regular file named *.so is tried, in name order; sub-folders
// are not searched. A file reached twice (same real path) is loaded once.
//
// A plugin is skipped, with its path and a reason, while the others still load, when: it is
// not a loadable shared library; it has no act_plugin_entry alias; its ABI version, entry
// struct size or toolchain id does not match this host; its entry lacks a name, a section,
// create or destroy; its name or one of its sections is taken by a plugin found earlier; or
// create() fails (returns null, or throws although the SDK's wrapper should have caught it).
// Loading never throws because of a plugin. (Static constructors that crash the process are
// beyond what any host can guard.)
//
// Lifetime: every library that dlopen accepted stays loaded until the process exits, broken
// ones included: their handles go to a process-wide list that is never destroyed, so code
// and data pointers from a plugin stay valid in every object, at every exit path.
// Threading: a PluginManager is not thread-safe; load, then use it from one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "act/sdk/plugin_entry.h"
#include "act/sdk/status.h"
#include "act/sdk/strategy.h"

namespace act::host {

// One folder of the search path and why it is there.
struct PluginFolder {
  std::filesystem::path path;
  std::string origin;     // "--plugin-dir", "ACT_PLUGIN_PATH" or "install"
  bool required = false;  // a missing required folder is reported; the install one is not
};

struct PluginInfo {
  std::string name;
  std::string version;
  std::uint32_t abi_version = 0;
  std::vector<std::string> sections;
  std::filesystem::path path;
};

struct SkippedPlugin {
  std::filesystem::path path;
  std::string reason;
};

// Destroys a strategy through the plugin that created it.
struct StrategyDeleter {
  ActDestroyStrategyFn destroy = nullptr;
  void operator()(sdk::StrategyV1* strategy) const noexcept;
};
using StrategyPtr = std::unique_ptr<sdk::StrategyV1, StrategyDeleter>;

// <folder of the running program>/ACT_PLUGIN_DIR_FROM_BIN.
std::filesystem::path installed_plugin_dir();

// The search path in order: `plugin_dirs`, then the folders of `env_plugin_path` (the value
// of ACT_PLUGIN_PATH; nullptr when unset), then installed_plugin_dir().
std::vector<PluginFolder> plugin_search_path(const std::vector<std::string>& plugin_dirs,
                                             const char* env_plugin_path);

class PluginManager {
 public:
  PluginManager();
  ~PluginManager();
  PluginManager(const PluginManager&) = delete;
  PluginManager& operator=(const PluginManager&) = delete;

  // Loads every folder in order.
  void load(const std::vector<PluginFolder>& folders);
  // Tries every *.so in `folder`.
  void load_folder(const PluginFolder& folder);
  // Tries one file, whatever its name.
  void load_file(const std::filesystem::path& file);

  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  const std::vector<SkippedPlugin>& skipped() const { return skipped_; }
  // nullptr when absent.
  const PluginInfo* find(std::string_view name) const;
  const PluginInfo* find_section(std::string_view section) const;

  // A new strategy from plugin `name`, destroyed by that plugin when the pointer lets go.
  // Throws act::Error naming the plugin if there is none by that name or create() fails.
  StrategyPtr create_strategy(std::string_view name) const;

 private:
  void skip(const std::filesystem::path& path, std::string reason);

  std::vector<PluginInfo> plugins_;
  std::vector<const ActPluginEntry*> entries_;  // parallel to plugins_
  std::vector<SkippedPlugin> skipped_;
  std::vector<std::filesystem::path> tried_;  // canonical paths already tried
};

// Throws act::Error "plugin 'NAME' HOOK: MESSAGE" when `status` failed. Call it right after
// the hook: the message is the strategy's until its next call.
void check_hook(const PluginInfo& plugin, const char* hook, sdk::Status status);

}  // namespace act::host
