// Runs a model over a dataset: top-1/top-5 accuracy, raw outputs, throughput.
//
// The model's first fed input receives the dataset's images; its first output is read as
// per-sample scores ([N, classes], or [N, ...] flattened per sample). If that input's batch
// dim is fixed to 1, samples are fed one at a time; otherwise in batches of batch_size.
// Ownership: evaluate() borrows the model and dataset for the call; the result owns its
// tensors. Threading: one call at a time per process (kernels use the shared thread pool).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "act/host/dataset.h"
#include "act/kernel/graph.h"

namespace act::host {

struct EvalOptions {
  std::int64_t batch_size = 64;
  std::int64_t limit = -1;    // evaluate only the first `limit` samples (-1: all)
  bool keep_outputs = false;  // gather the first output of every sample into EvalResult::outputs
  // Called after each batch with (samples done, samples total), on the calling thread.
  std::function<void(std::int64_t, std::int64_t)> progress;
  // Names the model in errors about the model itself (an unsupported op, say); usually its path.
  std::string model_name;
};

struct EvalResult {
  std::int64_t count = 0;      // samples evaluated
  std::int64_t batches = 0;    // executor runs
  bool has_labels = false;     // top1/top5 are meaningful only when true
  double top1 = 0.0;           // fractions in [0, 1]
  double top5 = 0.0;           // top-min(5, classes)
  double seconds = 0.0;        // wall time in Executor::run only (excludes data loading)
  double total_seconds = 0.0;  // wall time of the whole loop, data loading included
  double mean_batch_ms = 0.0;  // seconds / batches, in milliseconds
  std::string input_name;
  std::string output_name;
  std::int64_t effective_batch_size = 0;  // 1 when the model's batch dim is fixed to 1
  Tensor outputs;                         // f32 [count, ...] when keep_outputs; undefined otherwise

  double samples_per_second() const {
    return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
  }
};

// Throws act::Error when the data does not fit the model's input ("input 'image' expects
// [N, 1, 28, 28], the data gives samples of [1, 32, 32]"), when the model has no fed input
// or output, or when a label is outside [0, classes).
// Throws act::Error when the dataset's samples cannot feed `input` ("input 'image' expects
// [N, 1, 28, 28], but the data gives samples of [5] (...)").
void check_data_fits(const ValueInfo& input, const Dataset& dataset);

EvalResult evaluate(const Model& model, const Dataset& dataset, const EvalOptions& options = {});

}  // namespace act::host
