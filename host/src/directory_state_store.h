// The host's StateStoreV1 (sdk/include/act/sdk/state_store.h): one folder per strategy, one
// file per key, each written atomically (atomic_file.h). `act compress` gives each strategy of
// stage k the folder SAVE_DIR/act_state/stage<k>/<section>, empties SAVE_DIR/act_state on a run
// without
// --resume and removes it when the run completes.
//
// Ownership: owns the bytes last returned by get(). Threading: one thread at a time.
#pragma once

#include <string>

#include "act/sdk/state_store.h"

namespace act::host {

class DirectoryStateStore final : public sdk::StateStoreV1 {
 public:
  explicit DirectoryStateStore(std::string folder) : folder_(std::move(folder)) {}
  ~DirectoryStateStore() override = default;
  DirectoryStateStore(DirectoryStateStore&&) = default;

  sdk::Status put(const char* key, const void* data, std::size_t size) noexcept override;
  sdk::Status get(const char* key, const void** data, std::size_t* size) noexcept override;

 private:
  std::string folder_;
  std::string bytes_;
  std::string error_;
};

}  // namespace act::host
