#include "act/host/plugin_manager.h"

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>

#include "act/kernel/error.h"
#include "act/sdk/toolchain.h"

namespace act::host {

namespace fs = std::filesystem;

namespace {

// Never destroyed: a dlclose at exit would run before, or under, objects that still point
// into the plugin (static destructors, thread-local destructors, strategies held by statics).
void keep_loaded(boost::dll::shared_library library) {
  static auto* mutex = new std::mutex;
  static auto* libraries = new std::vector<boost::dll::shared_library>;
  std::lock_guard<std::mutex> lock(*mutex);
  libraries->push_back(std::move(library));
}

// Boost wraps dlerror() in its own text; the dlerror part is what names the problem.
std::string load_error(const std::exception& e) {
  std::string what = e.what();
  const std::string marker = "(dlerror system message: ";
  const std::size_t begin = what.find(marker);
  if (begin == std::string::npos) return what;
  const std::size_t start = begin + marker.size();
  const std::size_t end = what.find(')', start);
  return what.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

fs::path canonical_or_absolute(const fs::path& path) {
  std::error_code ec;
  fs::path resolved = fs::canonical(path, ec);
  if (ec) resolved = fs::absolute(path, ec);
  return ec ? path : resolved;
}

// Why an entry cannot be used, or "" when it can. Checks the ABI version before reading
// anything else: a different ABI may mean a different layout.
std::string entry_problem(const ActPluginEntry& entry) {
  if (entry.abi_version != ACT_PLUGIN_ABI_VERSION) {
    return "built for plugin ABI version " + std::to_string(entry.abi_version) +
           "; this act supports version " + std::to_string(ACT_PLUGIN_ABI_VERSION);
  }
  if (entry.struct_size < sizeof(ActPluginEntry)) {
    return "entry struct is " + std::to_string(entry.struct_size) +
           " bytes; this act needs at least " + std::to_string(sizeof(ActPluginEntry));
  }
  const char* toolchain = entry.toolchain_id != nullptr ? entry.toolchain_id : "";
  if (std::strcmp(toolchain, sdk::kToolchainId) != 0) {
    return std::string("built with toolchain '") + toolchain + "'; this act was built with '" +
           sdk::kToolchainId + "' (rebuild the plugin with the same compiler and ACT version)";
  }
  if (entry.name == nullptr || *entry.name == '\0') return "entry has no plugin name";
  if (entry.version == nullptr) return "entry has no version";
  if (entry.sections == nullptr || entry.section_count == 0) {
    return "entry declares no config section";
  }
  for (std::size_t i = 0; i < entry.section_count; ++i) {
    if (entry.sections[i] == nullptr || *entry.sections[i] == '\0') {
      return "entry declares an empty config section name";
    }
  }
  if (entry.create == nullptr || entry.destroy == nullptr) {
    return "entry has no create or destroy function";
  }
  return "";
}

// Calls create() and returns the object or, in `error`, why there is none. Catches what a
// plugin built without the SDK's wrapper might still throw.
void* call_create(const ActPluginEntry& entry, std::string& error) {
  char message[512] = {};
  try {
    void* strategy = entry.create(message, sizeof message);
    if (strategy == nullptr) {
      message[sizeof message - 1] = '\0';
      error = message[0] != '\0' ? std::string("create() failed: ") + message
                                 : std::string("create() returned no strategy");
    }
    return strategy;
  } catch (const std::exception& e) {
    error = std::string("create() threw: ") + e.what();
  } catch (...) {
    error = "create() threw an unknown exception";
  }
  return nullptr;
}

}  // namespace

void StrategyDeleter::operator()(sdk::StrategyV1* strategy) const noexcept {
  if (strategy != nullptr && destroy != nullptr) destroy(static_cast<void*>(strategy));
}

PluginManager::PluginManager() = default;
PluginManager::~PluginManager() = default;

void PluginManager::skip(const fs::path& path, std::string reason) {
  skipped_.push_back({path, std::move(reason)});
}

void PluginManager::load(const std::vector<PluginFolder>& folders) {
  for (const auto& folder : folders) load_folder(folder);
}

void PluginManager::load_folder(const PluginFolder& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder.path, ec)) {
    if (folder.required) skip(folder.path, "no such folder (from " + folder.origin + ")");
    return;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(folder.path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().extension() == ".so" && it->is_regular_file(type_ec)) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    skip(folder.path, "cannot list folder: " + ec.message());
    return;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_file(file);
}

void PluginManager::load_file(const fs::path& file) {
  const fs::path path = canonical_or_absolute(file);
  if (std::find(tried_.begin(), tried_.end(), path) != tried_.end()) return;
  tried_.push_back(path);

  boost::dll::shared_library library;
  try {
    library.load(path.string(),
                 boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    skip(path, "not a loadable shared library: " + load_error(e));
    return;
  }
  const bool has_entry = library.has(ACT_PLUGIN_ENTRY_NAME);
  ActPluginEntryFn entry_function =
      has_entry ? &library.get_alias<const ActPluginEntry*()>(ACT_PLUGIN_ENTRY_NAME) : nullptr;
  keep_loaded(std::move(library));
  if (entry_function == nullptr) {
    skip(path, std::string("no entry point '") + ACT_PLUGIN_ENTRY_NAME +
                   "': not an ACT plugin, or built without ACT_PLUGIN");
    return;
  }

  const ActPluginEntry* entry = nullptr;
  try {
    entry = entry_function();
  } catch (...) {
    // The entry function of a well-formed plugin is noexcept; this one is not.
  }
  if (entry == nullptr) {
    skip(path, "entry point returned no entry");
    return;
  }
  if (std::string problem = entry_problem(*entry); !problem.empty()) {
    skip(path, std::move(problem));
    return;
  }

  PluginInfo info;
  info.name = entry->name;
  info.version = entry->version;
  info.abi_version = entry->abi_version;
  info.sections.assign(entry->sections, entry->sections + entry->section_count);
  info.path = path;
  if (const PluginInfo* earlier = find(info.name)) {
    skip(path, "plugin name '" + info.name + "' is already taken by " + earlier->path.string() +
                   " (found earlier in the search path)");
    return;
  }
  for (const auto& section : info.sections) {
    if (const PluginInfo* owner = find_section(section)) {
      skip(path, "config section '" + section + "' is already handled by plugin '" + owner->name +
                     "' (" + owner->path.string() + ")");
      return;
    }
  }

  // A plugin that cannot create its strategy is useless; find out now rather than mid-run.
  std::string error;
  void* probe = call_create(*entry, error);
  if (probe == nullptr) {
    skip(path, std::move(error));
    return;
  }
  entry->destroy(probe);

  plugins_.push_back(std::move(info));
  entries_.push_back(entry);
}

const PluginInfo* PluginManager::find(std::string_view name) const {
  for (const auto& plugin : plugins_) {
    if (plugin.name == name) return &plugin;
  }
  return nullptr;
}

const PluginInfo* PluginManager::find_section(std::string_view section) const {
  for (const auto& plugin : plugins_) {
    if (std::find(plugin.sections.begin(), plugin.sections.end(), section) !=
        plugin.sections.end()) {
      return &plugin;
    }
  }
  return nullptr;
}

StrategyPtr PluginManager::create_strategy(std::string_view name) const {
  for (std::size_t i = 0; i < plugins_.size(); ++i) {
    if (plugins_[i].name != name) continue;
    const ActPluginEntry& entry = *entries_[i];
    std::string error;
    void* strategy = call_create(entry, error);
    ACT_CHECK(strategy != nullptr, "plugin '", name, "' (", plugins_[i].path.string(),
              "): ", error);
    return StrategyPtr(static_cast<sdk::StrategyV1*>(strategy), StrategyDeleter{entry.destroy});
  }
  fail("no plugin named '", name, "' was loaded");
}

void check_hook(const PluginInfo& plugin, const char* hook, sdk::Status status) {
  if (status.ok()) return;
  fail("plugin '", plugin.name, "' ", hook, ": ", status.error);
}

}  // namespace act::host
