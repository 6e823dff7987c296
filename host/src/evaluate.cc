#include "act/host/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>

#include "act/kernel/error.h"
#include "act/kernel/executor.h"
#include "act/kernel/passes.h"

namespace act::host {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

// Before any run, so the user sees both shapes side by side rather than a kernel error deep
// in the graph.
void check_data_fits(const ValueInfo& input, const Dataset& dataset) {
  const Shape sample = dataset.sample_shape();
  if (!input.has_shape) return;
  auto expected_text = [&] {
    std::string s = input.shape_string();
    return s;
  };
  const bool rank_ok = input.shape.size() == sample.size() + 1;
  bool dims_ok = rank_ok;
  for (std::size_t i = 0; rank_ok && i < sample.size(); ++i) {
    const Dim& d = input.shape[i + 1];
    if (d.known() && d.value != sample[i]) dims_ok = false;
  }
  ACT_CHECK(dims_ok, "input '", input.name, "' expects ", expected_text(),
            ", but the data gives samples of ", shape_to_string(sample), " (", dataset.describe(),
            ")");
  if (input.has_dtype) {
    ACT_CHECK(input.dtype == DType::kF32, "input '", input.name, "' takes ",
              dtype_name(input.dtype), "; datasets provide f32 images");
  }
}

EvalResult evaluate(const Model& model, const Dataset& dataset, const EvalOptions& options) {
  ACT_CHECK(options.batch_size >= 1, "batch size must be at least 1, got ", options.batch_size);
  const Graph& graph = model.graph;
  const ValueInfo* input = nullptr;
  for (const ValueInfo& vi : graph.inputs()) {
    if (!graph.is_initializer(vi.name)) {
      input = &vi;
      break;
    }
  }
  ACT_CHECK(input != nullptr, "the model has no input to feed");
  ACT_CHECK(!graph.outputs().empty(), "the model has no outputs");
  check_data_fits(*input, dataset);

  std::int64_t opset = model.default_opset();
  // A copy, optimized for ACT's executor (BatchNorm folded, Conv epilogues fused); the
  // caller's model stays as loaded. Weights are shared, not copied.
  Graph optimized = graph;
  optimize_for_inference(optimized, opset);
  ExecutorOptions exec_options;
  std::unique_ptr<Executor> made;
  try {
    made = std::make_unique<Executor>(optimized, opset, exec_options);
  } catch (const Error& e) {
    if (options.model_name.empty()) throw;
    fail(options.model_name, ": ", e.what());
  }
  Executor& executor = *made;
  ACT_CHECK(executor.feed_names().size() == 1, "the model takes ", executor.feed_names().size(),
            " inputs; 'eval' feeds exactly one (images)");

  EvalResult result;
  result.input_name = input->name;
  result.output_name = graph.outputs().front().name;
  result.has_labels = dataset.has_labels();
  const bool batch_fixed_to_one = input->has_shape && !input->shape.empty() &&
                                  input->shape[0].known() && input->shape[0].value == 1;
  result.effective_batch_size = batch_fixed_to_one ? 1 : options.batch_size;

  BatchOptions batch_options;
  batch_options.batch_size = result.effective_batch_size;
  batch_options.limit = options.limit;
  BatchIterator batches(dataset, batch_options);
  const std::int64_t total = batches.num_samples();

  std::int64_t correct1 = 0, correct5 = 0, per_sample = -1;
  std::vector<float> gathered;
  const auto loop_start = Clock::now();
  Batch batch;
  while (batches.next(batch)) {
    const std::int64_t n = batch.images.dim(0);
    const auto run_start = Clock::now();
    RunResult run = executor.run(std::vector<Tensor>{batch.images});
    result.seconds += since(run_start);
    ++result.batches;

    Tensor out = run.outputs.at(0);
    ACT_CHECK(out.rank() >= 1 && out.dim(0) == n, "output '", result.output_name, "' has shape ",
              shape_to_string(out.shape()), " for a batch of ", n, " (expected the batch first)");
    if (out.dtype() != DType::kF32) out = out.cast(DType::kF32);
    const std::int64_t classes = n > 0 ? out.numel() / n : 0;
    if (per_sample < 0) per_sample = classes;
    ACT_CHECK(classes == per_sample, "output '", result.output_name,
              "' changed size between batches");
    const float* scores = out.data<float>();
    if (options.keep_outputs) gathered.insert(gathered.end(), scores, scores + out.numel());

    if (batch.labels) {
      const std::int64_t* labels = batch.labels->data<std::int64_t>();
      const std::int64_t k = std::min<std::int64_t>(5, classes);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t label = labels[i];
        ACT_CHECK(label >= 0 && label < classes, "label ", label, " of sample ",
                  batch.indices[static_cast<std::size_t>(i)], " is outside the model's ", classes,
                  " output classes");
        const float* s = scores + i * classes;
        // Rank of the true class: how many scores beat it. Ties go against the label only for
        // lower indices, which matches argmax's first-max rule for top-1.
        std::int64_t rank = 0;
        for (std::int64_t j = 0; j < classes; ++j) {
          if (s[j] > s[label] || (s[j] == s[label] && j < label)) ++rank;
        }
        if (rank == 0) ++correct1;
        if (rank < k) ++correct5;
      }
    }
    result.count += n;
    if (options.progress) options.progress(result.count, total);
  }
  result.total_seconds = since(loop_start);
  result.mean_batch_ms =
      result.batches > 0 ? 1000.0 * result.seconds / static_cast<double>(result.batches) : 0.0;
  if (result.has_labels && result.count > 0) {
    result.top1 = static_cast<double>(correct1) / static_cast<double>(result.count);
    result.top5 = static_cast<double>(correct5) / static_cast<double>(result.count);
  }
  if (options.keep_outputs) {
    Shape shape = {result.count};
    // Keep the model's per-sample output shape ([N, 10] stays [N, 10]).
    const ValueInfo& out_info = graph.outputs().front();
    if (out_info.has_shape && out_info.shape.size() >= 2) {
      Shape rest;
      bool known = true;
      for (std::size_t i = 1; i < out_info.shape.size(); ++i) {
        known = known && out_info.shape[i].known();
        rest.push_back(out_info.shape[i].value);
      }
      if (known && shape_numel(rest) == std::max<std::int64_t>(per_sample, 0))
        shape.insert(shape.end(), rest.begin(), rest.end());
      else
        shape.push_back(std::max<std::int64_t>(per_sample, 0));
    } else {
      shape.push_back(std::max<std::int64_t>(per_sample, 0));
    }
    result.outputs = Tensor(DType::kF32, shape);
    if (!gathered.empty())
      std::memcpy(result.outputs.raw_data(), gathered.data(), gathered.size() * sizeof(float));
  }
  return result;
}

}  // namespace act::host
