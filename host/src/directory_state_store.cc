#include "directory_state_store.h"

#include <exception>
#include <filesystem>

#include "act/host/atomic_file.h"
#include "act/kernel/error.h"

namespace act::host {
namespace fs = std::filesystem;
namespace {

// Keys become file names: nothing that could climb out of the folder or hide a file.
void check_key(const char* key) {
  ACT_CHECK(key != nullptr && *key != '\0', "state store: empty key");
  const std::string k(key);
  ACT_CHECK(k.size() <= 64 && k != "." && k != "..", "state store: bad key '", k, "'");
  for (char c : k) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    ACT_CHECK(ok, "state store: key '", k, "' has a character outside [A-Za-z0-9_.-]");
  }
}

}  // namespace

sdk::Status DirectoryStateStore::put(const char* key, const void* data, std::size_t size) noexcept {
  try {
    check_key(key);
    fs::create_directories(folder_);
    write_file_atomically((fs::path(folder_) / key).string(),
                          std::string_view(static_cast<const char*>(data), size));
    return sdk::Status::success();
  } catch (const std::exception& e) {
    error_ = e.what();
    return sdk::Status::failure(error_.c_str());
  }
}

sdk::Status DirectoryStateStore::get(const char* key, const void** data,
                                     std::size_t* size) noexcept {
  try {
    check_key(key);
    *data = nullptr;
    *size = 0;
    const fs::path path = fs::path(folder_) / key;
    if (!fs::exists(path)) return sdk::Status::success();
    bytes_ = read_whole_file(path.string());
    *data = bytes_.data();
    *size = bytes_.size();
    return sdk::Status::success();
  } catch (const std::exception& e) {
    error_ = e.what();
    return sdk::Status::failure(error_.c_str());
  }
}

}  // namespace act::host
