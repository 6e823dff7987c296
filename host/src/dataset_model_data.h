// ModelDataV1 (sdk/model_data.h) over the run's datasets: calibration batches from the
// training data in file order, the metric from the evaluation data.
//
// Ownership: borrows the datasets, which must outlive it. Threading: one call at a time.
#pragma once

#include <string>

#include "act/host/dataset.h"
#include "act/sdk/model_data.h"

namespace act::host {

class DatasetModelData final : public sdk::ModelDataV1 {
 public:
  // `input`: the graph input fed with images. `eval` may be nullptr or unlabelled (then
  // has_metric() is false).
  DatasetModelData(const Dataset& calibration, const Dataset* eval, std::string input);

  std::int64_t samples() const noexcept override { return calibration_.size(); }
  sdk::Status run(const Model& model, const char* const* values, std::size_t count,
                  std::int64_t batch_size, std::int64_t batches,
                  sdk::ActivationSinkV1& sink) noexcept override;
  bool has_metric() const noexcept override { return eval_ != nullptr && eval_->has_labels(); }
  sdk::Status evaluate(const Model& model, double* metric) noexcept override;

 private:
  sdk::Status failure(const char* what) noexcept;

  const Dataset& calibration_;
  const Dataset* eval_;
  std::string input_;
  std::string error_;
};

}  // namespace act::host
