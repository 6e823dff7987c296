#include "act/sdk/host_objects.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <string_view>

#include "act/kernel/error.h"
#include "act/kernel/op_registry.h"

namespace act::sdk {

KeyValueConfig::KeyValueConfig(std::string section,
                               std::vector<std::pair<std::string, std::string>> entries)
    : section_(std::move(section)), entries_(std::move(entries)) {}

KeyValueConfig::~KeyValueConfig() = default;

const char* KeyValueConfig::key(std::size_t index) const noexcept {
  return index < entries_.size() ? entries_[index].first.c_str() : nullptr;
}

const char* KeyValueConfig::value(const char* key) const noexcept {
  if (key == nullptr) return nullptr;
  for (const auto& [k, v] : entries_) {
    if (k == key) return v.c_str();
  }
  return nullptr;
}

ModelEditor::ModelEditor(Model& model, const OpRegistry* registry, ModelDataV1* data,
                         StateStoreV1* state)
    : model_(model), registry_(registry), data_(data), state_(state) {}

ModelEditor::~ModelEditor() = default;

Status ModelEditor::validate() noexcept {
  try {
    model_.graph.validate(registry_ != nullptr ? registry_ : &OpRegistry::global());
    return Status::success();
  } catch (const std::exception& e) {
    try {
      error_ = e.what();
    } catch (...) {
      return Status::failure("graph is invalid (out of memory while describing why)");
    }
    return Status::failure(error_.c_str());
  }
}

StepState::StepState(StepPosition position) : position_(position) {}

StepState::~StepState() = default;

void StepState::set_parameter(const std::string& name, Tensor tensor) {
  parameters_.insert_or_assign(name, std::move(tensor));
}

void StepState::set_gradient(const std::string& name, Tensor tensor) {
  gradients_.insert_or_assign(name, std::move(tensor));
}

Tensor* StepState::parameter(const char* name) noexcept {
  if (name == nullptr) return nullptr;
  auto it = parameters_.find(std::string_view(name));
  return it == parameters_.end() ? nullptr : &it->second;
}

Tensor* StepState::gradient(const char* name) noexcept {
  if (name == nullptr) return nullptr;
  auto it = gradients_.find(std::string_view(name));
  return it == gradients_.end() ? nullptr : &it->second;
}

LossTerms::LossTerms() = default;
LossTerms::~LossTerms() = default;

Status LossTerms::refuse(std::string message) noexcept {
  error_ = std::move(message);
  return Status::failure(error_.c_str());
}

Status LossTerms::add(const char* name, const char* value, double weight) noexcept {
  try {
    if (name == nullptr || *name == '\0') return refuse("loss term without a name");
    const std::string label(name);
    if (value == nullptr || *value == '\0') {
      return refuse("loss term '" + label + "' names no graph value");
    }
    if (!std::isfinite(weight)) return refuse("loss term '" + label + "' has a non-finite weight");
    for (const auto& term : terms_) {
      if (term.name == label) return refuse("loss term '" + label + "' added twice in one step");
    }
    terms_.push_back(LossTerm{label, value, weight});
    return Status::success();
  } catch (...) {
    return Status::failure("out of memory while adding a loss term");
  }
}

Status LossTerms::replace_task_loss() noexcept {
  task_loss_replaced_ = true;
  return Status::success();
}

ReportEntries::ReportEntries() = default;
ReportEntries::~ReportEntries() = default;

void ReportEntries::text(const char* key, const char* value) noexcept {
  if (key == nullptr) return;
  try {
    entries_.push_back(ReportEntry{key, value != nullptr ? value : "", 0.0, false});
  } catch (...) {
    // A report line lost to memory exhaustion is not worth failing the run for.
  }
}

void ReportEntries::number(const char* key, double value) noexcept {
  if (key == nullptr) return;
  char printed[32];
  std::snprintf(printed, sizeof printed, "%g", value);
  try {
    entries_.push_back(ReportEntry{key, printed, value, true});
  } catch (...) {
  }
}

const ReportEntry* ReportEntries::find(const std::string& key) const {
  for (const auto& entry : entries_) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

}  // namespace act::sdk
