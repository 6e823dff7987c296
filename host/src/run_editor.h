// RunEditor: the editor `act compress` hands to rewrite_graph() and finalize(): the model
// being compressed (GraphEditorV1), the run's data (GraphEditorV2, model_data.h), the
// strategy's state store (GraphEditorV3, state_store.h) and the run's other models
// (ModelSourceV1, model_source.h: the input model and teacher files).
//
// Ownership: borrows everything it is given for the hook's duration; the error text of the
// last failed call is its own. Threading: one hook at a time, on the scheduler's thread.
#pragma once

#include <string>

#include "act/kernel/graph.h"
#include "act/sdk/model_data.h"
#include "act/sdk/model_source.h"
#include "act/sdk/state_store.h"

namespace act::host {

class RunEditor final : public sdk::GraphEditorV3, public sdk::ModelSourceV1 {
 public:
  // `data`, `input_model` and `state` may be nullptr (a dry run without data, a plugin test);
  // `config_folder` resolves relative paths given to load_model ("" = working directory).
  RunEditor(Model& model, sdk::ModelDataV1* data, const Model* input_model,
            std::string config_folder, sdk::StateStoreV1* state = nullptr);
  ~RunEditor() override;

  Model& model() noexcept override { return model_; }
  sdk::Status validate() noexcept override;
  sdk::ModelDataV1* data() noexcept override { return data_; }
  sdk::StateStoreV1* state() noexcept override { return state_; }
  const Model* input_model() noexcept override { return input_model_; }
  sdk::Status load_model(const char* path, Model* out) noexcept override;

 private:
  sdk::Status failure(const char* what) noexcept;

  Model& model_;
  sdk::ModelDataV1* data_;
  const Model* input_model_;
  std::string config_folder_, error_;
  sdk::StateStoreV1* state_;
};

}  // namespace act::host
