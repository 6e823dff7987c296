// `act compress --config C.yaml [--model M.onnx] [--data D] --save-dir OUT [options]`.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "act/host/compress.h"
#include "act/kernel/parallel.h"
#include "cli_util.h"
#include "commands.h"

namespace act::host {

namespace po = boost::program_options;

int run_compress(const std::vector<std::string>& args) {
  po::options_description visible(
      "act compress --config C.yaml [--model M.onnx] [--data D] --save-dir OUT [options]\n\n"
      "Compresses a model as the config says (PaddleSlim ACT's YAML sections: Global,\n"
      "TrainConfig, QuantAware, Distillation, ChannelPrune, ...). Each strategy section runs in\n"
      "the plugin that declares it ('act plugins' lists them). Writes OUT/model.onnx and\n"
      "OUT/report.json; the input model is never modified. Exit codes: 0 done, 1 failed or\n"
      "stopped by a non-finite loss (the best model so far is saved), 2 usage error.\n\noptions");
  visible.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                    "YAML config (required)")(
      "model,m", po::value<std::string>(), "input model (.onnx); overrides Global.model")(
      "data,d", po::value<std::string>(), "training data; overrides Global.data")(
      "eval-data,e", po::value<std::string>(),
      "evaluation data; overrides Global.eval_data (default: the training data)")(
      "labels,l", po::value<std::string>(), "labels file (IDX labels, or .npy)")(
      "save-dir,o", po::value<std::string>(), "output folder (required unless --dry-run)")(
      "dry-run",
      "print the resolved plan (stages, strategies, steps, learning rates, the nodes "
      "each strategy touches) and exit")("resume",
                                         "continue from OUT/checkpoint.actckpt when it exists")(
      "checkpoint-iter", po::value<std::int64_t>(),
      "save a checkpoint every N steps (overrides TrainConfig.checkpoint_iter)")(
      "seed", po::value<std::uint64_t>(), "overrides Global.seed")(
      "plugin-dir", po::value<std::vector<std::string>>()->composing(),
      "also search this folder for plugins (before ACT_PLUGIN_PATH and the install's)")(
      "threads,t", po::value<int>(), "CPU threads (default: all cores, or ACT_NUM_THREADS)")(
      "mean", po::value<std::vector<std::string>>()->multitoken(),
      "per-channel mean, after scaling pixels to [0, 1]")(
      "std", po::value<std::vector<std::string>>()->multitoken(),
      "per-channel std, after scaling pixels to [0, 1]");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(visible).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "act compress: %s\n\n", e.what());
    std::cerr << visible << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible << "\n";
    return 0;
  }
  if (!vm.count("config") || (!vm.count("save-dir") && !vm.count("dry-run"))) {
    std::fprintf(stderr, "act compress: %s is required\n\n",
                 vm.count("config") ? "--save-dir" : "--config");
    std::cerr << visible << "\n";
    return 2;
  }
  CompressOptions options;
  options.config = vm["config"].as<std::string>();
  if (vm.count("model")) options.model = vm["model"].as<std::string>();
  if (vm.count("data")) options.data = vm["data"].as<std::string>();
  if (vm.count("eval-data")) options.eval_data = vm["eval-data"].as<std::string>();
  if (vm.count("save-dir")) options.save_dir = vm["save-dir"].as<std::string>();
  if (vm.count("plugin-dir")) options.plugin_dirs = vm["plugin-dir"].as<std::vector<std::string>>();
  options.env_plugin_path = std::getenv("ACT_PLUGIN_PATH");
  options.dry_run = vm.count("dry-run") != 0;
  options.resume = vm.count("resume") != 0;
  if (vm.count("checkpoint-iter")) {
    options.checkpoint_iter = vm["checkpoint-iter"].as<std::int64_t>();
    if (*options.checkpoint_iter < 0) {
      std::fprintf(stderr, "act compress: --checkpoint-iter must be >= 0\n");
      return 2;
    }
  }
  if (vm.count("seed")) options.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("labels")) options.data_options.labels_path = vm["labels"].as<std::string>();
  if (vm.count("mean"))
    options.data_options.normalization.mean =
        parse_floats(vm["mean"].as<std::vector<std::string>>(), "--mean");
  if (vm.count("std"))
    options.data_options.normalization.std =
        parse_floats(vm["std"].as<std::vector<std::string>>(), "--std");
  if (vm.count("threads")) {
    const int threads = vm["threads"].as<int>();
    if (threads < 1) {
      std::fprintf(stderr, "act compress: --threads must be at least 1\n");
      return 2;
    }
    set_num_threads(threads);
  }
  options.command_line = "act compress";
  for (const auto& a : args) options.command_line += " " + a;
  return compress(options);
}

}  // namespace act::host
