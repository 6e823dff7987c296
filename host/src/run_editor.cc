#include "run_editor.h"

#include <filesystem>
#include <utility>

#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "act/kernel/op_registry.h"

namespace act::host {

RunEditor::RunEditor(Model& model, sdk::ModelDataV1* data, const Model* input_model,
                     std::string config_folder, sdk::StateStoreV1* state)
    : model_(model),
      data_(data),
      input_model_(input_model),
      config_folder_(std::move(config_folder)),
      state_(state) {}

RunEditor::~RunEditor() = default;

sdk::Status RunEditor::failure(const char* what) noexcept {
  try {
    error_ = what;
  } catch (...) {
    return sdk::Status::failure("out of memory while describing an error");
  }
  return sdk::Status::failure(error_.c_str());
}

sdk::Status RunEditor::validate() noexcept {
  try {
    model_.graph.validate(&OpRegistry::global());
    return sdk::Status::success();
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

sdk::Status RunEditor::load_model(const char* path, Model* out) noexcept {
  try {
    ACT_CHECK(path != nullptr && *path != '\0' && out != nullptr, "load_model: no path given");
    std::filesystem::path p(path);
    if (p.is_relative() && !config_folder_.empty()) p = std::filesystem::path(config_folder_) / p;
    ACT_CHECK(p.extension() != ".pdmodel", p.string(),
              ": Paddle inference models are not supported yet; convert it with paddle2onnx "
              "and name the .onnx file");
    *out = load_onnx(p.string());
    return sdk::Status::success();
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

}  // namespace act::host
