// Ready-made implementations of the interfaces a host hands to strategies.
//
// The act host uses them to drive plugins; plugin authors use them to unit-test a strategy
// without the host (build a KeyValueConfig, call configure, inspect LossTerms...).
// Ownership: each object owns copies of what it was given, except ModelEditor, which edits
// the caller's Model in place, and StepState, whose tensors share storage with the caller's.
// Threading: none of them is thread-safe; one hook call at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "act/kernel/graph.h"
#include "act/kernel/tensor.h"
#include "act/sdk/config_view.h"
#include "act/sdk/export.h"
#include "act/sdk/graph_editor.h"
#include "act/sdk/loss_sink.h"
#include "act/sdk/loss_sink_v2.h"
#include "act/sdk/model_data.h"
#include "act/sdk/report_writer.h"
#include "act/sdk/state_store.h"
#include "act/sdk/step_context.h"

namespace act {
class OpRegistry;
}

namespace act::sdk {

// A config section given as ordered key/value text pairs.
class ACT_SDK_API KeyValueConfig final : public ConfigViewV1 {
 public:
  KeyValueConfig(std::string section, std::vector<std::pair<std::string, std::string>> entries);
  ~KeyValueConfig() override;

  const char* section() const noexcept override { return section_.c_str(); }
  std::size_t key_count() const noexcept override { return entries_.size(); }
  const char* key(std::size_t index) const noexcept override;
  const char* value(const char* key) const noexcept override;

 private:
  std::string section_;
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Edits `model` in place; validates against `registry` (nullptr: OpRegistry::global());
// offers `data` and `state` (borrowed; either may be nullptr) as a GraphEditorV3.
class ACT_SDK_API ModelEditor final : public GraphEditorV3 {
 public:
  explicit ModelEditor(Model& model, const OpRegistry* registry = nullptr,
                       ModelDataV1* data = nullptr, StateStoreV1* state = nullptr);
  ~ModelEditor() override;

  Model& model() noexcept override { return model_; }
  Status validate() noexcept override;
  ModelDataV1* data() noexcept override { return data_; }
  StateStoreV1* state() noexcept override { return state_; }

 private:
  Model& model_;
  const OpRegistry* registry_;
  ModelDataV1* data_;
  StateStoreV1* state_;
  std::string error_;
};

// Where the training loop is (units as in step_context.h).
struct StepPosition {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  std::int64_t total_steps = -1;
  double learning_rate = 0.0;
};

// Where the training loop is, plus the parameters and gradients the hooks may see.
class ACT_SDK_API StepState final : public StepContextV1 {
 public:
  explicit StepState(StepPosition position = {});
  ~StepState() override;

  void set_position(const StepPosition& position) { position_ = position; }
  // The tensor is shared, not copied: hooks write into the caller's storage.
  void set_parameter(const std::string& name, Tensor tensor);
  void set_gradient(const std::string& name, Tensor tensor);
  void clear_gradients() { gradients_.clear(); }

  std::int64_t step() const noexcept override { return position_.step; }
  std::int64_t epoch() const noexcept override { return position_.epoch; }
  std::int64_t total_steps() const noexcept override { return position_.total_steps; }
  double learning_rate() const noexcept override { return position_.learning_rate; }
  Tensor* parameter(const char* name) noexcept override;
  Tensor* gradient(const char* name) noexcept override;

 private:
  StepPosition position_;
  std::map<std::string, Tensor, std::less<>> parameters_;
  std::map<std::string, Tensor, std::less<>> gradients_;
};

struct LossTerm {
  std::string name;
  std::string value;
  double weight = 1.0;
};

// Collects loss terms; refuses an empty name or value, a non-finite weight and a name used
// twice in the same step. Records whether a strategy asked to train without the task loss
// (LossSinkV2).
class ACT_SDK_API LossTerms final : public LossSinkV2 {
 public:
  LossTerms();
  ~LossTerms() override;

  Status add(const char* name, const char* value, double weight) noexcept override;
  Status replace_task_loss() noexcept override;
  const std::vector<LossTerm>& terms() const { return terms_; }
  bool task_loss_replaced() const { return task_loss_replaced_; }
  void clear() {
    terms_.clear();
    task_loss_replaced_ = false;
  }

 private:
  Status refuse(std::string message) noexcept;

  std::vector<LossTerm> terms_;
  bool task_loss_replaced_ = false;
  std::string error_;
};

struct ReportEntry {
  std::string key;
  std::string text;  // the number printed with %g when is_number
  double number = 0.0;
  bool is_number = false;
};

// Collects report entries in the order written.
class ACT_SDK_API ReportEntries final : public ReportWriterV1 {
 public:
  ReportEntries();
  ~ReportEntries() override;

  void text(const char* key, const char* value) noexcept override;
  void number(const char* key, double value) noexcept override;
  const std::vector<ReportEntry>& entries() const { return entries_; }
  // The entry for `key`, or nullptr.
  const ReportEntry* find(const std::string& key) const;

 private:
  std::vector<ReportEntry> entries_;
};

}  // namespace act::sdk
