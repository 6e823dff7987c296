#include "dataset_model_data.h"

#include <exception>

#include "act/host/evaluate.h"
#include "act/kernel/error.h"
#include "act/kernel/executor.h"
#include "act/kernel/op_registry.h"
#include "act/kernel/passes.h"

namespace act::host {

DatasetModelData::DatasetModelData(const Dataset& calibration, const Dataset* eval,
                                   std::string input)
    : calibration_(calibration), eval_(eval), input_(std::move(input)) {}

sdk::Status DatasetModelData::failure(const char* what) noexcept {
  try {
    error_ = what;
  } catch (...) {
    return sdk::Status::failure("out of memory while reporting an error");
  }
  return sdk::Status::failure(error_.c_str());
}

sdk::Status DatasetModelData::run(const Model& model, const char* const* values, std::size_t count,
                                  std::int64_t batch_size, std::int64_t batches,
                                  sdk::ActivationSinkV1& sink) noexcept {
  try {
    ACT_CHECK(batch_size >= 1 && batches >= 1,
              "calibration: batch size and batch count must be "
              ">= 1, got ",
              batch_size, " and ", batches);
    ExecutorOptions options;
    for (std::size_t i = 0; i < count; ++i) options.taps.emplace_back(values[i]);
    // Each tapped value goes to the sink as soon as it is computed and is then released like
    // any value (stream_taps), so a pass holds no more memory than a plain forward pass.
    std::int64_t b = 0;
    const auto feed = [&](const std::string& value, const Tensor& t) {
      const sdk::Status s = sink.consume(b, value.c_str(), t);
      if (!s.ok()) throw Error(s.error);
    };
    options.stream_taps = true;
    options.on_tap = feed;
    // The passes run the graph `act eval` runs (BatchNorm folded, Conv epilogues fused, the
    // tapped values kept), so calibration is compared with the same forward pass it repeats.
    // A value the folding removed anyway (a Conv output that fed a BatchNorm) falls back to
    // the graph as loaded.
    Graph optimized = model.graph;
    optimize_for_inference(optimized, model.default_opset(), OpRegistry::global(), options.taps);
    bool all_kept = true;
    for (const auto& v : options.taps) {
      all_kept = all_kept && (optimized.producer(v).has_value() || optimized.is_graph_input(v));
    }
    Executor exec(all_kept ? optimized : model.graph, model.default_opset(), options);
    BatchOptions bo;
    bo.batch_size = batch_size;
    bo.limit = batch_size * batches;  // the first samples in file order, every call the same
    BatchIterator it(calibration_, bo);
    Batch batch;
    for (; b < batches && it.next(batch); ++b) {
      check_finite(batch.images, "calibration data");
      const RunResult r = exec.run({{input_, batch.images}});
      // Taps no node computes (the model's input) come back with the result.
      for (const auto& [value, tensor] : r.tapped) feed(value, tensor);
    }
    return sdk::Status::success();
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

sdk::Status DatasetModelData::evaluate(const Model& model, double* metric) noexcept {
  try {
    ACT_CHECK(has_metric(), "evaluation needs labelled evaluation data (--eval-data)");
    EvalOptions options;
    options.model_name = "a candidate model";
    *metric = host::evaluate(model, *eval_, options).top1;
    return sdk::Status::success();
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

}  // namespace act::host
