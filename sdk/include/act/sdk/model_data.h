// ModelDataV1 and GraphEditorV2: the run's data, for strategies that need activations or a
// metric rather than training steps (post-training quantization, hyper-parameter search,
// sensitivity analysis, initial scales before QAT).
//
// A strategy reaches them from its rewrite_graph() or finalize() hook:
//   if (ModelDataV1* data = act::sdk::model_data(editor)) { ... }
// model_data() (below) asks whether the editor is a GraphEditorV2; a host that predates V2
// hands a plain GraphEditorV1 and the strategy gets nullptr (and should say it needs data).
//
// Ownership: the host owns the data object; it is valid during the hook that received the
// editor. Tensors passed to an ActivationSinkV1 are valid only during consume(); copy or
// reduce them there. Models passed in are borrowed for the call.
// Threading: calls arrive on the hook's thread; run() calls consume() on that same thread.
// Versioning: append-only; new methods mean ModelDataV2 / GraphEditorV3.
#pragma once

#include <cstddef>
#include <cstdint>

#include "act/kernel/graph.h"
#include "act/kernel/tensor.h"
#include "act/sdk/export.h"
#include "act/sdk/graph_editor.h"
#include "act/sdk/status.h"

namespace act::sdk {

// Implemented by the strategy: receives tapped values batch by batch.
class ACT_SDK_API ActivationSinkV1 {
 public:
  // `batch` counts from 0; `value` is one of the names given to ModelDataV1::run, in that
  // order within a batch. A failure stops the run and is returned by run().
  virtual Status consume(std::int64_t batch, const char* value, const Tensor& tensor) noexcept = 0;

 protected:
  virtual ~ActivationSinkV1();
};

// Implemented by the host over the run's calibration data (the training data, in file
// order, no shuffling: the same samples every call) and its evaluation data.
class ACT_SDK_API ModelDataV1 {
 public:
  // Samples available for run().
  virtual std::int64_t samples() const noexcept = 0;
  // Runs `model` forward over `batches` batches of `batch_size` samples (fewer if the data
  // runs out; batch_size and batches must be >= 1), feeding the input the run feeds, and hands
  // every value in `values` (count names; graph values of `model`) to `sink` after each batch.
  // A failure's message is owned by this object until its next call.
  virtual Status run(const Model& model, const char* const* values, std::size_t count,
                     std::int64_t batch_size, std::int64_t batches,
                     ActivationSinkV1& sink) noexcept = 0;
  // True when evaluate() can score a model (the evaluation data has labels).
  virtual bool has_metric() const noexcept = 0;
  // Top-1 accuracy in [0, 1] of `model` on the evaluation data, written to *metric.
  virtual Status evaluate(const Model& model, double* metric) noexcept = 0;

 protected:
  virtual ~ModelDataV1();
};

// A GraphEditorV1 that also offers the run's data.
class ACT_SDK_API GraphEditorV2 : public GraphEditorV1 {
 public:
  // nullptr when the run has no data (e.g. `act compress` without --data).
  virtual ModelDataV1* data() noexcept = 0;

 protected:
  ~GraphEditorV2() override;
};

// The editor's data when the host offers it (GraphEditorV2), else nullptr.
inline ModelDataV1* model_data(GraphEditorV1& editor) noexcept {
  auto* v2 = dynamic_cast<GraphEditorV2*>(&editor);
  return v2 != nullptr ? v2->data() : nullptr;
}

}  // namespace act::sdk
