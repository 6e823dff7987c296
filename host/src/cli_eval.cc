// `act eval MODEL --data PATH ...`: accuracy, raw outputs and throughput of a model on data.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "act/host/dataset.h"
#include "act/host/evaluate.h"
#include "act/host/onnx_io.h"
#include "act/kernel/error.h"
#include "act/kernel/parallel.h"
#include "cli_data_options.h"
#include "commands.h"

namespace act::host {
namespace {

namespace po = boost::program_options;

// Redraws one line in place on a terminal; elsewhere (logs, CI) prints a line per quarter.
class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) == 1) {}
  void update(std::int64_t done, std::int64_t total) {
    if (total <= 0) return;
    if (tty_) {
      const int width = 30;
      const auto filled = static_cast<int>(width * done / total);
      std::fprintf(stderr, "\r[%s%s] %lld/%lld %3d%%",
                   std::string(static_cast<std::size_t>(filled), '=').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), ' ').c_str(),
                   static_cast<long long>(done), static_cast<long long>(total),
                   static_cast<int>(100 * done / total));
      if (done == total) std::fputc('\n', stderr);
      std::fflush(stderr);
    } else {
      const int quarter = static_cast<int>(4 * done / total);
      if (quarter > last_quarter_) {
        last_quarter_ = quarter;
        std::fprintf(stderr, "eval: %lld/%lld samples\n", static_cast<long long>(done),
                     static_cast<long long>(total));
      }
    }
  }

 private:
  bool tty_;
  int last_quarter_ = 0;
};

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  po::options_description visible(
      "act eval MODEL --data PATH [options]\n\n"
      "Runs MODEL (.onnx) over a dataset and prints top-1/top-5 accuracy (when the data\n"
      "has labels), throughput and latency. Data format by path: *-idx3-ubyte[.gz] (IDX,\n"
      "labels from the sibling *-labels-idx1-ubyte[.gz]), .npy / .npz, or a directory of\n"
      "class subfolders of PNG/JPEG images. Byte pixels are scaled to [0, 1] before\n"
      "--mean/--std.\n\noptions");
  visible.add_options()("help,h", "show this help")("data,d", po::value<std::string>(),
                                                    "dataset path (required)")(
      "batch-size,b", po::value<std::int64_t>()->default_value(64),
      "samples per run (1 if the model fixes it)")(
      "limit,n", po::value<std::int64_t>()->default_value(-1), "evaluate only the first N samples")(
      "threads,t", po::value<int>(), "CPU threads (default: all cores, or ACT_NUM_THREADS)")(
      "output,o", po::value<std::string>(), "write the model's raw outputs as .npy [N, ...] (f32)");
  add_data_options(visible);
  po::options_description all;
  all.add(visible).add_options()("model", po::value<std::string>(), "model");
  po::positional_options_description positional;
  positional.add("model", 1);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "act eval: %s\n\n", e.what());
    std::cerr << visible << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return 0;
  }
  if (!vm.count("model") || !vm.count("data")) {
    std::fprintf(stderr, "act eval: %s is required\n\n", vm.count("model") ? "--data" : "MODEL");
    std::cerr << visible << "\n";
    return 2;
  }

  const DatasetOptions data_options = read_data_options(vm);
  EvalOptions eval_options;
  eval_options.batch_size = vm["batch-size"].as<std::int64_t>();
  eval_options.limit = vm["limit"].as<std::int64_t>();
  eval_options.keep_outputs = vm.count("output") != 0;
  eval_options.model_name = vm["model"].as<std::string>();
  if (eval_options.batch_size < 1) {
    std::fprintf(stderr, "act eval: --batch-size must be at least 1\n");
    return 2;
  }
  if (vm.count("threads")) {
    const int threads = vm["threads"].as<int>();
    if (threads < 1) {
      std::fprintf(stderr, "act eval: --threads must be at least 1\n");
      return 2;
    }
    set_num_threads(threads);
  }

  const std::string model_path = vm["model"].as<std::string>();
  const Model model = load_onnx(model_path);
  const auto dataset = open_dataset(vm["data"].as<std::string>(), data_options);
  std::fprintf(stderr, "eval: %s\n", dataset->describe().c_str());

  Progress progress;
  eval_options.progress = [&](std::int64_t done, std::int64_t total) {
    progress.update(done, total);
  };
  const EvalResult result = evaluate(model, *dataset, eval_options);

  std::printf("model: %s\n", model_path.c_str());
  std::printf("samples: %lld (batch size %lld, %lld runs)\n", static_cast<long long>(result.count),
              static_cast<long long>(result.effective_batch_size),
              static_cast<long long>(result.batches));
  if (result.has_labels) {
    std::printf("top-1: %.2f%%\n", 100.0 * result.top1);
    std::printf("top-5: %.2f%%\n", 100.0 * result.top5);
  } else {
    std::printf("no labels: accuracy not computed\n");
  }
  std::printf("throughput: %.1f samples/s (model time %.3f s, %.3f s with data loading)\n",
              result.samples_per_second(), result.seconds, result.total_seconds);
  std::printf("latency: %.3f ms per batch (mean)\n", result.mean_batch_ms);
  if (vm.count("output")) {
    const std::string out = vm["output"].as<std::string>();
    save_npy(out, result.outputs);
    std::printf("outputs: %s %s\n", out.c_str(), shape_to_string(result.outputs.shape()).c_str());
  }
  return 0;
}

}  // namespace act::host
